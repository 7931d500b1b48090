"""Long-run average reward: gain and bias, for unichain and multichain MDPs, exact or float.

The gain of a policy pi is g_pi[s] = lim_T (1/T) E[sum_{t<T} r_t | s_0 = s] = (P*_pi r_pi)[s]
(P* the Cesaro limit of P_pi^t); its bias h_pi = sum_t (P_pi^t r_pi - g_pi) (Cesaro sense)
solves g + h = r_pi + P_pi h with P*_pi h = 0 (Puterman 1994, sections 8.2 and 9.1). The
discount plays no role (gamma = 1 is the natural setting; any gamma is ignored).

:func:`evaluate_average_reward` computes (g, h) of a policy by its chain structure: the closed
communicating classes of P_pi (strongly connected components with no exit) are the recurrent
classes; on each, the stationary distribution mu solves mu (I - P) = 0, mu 1 = 1, the gain is
the constant mu . r and the bias solves (I - P) h = r - g with mu . h = 0; on the transient
states g and h follow from (I - P_TT)^{-1}. All solves are exact over the rationals in exact
mode.

:func:`average_reward` finds an optimal policy:

- ``"policy_iteration"``: multichain policy iteration (Puterman 1994, section 9.2): improve
  the gain first (choose a maximising P[s, a] . g, keeping the current action when it is a
  maximiser); when no gain improves, improve the bias among the gain-maximising actions
  (maximise r + P h). It stops, after finitely many steps, at a policy satisfying both
  optimality equations max_a P g = g and max_{a : P g = g} (r + P h) = g + h, which is
  optimal (Puterman Theorem 9.2.? / 9.1.7). For unichain MDPs the gain step never fires and
  this is Howard's average-reward policy iteration (section 8.6).
- ``"linear_programming"``: the multichain dual LP (Puterman 1994, section 9.3) min
  sum_s alpha[s] g[s] s.t. g[s] >= P[s, a] . g and g[s] + h[s] >= r[s, a] + P[s, a] . h
  (HiGHS), whose solution proposes a policy that policy iteration then confirms (exactly in
  exact mode): the values never pass through floats there.
- ``"relative_value_iteration"``: h_{k+1} = T h_k - (T h_k)[0] with T h = max_a (r + P h), on
  the aperiodicity-transformed P_tau = tau I + (1 - tau) P (``damping`` = tau, same gains;
  section 8.5.4). Stopping bound (section 8.5.2): for every policy pi and every h,
  min_s (T h - h) <= g_pi-greedy <= g* <= max_s (T h - h), so it stops when the span
  max - min <= tolerance; the greedy policy is then evaluated exactly. It converges for
  unichain aperiodic MDPs; elsewhere it reaches ``max_iterations`` and says so.

Certificates. Exact mode: the optimality equations are checked exactly (error bound 0). Float
mode: ``error_bound`` = max_{s,a}(r + P h - h)[s, a] - min_s g[s] bounds g*[s] - gain[s] for
every s (for any h and every policy pi, r_pi + P_pi h - h <= c implies g_pi <= c). It is tight
when the optimal gain is constant (unichain and communicating MDPs); when recurrent classes
have different gains it is their spread, so a float multichain answer may be
``not_certified``: solve the exact MDP to certify it.

Examples
--------
MDPtoolbox's "small" MDP: the optimal gain is 35/9 (policy (1, 0)).

>>> import tabular_mirror as tm
>>> mdp = tm.FiniteMDP([[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
...                    [[5, 10], [-1, 2]], 1)
>>> result = tm.average_reward(mdp)
>>> [str(g) for g in result.gain], result.actions.tolist(), result.error_bound
(['35/9', '35/9'], [1, 0], Fraction(0, 1))
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from . import _exact
from ._validate import choice, positive_number, whole_number
from .errors import InvalidParameterError
from .model import FiniteMDP, check_mdp
from .operators import policy_rewards, policy_transitions
from .policies import _greedy_actions, _one_hot, check_policy, fill_infeasible, masked_row_max
from .results import AverageRewardResult, message_for

__all__ = ["average_reward", "evaluate_average_reward", "AVERAGE_REWARD_METHODS"]

AVERAGE_REWARD_METHODS = ("policy_iteration", "linear_programming", "relative_value_iteration")


# ---------------------------------------------------------------------------- evaluation
def _dense(matrix: Any, exact: bool) -> np.ndarray:
    if sp.issparse(matrix):
        return matrix.toarray()
    return np.asarray(matrix, dtype=object if exact else float)


def _solve(matrix: np.ndarray, rhs: np.ndarray, exact: bool) -> np.ndarray:
    if exact:
        return _exact.exact_solve(np.ascontiguousarray(matrix), rhs)
    return np.linalg.solve(matrix.astype(float), rhs.astype(float))


def _recurrent_classes(transitions: np.ndarray) -> tuple[np.ndarray, ...]:
    """The closed strongly connected components of the support of P_pi (recurrent classes)."""
    support = sp.csr_matrix(np.asarray(transitions != 0, dtype=bool))
    count, labels = connected_components(support, directed=True, connection="strong")
    rows, columns = support.nonzero()
    leaving = labels[rows] != labels[columns]
    open_classes = set(labels[rows[leaving]].tolist())
    return tuple(np.flatnonzero(labels == k) for k in range(count) if k not in open_classes)


def evaluate_average_reward(
    mdp: FiniteMDP, policy: Any, *, validate: bool = True
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """(gain g, bias h, recurrent classes) of ``policy``: exact Fractions for an exact MDP.

    g = P* r_pi and h the bias (g + h = r_pi + P_pi h, P* h = 0); see the module notes.

    Examples
    --------
    >>> import tabular_mirror as tm
    >>> two = tm.FiniteMDP([[[1, 0]], [[0, 1]]], [[1], [3]], 1, exact=True)  # two absorbing
    >>> gain, bias, classes = evaluate_average_reward(two, [[1], [1]])
    >>> [str(g) for g in gain], len(classes)
    (['1', '3'], 2)
    """
    check_mdp(mdp)
    if validate:
        policy = check_policy(mdp, policy)
    exact = mdp.is_exact
    num_states = mdp.num_states
    transitions = _dense(policy_transitions(mdp, policy, validate=False), exact)
    rewards = np.asarray(policy_rewards(mdp, policy, validate=False))
    zero = _exact.ZERO if exact else 0.0
    one = _exact.ONE if exact else 1.0
    gain = np.full(num_states, zero, dtype=object if exact else float)
    bias = np.full(num_states, zero, dtype=object if exact else float)
    classes = _recurrent_classes(transitions)
    recurrent = np.zeros(num_states, dtype=bool)
    for states in classes:
        recurrent[states] = True
        block = transitions[np.ix_(states, states)]
        identity = np.eye(len(states), dtype=int).astype(object if exact else float)
        if exact:
            identity = np.where(np.eye(len(states), dtype=bool), one, zero)
        system = identity - block
        # stationary distribution: mu (I - P) = 0 with the last equation replaced by mu 1 = 1
        stationary_system = system.T.copy()
        stationary_system[-1] = one
        right = np.full(len(states), zero, dtype=object if exact else float)
        right[-1] = one
        stationary = _solve(stationary_system, right, exact)
        value = (stationary * rewards[states]).sum()
        gain[states] = value
        # bias: (I - P) h = r - g with one equation replaced by mu . h = 0
        bias_system = system.copy()
        bias_system[-1] = stationary
        bias_right = rewards[states] - value
        bias_right = np.array(bias_right, dtype=object if exact else float)
        bias_right[-1] = zero
        bias[states] = _solve(bias_system, bias_right, exact)
    transient = np.flatnonzero(~recurrent)
    if len(transient):
        closed = np.flatnonzero(recurrent)
        block = transitions[np.ix_(transient, transient)]
        identity = np.eye(len(transient), dtype=bool)
        system = np.where(identity, one, zero) - block if exact else np.eye(len(transient)) - block
        into = transitions[np.ix_(transient, closed)]
        gain[transient] = _solve(system, _matvec(into, gain[closed], exact), exact)
        right = rewards[transient] - gain[transient] + _matvec(into, bias[closed], exact)
        bias[transient] = _solve(system, np.asarray(right), exact)
    return _exact.readonly(gain), _exact.readonly(bias), classes


def _matvec(matrix: np.ndarray, vector: np.ndarray, exact: bool) -> np.ndarray:
    if not exact:
        return np.asarray(matrix, float) @ np.asarray(vector, float)
    if matrix.shape[1] == 0:
        return np.full(matrix.shape[0], _exact.ZERO, dtype=object)
    return matrix.dot(vector)


# ---------------------------------------------------------------------------- the solvers
def _lookahead(mdp: FiniteMDP, vector: np.ndarray) -> np.ndarray:
    """(P v)[s, a] as (S, A): exact on Fractions, only the nonzero P entries."""
    matrix = mdp.transition_matrix
    if mdp.is_exact:
        rows, columns = np.nonzero(matrix)
        out = np.empty(matrix.shape[0], dtype=object)
        out.fill(_exact.ZERO)
        np.add.at(out, rows, matrix[rows, columns] * np.asarray(vector)[columns])
    else:
        out = matrix @ np.asarray(vector, dtype=float)
    return np.asarray(out).reshape(mdp.num_states, mdp.num_actions)


def _improve(
    mdp: FiniteMDP, gain: np.ndarray, bias: np.ndarray, actions: np.ndarray | None, tie: Any
) -> tuple[np.ndarray, bool, Any]:
    """One multichain improvement: (new actions, whether the gain step fired, residual)."""
    mask = mdp.action_mask if mdp.has_infeasible_actions else None
    rows = np.arange(mdp.num_states)
    ahead_gain = _lookahead(mdp, gain)
    best_gain = masked_row_max(ahead_gain, mask)
    gain_residual = np.abs(best_gain - gain).max()
    new = _greedy_actions(ahead_gain, tie, actions, mask)
    if actions is not None and np.any(new != actions):
        return new, True, gain_residual
    # bias step among the gain-maximising actions
    keepers = np.asarray(fill_infeasible(ahead_gain, mask) >= best_gain[:, None] - tie, dtype=bool)
    if mask is not None:
        keepers &= mask
    ahead_bias = mdp.rewards + _lookahead(mdp, bias)
    new = _greedy_actions(ahead_bias, tie, actions if actions is not None else None, keepers)
    best_bias = ahead_bias[rows, new]
    bias_residual = np.abs(best_bias - gain - bias).max()
    residual = max(gain_residual, bias_residual)
    return new, False, residual


def _bound(mdp: FiniteMDP, gain: np.ndarray, bias: np.ndarray) -> Any:
    """Certified max_s (g*[s] - gain[s]): max_{s,a}(r + P h - h) - min g, plus rounding."""
    mask = mdp.action_mask if mdp.has_infeasible_actions else None
    ahead = mdp.rewards + _lookahead(mdp, bias) - np.asarray(bias)[:, None]
    upper = masked_row_max(ahead, mask).max()
    bound = upper - np.asarray(gain).min()
    if mdp.is_exact:
        return max(bound, _exact.ZERO)
    unit = np.finfo(float).eps
    size = (
        float(np.abs(mdp.rewards).max()) + 2 * float(np.abs(bias).max()) + float(np.abs(gain).max())
    )
    return max(float(bound), 0.0) + 4 * (mdp.num_states + 2) * unit * size


def _result(
    mdp: FiniteMDP,
    method: str,
    actions: np.ndarray,
    iterations: int,
    stopped: bool,
    tolerance: Any,
    residual: Any,
    **extra: Any,
) -> AverageRewardResult:
    policy = _one_hot(actions, mdp.num_actions, mdp.is_exact)
    gain, bias, classes = evaluate_average_reward(mdp, policy, validate=False)
    if residual is None:
        _, _, residual = _improve(mdp, gain, bias, actions, 0 if mdp.is_exact else 0.0)
    bound = _bound(mdp, gain, bias)
    if mdp.is_exact and stopped and residual == 0:
        bound = _exact.ZERO  # both optimality equations hold exactly: gain = g*
    if not stopped:
        status, detail = "max_iterations", "iterations"
    elif mdp.is_exact and bound == 0:
        status, detail = "converged", "exact"
    elif bound <= tolerance:
        status, detail = "converged", "gain"
    else:
        status, detail = "not_certified", "gain"
    return AverageRewardResult(
        gain=gain,
        bias=bias,
        policy=_exact.readonly(policy),
        expected_return=(mdp.initial * gain).sum(),
        recurrent_classes=classes,
        iterations=iterations,
        converged=status == "converged",
        status=status,
        message=message_for(status, detail),
        residual=residual,
        error_bound=bound,
        method=method,
        exact=mdp.is_exact,
        **extra,
    )


def _policy_iteration(
    mdp: FiniteMDP, actions: np.ndarray, tolerance: Any, max_iterations: int, tie: Any
) -> AverageRewardResult:
    for iteration in range(max_iterations + 1):
        policy = _one_hot(actions, mdp.num_actions, mdp.is_exact)
        gain, bias, _ = evaluate_average_reward(mdp, policy, validate=False)
        new, _, residual = _improve(mdp, gain, bias, actions, tie)
        if np.all(new == actions):
            return _result(mdp, "policy_iteration", actions, iteration, True, tolerance, residual)
        if iteration == max_iterations:
            break
        actions = new
    return _result(mdp, "policy_iteration", actions, max_iterations, False, tolerance, None)


def _linear_programming(
    mdp: FiniteMDP, tolerance: Any, max_iterations: int, tie: Any
) -> AverageRewardResult:
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    num_states, num_actions = mdp.num_states, mdp.num_actions
    mask = mdp.action_mask if mdp.has_infeasible_actions else None
    pairs = np.arange(num_states * num_actions) if mask is None else np.flatnonzero(mask.ravel())
    weights = np.asarray(float_mdp.initial, dtype=float)
    if not np.all(weights > 0):
        weights = np.full(num_states, 1.0 / num_states)
    selector = sp.csr_matrix(
        (np.ones(len(pairs)), (np.arange(len(pairs)), pairs // num_actions)),
        shape=(len(pairs), num_states),
    )
    transitions = sp.csr_matrix(float_mdp.transition_matrix)[pairs]
    zero = sp.csr_matrix((len(pairs), num_states))
    # variables (g, h): P g - g <= 0 and P h - h - g <= -r
    constraints = sp.vstack(
        [sp.hstack([transitions - selector, zero]), sp.hstack([-selector, transitions - selector])],
        format="csr",
    )
    bounds = np.concatenate([np.zeros(len(pairs)), -np.asarray(float_mdp.rewards).ravel()[pairs]])
    outcome = linprog(
        np.concatenate([weights, np.zeros(num_states)]),
        A_ub=constraints,
        b_ub=bounds,
        bounds=(None, None),
        method="highs",
    )
    if outcome.status != 0:
        start = _greedy_actions(np.asarray(mdp.rewards), 0, None, mask)
        result = _result(mdp, "linear_programming", start, 0, True, tolerance, None)
        return replace(
            result,
            converged=False,
            status="infeasible",
            message=message_for("infeasible", "solver") + f" HiGHS: {outcome.message}",
        )
    gain, bias = outcome.x[:num_states], outcome.x[num_states:]
    float_tie = 1e-9 * max(1.0, float(np.abs(float_mdp.rewards).max()))
    proposal, _, _ = _improve(float_mdp, gain, bias, None, float_tie)
    result = _policy_iteration(mdp, proposal, tolerance, max_iterations, tie)
    return replace(
        result,
        method="linear_programming",
        iterations=int(getattr(outcome, "nit", 0) or 0) + result.iterations,
    )


def _relative_value_iteration(
    mdp: FiniteMDP,
    tolerance: Any,
    max_iterations: int,
    tie: Any,
    damping: Any,
    initial_values: np.ndarray | None,
) -> AverageRewardResult:
    mask = mdp.action_mask if mdp.has_infeasible_actions else None
    exact = mdp.is_exact
    values = (
        np.array(initial_values, dtype=object if exact else float)
        if initial_values is not None
        else np.full(
            mdp.num_states, _exact.ZERO if exact else 0.0, dtype=object if exact else float
        )
    )
    stopped = False
    iteration = 0
    span: Any = None
    while iteration < max_iterations:
        iteration += 1
        ahead = mdp.rewards + (1 - damping) * _lookahead(mdp, values) + damping * values[:, None]
        improved = masked_row_max(ahead, mask)
        difference = improved - values
        span = difference.max() - difference.min()
        values = improved - improved[0]
        if span <= tolerance:
            stopped = True
            break
    ahead = mdp.rewards + _lookahead(mdp, values)
    actions = _greedy_actions(ahead, tie, None, mask)
    result = _result(
        mdp, "relative_value_iteration", actions, iteration, stopped, tolerance, None,
        iterate=_exact.readonly(values),
    )  # fmt: skip
    return result


def average_reward(
    mdp: FiniteMDP,
    method: str = "policy_iteration",
    *,
    tolerance: Any = None,
    max_iterations: int | None = None,
    initial_policy: Any = None,
    initial_values: Any = None,
    damping: Any = 0,
) -> AverageRewardResult:
    """An average-reward optimal policy with its gain and bias (unichain or multichain).

    Parameters
    ----------
    mdp : FiniteMDP
        Any discount (ignored: the criterion is the long-run average); infeasible actions are
        never chosen.
    method : {"policy_iteration", "linear_programming", "relative_value_iteration"}
    tolerance : float, optional
        Float mode: the largest certified gap g* - gain accepted as converged, and relative
        value iteration's stopping span. Default 1e-10 * max(1, ||r||_inf). Exact mode: 0 for
        policy iteration and the LP; relative value iteration's span defaults to the float
        default (its iterates are exact, its stopping rule is a span).
    max_iterations : int, optional
        Default 10,000 for policy iteration and the LP's clean-up, 100,000 for relative value
        iteration.
    initial_policy : (S, A) policy or (S,) actions, optional
        Policy iteration's start (default greedy in r).
    initial_values : (S,) array_like, optional
        Relative value iteration's h_0 (default 0).
    damping : float in [0, 1), optional
        tau of the aperiodicity transformation P -> tau I + (1 - tau) P of relative value
        iteration (same gains; needed when an optimal policy's chain is periodic).

    Returns
    -------
    AverageRewardResult
        ``gain``, ``bias``, ``policy`` / ``actions``, ``recurrent_classes`` and the
        certificate (``error_bound``: see the module notes).

    Raises
    ------
    InvalidParameterError
        Unknown method, tolerance < 0, damping outside [0, 1), initial values for another
        method.

    References
    ----------
    Puterman, *Markov Decision Processes*, Wiley 1994, chapters 8 (unichain: policy iteration
    8.6, relative value iteration 8.5.5, LP 8.8) and 9 (multichain: policy iteration 9.2,
    LP 9.3). pymdptoolbox's ``RelativeValueIteration`` reports the same gain (35/9 on
    ``small``).
    """
    check_mdp(mdp)
    choice(method, "method", AVERAGE_REWARD_METHODS)
    damping = positive_number(damping, "damping", allow_zero=True)
    if damping >= 1:
        raise InvalidParameterError(f"damping = {damping!r} must be in [0, 1)")
    if mdp.is_exact:
        damping = (
            _exact.to_fraction(damping, "damping")
            if not isinstance(damping, float)
            else (_exact.to_fraction(str(damping), "damping"))
        )
    else:
        damping = float(damping)
    scale = max(1.0, float(np.abs(np.asarray(mdp.rewards, dtype=float)).max()))
    if tolerance is None:
        exact_optimum = mdp.is_exact and method != "relative_value_iteration"
        tolerance = 0 if exact_optimum else 1e-10 * scale
    tolerance = positive_number(tolerance, "tolerance", allow_zero=True)
    tolerance = (
        _exact.to_fraction(str(tolerance), "tolerance") if mdp.is_exact else float(tolerance)
    )
    default_cap = 100_000 if method == "relative_value_iteration" else 10_000
    max_iterations = (
        default_cap
        if max_iterations is None
        else whole_number(max_iterations, "max_iterations", minimum=1)
    )
    tie = 0 if mdp.is_exact else 1e-12 * scale
    mask = mdp.action_mask if mdp.has_infeasible_actions else None
    if initial_values is not None and method != "relative_value_iteration":
        raise InvalidParameterError(
            "initial_values is relative value iteration's h_0; policy iteration starts from "
            "initial_policy"
        )
    if method == "relative_value_iteration":
        if initial_values is not None:
            from .operators import _check_values

            initial_values = _check_values(mdp, initial_values)
        return _relative_value_iteration(
            mdp, tolerance, max_iterations, tie, damping, initial_values
        )
    if method == "linear_programming":
        return _linear_programming(mdp, tolerance, max_iterations, tie)
    if initial_policy is None:
        actions = _greedy_actions(np.asarray(mdp.rewards), 0, None, mask)
    else:
        array = np.asarray(initial_policy)
        if array.ndim == 1 and array.dtype.kind in "iu":
            from .policies import deterministic_policy

            deterministic_policy(mdp, array)  # checks range and feasibility
            actions = array.astype(np.int64)
        else:
            from .policies import policy_actions

            actions = policy_actions(check_policy(mdp, initial_policy, "initial_policy"))
    return _policy_iteration(mdp, actions, tolerance, max_iterations, tie)
