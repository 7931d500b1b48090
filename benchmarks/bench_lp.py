"""LP benchmark (issue 13): solve(method="linear_programming") against bare HiGHS and PI.

The instance is QuantEcon's ``random_discrete_dp(3000, 3, k=10, beta=0.97)`` built here
without QuantEcon: for every state-action pair, k = 10 distinct successors drawn uniformly
with Dirichlet(1) probabilities (QuantEcon's ``random_probvec``), rewards standard normal.
The LP is min w . V s.t. V[s] >= r[s, a] + gamma P[s, a] . V (uniform w), the one
``tabular_mirror.solve`` builds, handed to ``scipy.optimize.linprog`` with each HiGHS method.

Run ``python benchmarks/bench_lp.py`` (several minutes: the simplex runs stop at
``--time-limit`` seconds) or ``--quick`` (S = 1000). Target: the default ``lp_method`` within
1.5x of the best bare HiGHS method.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tabular_mirror as tm


def random_discrete_dp(
    num_states: int, num_actions: int, k: int, beta: float, seed: int = 0
) -> tm.FiniteMDP:
    """QuantEcon's random_discrete_dp(num_states, num_actions, beta, k), sparse."""
    rng = np.random.default_rng(seed)
    pairs = num_states * num_actions
    columns = np.argsort(rng.random((pairs, num_states)), axis=1)[:, :k]
    probabilities = np.diff(
        np.concatenate(
            [
                np.zeros((pairs, 1)),
                np.sort(rng.random((pairs, k - 1)), axis=1),
                np.ones((pairs, 1)),
            ],
            axis=1,
        ),
        axis=1,
    )
    matrix = sp.csr_matrix(
        (probabilities.ravel(), (np.repeat(np.arange(pairs), k), columns.ravel())),
        shape=(pairs, num_states),
    )
    rewards = rng.standard_normal((num_states, num_actions))
    return tm.FiniteMDP(matrix, rewards, beta)


def bare_lp(mdp: tm.FiniteMDP, method: str, time_limit: float) -> tuple[float, object]:
    num_states, num_actions = mdp.num_states, mdp.num_actions
    selector = sp.csr_matrix(
        (
            np.ones(num_states * num_actions),
            (np.arange(num_states * num_actions), np.repeat(np.arange(num_states), num_actions)),
        ),
        shape=(num_states * num_actions, num_states),
    )
    constraints = sp.csr_matrix(mdp.discount * mdp.transition_matrix - selector)
    start = time.perf_counter()
    outcome = linprog(
        np.full(num_states, 1.0 / num_states),
        A_ub=constraints,
        b_ub=-mdp.rewards.ravel(),
        bounds=(None, None),
        method=method,
        options={"time_limit": time_limit},
    )
    return time.perf_counter() - start, outcome


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="S = 1000 instead of 3000")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per bare run")
    arguments = parser.parse_args()
    num_states = 1000 if arguments.quick else 3000
    mdp = random_discrete_dp(num_states, 3, 10, 0.97)
    optimum = tm.solve(mdp)
    print(f"random_discrete_dp({num_states}, 3, k=10, beta=0.97), sparse; S*A = {3 * num_states}")
    print(f"{'method':<52} {'seconds':>9}  result")
    best = None
    for method in ("highs-ipm", "highs-ds", "highs"):
        seconds, outcome = bare_lp(mdp, method, arguments.time_limit)
        if outcome.status == 0:
            error = float(np.abs(outcome.x - optimum.values).max())
            detail = f"max |V - V*| = {error:.1e}"
            best = seconds if best is None else min(best, seconds)
        else:
            detail = f"status {outcome.status}: {outcome.message}"
        print(f"{'bare linprog(method=' + repr(method) + ')':<52} {seconds:9.2f}  {detail}")
    seconds, result = timed(lambda: tm.solve(mdp, method="linear_programming"))
    print(
        f"{'tm.solve(linear_programming) (lp_method=auto)':<52} {seconds:9.2f}  "
        f"{result.status}, certified {result.error_bound:.1e}"
    )
    ours = seconds
    seconds, result = timed(
        lambda: tm.solve(mdp, "linear_programming", initial_policy=optimum.actions)
    )
    print(
        f"{'tm.solve(linear_programming, initial_policy=optimal)':<52} {seconds:9.2f}  "
        f"{result.status} (warm start: no HiGHS call)"
    )
    perturbed = optimum.actions.copy()
    changed = np.random.default_rng(1).choice(num_states, num_states // 10, replace=False)
    perturbed[changed] = (perturbed[changed] + 1) % 3
    seconds, result = timed(
        lambda: tm.solve(mdp, "linear_programming", lp_method="simplex", initial_policy=perturbed)
    )
    print(
        f"{'tm.solve(lp_method=simplex, initial_policy=10% off)':<52} {seconds:9.2f}  "
        f"{result.status}, {result.iterations} iterations (needs highspy for the warm basis)"
    )
    seconds, result = timed(lambda: tm.solve(mdp))
    print(
        f"{'tm.solve(policy_iteration)':<52} {seconds:9.2f}  "
        f"{result.status}, certified {result.error_bound:.1e}"
    )
    if best is not None:
        print(f"default LP / best bare HiGHS method: {ours / best:.2f}x (target <= 1.5x)")
    # the choice of lp_method="auto" for small problems
    small = random_discrete_dp(300, 3, 10, 0.97)
    for lp_method in ("simplex", "interior_point"):
        seconds, result = timed(
            lambda m=lp_method: tm.solve(small, "linear_programming", lp_method=m)
        )
        print(f"{'S = 300: lp_method=' + repr(lp_method):<52} {seconds:9.2f}  {result.status}")


if __name__ == "__main__":
    main()
