"""Optimal values V* and optimal policies: policy, value and modified policy iteration, and LP.

Methods of :func:`solve` and their guarantees (Puterman, *Markov Decision Processes*, 1994,
sections 6.3-6.5 and 6.9):

- ``"policy_iteration"`` (Howard): evaluate pi_k exactly, then pi_{k+1} greedy in Q_{pi_k},
  keeping pi_k's action on ties. V_{pi_k} increases monotonically and the method stops after
  finitely many iterations at an optimal policy, in at most (|S||A| - |S|)(ceil(H) + 1)
  iterations with H = ln(1/(1-gamma))/(1-gamma) (Scherrer 2016). In exact mode the returned
  values are exactly V*.
- ``"value_iteration"``: V_{k+1} = T* V_k. Stops when ||V_{k+1} - V_k||_inf <=
  tolerance (1-gamma) / (2 gamma), which guarantees the greedy policy is tolerance-optimal.
  The iterate is *not* reported as the value function: the greedy policy is re-evaluated
  exactly and its values are reported (the raw iterate is kept in ``iterate``).
- ``"modified_policy_iteration"``: V_{k+1} = T_{pi_k}^m V_k with pi_k greedy in V_k, started
  below V* so the iterates increase; same stopping rule and re-evaluation as value iteration.
- ``"linear_programming"``: min_V w . V s.t. V[s] >= r[s, a] + gamma P[s, a] . V for all (s, a),
  solved by HiGHS (``scipy.optimize.linprog``). The dual variables are the discounted
  state-action occupancy measure of an optimal policy from the weights w (``occupancy``).
  w = d when d > 0 everywhere, else uniform (a zero weight would leave V undetermined there).
  In exact mode HiGHS only *proposes* a policy: that policy is evaluated exactly and improved
  by exact policy iteration until no action improves, so the values never pass through floats.

Every result reports the certificate of its final policy pi: ``residual`` =
||T* V_pi - V_pi||_inf = max_{s,a} A_pi[s, a] and ``error_bound`` >= ||V* - values||_inf from
the contraction bound ||V* - V||_inf <= ||T* V - V||_inf / (1 - gamma). In exact mode a converged
result has residual exactly 0, hence values == V*. Reaching ``max_iterations`` is reported as
``converged=False``, ``status="max_iterations"``, never silently.

Examples
--------
>>> import tabular_mirror as tm
>>> mdp = tm.FiniteMDP(
...     [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
...     [[5, 10], [-1, 2]], "9/10")
>>> result = tm.solve(mdp, method="policy_iteration")
>>> [str(v) for v in result.values], result.error_bound, result.converged
(['1825/43', '1550/43'], Fraction(0, 1), True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from . import _exact
from ._validate import choice, positive_number, reward_scale, whole_number
from .errors import InvalidParameterError
from .evaluation import _complete, _evaluate_values, evaluate
from .model import FiniteMDP, check_mdp
from .operators import bellman_operator, q_from_values
from .policies import (
    check_policy,
    deterministic_policy,
    greedy_actions,
    greedy_policy,
    policy_actions,
)
from .results import EvaluationResult, IterationRecord, SolveResult, message_for

__all__ = ["solve", "METHODS"]

METHODS = (
    "policy_iteration",
    "value_iteration",
    "modified_policy_iteration",
    "linear_programming",
)

_DEFAULT_TOLERANCE = 1e-10

#: Default iteration caps. Value iteration needs about ln(tolerance)/ln(gamma) iterations
#: (3.8e7 at gamma = 0.999999): without a cap it runs for hours and says nothing. Policy
#: iteration needs few iterations at any gamma and is the method to use near gamma = 1.
DEFAULT_MAX_ITERATIONS = {
    "policy_iteration": 10_000,
    "value_iteration": 100_000,
    "modified_policy_iteration": 100_000,
    "linear_programming": 10_000,
}
#: Exact value iteration: the Fractions' sizes grow with every iteration (a 999/1000 discount
#: does not finish), so the exact default cap is lower.
EXACT_VALUE_ITERATION_CAP = 1_000
#: Most T_pi applications per modified-policy-iteration step.
MAX_SWEEPS = 100_000
#: Default wall-clock limit (seconds) of the HiGHS solve behind ``"linear_programming"``: the
#: simplex on a sparse Garnet with S = 30,000 runs for over ten minutes.
DEFAULT_LP_TIME_LIMIT = 300.0


def solve(
    mdp: FiniteMDP,
    method: str = "policy_iteration",
    *,
    tolerance: float | None = None,
    max_iterations: int | None = None,
    initial_policy: Any = None,
    sweeps: int = 20,
    history: bool = False,
    time_limit: float | None = None,
    progress: Callable[[int, Any], None] | None = None,
) -> SolveResult:
    """Compute V* and an optimal deterministic policy of ``mdp``.

    Parameters
    ----------
    mdp : FiniteMDP
    method : {"policy_iteration", "value_iteration", "modified_policy_iteration",
        "linear_programming"}
    tolerance : float, optional
        Target sup-norm suboptimality. Default 1e-10 times the value scale
        max(1, ||r||_inf / (1-gamma)) in float mode; exact mode uses 0 for policy iteration and
        LP (exact optimality) and the float default for value iteration's stopping rule.
    max_iterations : int, optional
        Iteration cap (at most 10^9). Defaults: 10,000 for policy iteration and the LP
        (HiGHS's simplex iterations and the exact clean-up each); for value and modified policy
        iteration the count the stopping rule needs (ceil(log(...)/log(1/gamma)) + 10), but at
        most 100,000 (1,000 in exact mode, where the Fractions grow with each iteration).
        Reaching the cap gives ``converged=False``, ``status="max_iterations"``.
    initial_policy : (S, A) array_like, optional
        Starting policy of policy iteration (default: greedy in the one-step rewards).
    sweeps : int
        m, the number of T_pi applications per iteration of modified policy iteration
        (1 <= m <= 100,000).
    history : bool
        Keep one :class:`IterationRecord` per iteration.
    time_limit : float, optional
        Seconds allowed to HiGHS for ``"linear_programming"`` (default 300); when it runs out
        the result is ``status="max_iterations"``. Other methods ignore it.
    progress : callable, optional
        ``progress(iteration, residual)`` after each iteration (value, modified policy and
        policy iteration), for displays such as the command line's progress line.

    Returns
    -------
    SolveResult

    Raises
    ------
    InvalidParameterError
        Unknown method, tolerance < 0, sweeps outside [1, 100,000], max_iterations outside
        [1, 10^9], time_limit <= 0.
    """
    check_mdp(mdp)
    choice(method, "method", METHODS)
    sweeps = whole_number(sweeps, "sweeps", minimum=1, maximum=MAX_SWEEPS)
    if time_limit is not None:
        time_limit = float(positive_number(time_limit, "time_limit"))
    if progress is not None and not callable(progress):
        raise InvalidParameterError(f"progress = {progress!r} must be a callable or None")
    if max_iterations is not None:
        max_iterations = whole_number(max_iterations, "max_iterations", minimum=1)
    scale = max(1.0, reward_scale(mdp.rewards))
    scale /= 1.0 - float(mdp.discount)
    if tolerance is None:
        exact_optimum = mdp.is_exact and method in ("policy_iteration", "linear_programming")
        tolerance = 0 if exact_optimum else _DEFAULT_TOLERANCE * scale
    tolerance = positive_number(tolerance, "tolerance", allow_zero=True)  # "1/10" -> Fraction
    tolerance = Fraction(tolerance) if mdp.is_exact else float(tolerance)
    if initial_policy is not None:
        initial_policy = check_policy(mdp, initial_policy, "initial_policy")
    solver = {
        "policy_iteration": _policy_iteration,
        "value_iteration": _value_iteration,
        "modified_policy_iteration": _modified_policy_iteration,
        "linear_programming": _linear_programming,
    }[method]
    return solver(
        mdp,
        tolerance=tolerance,
        max_iterations=max_iterations,
        initial_policy=initial_policy,
        sweeps=sweeps,
        history=history,
        scale=scale,
        time_limit=time_limit,
        progress=progress,
    )


# ---------------------------------------------------------------------------- shared pieces
def _tie_tolerance(mdp: FiniteMDP, scale: float) -> float:
    """Ties in Q count as ties up to rounding in float mode, exactly in exact mode."""
    return 0 if mdp.is_exact else 1e-12 * scale


def _certificate(mdp: FiniteMDP, evaluation: EvaluationResult) -> tuple[Any, Any]:
    """(residual, error_bound) of a policy's evaluation: ||T*V - V|| and ||V* - V|| bound."""
    best = evaluation.advantages.max(axis=1)
    residual = np.abs(best).max()
    if mdp.is_exact:
        return residual, residual / (1 - mdp.discount)
    # rounding in computing Q = r + gamma P V and A = Q - V: a sum of k + 2 terms per entry,
    # k the most nonzeros in a row of P (Higham 2002, section 3.1)
    matrix = mdp.transition_matrix
    if sp.issparse(matrix):
        nonzeros = int(np.diff(matrix.indptr).max(initial=0))
    else:
        nonzeros = mdp.num_states
    terms = nonzeros + 2
    unit = np.finfo(float).eps / 2
    rounding = (
        2
        * terms
        * unit
        / (1 - terms * unit)
        * (float(np.abs(mdp.rewards).max()) + 2 * float(np.abs(evaluation.values).max()))
    )
    return float(residual), (float(residual) + rounding) / (1.0 - mdp.discount)


def _finish(
    mdp: FiniteMDP,
    method: str,
    policy: np.ndarray,
    iterations: int,
    stopped_by_rule: bool,
    tolerance: float,
    records: list[IterationRecord] | None,
    evaluation: EvaluationResult | None = None,
    a_priori_bound: Any = None,
    limit: str = "iterations",
    **extra: Any,
) -> SolveResult:
    if evaluation is None:
        evaluation = evaluate(mdp, policy, validate=False)
    residual, error_bound = _certificate(mdp, evaluation)
    if a_priori_bound is not None:
        error_bound = min(error_bound, a_priori_bound + evaluation.error_bound)
    if not stopped_by_rule:
        status, detail = "max_iterations", limit
    elif error_bound > tolerance or not evaluation.values_certified:
        # a solve is certified on its values; the visitation has its own bound
        # (evaluation.visitation_error_bound), reported beside it
        status, detail = "not_certified", "bound"
    elif mdp.is_exact and residual == 0:
        status, detail = "converged", "exact"
    else:
        status, detail = "converged", "certified"
    return SolveResult(
        values=evaluation.values,
        q_values=evaluation.q_values,
        policy=_exact.readonly(np.array(policy)),
        expected_return=evaluation.expected_return,
        iterations=iterations,
        converged=status == "converged",
        status=status,
        message=message_for(status, detail),
        residual=residual,
        error_bound=error_bound,
        method=method,
        exact=mdp.is_exact,
        evaluation=evaluation,
        history=tuple(records) if records is not None else None,
        **extra,
    )


def _value_iteration_cap(mdp: FiniteMDP, tolerance: float, scale: float) -> int:
    """Iterations after which the VI stopping rule must hold (geometric contraction)."""
    gamma = float(mdp.discount)
    if gamma == 0:
        return 2
    target = max(tolerance, 1e-300) * (1 - gamma) / (2 * gamma)
    return int(np.ceil(np.log(target / (2 * scale)) / np.log(gamma))) + 10


# ---------------------------------------------------------------------------- the methods
def _policy_iteration(
    mdp: FiniteMDP,
    *,
    tolerance: float,
    max_iterations: int | None,
    initial_policy: np.ndarray | None,
    history: bool,
    scale: float,
    progress: Callable[[int, Any], None] | None = None,
    **_: Any,
) -> SolveResult:
    default_cap = max_iterations is None
    max_iterations = max_iterations or DEFAULT_MAX_ITERATIONS["policy_iteration"]
    tie = _tie_tolerance(mdp, scale)
    if initial_policy is None:
        actions = greedy_actions(mdp.rewards)
        policy = deterministic_policy(mdp, actions)
    else:
        actions = policy_actions(initial_policy)
        policy = initial_policy
    records: list[IterationRecord] | None = [] if history else None
    # inner evaluations skip the visitation (only the final policy's is reported) and warm-start
    # the Krylov solve from the previous values
    evaluation = _evaluate_values(mdp, policy)
    # max_iterations + 1 passes: the last one only checks whether the last improved policy is
    # stable, so a run needing exactly max_iterations improvements converges
    for iteration in range(1, max_iterations + 2):
        new_actions = greedy_actions(evaluation.q_values, tie, keep=actions)
        changed = int((new_actions != actions).sum())
        if records is not None:
            residual, _ = _certificate(mdp, evaluation)
            records.append(
                IterationRecord(iteration - 1, residual, evaluation.expected_return, changed)
            )
        if progress is not None:
            progress(iteration - 1, evaluation.advantages.max())
        if changed == 0 and _is_deterministic(policy):
            evaluation = _complete(mdp, evaluation)
            return _finish(
                mdp, "policy_iteration", policy, iteration - 1, True, tolerance, records, evaluation
            )
        if iteration > max_iterations:
            break
        actions = new_actions
        policy = deterministic_policy(mdp, new_actions)  # = greedy_policy(q, tie, keep=new)
        evaluation = _evaluate_values(mdp, policy, evaluation.values)
    evaluation = _complete(mdp, evaluation)
    return _finish(
        mdp, "policy_iteration", policy, max_iterations, False, tolerance, records, evaluation,
        limit="cap" if default_cap else "iterations",
    )  # fmt: skip


def _is_deterministic(policy: np.ndarray) -> bool:
    return bool(np.all((policy == 0) | (policy == 1)))


def _value_iteration(
    mdp: FiniteMDP,
    *,
    tolerance: float,
    max_iterations: int | None,
    history: bool,
    scale: float,
    progress: Callable[[int, Any], None] | None = None,
    **_: Any,
) -> SolveResult:
    return _iterate_values(
        mdp, "value_iteration", tolerance, max_iterations, history, scale, 1, progress
    )


def _modified_policy_iteration(
    mdp: FiniteMDP,
    *,
    tolerance: float,
    max_iterations: int | None,
    sweeps: int,
    history: bool,
    scale: float,
    progress: Callable[[int, Any], None] | None = None,
    **_: Any,
) -> SolveResult:
    return _iterate_values(
        mdp, "modified_policy_iteration", tolerance, max_iterations, history, scale, sweeps,
        progress,
    )  # fmt: skip


def _iterate_values(
    mdp: FiniteMDP,
    method: str,
    tolerance: float,
    max_iterations: int | None,
    history: bool,
    scale: float,
    sweeps: int,
    progress: Callable[[int, Any], None] | None = None,
) -> SolveResult:
    """Value iteration (sweeps = 1) and modified policy iteration (sweeps = m)."""
    gamma = mdp.discount
    limit = "iterations"
    if max_iterations is None:
        needed = _value_iteration_cap(mdp, tolerance, scale)
        cap = EXACT_VALUE_ITERATION_CAP if mdp.is_exact else DEFAULT_MAX_ITERATIONS[method]
        cap = -(-cap // sweeps)  # modified policy iteration: the same number of T applications
        max_iterations = min(needed, cap)
        if needed > cap:
            limit = "cap"
    threshold = tolerance * (1 - gamma) / (2 * gamma) if gamma > 0 else 0
    if mdp.is_exact:
        threshold = _exact.to_fraction(str(threshold), "threshold") if gamma > 0 else 0
        values = np.full(mdp.num_states, _exact.ZERO, dtype=object)
    else:
        values = np.zeros(mdp.num_states)
    if sweeps > 1:  # start below V* so that the MPI iterates increase monotonically
        values = values + mdp.rewards.min() / (1 - gamma)
    records: list[IterationRecord] | None = [] if history else None
    tie = _tie_tolerance(mdp, scale)
    stopped = False
    iteration = 0
    difference: Any = None
    for iteration in range(1, max_iterations + 1):
        q_values = q_from_values(mdp, values)
        improved = q_values.max(axis=1)
        difference = np.abs(improved - values).max()
        if sweeps > 1:
            policy = greedy_policy(q_values, tie)
            improved_values = improved
            for _ in range(sweeps - 1):
                improved_values = bellman_operator(mdp, policy, improved_values, validate=False)
            improved = improved_values
        if records is not None:
            records.append(
                IterationRecord(iteration, difference, (mdp.initial * improved).sum(), 0)
            )
        values = improved
        if progress is not None:
            progress(iteration, difference)
        # with gamma = 0 the rule's threshold tolerance (1-gamma)/(2 gamma) is infinite: Q = r,
        # so one iteration suffices (a threshold of 0 never held under near ties)
        if gamma == 0 or difference <= threshold:
            stopped = True
            break
    q_values = q_from_values(mdp, values)
    policy = greedy_policy(q_values, tie)
    iterate_residual = np.abs(q_values.max(axis=1) - values).max()
    # Puterman (1994) Thm 6.3.1: greedy in v_{n+1} is (2 gamma/(1-gamma)) ||v_{n+1} - v_n||-optimal;
    # a policy greedy only up to the tie tolerance loses up to tie / (1 - gamma) more
    a_priori = (2 * gamma * difference + tie) / (1 - gamma) if (stopped and sweeps == 1) else None
    return _finish(
        mdp,
        method,
        policy,
        iteration,
        stopped,
        tolerance,
        records,
        a_priori_bound=a_priori,
        limit=limit,
        iterate=_exact.readonly(values),
        iterate_residual=iterate_residual,
    )


def _linear_programming(
    mdp: FiniteMDP,
    *,
    tolerance: float,
    max_iterations: int | None,
    history: bool,
    scale: float,
    time_limit: float | None = None,
    progress: Callable[[int, Any], None] | None = None,
    **_: Any,
) -> SolveResult:
    num_states, num_actions = mdp.num_states, mdp.num_actions
    default_cap = max_iterations is None
    simplex_cap = max_iterations or DEFAULT_MAX_ITERATIONS["linear_programming"]
    time_limit = DEFAULT_LP_TIME_LIMIT if time_limit is None else time_limit
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    weights = np.asarray(float_mdp.initial, dtype=float)
    if not np.all(weights > 0):
        weights = np.full(num_states, 1.0 / num_states)
    gamma = float(float_mdp.discount)
    # constraints (gamma P - E) V <= -r with E[s*A + a, s] = 1
    selector = sp.csr_matrix(
        (
            np.ones(num_states * num_actions),
            (np.arange(num_states * num_actions), np.repeat(np.arange(num_states), num_actions)),
        ),
        shape=(num_states * num_actions, num_states),
    )
    constraints = sp.csr_matrix(gamma * sp.csr_matrix(float_mdp.transition_matrix) - selector)
    outcome = linprog(
        weights,
        A_ub=constraints,
        b_ub=-np.asarray(float_mdp.rewards, dtype=float).ravel(),
        bounds=(None, None),
        method="highs",
        options={"time_limit": time_limit, "maxiter": simplex_cap},
    )
    if outcome.status == 1:  # HiGHS hit the iteration or time limit
        evaluation = evaluate(mdp, greedy_policy(mdp.rewards), validate=False)
        timed_out = "time limit" in str(outcome.message).lower()
        limit = "time_limit" if timed_out else ("cap" if default_cap else "iterations")
        result = _finish(
            mdp, "linear_programming", evaluation.policy, int(getattr(outcome, "nit", 0) or 0),
            False, tolerance, None, evaluation, limit=limit,
        )  # fmt: skip
        return replace(
            result,
            message=f"{result.message} HiGHS: {outcome.message} (time limit {time_limit:g} s, "
            f"{simplex_cap} simplex iterations)",
        )
    if outcome.status != 0:
        evaluation = evaluate(mdp, greedy_policy(mdp.rewards), validate=False)
        result = _finish(
            mdp, "linear_programming", evaluation.policy, 0, True, tolerance, None, evaluation
        )
        return replace(
            result,
            converged=False,
            status="infeasible",
            message=message_for("infeasible", "solver") + f" HiGHS: {outcome.message}",
        )
    lp_values = np.asarray(outcome.x)
    occupancy = -np.asarray(outcome.ineqlin.marginals).reshape(num_states, num_actions)
    tie = _tie_tolerance(float_mdp, scale)
    proposal = greedy_policy(q_from_values(float_mdp, lp_values), tie)
    # The LP's float answer only proposes a policy; exact (or certified) policy iteration
    # from it confirms optimality, normally in zero further iterations.
    refined = _policy_iteration(
        mdp,
        tolerance=tolerance,
        max_iterations=max_iterations,
        initial_policy=_exact.fraction_array(proposal.astype(int), "policy")
        if mdp.is_exact
        else proposal,
        history=history,  # the LP itself is one HiGHS call: the history is the clean-up's
        scale=scale,
        progress=progress,
    )
    if mdp.is_exact:
        exact_weights = mdp.initial
        if not all(w > 0 for w in exact_weights):
            exact_weights = np.full(num_states, _exact.ONE / num_states, dtype=object)
        weighted = evaluate(mdp.with_initial(exact_weights), refined.policy, validate=False)
        occupancy = weighted.visitation[:, None] * refined.policy
    iterations = int(getattr(outcome, "nit", 0) or 0) + refined.iterations
    return replace(
        refined,
        method="linear_programming",
        iterations=iterations,
        occupancy=_exact.readonly(np.array(occupancy)),
    )
