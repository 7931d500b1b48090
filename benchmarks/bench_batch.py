"""Batched engine benchmark: B small MDPs at once against the per-MDP path, in one run.

Run:  python benchmarks/bench_batch.py                 (about a minute on 2 cores)
      python benchmarks/bench_batch.py --size 2000     (quicker)

Targets (issue 12, S = 5, A = 3, Garnet b = 2, gamma = 0.9, the 2-core reference machine):

1. batched evaluation (values, Q, A, eta, rho, rhobar, each certified): >= 200,000 MDPs/s;
2. batched GPI / PMD / PPO-clip steps: >= 50,000 MDP-steps/s (reported given the evaluation
   and including it);
3. 10,000 runs x 20 iterations with every per-step claim checked (Lemmas 3.3 / 3.5,
   inequality (13), stall and convergence, V* by batched policy iteration): < 60 s.

Each row also times the per-MDP path (``tm.evaluate``, ``tm.mirror_step``,
``tm.mirror_learning`` + ``proofs_check.check_trace``) on a sample of the same MDPs, and a bare
per-MDP numpy solve, so the speed-up is measured on the same machine in the same run. Times
are the best of a few repeats (wall clock); the machine may be shared, so the load average is
printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import mdps
import tabular_mirror as tm
from tabular_mirror import batch as tb
from tabular_mirror.specs import make_algorithm

S, A, BRANCHING = 5, 3, 2


def _best_of(function, repeats: int = 3) -> tuple[float, object]:
    best, result = np.inf, None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}"


def evaluation_rows(size: int, sample: int) -> list[tuple[str, ...]]:
    batch = mdps.garnet_batch(size, S, A, BRANCHING, seed=0)
    policies = tb.random_policies(batch, 1)
    seconds, result = _best_of(lambda: tb.evaluate_batch(batch, policies, validate=False), 5)
    members = [batch.mdp(b) for b in range(sample)]
    single, _ = _best_of(
        lambda: [tm.evaluate(m, policies[b], validate=False) for b, m in enumerate(members)],
        2,
    )
    matrices = np.einsum("bsa,bsat->bst", policies[:sample], batch.transitions[:sample])
    rewards = np.einsum("bsa,bsa->bs", policies[:sample], batch.rewards[:sample])
    identity = np.eye(S)

    def bare():
        for b in range(sample):
            np.linalg.solve(identity - 0.9 * matrices[b], rewards[b])

    bare_seconds, _ = _best_of(bare, 3)
    return [
        (
            "evaluation (V, Q, A, eta, rho, rhobar, certified)",
            f"{seconds / size * 1e6:.2f} us",
            _rate(size, seconds),
            f"{single / sample * 1e6:.0f} us (tm.evaluate)",
            f"{single / sample / (seconds / size):.0f}x",
            f"max bound {result.error_bound.max():.1e}, certified {result.converged.mean():.0%}",
        ),
        (
            "  bare per-MDP numpy.linalg.solve (values only)",
            "",
            "",
            f"{bare_seconds / sample * 1e6:.1f} us",
            f"{bare_seconds / sample / (seconds / size):.0f}x",
            "",
        ),
    ]


def step_rows(size: int, sample: int) -> list[tuple[str, ...]]:
    batch = mdps.garnet_batch(size, S, A, BRANCHING, seed=0)
    policies = tb.random_policies(batch, 1)
    evaluation = tb.evaluate_batch(batch, policies, validate=False)
    members = [batch.mdp(b) for b in range(sample)]
    rows = []
    for spec in ("gpi", "pmd:step=1", "ppo:epsilon=0.2", "trpo:delta=0.01"):
        algorithm = make_algorithm(spec)
        given, step = _best_of(
            lambda algorithm=algorithm: tb.mirror_step_batch(
                batch, algorithm, policies, evaluation=evaluation, validate=False
            ),
            3,
        )
        total, _ = _best_of(
            lambda algorithm=algorithm: tb.mirror_step_batch(
                batch, algorithm, policies, validate=False
            ),
            2,
        )
        single, _ = _best_of(
            lambda algorithm=algorithm: [
                tm.mirror_step(m, algorithm, policies[b], validate=False)
                for b, m in enumerate(members)
            ],
            1,
        )
        rows.append(
            (
                f"step {spec}",
                f"{given / size * 1e6:.2f} us (+eval {total / size * 1e6:.2f})",
                f"{_rate(size, given)} (+eval {_rate(size, total)})",
                f"{single / sample * 1e6:.0f} us (tm.mirror_step)",
                f"{single / sample / (total / size):.0f}x",
                f"certified {step.certified.mean():.1%}, fallbacks {int(step.fallback.sum())}, "
                f"max bound {np.nanmax(step.bound):.1e}",
            )
        )
    return rows


def run_rows(size: int, iterations: int, sample: int) -> list[tuple[str, ...]]:
    import proofs_check

    batch = mdps.garnet_batch(size, S, A, BRANCHING, seed=0)
    policies = tb.random_policies(batch, 1)
    rows = []
    for spec, confirm in (
        ("gpi", False),
        ("pmd:step=1", False),
        ("ppo:epsilon=0.2", False),
        ("ppo:epsilon=0.2", True),
    ):
        started = time.perf_counter()
        trace = tb.mirror_learning_batch(batch, spec, policies, iterations)
        claims = tb.check_batch(trace, confirm_stalls=confirm)
        columns = claims.columns()
        seconds = time.perf_counter() - started
        algorithm = make_algorithm(spec)
        started = time.perf_counter()
        for b in range(sample):
            mdp = batch.mdp(b)
            single = tm.mirror_learning(mdp, algorithm, policies[b], iterations)
            proofs_check.check_trace(single)
        per_run = (time.perf_counter() - started) / sample
        failed = int((claims.count("failed") > 0).sum())
        witnesses = sum(w is not None for w in columns["witness"])
        rows.append(
            (
                f"{size} runs x {iterations} it, {spec}" + (" + exact stalls" if confirm else ""),
                f"{seconds:.1f} s",
                f"{size * iterations / seconds:,.0f} step/s",
                f"{per_run * 1e3:.0f} ms/run (mirror_learning + check_trace)",
                f"{per_run * size / seconds:.0f}x",
                f"stalled {claims.stalled.mean():.1%}, runs with a failed claim {failed}, "
                f"steps {int(trace.stepped.sum())}, witnesses {witnesses}",
            )
        )
    return rows


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("task", "batched per MDP", "batched MDPs/s", "per-MDP path", "speed-up", "notes")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="B (default 10000)")
    parser.add_argument("--iterations", type=int, default=20, help="run length (default 20)")
    parser.add_argument("--sample", type=int, default=200, help="per-MDP sample (default 200)")
    arguments = parser.parse_args()
    print(
        f"S = {S}, A = {A}, Garnet b = {BRANCHING}, gamma = 0.9, B = {arguments.size}; "
        f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
        f"numpy {np.__version__}"
    )
    rows = evaluation_rows(arguments.size, arguments.sample)
    rows += step_rows(arguments.size, arguments.sample)
    rows += run_rows(arguments.size, arguments.iterations, max(arguments.sample // 4, 10))
    print_table(rows)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
