"""Foundation benchmarks (issue 2): tabular-mirror against the alternatives, side by side.

Run ``python benchmarks/bench_foundation.py`` (a few minutes, includes one pymdptoolbox run
of about 90 s) or ``python benchmarks/bench_foundation.py --quick`` (under a minute; smaller
pymdptoolbox instance, fewer repeats, no S = 10^6 forest). Every time is the best of several
repeats (wall clock, ``time.perf_counter``); on a shared machine single runs are noisy.

Each row: problem, method, seconds, iterations, and evidence: tabular-mirror's certified
error bound, or the max difference of an alternative's values from tabular-mirror's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mdps
import tabular_mirror as tm
from tabular_mirror import _exact
from tabular_mirror.operators import policy_rewards, policy_transitions

ROWS: list[tuple[str, str, str, str, str]] = []
PYMDPTOOLBOX_TIMEOUT = 150.0


def best_of(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """(best wall time in seconds, last result) over ``repeat`` calls."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def row(problem: str, method: str, seconds: float | None, iterations: Any, check: str) -> None:
    shown = "-" if seconds is None else f"{seconds:.4f}"
    ROWS.append((problem, method, shown, str(iterations), check))
    print(f"  {problem:<38} {method:<44} {shown:>9} {iterations!s:>6}  {check}", flush=True)


def max_difference(a: np.ndarray, b: np.ndarray) -> str:
    return f"max |V - V_tm| = {float(np.max(np.abs(np.asarray(a) - np.asarray(b)))):.1e}"


# ------------------------------------------------------------------------- baselines
def scipy_policy_iteration(mdp: tm.FiniteMDP) -> tuple[np.ndarray, np.ndarray, int]:
    """Minimal policy iteration: sparse P, one ``spsolve`` per policy (the honest baseline)."""
    transitions = sp.csr_matrix(mdp.transitions)
    rewards, gamma = np.asarray(mdp.rewards), float(mdp.discount)
    num_states, num_actions = rewards.shape
    states = np.arange(num_states)
    identity = sp.identity(num_states, format="csc")
    tie = 1e-12 * max(1.0, np.abs(rewards).max()) / (1 - gamma)
    actions = rewards.argmax(axis=1)
    for iteration in range(10_000):
        chosen = transitions[states * num_actions + actions]
        values = spla.spsolve((identity - gamma * chosen).tocsc(), rewards[states, actions])
        q_values = rewards + gamma * (transitions @ values).reshape(num_states, num_actions)
        best = q_values.max(axis=1)
        keep = q_values[states, actions] >= best - tie  # keep the current action on ties
        new_actions = np.where(keep, actions, q_values.argmax(axis=1))
        if np.array_equal(new_actions, actions):
            return values, actions, iteration
        actions = new_actions
    raise RuntimeError("scipy policy iteration did not stop")


_PYMDPTOOLBOX_SCRIPT = """
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
import mdptoolbox.example, mdptoolbox.mdp
S, gamma, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
P, R = mdptoolbox.example.forest(S, 4, 2, 0.1, is_sparse=True)
start = time.perf_counter()
solver = mdptoolbox.mdp.PolicyIteration(P, R, gamma)
solver.run()
seconds = time.perf_counter() - start
np.save(out, np.array(solver.V))
print(json.dumps({"seconds": seconds, "iterations": solver.iter}))
"""


def pymdptoolbox_forest(num_states: int, gamma: float) -> tuple[float, int, np.ndarray] | str:
    """pymdptoolbox's PolicyIteration on its own forest, in a subprocess with a timeout."""
    try:
        import mdptoolbox  # noqa: F401
    except ImportError:
        return "pymdptoolbox not importable: row skipped"
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "values.npy")
        try:
            done = subprocess.run(
                [sys.executable, "-c", _PYMDPTOOLBOX_SCRIPT, str(num_states), str(gamma), out],
                capture_output=True,
                text=True,
                timeout=PYMDPTOOLBOX_TIMEOUT,
                check=True,
            )
        except subprocess.TimeoutExpired:
            return f"pymdptoolbox timed out after {PYMDPTOOLBOX_TIMEOUT:.0f} s: row skipped"
        except subprocess.CalledProcessError as error:
            return f"pymdptoolbox failed ({error.stderr.strip().splitlines()[-1]})"
        report = json.loads(done.stdout.strip().splitlines()[-1])
        return report["seconds"], report["iterations"], np.load(out)


# ------------------------------------------------------------------------- sections
def forest_section(quick: bool, repeat: int) -> None:
    sizes = [10_000] if quick else [10_000, 1_000_000]
    for num_states in sizes:
        for gamma in (0.9, 0.96):
            mdp = mdps.forest(num_states, discount=gamma, sparse=True)
            problem = f"forest S={num_states:,} gamma={gamma}"
            runs = repeat if num_states <= 10_000 else 2
            seconds, result = best_of(lambda mdp=mdp: tm.solve(mdp, "policy_iteration"), runs)
            row(
                problem,
                "tabular-mirror solve(policy_iteration)",
                seconds,
                result.iterations,
                f"certified |V* - V| <= {result.error_bound:.1e}",
            )
            seconds, (values, actions, iterations) = best_of(
                lambda mdp=mdp: scipy_policy_iteration(mdp), runs
            )
            same = np.array_equal(actions, tm.policies.policy_actions(result.policy))
            row(
                problem,
                "minimal scipy PI (sparse P, spsolve)",
                seconds,
                iterations,
                max_difference(values, result.values) + ("" if same else "; policies differ"),
            )
    # pymdptoolbox densifies P_pi: run it once at S = 10^4 (about 90 s), or at S = 10^3 (quick)
    num_states, gamma = (1_000, 0.96) if quick else (10_000, 0.96)
    problem = f"forest S={num_states:,} gamma={gamma}"
    outcome = pymdptoolbox_forest(num_states, gamma)
    if isinstance(outcome, str):
        if "timed out" in outcome:
            seconds, _ = best_of(
                lambda: tm.solve(mdps.forest(num_states, discount=gamma, sparse=True)), repeat
            )
            outcome += (
                f" (> {PYMDPTOOLBOX_TIMEOUT / seconds:,.0f}x tabular-mirror's {seconds:.4f} s)"
            )
        row(problem, "pymdptoolbox PolicyIteration", None, "-", outcome)
        return
    seconds, iterations, values = outcome
    ours = tm.solve(mdps.forest(num_states, discount=gamma, sparse=True), "policy_iteration")
    note = "1 run" + ("; quick mode: S = 1,000 instead of 10,000" if quick else "")
    row(
        problem,
        "pymdptoolbox PolicyIteration",
        seconds,
        iterations,
        max_difference(values, ours.values) + f" ({note})",
    )
    if quick:
        seconds, ours = best_of(
            lambda: tm.solve(mdps.forest(num_states, discount=gamma, sparse=True)), repeat
        )
        row(
            problem,
            "tabular-mirror solve(policy_iteration)",
            seconds,
            ours.iterations,
            f"certified |V* - V| <= {ours.error_bound:.1e}",
        )


def garnet_section(repeat: int) -> None:
    mdp = mdps.garnet(100_000, 4, 5, seed=0, discount=0.99, sparse=True)
    problem = "garnet S=100,000 A=4 b=5 gamma=0.99"
    seconds, result = best_of(lambda: tm.solve(mdp, "policy_iteration"), max(2, repeat - 1))
    row(
        problem,
        "tabular-mirror solve(policy_iteration)",
        seconds,
        result.iterations,
        f"certified |V* - V| <= {result.error_bound:.1e}",
    )
    row(
        problem,
        "minimal scipy PI (spsolve)",
        None,
        "-",
        "not run: one direct sparse solve takes > 240 s (fill-in)",
    )
    # one policy's evaluation to a certified 1e-8 (values and visitation)
    actions = np.asarray(mdp.rewards).argmax(axis=1)
    policy = tm.deterministic_policy(mdp, actions)
    problem = "garnet 10^5: evaluate(tolerance=1e-8)"
    seconds, result = best_of(lambda: tm.evaluate(mdp, policy, tolerance=1e-8), repeat)
    row(
        problem,
        "tabular-mirror evaluate (GMRES, deterministic pi)",
        seconds,
        result.iterations,
        f"certified |V - V_pi| <= {result.error_bound:.1e}, |rho err|_1 <= "
        f"{result.visitation_error_bound:.1e}",
    )
    seconds, values = best_of(lambda: _scipy_gmres_values(mdp, policy), repeat)
    row(
        problem,
        "scipy gmres (values only, rtol=1e-12)",
        seconds,
        "-",
        max_difference(values, result.values),
    )
    uniform = tm.uniform_policy(mdp)
    seconds, result = best_of(lambda: tm.evaluate(mdp, uniform, tolerance=1e-8), repeat)
    row(
        problem,
        "tabular-mirror evaluate (GMRES, uniform pi)",
        seconds,
        result.iterations,
        f"certified |V - V_pi| <= {result.error_bound:.1e}",
    )


def _scipy_gmres_values(mdp: tm.FiniteMDP, policy: np.ndarray) -> np.ndarray:
    matrix = sp.csr_matrix(policy_transitions(mdp, policy))
    system = sp.identity(mdp.num_states, format="csr") - float(mdp.discount) * matrix
    rewards = policy_rewards(mdp, policy)
    values, info = spla.gmres(system, rewards, rtol=1e-12, restart=30, maxiter=1000)
    if info != 0:
        raise RuntimeError(f"scipy gmres info = {info}")
    return values


def dense_section(repeat: int) -> None:
    mdp = mdps.random_dense_mdp(2000, 4, seed=0, discount=0.99)
    policy = tm.random_policy(mdp, 0)
    problem = "dense S=2,000 A=4 gamma=0.99"
    seconds, result = best_of(lambda: tm.evaluate(mdp, policy), repeat)
    row(
        problem,
        "tabular-mirror evaluate (LAPACK LU)",
        seconds,
        result.iterations,
        f"certified |V - V_pi| <= {result.error_bound:.1e} (+ visitation)",
    )

    def bare() -> np.ndarray:
        matrix = np.einsum("sa,sat->st", policy, mdp.transitions)
        system = np.eye(mdp.num_states) - float(mdp.discount) * matrix
        return np.linalg.solve(system, (policy * mdp.rewards).sum(axis=1))

    seconds_bare, values = best_of(bare, repeat)
    row(
        problem,
        "bare numpy.linalg.solve (build P_pi, solve)",
        seconds_bare,
        "-",
        max_difference(values, result.values) + f"; ratio tm/bare = {seconds / seconds_bare:.2f}",
    )


def exact_section(repeat: int) -> None:
    mdp = mdps.exact_garnet(200, 2, 3, seed=0, discount="9/10", denominator=10)
    policy = tm.deterministic_policy(mdp, np.zeros(200, dtype=int))
    problem = "exact garnet S=200 A=2 b=3 (k/10)"
    seconds, result = best_of(lambda: tm.evaluate(mdp, policy), repeat)
    backend = _exact.exact_backend()
    row(
        problem,
        f"tabular-mirror evaluate (exact, {backend})",
        seconds,
        "-",
        "exact (values and visitation)",
    )
    system = np.eye(200, dtype=int).astype(object) - mdp.discount * policy_transitions(mdp, policy)
    rewards = policy_rewards(mdp, policy)

    def flint_solve() -> list[Fraction]:
        import flint

        a = flint.fmpq_mat(
            200, 200, [flint.fmpq(v.numerator, v.denominator) for v in system.ravel()]
        )
        b = flint.fmpq_mat(200, 1, [flint.fmpq(v.numerator, v.denominator) for v in rewards])
        return [Fraction(int(e.p), int(e.q)) for e in a.solve(b).entries()]

    def sympy_solve() -> list[Fraction]:
        from sympy.polys.domains import QQ
        from sympy.polys.matrices import DomainMatrix

        a = DomainMatrix(
            [[QQ(v.numerator, v.denominator) for v in line] for line in system], (200, 200), QQ
        )
        b = DomainMatrix([[QQ(v.numerator, v.denominator)] for v in rewards], (200, 1), QQ)
        return [
            Fraction(int(e.numerator), int(e.denominator)) for e in a.lu_solve(b).to_list_flat()
        ]

    for name, solver in (
        ("python-flint fmpq_mat.solve (bare, values)", flint_solve),
        ("sympy DomainMatrix(QQ).lu_solve (bare, values)", sympy_solve),
    ):
        try:
            seconds, values = best_of(solver, repeat)
        except ImportError as error:
            row(problem, name, None, "-", f"not importable: {error}")
            continue
        agree = all(v == w for v, w in zip(values, result.values, strict=True))
        row(problem, name, seconds, "-", "identical to tabular-mirror" if agree else "DIFFERENT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="under a minute")
    arguments = parser.parse_args()
    repeat = 3 if arguments.quick else 5
    print(
        f"tabular-mirror foundation benchmarks ({'quick' if arguments.quick else 'full'}); "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}; "
        f"best of {repeat} unless noted"
    )
    print(f"  {'problem':<38} {'method':<44} {'seconds':>9} {'iter':>6}  check")
    start = time.perf_counter()
    forest_section(arguments.quick, repeat)
    garnet_section(repeat)
    dense_section(repeat)
    exact_section(repeat)
    print(f"total {time.perf_counter() - start:.1f} s")
    print()
    print("| problem | method | seconds | iterations | check |")
    print("|---|---|---:|---:|---|")
    for line in ROWS:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |")


if __name__ == "__main__":
    main()
