"""Run mirror learning: pi_0, pi_1 = step(pi_0), ... and record everything in a Trace.

Kuba et al. (2022), Theorem 3.6: for any drift, neighbourhood operator and sampling
distribution, the sequence improves state by state,
V_{n+1}(s) >= V_n(s) + (nu[s]/beta[s]) D_{pi_n}(pi_{n+1} | s)  (inequality (13)), and converges
to the optimum. :func:`mirror_learning` computes each step exactly (see
:func:`tabular_mirror.mirror_step`) and each policy's exact evaluation, records the quantities
the theorem talks about, and stops early at a GPI fixed point (max_{s,a} A_{pi_n} <= tolerance:
pi_n is optimal) or when the iteration budget runs out. ``proofs_check`` turns the trace into
verdicts.

Examples
--------
>>> import tabular_mirror as tm
>>> from tabular_mirror import instances
>>> mdp = tm.FiniteMDP(
...     [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
...     [[5, 10], [-1, 2]], "9/10")
>>> trace = tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 10)
>>> trace.stop_reason, [str(v) for v in trace.values[-1]]
('optimal', ['1825/43', '1550/43'])
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import numpy as np

from ._validate import positive_number, whole_number
from .algorithm import MirrorAlgorithm, drift_penalty
from .evaluation import evaluate
from .model import FiniteMDP, check_mdp, require_discounted
from .optimal import solve
from .policies import check_policy
from .step import Solver, mirror_step
from .traces import Trace

__all__ = ["mirror_learning"]


def _stack(items: list[Any], exact: bool) -> np.ndarray:
    if exact:
        array = np.empty((len(items), *np.shape(items[0])) if items else (0,), dtype=object)
        for k, item in enumerate(items):
            array[k] = item
        return array
    return np.array(items, dtype=float)


def mirror_learning(
    mdp: FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy0: Any,
    iterations: int,
    *,
    tol: float | None = None,
    choice: str = "closest",
    solver: Solver | None = None,
    optimum: bool = True,
    strict: bool = False,
    progress: Any = None,
) -> Trace:
    """Run ``iterations`` mirror-learning steps of ``algorithm`` from ``policy0``.

    Parameters
    ----------
    mdp, algorithm, policy0 : the MDP, the pieces, and pi_0 (S, A).
    iterations : int
        The most steps to take (>= 0).
    tol : float, optional
        Stop when max_{s,a} A_{pi_n}[s, a] <= tol (pi_n is then optimal up to
        tol / (1 - gamma)). Default 0 in exact mode, 1e-10 * max(1, ||r||_inf/(1-gamma)) in float.
    choice : maximiser choice when the argmax is a set ("closest", "vertex", "adversarial").
    solver : optional custom step solver (see :func:`tabular_mirror.mirror_step`).
    optimum : compute V* and eta* (exactly) for the trace.
    strict : stop as soon as a step cannot be certified.
    progress : optional callable ``progress(iteration, trace_so_far_returns)`` for displays.

    Returns
    -------
    Trace
    """
    check_mdp(mdp)
    require_discounted(mdp, "mirror_learning")
    iterations = whole_number(iterations, "iterations")
    policy = check_policy(mdp, policy0, "policy0")
    exact = mdp.is_exact
    if tol is None:
        scale = max(1.0, float(np.abs(np.asarray(mdp.rewards, dtype=float)).max()))
        tol = 0 if exact else 1e-10 * scale / (1 - float(mdp.discount))
    tol = positive_number(tol, "tol", allow_zero=True)
    tol = Fraction(tol) if exact else float(tol)  # stored in the trace in the run's arithmetic
    evaluation = evaluate(mdp, policy, validate=False)
    policies, values, returns, largest = [policy], [evaluation.values], [], []
    returns.append(evaluation.expected_return)
    largest.append(evaluation.advantages.max())
    steps: list[Any] = []
    step_times: list[float] = []
    stop_reason = "iterations"
    for iteration in range(iterations):
        if largest[-1] <= tol:
            stop_reason = "optimal"
            break
        started = time.perf_counter()
        step = mirror_step(
            mdp,
            algorithm,
            policy,
            choice=choice,
            solver=solver,
            evaluation=evaluation,
            validate=False,
        )
        step_times.append(time.perf_counter() - started)
        steps.append(step)
        policy = step.policy
        evaluation = evaluate(mdp, policy, validate=False)
        policies.append(policy)
        values.append(evaluation.values)
        returns.append(evaluation.expected_return)
        largest.append(evaluation.advantages.max())
        if progress is not None:
            progress(iteration + 1, returns)
        if strict and not step.converged:
            stop_reason = "not_certified"
            break
    else:
        if largest[-1] <= tol:
            stop_reason = "optimal"
    initial = mdp.initial
    bounds = [
        (initial * drift_penalty(step.drift_weights, step.sampling, step.state_drift)).sum()
        for step in steps
    ]
    optimal_values = optimal_return = None
    if optimum:
        optimal = solve(mdp, method="policy_iteration")
        optimal_values, optimal_return = optimal.values, optimal.expected_return
    num_states = mdp.num_states
    empty = np.zeros((0, num_states), dtype=object if exact else float)
    return Trace(
        algorithm=algorithm.name,
        mdp=mdp,
        exact=exact,
        policies=_stack(policies, exact),
        values=_stack(values, exact),
        returns=_stack(returns, exact),
        max_advantages=_stack(largest, exact),
        drifts=_stack([s.drift for s in steps], exact),
        state_drifts=_stack([s.state_drift for s in steps], exact) if steps else empty,
        drift_weights=_stack([s.drift_weights for s in steps], exact) if steps else empty,
        sampling=_stack([s.sampling for s in steps], exact) if steps else empty,
        mirror_values=_stack([s.mirror_values for s in steps], exact) if steps else empty,
        improvement_bounds=_stack(bounds, exact),
        objectives=_stack([s.objective for s in steps], exact),
        step_times=np.array(step_times, dtype=float),
        certificates=tuple(s.certificate for s in steps),
        optimal_values=optimal_values,
        optimal_return=optimal_return,
        stop_reason=stop_reason,
        tolerance=tol,
    )
