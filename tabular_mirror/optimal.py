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
- ``"linear_programming"``: min_V w . V s.t. V[s] >= r[s, a] + gamma P[s, a] . V for all
  feasible (s, a), solved by HiGHS (``scipy.optimize.linprog``). The dual variables are the
  discounted state-action occupancy measure of an optimal policy from the weights w
  (``occupancy``). w = d when d > 0 everywhere, else uniform (a zero weight would leave V
  undetermined there). ``lp_method`` picks HiGHS's dual
  simplex ("simplex"), its interior point method with crossover ("interior_point") or lets
  HiGHS choose ("highs"); "auto" takes the simplex up to :data:`LP_SIMPLEX_LIMIT` state-action
  pairs and the interior point method above. In exact mode HiGHS only *proposes* a policy: that
  policy is evaluated exactly and improved by exact policy iteration until no action improves,
  so the values never pass through floats.

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
from .errors import InvalidParameterError, SlowComputationWarning
from .evaluation import _complete, _evaluate_values, evaluate
from .model import FiniteMDP, check_mdp, require_discounted
from .operators import _check_values, bellman_operator, q_from_values
from .policies import (
    _greedy_actions,
    check_policy,
    deterministic_policy,
    greedy_policy,
    masked_row_max,
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

#: HiGHS algorithms of ``lp_method`` (scipy's names in parentheses): "simplex" (highs-ds),
#: "interior_point" (highs-ipm, with crossover to a basic solution), "highs" (HiGHS chooses).
LP_METHODS = ("auto", "simplex", "interior_point", "highs")
_LINPROG_METHOD = {"simplex": "highs-ds", "interior_point": "highs-ipm", "highs": "highs"}

#: ``lp_method="auto"`` uses the simplex up to this many feasible state-action pairs and the
#: interior point method above (benchmarks/bench_lp.py: on a sparse random MDP with S = 3000,
#: A = 3 the simplex takes minutes, the interior point method seconds).
LP_SIMPLEX_LIMIT = 1000

#: Exact value iteration warns when its projected work (T applications x final denominator
#: digits / 2) exceeds this (:class:`~tabular_mirror.errors.SlowComputationWarning`).
SLOW_EXACT_WORK = 10**6

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
    initial_values: Any = None,
    sweeps: int = 20,
    history: bool = False,
    time_limit: float | None = None,
    progress: Callable[[int, Any], None] | None = None,
    lp_method: str = "auto",
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
    initial_policy : (S, A) array_like or (S,) integer actions, optional
        Starting policy of policy iteration (default: greedy in the one-step rewards); for the
        LP, the policy whose greedy improvement is checked first (see Notes). An action vector
        ``[a_0, ..., a_{S-1}]`` means the deterministic policy choosing a_s in state s.
    initial_values : (S,) array_like, optional
        V_0 of value iteration and modified policy iteration (default 0 for value iteration,
        min r / (1 - gamma) for modified policy iteration); exact for an exact MDP. The other
        methods take ``initial_policy`` instead.
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
    lp_method : {"auto", "simplex", "interior_point", "highs"}
        The HiGHS algorithm of ``"linear_programming"`` (see the module notes).

    Returns
    -------
    SolveResult
        ``actions`` gives the optimal policy as an action vector.

    Raises
    ------
    InvalidParameterError
        Unknown method or lp_method, tolerance < 0, sweeps outside [1, 100,000],
        max_iterations outside [1, 10^9], time_limit <= 0, ``initial_values`` for a method
        that does not iterate values.
    InvalidMDPError
        An undiscounted MDP (gamma = 1): use :func:`~tabular_mirror.average_reward` or
        :func:`~tabular_mirror.backward_induction`.

    Warns
    -----
    SlowComputationWarning
        Exact value / modified policy iteration whose fractions grow so fast that it will take
        long (the warning says how many iterations and digits it projects); exact policy
        iteration solves the same MDP in a few exact evaluations.

    Notes
    -----
    With ``initial_policy`` the LP first checks whether the policy is optimal (one exact
    policy evaluation, certified) and then does not call HiGHS at all; otherwise, when the
    optional ``highspy`` package is installed and the method is a simplex, HiGHS's dual simplex
    starts from the policy's basis (its rows tight; a dual feasible basis), which on a nearly
    optimal policy takes a fraction of the cold start's iterations. scipy's HiGHS interface
    takes no starting basis: without highspy the LP starts cold.
    """
    check_mdp(mdp)
    require_discounted(mdp, "solve")
    choice(method, "method", METHODS)
    choice(lp_method, "lp_method", LP_METHODS)
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
        initial_policy = _read_initial_policy(mdp, initial_policy)
    if initial_values is not None:
        if method not in ("value_iteration", "modified_policy_iteration"):
            raise InvalidParameterError(
                f"initial_values is for value iteration and modified policy iteration; "
                f"{method} starts from initial_policy"
            )
        initial_values = _check_values(mdp, initial_values)
        if mdp.is_exact:
            initial_values = _exact.fraction_array(initial_values, "initial_values")
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
        initial_values=initial_values,
        lp_method=lp_method,
    )


def _read_initial_policy(mdp: FiniteMDP, initial_policy: Any) -> np.ndarray:
    """An (S, A) policy from a policy or an (S,) vector of integer actions."""
    try:
        array = np.asarray(initial_policy)
    except ValueError:
        array = None
    if array is not None and array.ndim == 1 and array.dtype.kind in "iu":
        return deterministic_policy(mdp, array)
    return check_policy(mdp, initial_policy, "initial_policy")


# ---------------------------------------------------------------------------- shared pieces
def _mask(mdp: FiniteMDP) -> np.ndarray | None:
    """The feasibility mask when some action is infeasible, else None (no extra work)."""
    return mdp.action_mask if mdp.has_infeasible_actions else None


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
    expect_stable: bool = False,
    **_: Any,
) -> SolveResult:
    default_cap = max_iterations is None
    max_iterations = max_iterations or DEFAULT_MAX_ITERATIONS["policy_iteration"]
    tie = _tie_tolerance(mdp, scale)
    mask = _mask(mdp)
    if initial_policy is None:
        actions = _greedy_actions(mdp.rewards, 0, None, mask)
        policy = deterministic_policy(mdp, actions)
    else:
        actions = policy_actions(initial_policy)
        policy = initial_policy
    records: list[IterationRecord] | None = [] if history else None
    # inner evaluations skip the visitation (only the final policy's is reported) and warm-start
    # the Krylov solve from the previous values; a start expected to be optimal (the LP's
    # proposal) is evaluated in full at once (one factorisation for values and visitation)
    evaluation = (
        evaluate(mdp, policy, validate=False) if expect_stable else _evaluate_values(mdp, policy)
    )
    # max_iterations + 1 passes: the last one only checks whether the last improved policy is
    # stable, so a run needing exactly max_iterations improvements converges
    for iteration in range(1, max_iterations + 2):
        new_actions = _greedy_actions(evaluation.q_values, tie, actions, mask)
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
    initial_values: np.ndarray | None = None,
    **_: Any,
) -> SolveResult:
    return _iterate_values(
        mdp, "value_iteration", tolerance, max_iterations, history, scale, 1, progress,
        initial_values,
    )  # fmt: skip


def _modified_policy_iteration(
    mdp: FiniteMDP,
    *,
    tolerance: float,
    max_iterations: int | None,
    sweeps: int,
    history: bool,
    scale: float,
    progress: Callable[[int, Any], None] | None = None,
    initial_values: np.ndarray | None = None,
    **_: Any,
) -> SolveResult:
    return _iterate_values(
        mdp, "modified_policy_iteration", tolerance, max_iterations, history, scale, sweeps,
        progress, initial_values,
    )  # fmt: skip


def _digits(values: np.ndarray) -> int:
    """Decimal digits of the largest denominator among exact values."""
    return max((len(str(v.denominator)) for v in values), default=1)


def _warn_if_slow(
    method: str,
    iteration: int,
    history: list[int],
    needed: int,
    max_iterations: int,
    sweeps: int = 1,
) -> bool:
    """After a few exact iterations: warn (once) when the projected work is large.

    ``history`` holds the largest denominator's digits after each iteration; the growth per
    iteration is extrapolated to the iterations the stopping rule needs (or the cap).
    """
    growth = (history[-1] - history[0]) / max(len(history) - 1, 1)
    remaining = max(min(needed, max_iterations) - iteration, 0)
    final = history[-1] + growth * remaining
    work = min(needed, max_iterations) * sweeps * final / 2  # T applications x digits
    if work <= SLOW_EXACT_WORK:
        return False
    import warnings

    warnings.warn(
        f"exact {method.replace('_', ' ')} will be slow: the stopping rule needs about "
        f"{needed:,} iterations and the denominators of the values grow by about "
        f"{growth:.1f} digits per iteration (to about {int(final):,} digits"
        + (f" by the cap of {max_iterations:,} iterations" if needed > max_iterations else "")
        + "); exact policy iteration (method='policy_iteration') solves this MDP exactly in a "
        "few exact evaluations",
        SlowComputationWarning,
        stacklevel=4,
    )
    return True


def _iterations_needed(gamma: Any, difference: Any, threshold: Any) -> int:
    """Iterations until gamma^k * difference <= threshold (the contraction estimate)."""
    gamma, difference, threshold = float(gamma), float(difference), float(threshold)
    if gamma <= 0 or difference <= threshold or threshold <= 0:
        return 1
    return int(np.ceil(np.log(threshold / difference) / np.log(gamma))) + 1


def _iterate_values(
    mdp: FiniteMDP,
    method: str,
    tolerance: float,
    max_iterations: int | None,
    history: bool,
    scale: float,
    sweeps: int,
    progress: Callable[[int, Any], None] | None = None,
    initial_values: np.ndarray | None = None,
) -> SolveResult:
    """Value iteration (sweeps = 1) and modified policy iteration (sweeps = m)."""
    gamma = mdp.discount
    mask = _mask(mdp)
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
    if initial_values is not None:
        values = np.array(initial_values, dtype=object if mdp.is_exact else float)
    elif sweeps > 1:  # start below V* so that the MPI iterates increase monotonically
        values = values + mdp.rewards.min() / (1 - gamma)
    records: list[IterationRecord] | None = [] if history else None
    tie = _tie_tolerance(mdp, scale)
    stopped = False
    iteration = 0
    difference: Any = None
    digits: list[int] = []
    warned = not mdp.is_exact
    for iteration in range(1, max_iterations + 1):
        q_values = q_from_values(mdp, values)
        improved = masked_row_max(q_values, mask)
        difference = np.abs(improved - values).max()
        if sweeps > 1:
            policy = greedy_policy(q_values, tie, action_mask=mask)
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
        if not warned:  # exact mode: project the cost from the first iterations
            digits.append(_digits(values))
            if len(digits) == 4:
                rate = gamma**sweeps if sweeps > 1 else gamma
                needed = iteration + _iterations_needed(rate, difference, threshold)
                _warn_if_slow(method, iteration, digits, needed, max_iterations, sweeps)
                warned = True
    q_values = q_from_values(mdp, values)
    policy = greedy_policy(q_values, tie, action_mask=mask)
    iterate_residual = np.abs(masked_row_max(q_values, mask) - values).max()
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
    initial_policy: np.ndarray | None = None,
    lp_method: str = "auto",
    **_: Any,
) -> SolveResult:
    num_states, num_actions = mdp.num_states, mdp.num_actions
    if initial_policy is not None and _is_deterministic(initial_policy):
        # a warm start that needs no LP: the policy is greedy in its own Q (one evaluation)
        evaluation = evaluate(mdp, initial_policy, validate=False)
        actions = policy_actions(initial_policy)
        greedy = _greedy_actions(
            evaluation.q_values, _tie_tolerance(mdp, scale), actions, _mask(mdp)
        )
        if np.array_equal(greedy, actions):
            started = _finish(
                mdp, "linear_programming", initial_policy, 0, True, tolerance, None, evaluation
            )
            if started.converged:
                return _with_occupancy(mdp, started, None)
    default_cap = max_iterations is None
    simplex_cap = max_iterations or DEFAULT_MAX_ITERATIONS["linear_programming"]
    time_limit = DEFAULT_LP_TIME_LIMIT if time_limit is None else time_limit
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    weights = np.asarray(float_mdp.initial, dtype=float)
    if not np.all(weights > 0):
        weights = np.full(num_states, 1.0 / num_states)
    gamma = float(float_mdp.discount)
    mask = _mask(mdp)
    pairs = np.arange(num_states * num_actions) if mask is None else np.flatnonzero(mask.ravel())
    if lp_method == "auto":
        lp_method = "simplex" if len(pairs) <= LP_SIMPLEX_LIMIT else "interior_point"
    # min w . V  s.t.  (gamma P - E) V <= -r over the feasible pairs, E[s*A + a, s] = 1
    selector = sp.csr_matrix(
        (np.ones(len(pairs)), (np.arange(len(pairs)), pairs // num_actions)),
        shape=(len(pairs), num_states),
    )
    transitions = sp.csr_matrix(float_mdp.transition_matrix)
    if mask is not None:
        transitions = transitions[pairs]
    constraints = sp.csr_matrix(gamma * transitions - selector)
    bounds = -np.asarray(float_mdp.rewards, dtype=float).ravel()[pairs]
    outcome = None
    if initial_policy is not None and lp_method != "interior_point":
        outcome = _warm_simplex(
            weights, constraints, bounds, pairs, initial_policy, time_limit, simplex_cap
        )
    if outcome is None:
        outcome = linprog(
            weights,
            A_ub=constraints,
            b_ub=bounds,
            bounds=(None, None),
            method=_LINPROG_METHOD[lp_method],
            options={"time_limit": time_limit, "maxiter": simplex_cap},
        )
    if outcome.status == 1:  # HiGHS hit the iteration or time limit
        evaluation = evaluate(mdp, greedy_policy(mdp.rewards, action_mask=mask), validate=False)
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
        evaluation = evaluate(mdp, greedy_policy(mdp.rewards, action_mask=mask), validate=False)
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
    occupancy = np.zeros(num_states * num_actions)
    occupancy[pairs] = -np.asarray(outcome.ineqlin.marginals)
    occupancy = occupancy.reshape(num_states, num_actions)
    tie = _tie_tolerance(float_mdp, scale)
    proposal = greedy_policy(q_from_values(float_mdp, lp_values), tie, action_mask=mask)
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
        expect_stable=True,
    )
    iterations = int(getattr(outcome, "nit", 0) or 0) + refined.iterations
    result = replace(refined, method="linear_programming", iterations=iterations)
    return _with_occupancy(mdp, result, None if mdp.is_exact else occupancy)


def _quiet_highs(highspy: Any) -> Any:
    """A ``highspy.Highs()`` without the banner HiGHS prints on standard output when the first
    one is made (a library prints nothing unasked)."""
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 1)
        return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(sink)
        os.close(saved)


def _warm_simplex(
    weights: np.ndarray,
    constraints: sp.csr_matrix,
    bounds: np.ndarray,
    pairs: np.ndarray,
    initial_policy: np.ndarray,
    time_limit: float,
    simplex_cap: int,
) -> Any:
    """HiGHS's simplex started from the basis of ``initial_policy`` (needs ``highspy``).

    The basis of a deterministic policy pi: every V[s] basic, the rows (s, pi(s)) tight
    (nonbasic at their bound), the other rows' slacks basic. Its basis matrix holds
    gamma P_pi - I, which is nonsingular, and its duals -(I - gamma P_pi^T)^{-1} w <= 0 are
    feasible: the dual simplex starts there (an optimal pi needs no iteration). Returns an
    object shaped like scipy's ``linprog`` result, or None when highspy is not installed (the
    caller then runs scipy's HiGHS without a starting basis).
    """
    try:
        import highspy
    except ImportError:
        return None
    from types import SimpleNamespace

    num_rows, num_states = constraints.shape
    num_actions = int(np.asarray(initial_policy).shape[1])
    actions = policy_actions(np.asarray(initial_policy, dtype=float))
    tight = np.searchsorted(pairs, np.arange(num_states) * num_actions + actions)
    highs = _quiet_highs(highspy)
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", float(time_limit))
    highs.setOptionValue("simplex_iteration_limit", int(simplex_cap))
    highs.setOptionValue("solver", "simplex")
    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = num_states, num_rows
    model.col_cost_ = np.asarray(weights, dtype=float)
    model.col_lower_ = np.full(num_states, -highspy.kHighsInf)
    model.col_upper_ = np.full(num_states, highspy.kHighsInf)
    model.row_lower_ = np.full(num_rows, -highspy.kHighsInf)
    model.row_upper_ = np.asarray(bounds, dtype=float)
    columns = constraints.tocsc()
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = columns.indptr
    model.a_matrix_.index_ = columns.indices
    model.a_matrix_.value_ = columns.data
    highs.passModel(model)
    basis = highspy.HighsBasis()
    basis.col_status = [highspy.HighsBasisStatus.kBasic] * num_states
    rows = [highspy.HighsBasisStatus.kBasic] * num_rows
    for row in tight:
        rows[int(row)] = highspy.HighsBasisStatus.kUpper
    basis.row_status = rows
    basis.valid = True
    highs.setBasis(basis)
    highs.run()
    status = highs.getModelStatus()
    iterations = int(highs.getInfo().simplex_iteration_count)
    message = highs.modelStatusToString(status)
    if status == highspy.HighsModelStatus.kOptimal:
        solution = highs.getSolution()
        return SimpleNamespace(
            status=0,
            x=np.asarray(solution.col_value),
            ineqlin=SimpleNamespace(marginals=np.asarray(solution.row_dual)),
            nit=iterations,
            message=f"{message} (simplex warm-started from initial_policy)",
        )
    limited = status in (
        highspy.HighsModelStatus.kTimeLimit,
        highspy.HighsModelStatus.kIterationLimit,
    )
    label = "Time limit reached" if status == highspy.HighsModelStatus.kTimeLimit else message
    return SimpleNamespace(
        status=1 if limited else 2, x=None, ineqlin=None, nit=iterations, message=label
    )


def _with_occupancy(mdp: FiniteMDP, result: SolveResult, occupancy: Any) -> SolveResult:
    """The result with the occupancy measure: HiGHS's (float) or the exact one of its policy
    from the LP weights (exact mode, or a warm start confirmed without HiGHS)."""
    if occupancy is None:
        exact_weights = mdp.initial
        if all(w > 0 for w in exact_weights):  # the weights are d: the result's visitation
            visitation = result.evaluation.visitation
        else:
            one = _exact.ONE if mdp.is_exact else 1.0
            exact_weights = np.full(mdp.num_states, one / mdp.num_states, dtype=exact_weights.dtype)
            weighted = evaluate(mdp.with_initial(exact_weights), result.policy, validate=False)
            visitation = weighted.visitation
        occupancy = visitation[:, None] * result.policy
    return replace(result, occupancy=_exact.readonly(np.array(occupancy)))
