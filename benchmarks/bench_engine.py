"""Engine benchmark: the exact mirror step at scale, against the paper's gradient approach,
and the paper's full experiment grid.

Run:  python benchmarks/bench_engine.py            (about a minute on 2 cores)
      python benchmarks/bench_engine.py --states 20000   (a quicker Garnet)

1. One exact step of PPO and PMD on a sparse Garnet(S=100_000, A=4, b=5) (``mdps.garnet``):
   timed given the evaluation (``evaluation=``: the linear solve excluded) and including it.
2. The paper's approach: k = 1000 softmax-logit gradient steps on the same objective (plain
   numpy, as in the authors' code) on the paper's grid world, against the exact argmax: time
   and objective shortfall.
3. The paper's grid: the 8 cells of ``instances.paper_grid()`` x 50 iterations on the paper's 3
   environments (``mdps.make("paper-bandit" | "paper-chain" | "paper-grid")``).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import mdps
import tabular_mirror as tm
from tabular_mirror import instances
from tabular_mirror.algorithm import make_context, mirror_objective


def _best_of(function, repeats: int = 3) -> tuple[float, object]:
    best, result = np.inf, None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def garnet_steps(num_states: int) -> list[tuple[str, ...]]:
    mdp = mdps.garnet(num_states, 4, 5, seed=0, sparse=True)
    policy = tm.random_policy(mdp, 1)
    evaluation_time, evaluation = _best_of(lambda: tm.evaluate(mdp, policy, validate=False), 2)
    rows = []
    for algorithm in (instances.ppo(0.2), instances.pmd(1.0)):
        given, step = _best_of(
            lambda algorithm=algorithm: tm.mirror_step(
                mdp, algorithm, policy, evaluation=evaluation, validate=False
            )
        )
        total, _ = _best_of(
            lambda algorithm=algorithm: tm.mirror_step(mdp, algorithm, policy, validate=False), 1
        )
        rows.append(
            (
                f"Garnet({num_states}, 4, 5) sparse",
                algorithm.name,
                f"{given:.3f}",
                f"{total:.3f}",
                f"{step.status} ({step.certificate.kind} {float(step.certificate.bound):.1e})",
            )
        )
    rows.append(
        (f"Garnet({num_states}, 4, 5) sparse", "evaluation only", "", f"{evaluation_time:.3f}", "")
    )
    return rows


def _softmax(logits: np.ndarray) -> np.ndarray:
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def paper_gradient_steps(algorithm, context, steps: int = 1000, learning_rate: float = 1.0):
    """The authors' approach: gradient ascent on softmax logits of the mirror objective."""
    drift = algorithm.drift
    beta = np.asarray(context.sampling_weights, dtype=float)
    nu = np.asarray(algorithm.drift_distribution.weights(context, context.policy), dtype=float)
    advantages = np.asarray(context.advantages, dtype=float)
    logits = np.log(np.asarray(context.policy, dtype=float))
    for _ in range(steps):
        candidate = _softmax(logits)
        gradient = beta[:, None] * advantages - nu[:, None] * drift.gradient(context, candidate)
        gradient /= beta[:, None]  # per-state step size, as the objective is beta-weighted
        average = (candidate * gradient).sum(axis=1, keepdims=True)
        logits = logits + learning_rate * candidate * (gradient - average)
    return _softmax(logits)


def paper_approach() -> list[tuple[str, ...]]:
    mdp = mdps.make("paper-grid")
    policy = tm.random_policy(mdp, 3)
    rows = []
    for algorithm in (instances.ppo(0.2), instances.pmd(1.0), instances.ppo_kl(1.0)):
        context = make_context(mdp, algorithm, policy)
        exact_time, step = _best_of(
            lambda algorithm=algorithm: tm.mirror_step(mdp, algorithm, policy)
        )
        gradient_time, candidate = _best_of(
            lambda algorithm=algorithm, context=context: paper_gradient_steps(algorithm, context), 1
        )
        shortfall = float(step.objective) - float(mirror_objective(algorithm, context, candidate))
        rows.append(
            (
                "paper-grid (21 x 4)",
                algorithm.name,
                f"{exact_time:.4f}",
                f"{gradient_time:.4f}",
                f"{shortfall:.2e}",
            )
        )
    return rows


def paper_grid(iterations: int = 50) -> list[tuple[str, ...]]:
    rows = []
    for environment in ("paper-bandit", "paper-chain", "paper-grid"):
        mdp = mdps.make(environment)
        policy = tm.random_policy(mdp, 0)
        optimum = float(tm.solve(mdp).expected_return)
        for algorithm in instances.paper_grid():
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                trace = tm.mirror_learning(mdp, algorithm, policy, iterations, optimum=False)
            elapsed = time.perf_counter() - started
            uncertified = sum(not c.certified for c in trace.certificates)
            gains = np.diff(np.asarray(trace.values, dtype=float), axis=0)
            rows.append(
                (
                    environment,
                    algorithm.name,
                    f"{elapsed:.3f}",
                    f"{float(trace.returns[-1]):.4f} / {optimum:.4f}",
                    f"{trace.iterations}",
                    f"{uncertified}",
                    "yes" if np.all(gains >= -1e-9) else f"NO ({gains.min():.2e})",
                )
            )
    return rows


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        lines.append(
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=100_000, help="Garnet size (S)")
    parser.add_argument("--iterations", type=int, default=50, help="paper grid iterations")
    arguments = parser.parse_args()
    print("1. One exact step on a sparse Garnet (mdps.garnet), seconds (best of 3 / one run;")
    print("   evaluation: best of 2, the first run includes one-time setup)\n")
    print(
        table(
            ("MDP", "algorithm", "step given evaluation", "step incl. evaluation", "status"),
            garnet_steps(arguments.states),
        )
    )
    print("\n2. Exact argmax vs the paper's approach (1000 softmax-logit gradient steps)\n")
    print(
        table(
            (
                "MDP",
                "algorithm",
                "exact step (s)",
                "1000 gradient steps (s)",
                "objective shortfall",
            ),
            paper_approach(),
        )
    )
    print(f"\n3. The paper's grid: 8 cells x {arguments.iterations} iterations (mdps.make)\n")
    print(
        table(
            (
                "environment",
                "cell",
                "time (s)",
                "final eta / eta*",
                "steps",
                "uncertified",
                "monotone",
            ),
            paper_grid(arguments.iterations),
        )
    )


if __name__ == "__main__":
    main()
