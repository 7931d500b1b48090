"""Sweep benchmark: the parallel speed-up from one to two local Dask workers, in one run.

Run:  python benchmarks/bench_sweep.py              (about a minute on 2 cores)
      python benchmarks/bench_sweep.py --runs 2000  (quicker)

The same sweep (exact PPO, 4 epsilons x 2 discounts, Garnet(5, 3, 2), 20 iterations, every
claim checked, stalls confirmed exactly) runs on a LocalCluster with 1 and then 2 single-
threaded worker processes. The cluster is started before the clock starts (its start-up is
printed apart), so the time is the sweep's: planning, the tasks on the workers, the Parquet
files. Expect close to 2x on two idle cores; the load average is printed because the machine
may be shared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from dask.distributed import Client, LocalCluster

from tabular_mirror.sweeps import sweep


def spec(runs: int, task_size: int) -> dict:
    return {
        "name": "speed-up",
        "iterations": 20,
        "runs": runs,
        "task_size": task_size,
        "discounts": [0.9, 0.99],
        "algorithms": [{"spec": "ppo", "epsilon": [0.05, 0.1, 0.2, 0.4]}],
        "mdps": [{"spec": "garnet", "S": 5, "A": 3, "b": 2}],
    }


def timed(workers: int, grid: dict, repeats: int) -> tuple[float, float, int, float]:
    started = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0")
    client = Client(cluster)
    startup = time.perf_counter() - started
    best, runs, busy = float("inf"), 0, 0.0
    try:
        for _ in range(repeats):
            directory = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
            try:
                result = sweep(grid, directory / "out", client=client, progress=False)
                if result.seconds < best:
                    best, busy = result.seconds, result.task_seconds
                runs = result.runs
            finally:
                shutil.rmtree(directory, ignore_errors=True)
    finally:
        client.close()
        cluster.close()
    return best, startup, runs, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000, help="runs per grid cell (5000)")
    parser.add_argument("--task-size", type=int, default=1250, help="runs per task (1250)")
    parser.add_argument("--repeats", type=int, default=2, help="best of (2)")
    arguments = parser.parse_args()
    grid = spec(arguments.runs, arguments.task_size)
    cells = 4 * 2
    tasks = cells * -(-arguments.runs // arguments.task_size)
    print(
        f"{cells} cells x {arguments.runs} runs x 20 iterations = {cells * arguments.runs} runs "
        f"in {tasks} tasks; load average before: {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} cores"
    )
    one, startup_one, runs, busy_one = timed(1, grid, arguments.repeats)
    two, startup_two, _, busy_two = timed(2, grid, arguments.repeats)
    for workers, seconds, startup, busy in ((1, one, startup_one, busy_one),
                                            (2, two, startup_two, busy_two)):  # fmt: skip
        print(
            f"{workers} worker{'s' if workers > 1 else ' '}: {seconds:6.2f} s  "
            f"({runs / seconds:,.0f} runs/s; tasks busy {busy:.1f} s = "
            f"{busy / seconds / workers:.0%} of {workers} worker(s); cluster start {startup:.1f} s)"
        )
    print(f"speed-up : {one / two:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
