"""Sweeps on a real Dask LocalCluster (2 worker processes): results, resume, kills.

The cluster is started once for the module. Each sweep is small (seconds). The kill tests check
that an interrupted sweep -- its process group killed, or one worker process killed mid-run --
finishes with --resume (or by itself) into a Parquet dataset equal to an uninterrupted run's,
with no task lost or duplicated.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror.sweeps import load_results, load_spec, plan_tasks, sweep, sweep_report
from tabular_mirror.sweeps.tasks import TASKS_FOLDER

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
distributed = pytest.importorskip("dask.distributed")

SPEC = {
    "name": "test",
    "iterations": 10,
    "runs": 40,
    "task_size": 10,
    "seeds": [0],
    "discounts": [0.8, 0.95],
    "algorithms": [{"spec": "ppo", "epsilon": [0.1, 0.3]}, {"spec": "gpi"}],
    "mdps": [{"spec": "garnet", "S": 4, "A": 2, "b": 2}],
}

TOML = """
name = "test"
iterations = 10
runs = 40
task_size = 10
seeds = [0]
discounts = [0.8, 0.95]

[[algorithms]]
spec = "ppo"
epsilon = [0.1, 0.3]

[[algorithms]]
spec = "gpi"

[[mdps]]
spec = "garnet"
S = 4
A = 2
b = 2
"""


# ---------------------------------------------------------------------------- the spec
def _with(**changes):
    spec = json.loads(json.dumps(SPEC))
    for key, value in changes.items():
        if value is None:
            spec.pop(key)
        else:
            spec[key] = value
    return spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (_with(colour=1), r"key 'colour' is unknown; valid keys: name, iterations"),
        (_with(runs=None), r"key 'runs' is missing"),
        (_with(discounts=[]), r"discounts is an empty list"),
        (_with(discounts=[0.9, 1.0]), r"discounts contains 1.0, expected numbers in \[0, 1\)"),
        (_with(seeds=[0, 0]), r"repeats a seed"),
        (_with(task_size=0), r"task_size = 0, expected an integer >= 1"),
        (_with(algorithms=[{"spec": "ppo", "epsilon": []}]), r"epsilon is an empty list"),
        (_with(algorithms=[{"spec": "sarsa"}]), r"algorithms\[0\].spec = 'sarsa' is unknown"),
        (_with(algorithms=[{"spec": "ppo", "delta": 1}]), r"algorithms\[0\].delta is not a param"),
        (_with(algorithms=[{"spec": "trpo", "delta": 0}]), r"algorithms\[0\] \(trpo:delta=0\)"),
        (_with(algorithms=[{"spec": "trl"}]), r"batched engine cannot run"),
        (_with(algorithms=[{"spec": "ppo", "learning_rate": 1}]), r"without steps"),
        (_with(mdps=[{"spec": "garnet", "S": 4, "A": 2, "b": 9}]), r"mdps\[0\] .*b = 9 exceeds"),
        (_with(mdps=[{"spec": "garnet", "S": 4, "A": 2, "b": 2, "seed": 1}]), r"set by the sweep"),
        (_with(mdps=[{"spec": "nowhere"}]), r"mdps\[0\].spec = 'nowhere' is unknown"),
        (_with(policy0="greedy"), r"policy0 = 'greedy'; valid: random, uniform"),
        (
            _with(algorithms=[{"spec": "pmd"}], mdps=[{"spec": "deep-sea"}]),
            r"pmd on deep-sea \(discount 0.8\) cannot run: sampling \(normalized visitation\)",
        ),
    ],
    ids=[
        "unknown-key", "missing", "empty-grid", "bad-discount", "repeated-seed", "task-size",
        "empty-parameter", "unknown-algorithm", "foreign-parameter", "bad-value", "unsupported",
        "options-without-steps", "bad-mdp-value", "mdp-seed", "unknown-mdp", "policy0",
        "fails-on-its-mdp",
    ],
)  # fmt: skip
def test_the_spec_is_validated_before_anything_runs(spec, message, tmp_path):
    with pytest.raises(tm.InvalidParameterError, match=message):
        sweep(spec, tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()


def test_bad_spec_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys):
    from tabular_mirror.cli import main

    path = tmp_path / "spec.toml"
    path.write_text(TOML.replace("runs = 40", "runs = 0"))
    assert main(["sweep", str(path), "-o", str(tmp_path / "out")]) == 2
    assert "runs = 0, expected an integer >= 1" in capsys.readouterr().err


def test_tasks_have_stable_ids_and_common_random_numbers(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(TOML)
    spec = load_spec(path)
    assert spec.data == load_spec(SPEC).data  # the TOML file and the dict are the same sweep
    tasks = plan_tasks(spec)
    assert len(tasks) == 3 * 2 * 4
    assert [t["id"] for t in tasks] == [t["id"] for t in plan_tasks(load_spec(SPEC))]
    assert len({t["id"] for t in tasks}) == len(tasks)
    chunk = {(t["algorithm"], t["discount"]): t["mdp_seed"] for t in tasks if t["chunk"] == 1}
    assert len(set(chunk.values())) == 1  # every algorithm and discount meets the same MDPs
    assert {t["runs"] for t in tasks} == {10}


# ---------------------------------------------------------------------------- on a cluster
@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with distributed.Client(cluster) as connected:
        yield connected
    cluster.close()


def _dataset(directory: Path):
    table = pq.read_table(directory / TASKS_FOLDER)
    order = pa.compute.sort_indices(table, [("task", "ascending"), ("run", "ascending")])
    return table.take(order).replace_schema_metadata(None)


@pytest.fixture(scope="module")
def reference(client, tmp_path_factory):
    directory = tmp_path_factory.mktemp("reference")
    result = sweep(SPEC, directory, client=client, progress=False)
    return directory, result


def test_a_sweep_writes_one_file_per_task_and_one_row_per_run(reference):
    directory, result = reference
    assert result.finished and result.completed == result.tasks == 24 and result.workers == 2
    files = sorted((directory / TASKS_FOLDER).glob("*.parquet"))
    assert len(files) == 24 and not list((directory / TASKS_FOLDER).glob(".*"))
    frame = load_results(directory)
    assert len(frame) == 24 * 10 == result.runs
    assert not frame.duplicated(["task", "run"]).any()
    assert set(frame["algorithm"]) == {"ppo:epsilon=0.1", "ppo:epsilon=0.3", "gpi"}
    assert set(frame["lemma_3_3"]) <= {"passed", "failed", "inconclusive"}
    gpi = frame[frame["algorithm"] == "gpi"]
    assert (gpi["convergence"] == "passed").all() and (gpi["claims_failed"] == 0).all()
    assert gpi["epsilon"].isna().all()
    # exact PPO stalls: decided failures of convergence, each with a replayable witness
    failed = frame[frame["claims_failed"] > 0]
    assert len(failed) and failed["witness"].notna().all()
    assert frame.loc[frame["claims_failed"] == 0, "witness"].isna().all()
    witness = json.loads(failed["witness"].iloc[0])
    assert set(witness) >= {"mdp", "policy0", "algorithm", "iteration", "options", "claim"}
    provenance = witness["mdp"]["provenance"]
    import mdps

    rebuilt = mdps.make_batch(provenance["spec"], provenance["size"], seed=provenance["seed"],
                              discount=witness["mdp"]["discount"])  # fmt: skip
    assert rebuilt.transitions[provenance["index"]].tolist() == witness["mdp"]["transitions"]
    assert result.stalled_runs == int(frame["stalled"].sum())


def test_resume_skips_finished_tasks_and_a_rerun_is_refused(reference, client):
    directory, _ = reference
    again = sweep(SPEC, directory, client=client, resume=True, progress=False)
    assert again.skipped == 24 and again.completed == 0 and again.finished
    with pytest.raises(tm.InvalidParameterError, match="already holds a sweep"):
        sweep(SPEC, directory, client=client, progress=False)
    other = _with(runs=20)
    with pytest.raises(tm.InvalidParameterError, match="holds a different sweep"):
        sweep(other, directory, client=client, resume=True, progress=False)


def test_killed_sweep_resumes_to_the_uninterrupted_dataset(reference, client, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(TOML)
    output = tmp_path / "out"
    command = [sys.executable, "-m", "tabular_mirror.cli", "sweep", str(spec), "-o", str(output),
               "--workers", "2", "-q"]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    folder = output / TASKS_FOLDER
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if folder.is_dir() and any(folder.glob("*.parquet")):
                break
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the CLI, its scheduler and its workers
        process.wait()
    done = len(list(folder.glob("*.parquet")))
    assert 0 < done < 24, f"{done} tasks were done when the sweep was killed"
    resumed = sweep(spec, output, client=client, resume=True, progress=False)
    assert resumed.skipped + resumed.completed == 24 and resumed.finished
    assert resumed.skipped >= done
    assert not list(folder.glob(".*.tmp"))
    assert _dataset(output).equals(_dataset(reference[0]))


def test_a_killed_worker_loses_at_most_its_task(reference, tmp_path):
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        pids = list(connected.run(os.getpid).values())
        output = tmp_path / "out"
        outcome = {}
        runner = threading.Thread(
            target=lambda: outcome.update(
                result=sweep(SPEC, output, client=connected, progress=False)
            )
        )
        runner.start()
        folder = output / TASKS_FOLDER
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            folder.is_dir() and any(folder.glob("*.parquet"))
        ):
            time.sleep(0.01)
        os.kill(pids[0], signal.SIGKILL)  # the nanny restarts it; Dask reschedules its task
        runner.join(timeout=180)
        assert not runner.is_alive()
    result = outcome["result"]
    assert result.finished, result.errors
    assert _dataset(output).equals(_dataset(reference[0]))


def test_report_summarises_per_cell_and_draws_heatmaps(reference, tmp_path):
    directory, _ = reference
    report = sweep_report(directory, output=tmp_path)
    table = report.table
    assert report.axes == ("epsilon", "discount", "algorithm_name")
    assert len(table) == 6 and set(table["runs"]) == {40}
    frame = load_results(directory)
    cell = frame[(frame["algorithm"] == "ppo:epsilon=0.3") & (frame["discount"] == 0.95)]
    row = table[(table["algorithm"] == "ppo:epsilon=0.3") & (table["discount"] == 0.95)].iloc[0]
    assert row["failure_rate"] == pytest.approx((cell["claims_failed"] > 0).mean())
    assert row["stall_rate"] == pytest.approx(cell["stalled"].mean())
    for name in ("summary.csv", "failure_rate.png", "stall_rate.png"):
        assert (tmp_path / name).stat().st_size > 0
    inexact_only = sweep_report(directory, output=tmp_path / "f", where="algorithm == 'gpi'")
    assert np.all(inexact_only.table["failure_rate"] == 0)
    with pytest.raises(tm.InvalidParameterError, match="unknown quantity"):
        sweep_report(directory, output=tmp_path, values=("colour",))


def test_command_line_report_and_lazy_python_entry_point(reference, tmp_path, capsys):
    from tabular_mirror.cli import main

    directory, _ = reference
    assert main(["sweep-report", str(directory), "-o", str(tmp_path), "--value", "stall_rate"]) == 0
    printed = capsys.readouterr().out
    assert "stall_rate" in printed and "stall_rate.png" in printed
    assert tm.sweep is sweep and tm.sweep_report is sweep_report


def test_an_existing_scheduler_by_address(client, tmp_path):
    small = _with(runs=10, discounts=[0.9], algorithms=[{"spec": "pmd", "step": [1, 10]}])
    result = sweep(small, tmp_path / "out", scheduler=client.scheduler.address, progress=False)
    assert result.finished and result.completed == 2 and result.workers == 2
    frame = load_results(tmp_path / "out")
    assert sorted(set(frame["step"])) == [1.0, 10.0] and len(frame) == 20


def test_the_readme_spec_is_valid(tmp_path):
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (tmp_path / "spec.toml").write_text(re.search(r"```toml\n(.*?)```", readme, re.S).group(1))
    spec = load_spec(tmp_path / "spec.toml")
    assert len(spec.cells) == (4 + 3 * 3) * 2 and set(spec.parameters) >= {"epsilon", "steps"}


def test_progress_lines_off_a_terminal():
    import io

    from tabular_mirror.sweeps.run import _ProgressBar

    stream = io.StringIO()
    bar = _ProgressBar(20, True, stream)
    for _ in range(20):
        bar.update({"runs": 5, "failed": 1})
    bar.close()
    lines = stream.getvalue().splitlines()
    assert 5 <= len(lines) <= 12 and lines[-1].startswith("[" + "#" * 30 + "] 20/20 tasks")
    assert "100 runs, 20 with a failed claim" in lines[-1]
