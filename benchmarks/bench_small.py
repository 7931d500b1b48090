"""Small-MDP benchmark: the public per-MDP calls against a bare numpy evaluation, in one run.

Run:  python benchmarks/bench_small.py             (about half a minute on 2 cores)
      python benchmarks/bench_small.py --quick     (fewer repeats; no Garnet(10^5) TRPO step)

The baseline is what a user would write to evaluate a policy of a small MDP by hand: P_pi and
r_pi by einsum, then ``numpy.linalg.solve((I - gamma P_pi), r_pi)`` (values only, no
certificate). Every other row is a public call on the same MDPs (Garnet(5, 3, 2), gamma = 0.9,
a random policy each), with its time per call and the ratio to that baseline:

- ``tm.evaluate`` (V, Q, A, eta, rho, rhobar, each certified): target within 3x;
- one ``tm.mirror_step`` of GPI, PMD and PPO-clip (evaluation of pi included, the step
  certified and re-verified): target within 10x each; one TRPO step: within 50x;
- ``proofs_check.check_fundamental_theorem`` for 50 iterations (the run and every claim):
  target under 50 ms;
- a user drift: forward KL written as a ``CallableDrift`` with its gradient, against the
  built-in ``ForwardKL`` step on the paper's 21-state grid (``mdps.make("paper-grid")``):
  target within 10x, certified;
- one TRPO step on a sparse Garnet(10^5, 4, 5): target under 0.5 s.

Times are the best of 25 repeats of a loop over the MDPs (the best of 3 for the Garnet(10^5)
step), as CPU time of this process (``time.process_time``; the ratios and targets use it) and
as wall-clock time. The machine may be shared: with more runnable processes than cores the
wall clock also counts the time this process waits for a core, which CPU time does not. The
load average is printed before and after. The Garnet(10^5) step's evaluation runs its two
linear systems in two threads, so its CPU time can exceed its wall time; its target is on the
wall clock.
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
import proofs_check
import tabular_mirror as tm
from tabular_mirror import drifts, instances
from tabular_mirror.algorithm import MirrorAlgorithm

S, A, BRANCHING, DISCOUNT = 5, 3, 2, 0.9


#: Wall-clock times of the last _best_of (the tables show CPU time; see the module notes).
WALL: list[float] = []


def _best_of(function, repeats: int) -> tuple[float, object]:
    """The best CPU time of this process over ``repeats`` calls (and the result); the best
    wall-clock time goes to WALL."""
    best, wall, result = np.inf, np.inf, None
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        result = function()
        best = min(best, time.process_time() - cpu)
        wall = min(wall, time.perf_counter() - started)
    WALL.append(wall)
    return best, result


def _per_call(function, items, repeats: int) -> tuple[float, list]:
    """Best-of-``repeats`` time of one pass over ``items``, per item (seconds), and the results."""
    seconds, results = _best_of(lambda: [function(item) for item in items], repeats)
    WALL[-1] /= len(items)
    return seconds / len(items), results


def small_mdps(count: int) -> list[tuple[tm.FiniteMDP, np.ndarray]]:
    out = []
    for seed in range(count):
        mdp = mdps.garnet(S, A, BRANCHING, seed=seed, discount=DISCOUNT)
        out.append((mdp, tm.random_policy(mdp, seed + 1000)))
    return out


def bare_evaluation(item) -> np.ndarray:
    """The baseline: P_pi and r_pi by einsum, one numpy.linalg.solve (values only)."""
    transitions, rewards, policy = item
    matrix = np.einsum("sa,sat->st", policy, transitions)
    vector = np.einsum("sa,sa->s", policy, rewards)
    return np.linalg.solve(np.eye(len(vector)) - DISCOUNT * matrix, vector)


def forward_kl(policy, candidate):
    """KL(pi[s] || pibar[s]), as a user would write it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(policy > 0, policy * np.log(policy / candidate), 0.0).sum(axis=1)


def forward_kl_gradient(policy, candidate):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(policy > 0, -policy / candidate, 0.0)


def _shown(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} us" if seconds < 0.01 else f"{seconds * 1e3:,.1f} ms"


def _row(task, seconds, baseline, target, met, evidence) -> tuple[str, ...]:
    ratio = "" if baseline is None else f"{seconds / baseline:.1f}x"
    verdict = "" if met is None else ("met" if met else "MISSED")
    return (task, _shown(seconds), _shown(WALL[-1]), ratio, target, verdict, evidence)


def _certified(results) -> str:
    steps = [r for r in results if isinstance(r, tm.StepResult)]
    share = np.mean([s.certificate.certified for s in steps])
    worst = max(float(s.certificate.bound) for s in steps)
    return f"certified {share:.0%}, max bound {worst:.1e}"


def small_rows(count: int, repeats: int) -> list[tuple[str, ...]]:
    items = small_mdps(count)
    arrays = [
        (np.asarray(m.transitions), np.asarray(m.rewards), np.asarray(p, dtype=float))
        for m, p in items
    ]
    baseline, values = _per_call(bare_evaluation, arrays, repeats)
    baseline_wall = WALL[-1]
    seconds, results = _per_call(lambda item: tm.evaluate(*item), items, repeats)
    evaluate_wall = WALL[-1]
    error = max(float(np.abs(r.values - v).max()) for r, v in zip(results, values, strict=True))
    bound = max(r.error_bound for r in results)
    WALL.append(baseline_wall)
    rows = [
        _row(
            f"bare numpy evaluation (einsum + linalg.solve), S={S} A={A}",
            baseline, baseline, "baseline", None, "values only, no certificate",
        ),
    ]  # fmt: skip
    WALL.append(evaluate_wall)
    rows += [
        _row(
            "tm.evaluate (V, Q, A, eta, rho, rhobar; certified)",
            seconds, baseline, "<= 3x", seconds <= 3 * baseline,
            f"max |V - bare| {error:.1e}, certified bound <= {bound:.1e}",
        ),
    ]  # fmt: skip
    for label, algorithm, factor in (
        ("GPI", instances.gpi(), 10),
        ("PMD (step 1)", instances.pmd(1.0), 10),
        ("PPO-clip (eps 0.2)", instances.ppo(0.2), 10),
        ("TRPO (delta 0.01)", instances.trpo(0.01), 50),
    ):
        seconds, results = _per_call(
            lambda item, algorithm=algorithm: tm.mirror_step(item[0], algorithm, item[1]),
            items,
            repeats,
        )
        rows.append(
            _row(
                f"tm.mirror_step {label}, evaluation included",
                seconds, baseline, f"<= {factor}x", seconds <= factor * baseline,
                _certified(results),
            )
        )  # fmt: skip
    for label, algorithm in (("PMD", instances.pmd(1.0)), ("PPO-clip", instances.ppo(0.2))):
        subset = items[: max(3, count // 10)]
        seconds, reports = _per_call(
            lambda item, algorithm=algorithm: proofs_check.check_fundamental_theorem(
                item[0], algorithm, item[1], 50
            ),
            subset,
            max(3, repeats // 5),
        )
        failed = sum(r.outcome == "failed" for r in reports)
        rows.append(
            _row(
                f"check_fundamental_theorem, {label}, 50 iterations",
                seconds, None, "< 50 ms", seconds < 0.05,
                f"{len(subset)} MDPs, reports failed: {failed}",
            )
        )  # fmt: skip
    return rows


def user_drift_rows(repeats: int) -> list[tuple[str, ...]]:
    mdp = mdps.make("paper-grid")
    policy = tm.uniform_policy(mdp)
    rows = []
    for scale in (50.0, 2.0):
        user = drifts.CallableDrift(
            forward_kl, forward_kl_gradient, name="user forward KL", convex=True
        )
        pieces = {
            "built-in ForwardKL": drifts.scaled(drifts.ForwardKL(), scale),
            "CallableDrift forward KL + gradient": drifts.scaled(user, scale),
        }
        timings = {}
        for label, drift in pieces.items():
            algorithm = MirrorAlgorithm.with_defaults(drift, name=label)
            seconds, step = _best_of(
                lambda algorithm=algorithm: [tm.mirror_step(mdp, algorithm, policy)
                                             for _ in range(5)], repeats,
            )  # fmt: skip
            timings[label] = (seconds / 5, WALL[-1] / 5, step[-1])
        built_in, built_in_wall, reference = timings["built-in ForwardKL"]
        seconds, wall, step = timings["CallableDrift forward KL + gradient"]
        distance = float(np.abs(step.policy - reference.policy).max())
        WALL.append(built_in_wall)
        rows.append(
            _row(
                f"paper-grid (21 x 4), forward KL x{scale:g}, N = Pi: built-in ForwardKL",
                built_in, built_in, "baseline", None,
                f"{reference.solver}, {reference.certificate.kind} "
                f"{float(reference.certificate.bound):.1e}",
            )
        )  # fmt: skip
        WALL.append(wall)
        rows.append(
            _row(
                "  the same drift as a CallableDrift with its gradient",
                seconds, built_in, "<= 10x",
                seconds <= 10 * built_in and step.certificate.certified,
                f"{step.solver}, {step.certificate.kind} {float(step.certificate.bound):.1e}, "
                f"certified {step.certificate.certified}, max |pi - built-in| {distance:.1e}",
            )
        )  # fmt: skip
    return rows


def large_trpo_rows() -> list[tuple[str, ...]]:
    mdp = mdps.garnet(100_000, 4, 5, seed=0, sparse=True)
    policy = tm.random_policy(mdp, 1)
    algorithm = instances.trpo(0.01)
    evaluation = tm.evaluate(mdp, policy, validate=False)
    given, step = _best_of(
        lambda: tm.mirror_step(mdp, algorithm, policy, evaluation=evaluation, validate=False), 3
    )
    total, _ = _best_of(lambda: tm.mirror_step(mdp, algorithm, policy), 3)
    evidence = f"{step.certificate.kind} {float(step.certificate.bound):.1e}, {step.status}"
    given_wall = WALL[-2]
    return [
        _row("TRPO step, sparse Garnet(10^5, 4, 5), evaluation included", total, None,
             "< 0.5 s wall", WALL[-1] < 0.5, evidence),
        (*_row("  the same step given the evaluation", given, None, "", None, "")[:2],
         _shown(given_wall), "", "", "", ""),
    ]  # fmt: skip


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("task", "CPU per call", "wall per call", "vs baseline", "target", "", "evidence")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mdps", type=int, default=50, help="small MDPs (default 50)")
    parser.add_argument("--repeats", type=int, default=25, help="best of (default 25)")
    parser.add_argument("--quick", action="store_true", help="5 repeats, no Garnet(10^5)")
    arguments = parser.parse_args()
    repeats = 5 if arguments.quick else arguments.repeats
    print(
        f"Garnet({S}, {A}, {BRANCHING}), gamma = {DISCOUNT}, {arguments.mdps} MDPs; load average "
        f"before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; numpy {np.__version__}"
    )
    rows = small_rows(arguments.mdps, repeats)
    rows += user_drift_rows(repeats)
    if not arguments.quick:
        rows += large_trpo_rows()
    print_table(rows)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
