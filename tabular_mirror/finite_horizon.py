"""Finite horizon: backward induction, time-dependent policies, and mirror learning over time.

Over a horizon T with terminal values h (0 by default) the optimal values are computed
backwards (Puterman 1994, section 4.5):

    V_T = h,   Q_t[s, a] = r[s, a] + gamma sum_s' P[s, a, s'] V_{t+1}[s'],   V_t = max_a Q_t,

for t = T-1, ..., 0, with gamma in [0, 1] (gamma = 1, undiscounted, is the common case). The
optimal policy is time-dependent: one decision rule pi_t per step (smallest maximising action
on ties, over the feasible actions). :func:`backward_induction` is exact in exact mode; in
float mode its ``error_bound`` certifies max_t ||values[t] - V_t||_inf from the rounding of each
step (a sum of k + 1 terms per entry, k the most successors of a pair; Higham 2002, 3.1).
:func:`evaluate_finite_horizon` evaluates any time-dependent (or stationary) policy.

Mirror learning over a finite horizon
-------------------------------------
Kuba et al. (2022) state their results for a stationary policy of a discounted MDP with
gamma < 1. Over a finite horizon they apply through :func:`time_expanded`: the MDP on the
states (t, s), t = 0..T, whose stationary policies are exactly the time-dependent policies
(pi_t = the rows of the states (t, .)). Its transitions go from (t, s) to (t + 1, s'), the
states (T, s) are absorbing and pay h(s); it has a discount gamma' < 1 (gamma' = gamma when
gamma < 1, else T / (T + 1)) and rewards scaled by w_t = (gamma / gamma')^t, so that every
value is a positive multiple of the finite-horizon value:

    V'_pi(t, s) = w_t V_{pi, t}(s)   (w_0 = 1, so the expected returns agree).

Every claim of the paper is then a claim about a discounted MDP and holds as proved:
Lemmas 3.3 and 3.5, inequality (13) and Theorem 3.6 hold for the time-dependent iterates, state
by state and time by time (the factor w_t > 0 preserves every comparison of values at one
(t, s)), and ``proofs_check`` checks them on the expanded MDP unchanged. What does not carry
over: (1) a *stationary* policy of the original MDP under the finite-horizon criterion is not
covered at all (the optimum is time-dependent, and improving a stationary policy's
finite-horizon value by the mirror step has no monotonicity guarantee); (2) the sampling
distribution beta and the drift distribution nu are distributions over (t, s) pairs, and the
mirror objective weighs the time steps by them; (3) the total-drift bounds (8)-(9) need
d > 0 on every (t, s), while d' lives on t = 0 (U_beta = 0: the bounds do not apply unless
another initial distribution is chosen); (4) with gamma = 1 the state values of the expanded
MDP are the finite-horizon values times w_t, so drift penalties compare with w_t V_t, not V_t.

Examples
--------
Puterman (1994), section 3.2 and 4.6.1 (QuantEcon's test): stochastic inventory control over
T = 3 periods, undiscounted.

>>> import tabular_mirror as tm
>>> mdp = tm.FiniteMDP.from_state_action_pairs(
...     [0, 0, 0, 0, 1, 1, 1, 2, 2, 3], [0, 1, 2, 3, 0, 1, 2, 0, 1, 0],
...     [[1, 0, 0, 0], ["3/4", "1/4", 0, 0], ["1/4", "1/2", "1/4", 0], [0, "1/4", "1/2", "1/4"],
...      ["3/4", "1/4", 0, 0], ["1/4", "1/2", "1/4", 0], [0, "1/4", "1/2", "1/4"],
...      ["1/4", "1/2", "1/4", 0], [0, "1/4", "1/2", "1/4"], [0, "1/4", "1/2", "1/4"]],
...     [0, -1, -2, -5, 5, 0, -3, 6, -1, 5], 1)
>>> result = tm.backward_induction(mdp, 3)
>>> [str(v) for v in result.values[0]], result.actions.tolist()
(['67/16', '129/16', '97/8', '227/16'], [[3, 0, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0]])
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _exact
from ._rows import row_sum
from ._validate import whole_number
from .errors import InvalidParameterError, InvalidPolicyError
from .model import FiniteMDP, check_mdp
from .operators import _check_values, q_from_values
from .policies import _greedy_actions, _one_hot, check_policy
from .results import FiniteHorizonResult, message_for

__all__ = ["backward_induction", "evaluate_finite_horizon", "time_expanded"]


def _terminal(mdp: FiniteMDP, terminal_values: Any) -> np.ndarray:
    if terminal_values is None:
        if mdp.is_exact:
            return np.full(mdp.num_states, _exact.ZERO, dtype=object)
        return np.zeros(mdp.num_states)
    values = _check_values(mdp, terminal_values)
    if mdp.is_exact:
        values = _exact.fraction_array(values, "terminal_values")
    return values


def _rounding(mdp: FiniteMDP, next_values: np.ndarray) -> float:
    """A bound on |fl(Q) - Q| for Q = r + gamma P V (a sum of k + 2 terms per entry)."""
    matrix = mdp.transition_matrix
    nonzeros = int(np.diff(matrix.indptr).max(initial=0)) if sp.issparse(matrix) else mdp.num_states
    terms = nonzeros + 2
    unit = np.finfo(float).eps / 2
    size = float(np.abs(mdp.rewards).max()) + float(mdp.discount) * float(np.abs(next_values).max())
    return 2 * terms * unit / (1 - terms * unit) * size


def _backward(
    mdp: FiniteMDP, horizon: int, terminal: np.ndarray, policies: np.ndarray | None
) -> FiniteHorizonResult:
    exact = mdp.is_exact
    mask = mdp.action_mask if mdp.has_infeasible_actions else None
    num_states, num_actions = mdp.num_states, mdp.num_actions
    dtype = object if exact else float
    values = np.empty((horizon + 1, num_states), dtype=dtype)
    q_all = np.empty((horizon, num_states, num_actions), dtype=dtype)
    rules = np.empty((horizon, num_states, num_actions), dtype=dtype)
    values[horizon] = terminal
    error: Any = _exact.ZERO if exact else 0.0
    largest_error = error
    for t in range(horizon - 1, -1, -1):
        q_values = q_from_values(mdp, values[t + 1])
        if policies is None:
            scale = max(1.0, float(np.abs(np.asarray(q_values, dtype=float)).max()))
            tie = 0 if exact else 1e-12 * scale
            rule = _one_hot(_greedy_actions(q_values, tie, None, mask), num_actions, exact)
        else:
            rule = policies[t]
        values[t] = row_sum(rule * q_values)
        if mask is not None:  # the neutral value at infeasible pairs: V_t[s]
            q_values = np.where(mask, q_values, values[t][:, None])
        q_all[t] = q_values
        rules[t] = rule
        if not exact:
            error = float(mdp.discount) * error + _rounding(mdp, values[t + 1])
            largest_error = max(largest_error, error)
    status = "converged"
    return FiniteHorizonResult(
        values=_exact.readonly(values),
        q_values=_exact.readonly(q_all),
        policy=_exact.readonly(rules),
        expected_return=(mdp.initial * values[0]).sum(),
        horizon=horizon,
        iterations=horizon,
        converged=True,
        status=status,
        message=message_for(status, "backward_induction"),
        residual=_exact.ZERO if exact else 0.0,
        error_bound=largest_error,
        method="backward_induction" if policies is None else "evaluation",
        exact=exact,
    )


def backward_induction(
    mdp: FiniteMDP, horizon: int, terminal_values: Any = None
) -> FiniteHorizonResult:
    """Optimal time-dependent values and policies over ``horizon`` steps (backward induction).

    V_T = h, V_t = max_a r + gamma P V_{t+1} (Puterman 1994, section 4.5); gamma = 1 allowed.

    Parameters
    ----------
    mdp : FiniteMDP
        Any discount in [0, 1]; infeasible actions are never chosen.
    horizon : int
        T >= 0, the number of decisions.
    terminal_values : (S,) array_like, optional
        h = V_T, the value of ending in each state (0 by default); exact for an exact MDP.

    Returns
    -------
    FiniteHorizonResult
        ``values`` (T + 1, S), ``policy`` (T, S, A) with ``actions`` (T, S), ``q_values``,
        ``expected_return`` d . V_0 and the certificate.

    Raises
    ------
    InvalidParameterError
        horizon not an integer >= 0; terminal values of the wrong shape.

    Notes
    -----
    Exact mode: every value a Fraction, error bound 0, ties broken exactly (smallest action).
    Float mode: ties within 1e-12 of the step's scale count as ties; the returned policy is
    optimal up to 2 ``error_bound`` plus T such tie margins. Cost: T products with P.

    References
    ----------
    Puterman, *Markov Decision Processes*, Wiley 1994, sections 4.5 and 4.6.1; QuantEcon's
    ``backward_induction``; pymdptoolbox's ``FiniteHorizon``.
    """
    check_mdp(mdp)
    horizon = whole_number(horizon, "horizon")
    return _backward(mdp, horizon, _terminal(mdp, terminal_values), None)


def evaluate_finite_horizon(
    mdp: FiniteMDP, policy: Any, horizon: int | None = None, terminal_values: Any = None
) -> FiniteHorizonResult:
    """Values V_{pi, t} of a time-dependent policy (T, S, A), or of a stationary one (S, A)
    applied for ``horizon`` steps: V_t = r_{pi_t} + gamma P_{pi_t} V_{t+1}, V_T = h.

    Raises
    ------
    InvalidPolicyError
        A decision rule off the feasible simplex, or a (T, S, A) policy whose T disagrees
        with ``horizon``.
    """
    check_mdp(mdp)
    array = np.asarray(policy, dtype=object if mdp.is_exact else float)
    if array.ndim == 2:
        if horizon is None:
            raise InvalidParameterError("a stationary (S, A) policy needs a horizon")
        horizon = whole_number(horizon, "horizon")
        rule = check_policy(mdp, policy)
        rules = np.stack([rule] * horizon) if horizon else np.empty((0, *rule.shape), rule.dtype)
    elif array.ndim == 3:
        if horizon is not None and whole_number(horizon, "horizon") != len(array):
            raise InvalidPolicyError(
                f"policy has {len(array)} decision rules but horizon = {horizon}"
            )
        horizon = len(array)
        rules = np.stack([check_policy(mdp, rule, f"policy[{t}]") for t, rule in enumerate(policy)])
    else:
        raise InvalidPolicyError(
            f"policy has shape {array.shape}, expected (T, S, A) or a stationary (S, A)"
        )
    return _backward(mdp, horizon, _terminal(mdp, terminal_values), rules)


def time_expanded(mdp: FiniteMDP, horizon: int, terminal_values: Any = None) -> FiniteMDP:
    """The discounted MDP on the states (t, s) whose stationary policies are the time-dependent
    policies of ``mdp`` over ``horizon`` steps (see the module notes for what carries over).

    State (t, s) has index t * S + s, t = 0..T. Actions at (t, s) move to (t + 1, s') with
    P[s, a, s'] and pay w_t r[s, a]; the states (T, s) are absorbing and pay (1 - gamma') w_T
    h(s) for every action, so V'(T, s) = w_T h(s). gamma' = gamma if gamma < 1, else
    T / (T + 1); w_t = (gamma / gamma')^t. d' puts d on t = 0. Infeasible actions stay
    infeasible at every (t, s). Then V'_pi(t, s) = w_t V_{pi, t}(s) for every time-dependent
    pi, and the expected returns agree.

    Returns
    -------
    FiniteMDP
        Exact if ``mdp`` is; float expanded MDPs are sparse.

    Examples
    --------
    >>> import tabular_mirror as tm
    >>> mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [2, 0]], 1, exact=True)
    >>> expanded = time_expanded(mdp, 3)
    >>> expanded.num_states, expanded.discount
    (8, Fraction(3, 4))
    >>> tm.solve(expanded).expected_return == backward_induction(mdp, 3).expected_return
    True
    """
    check_mdp(mdp)
    horizon = whole_number(horizon, "horizon", minimum=1)
    terminal = _terminal(mdp, terminal_values)
    exact = mdp.is_exact
    num_states, num_actions = mdp.num_states, mdp.num_actions
    gamma = mdp.discount
    if gamma < 1:
        expanded_discount = gamma
    else:
        expanded_discount = Fraction(horizon, horizon + 1) if exact else horizon / (horizon + 1)
    ratio = (gamma / expanded_discount) if gamma > 0 else (gamma * 0 + 1)
    weights = [ratio**t for t in range(horizon + 1)]
    total = (horizon + 1) * num_states
    if exact:
        dense = np.empty((total, num_actions, total), dtype=object)
        dense.fill(_exact.ZERO)
        rewards = np.empty((total, num_actions), dtype=object)
        for t in range(horizon):
            block = slice(t * num_states, (t + 1) * num_states)
            following = slice((t + 1) * num_states, (t + 2) * num_states)
            dense[block, :, following] = mdp.transitions
            rewards[block] = weights[t] * mdp.rewards
        last = slice(horizon * num_states, total)
        for s in range(num_states):
            dense[horizon * num_states + s, :, horizon * num_states + s] = _exact.ONE
        rewards[last] = ((1 - expanded_discount) * weights[horizon] * terminal)[:, None]
        initial = np.empty(total, dtype=object)
        initial.fill(_exact.ZERO)
        initial[:num_states] = mdp.initial
        transitions: Any = dense
    else:
        matrix = sp.csr_matrix(mdp.transition_matrix)
        blocks = sp.block_diag([matrix] * horizon, format="csr") if horizon else None
        # rows of times 0..T-1 point to the next time's columns
        coo = blocks.tocoo()
        rows = [coo.row]
        columns = [coo.col + num_states]
        data = [coo.data]
        absorbing = np.arange(horizon * num_states, total)
        rows.append(
            np.repeat(absorbing * num_actions, num_actions)
            + np.tile(np.arange(num_actions), num_states)
        )
        columns.append(np.repeat(absorbing, num_actions))
        data.append(np.ones(num_states * num_actions))
        transitions = sp.csr_matrix(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(columns))),
            shape=(total * num_actions, total),
        )
        rewards = np.empty((total, num_actions))
        for t in range(horizon):
            rewards[t * num_states : (t + 1) * num_states] = weights[t] * mdp.rewards
        rewards[horizon * num_states :] = ((1 - expanded_discount) * weights[horizon] * terminal)[
            :, None
        ]
        initial = np.zeros(total)
        initial[:num_states] = mdp.initial
    mask = None
    if mdp.has_infeasible_actions:
        mask = np.concatenate([mdp.action_mask] * (horizon + 1))
    return FiniteMDP(
        transitions, rewards, expanded_discount, initial, action_mask=mask, exact=exact
    )
