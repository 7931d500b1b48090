"""Stationary stochastic policies pi[s, a]: construction helpers and validation.

A policy is an (S, A) array whose rows are probability distributions over actions (the policy
space Pi of the paper is the product of the S simplices). For an exact MDP a policy is an object
array of Fractions; for a float MDP a float64 array.

Tie rule of :func:`greedy_policy`: among actions whose value is within ``tie_tolerance`` of the
row maximum (exactly equal in exact mode, the default tolerance being 0), the *smallest action
index* is chosen; with ``keep=`` a current policy, its action is kept whenever it is among the
maximisers (the rule policy iteration needs to terminate). ``split_ties=True`` instead spreads
the mass uniformly over all maximisers.

Infeasible actions (``mdp.action_mask``): a policy puts no mass on them, so each state's
simplex is the face of its feasible actions. :func:`check_policy` rejects mass on an
infeasible action; :func:`uniform_policy`, :func:`random_policy` and
:func:`deterministic_policy` stay on the feasible face; the greedy helpers take an
``action_mask`` and never choose an infeasible action.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from . import _exact
from ._rows import row_count, row_max, row_sum
from ._validate import (
    DEFAULT_ROW_TOLERANCE,
    check_nonnegative,
    check_rows_sum_to_one,
    positive_number,
    random_generator,
    whole_number,
)
from .errors import ExactnessError, InvalidParameterError, InvalidPolicyError
from .model import FiniteMDP, check_mdp, is_complex

__all__ = [
    "check_policy",
    "uniform_policy",
    "deterministic_policy",
    "greedy_policy",
    "greedy_actions",
    "random_policy",
    "interior_policy",
    "policy_actions",
]


def check_policy(
    mdp: FiniteMDP, policy: Any, name: str = "policy", tolerance: float = DEFAULT_ROW_TOLERANCE
) -> np.ndarray:
    """Validate ``policy`` for ``mdp`` and return it as an array of the MDP's arithmetic.

    Accepts numpy arrays or nested lists; in exact mode entries must be exact (Fraction, int or
    str): floats raise :class:`ExactnessError`. Checks shape (S, A), finiteness, nonnegativity
    and that every row sums to 1 (exactly in exact mode, to ``tolerance`` in float mode).
    The input is never modified or renormalised.
    """
    check_mdp(mdp)
    shape = (mdp.num_states, mdp.num_actions)
    if (
        type(policy) is np.ndarray
        and policy.dtype == np.float64
        and policy.shape == shape
        and not mdp.is_exact
        and policy.min() >= 0  # NaN fails this comparison too
        and _sums_near_one(np.add.reduce(policy, axis=1), tolerance)
    ):  # a valid float policy: the checks below would all pass
        if mdp.has_infeasible_actions:
            check_feasible(mdp, policy, name)
        return policy.copy()
    if mdp.is_exact:
        try:
            array = _exact.fraction_array(policy, name)
        except ExactnessError as error:
            raise ExactnessError(
                f"{error} (the MDP is exact, so policies must be exact too)"
            ) from error
        except ValueError as error:
            raise InvalidPolicyError(f"{name} could not be read as an array: {error}") from error
    else:
        if is_complex(policy):
            raise InvalidPolicyError(f"{name} has complex entries, expected probabilities")
        try:
            array = np.array(policy, dtype=float)
        except (TypeError, ValueError, OverflowError) as error:
            raise InvalidPolicyError(f"{name} could not be read as an array: {error}") from error
        bad = ~np.isfinite(array)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InvalidPolicyError(f"{name}{list(index)} is {array[index]}, expected finite")
    if array.shape != shape:
        raise InvalidPolicyError(f"{name} has shape {array.shape}, expected (S, A) = {shape}")
    check_nonnegative(array, name, InvalidPolicyError)
    check_rows_sum_to_one(row_sum(array), name, InvalidPolicyError, tolerance, mdp.is_exact)
    if mdp.has_infeasible_actions:
        check_feasible(mdp, array, name)
    return array


def _sums_near_one(sums: np.ndarray, tolerance: float) -> bool:
    """|sums - 1| <= tolerance everywhere (two reductions; NaN fails). The test is on
    sums - 1, exact for sums near 1, so it is the slow path's test to the last bit."""
    return bool(sums.min() - 1.0 >= -tolerance and sums.max() - 1.0 <= tolerance)


def check_feasible(mdp: FiniteMDP, policy: np.ndarray, name: str = "policy") -> None:
    """Raise :class:`InvalidPolicyError` if ``policy`` puts mass on an infeasible action."""
    if not mdp.has_infeasible_actions:
        return
    mask = mdp.action_mask
    bad = np.asarray(policy != 0, dtype=bool) & ~mask
    if bad.any():
        s, a = (int(i) for i in np.argwhere(bad)[0])
        feasible = [int(b) for b in np.flatnonzero(mask[s])]
        raise InvalidPolicyError(
            f"{name}[{s}, {a}] = {policy[s, a]} puts mass on an infeasible action: state {s} "
            f"allows only actions {feasible}"
        )


def uniform_policy(mdp: FiniteMDP) -> np.ndarray:
    """pi[s, a] = 1/A in every state (exact Fractions for an exact MDP)."""
    check_mdp(mdp)
    shape = (mdp.num_states, mdp.num_actions)
    if mdp.has_infeasible_actions:  # uniform over each state's feasible actions
        mask, counts = mdp.action_mask, mdp.num_feasible_actions
        if mdp.is_exact:
            shares = np.array([_exact.ZERO] + [Fraction(1, k) for k in range(1, shape[1] + 1)])
            return np.where(mask, shares[counts][:, None], _exact.ZERO)
        return mask / counts[:, None]
    if mdp.is_exact:
        return np.full(shape, Fraction(1, mdp.num_actions), dtype=object)
    return np.full(shape, 1.0 / mdp.num_actions)


def _one_hot(actions: np.ndarray, num_actions: int, exact: bool) -> np.ndarray:
    num_states = len(actions)
    if exact:
        policy = np.full((num_states, num_actions), _exact.ZERO, dtype=object)
        policy[np.arange(num_states), actions] = _exact.ONE
    else:
        policy = np.zeros((num_states, num_actions))
        policy[np.arange(num_states), actions] = 1.0
    return policy


def deterministic_policy(mdp: FiniteMDP, actions: Any) -> np.ndarray:
    """The deterministic policy choosing ``actions[s]`` in state s (one-hot rows)."""
    check_mdp(mdp)
    try:
        actions = np.asarray(actions)
    except ValueError as error:  # ragged nested lists
        raise InvalidPolicyError(
            f"actions could not be read as an array of S = {mdp.num_states} integer actions: "
            f"{error}"
        ) from None
    if actions.shape != (mdp.num_states,) or actions.dtype.kind not in "iu":
        raise InvalidPolicyError(
            f"actions has shape {actions.shape} and dtype {actions.dtype}, expected S = "
            f"{mdp.num_states} integer actions"
        )
    out_of_range = (actions < 0) | (actions >= mdp.num_actions)
    if out_of_range.any():
        s = int(np.argmax(out_of_range))
        raise InvalidPolicyError(
            f"actions[{s}] = {actions[s]} is not an action, expected 0..{mdp.num_actions - 1}"
        )
    if mdp.has_infeasible_actions:
        infeasible = ~mdp.action_mask[np.arange(mdp.num_states), actions]
        if infeasible.any():
            s = int(np.argmax(infeasible))
            feasible = [int(b) for b in np.flatnonzero(mdp.action_mask[s])]
            raise InvalidPolicyError(
                f"actions[{s}] = {actions[s]} is infeasible in state {s}, which allows only "
                f"actions {feasible}"
            )
    return _one_hot(actions, mdp.num_actions, mdp.is_exact)


def fill_infeasible(values: np.ndarray, action_mask: np.ndarray | None) -> np.ndarray:
    """``values`` with each infeasible entry replaced by its state's first feasible entry.

    Neutral for row maxima and minima over the feasible actions, exact on Fractions (no -inf).
    """
    if action_mask is None:
        return values
    first = np.argmax(action_mask, axis=1)
    return np.where(action_mask, values, values[np.arange(len(values)), first][:, None])


def masked_row_max(values: np.ndarray, action_mask: np.ndarray | None) -> np.ndarray:
    """max over the feasible actions of each row (all actions when ``action_mask`` is None)."""
    return row_max(fill_infeasible(values, action_mask))


def _maximisers(
    values: np.ndarray, tie_tolerance: float, action_mask: np.ndarray | None = None
) -> np.ndarray:
    """Boolean (S, A) mask of the actions within ``tie_tolerance`` of each row's maximum."""
    values = fill_infeasible(values, action_mask)
    row_max = values.max(axis=1, keepdims=True)
    if tie_tolerance:  # never mix a float 0.0 into exact comparisons
        row_max = row_max - tie_tolerance
    maximisers = np.asarray(values >= row_max, dtype=bool)
    return maximisers if action_mask is None else maximisers & action_mask


def _check_mask(action_mask: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    if action_mask is None:
        return None
    mask = np.asarray(action_mask)
    if mask.dtype != bool or mask.shape != shape:
        raise InvalidParameterError(
            f"action_mask has shape {mask.shape} and dtype {mask.dtype}, expected booleans of "
            f"shape {shape}"
        )
    if not mask.any(axis=1).all():
        raise InvalidParameterError("action_mask has a row without a feasible action")
    return None if mask.all() else mask


def greedy_actions(
    values: np.ndarray,
    tie_tolerance: float = 0.0,
    keep: np.ndarray | None = None,
    action_mask: np.ndarray | None = None,
) -> np.ndarray:
    """argmax_a values[s, a] per state with the documented tie rule (smallest index, or keep).

    ``action_mask`` (S, A): only actions marked True are candidates (``mdp.action_mask``).
    """
    values = _check_q_values(values)
    tie_tolerance = positive_number(tie_tolerance, "tie_tolerance", allow_zero=True)
    return _greedy_actions(values, tie_tolerance, keep, _check_mask(action_mask, values.shape))


def _greedy_actions(
    values: np.ndarray,
    tie_tolerance: float,
    keep: np.ndarray | None,
    action_mask: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`greedy_actions` on checked ``values`` and ``tie_tolerance``."""
    mask = _maximisers(values, tie_tolerance, action_mask)
    actions = np.argmax(mask, axis=1)
    if keep is not None:
        keep = np.asarray(keep)
        if keep.shape != actions.shape or keep.dtype.kind not in "iu":
            raise InvalidParameterError(
                f"keep has shape {keep.shape} and dtype {keep.dtype}, expected {len(actions)} "
                "integer actions"
            )
        kept = mask[np.arange(len(actions)), keep]
        actions = np.where(kept, keep, actions)
    return actions


def _check_q_values(q_values: Any) -> np.ndarray:
    """An (S, A) array of action values: object (Fractions) or finite floats."""
    try:
        array = q_values if isinstance(q_values, np.ndarray) else np.asarray(q_values)
    except ValueError as error:  # ragged nested lists
        raise InvalidParameterError(f"q_values could not be read as an array: {error}") from None
    if array.dtype != object:
        if array.dtype.kind not in "biuf":
            raise InvalidParameterError(f"q_values has dtype {array.dtype}, expected numbers")
        array = array.astype(float, copy=False)
        # -inf masks an action (a common idiom); NaN and +inf have no argmax meaning
        if np.isnan(array).any() or np.isposinf(array).any():
            raise InvalidParameterError("q_values contains NaN or +inf")
    if array.ndim != 2 or 0 in array.shape:
        raise InvalidParameterError(f"q_values has shape {array.shape}, expected (S, A)")
    return array


def greedy_policy(
    q_values: np.ndarray,
    tie_tolerance: float = 0.0,
    split_ties: bool = False,
    keep: np.ndarray | None = None,
    action_mask: np.ndarray | None = None,
) -> np.ndarray:
    """A policy greedy with respect to ``q_values`` (S, A), the improvement step of GPI.

    Parameters
    ----------
    q_values : (S, A) array, Q[s, a] (or advantages; the argmax is the same).
    tie_tolerance : actions within this of the row maximum count as maximisers (0 = exact ties).
    split_ties : spread the mass uniformly over all maximisers instead of picking one.
    keep : (S,) current actions; kept wherever they are maximisers (policy iteration's rule).
    action_mask : (S, A) booleans, optional; only feasible actions (True) are chosen
        (pass ``mdp.action_mask`` for an MDP with infeasible actions).

    Returns
    -------
    (S, A) policy, Fractions if ``q_values`` is an object array, floats otherwise.
    """
    q_values = _check_q_values(q_values)
    tie_tolerance = positive_number(tie_tolerance, "tie_tolerance", allow_zero=True)
    exact = q_values.dtype == object
    num_actions = q_values.shape[1]
    action_mask = _check_mask(action_mask, q_values.shape)
    if split_ties:
        mask = _maximisers(q_values, tie_tolerance, action_mask)
        counts = row_count(mask)
        if exact:  # 1/k for the k maximisers of each state, one Fraction per possible k
            shares = np.array([_exact.ZERO] + [Fraction(1, k) for k in range(1, num_actions + 1)])
            return np.where(mask, shares[counts][:, None], _exact.ZERO)
        return mask / counts[:, None]
    actions = _greedy_actions(q_values, tie_tolerance, keep, action_mask)
    return _one_hot(actions, num_actions, exact)


def policy_actions(policy: np.ndarray) -> np.ndarray:
    """The action of each state of a deterministic policy (the argmax of each row)."""
    return np.argmax(np.asarray(policy == policy.max(axis=1, keepdims=True), dtype=bool), axis=1)


def random_policy(
    mdp: FiniteMDP,
    rng: np.random.Generator | int | None = None,
    concentration: float = 1.0,
    max_denominator: int = 20,
) -> np.ndarray:
    """A random policy with rows drawn from Dirichlet(concentration, ..., concentration).

    For an exact MDP the rows are exact: Dirichlet(1) spacings of sorted uniform cut points
    drawn on the grid {0, 1/q, ..., 1} with q = ``max_denominator``, so entries are Fractions
    with denominator dividing q (a discretised Dirichlet(1), the law used by the generators).
    """
    check_mdp(mdp)
    concentration = float(positive_number(concentration, "concentration"))
    max_denominator = whole_number(max_denominator, "max_denominator", minimum=1)
    generator = random_generator(rng, "rng")
    shape = (mdp.num_states, mdp.num_actions)
    if mdp.has_infeasible_actions:
        return _random_face_policy(mdp, generator, concentration, max_denominator)
    if not mdp.is_exact:
        return generator.dirichlet(np.full(mdp.num_actions, concentration), size=mdp.num_states)
    cuts = np.sort(generator.integers(0, max_denominator + 1, size=(shape[0], shape[1] - 1)))
    edges = np.concatenate(
        [np.zeros((shape[0], 1), int), cuts, np.full((shape[0], 1), max_denominator)], axis=1
    )
    numerators = np.diff(edges, axis=1)
    policy = np.empty(shape, dtype=object)
    policy.ravel()[:] = [Fraction(int(n), max_denominator) for n in numerators.ravel()]
    return policy


def _random_face_policy(
    mdp: FiniteMDP, generator: np.random.Generator, concentration: float, max_denominator: int
) -> np.ndarray:
    """:func:`random_policy` on the feasible faces: Dirichlet over each state's feasible actions
    (normalised Gamma draws, which is exactly Dirichlet on the face); exact rows are the
    spacings of cut points on the grid of multiples of 1/q over the feasible actions."""
    mask = mdp.action_mask
    if not mdp.is_exact:
        draws = np.where(mask, generator.gamma(concentration, size=mask.shape), 0.0)
        totals = draws.sum(axis=1, keepdims=True)
        # a row whose draws all underflowed (tiny concentration): its first feasible action
        empty = totals[:, 0] == 0
        if empty.any():
            draws[empty, np.argmax(mask[empty], axis=1)] = 1.0
            totals = draws.sum(axis=1, keepdims=True)
        return draws / totals
    policy = np.full(mask.shape, _exact.ZERO, dtype=object)
    for s in range(mask.shape[0]):
        actions = np.flatnonzero(mask[s])
        cuts = np.sort(generator.integers(0, max_denominator + 1, size=len(actions) - 1))
        edges = np.concatenate([[0], cuts, [max_denominator]])
        for a, n in zip(actions, np.diff(edges), strict=True):
            policy[s, a] = Fraction(int(n), max_denominator)
    return policy


def interior_policy(
    mdp: FiniteMDP, rng: np.random.Generator | int | None = 0, denominator: int = 1000
) -> np.ndarray:
    """A random policy on the grid of multiples of 1/q, every entry >= 1/q (q = denominator).

    Rows are Dirichlet(1) draws rounded down to the grid with one q-th added to each entry and
    the remainder given to the last action, so the policy is strictly inside the simplex (as
    KL drifts need) and the *same numbers* serve exact and float runs: a seed gives one pi_0
    for both. This is the initial policy of ``tabular-mirror reproduce`` and ``check``.

    Parameters
    ----------
    mdp : FiniteMDP
    rng : int, numpy.random.Generator or None
        Seed (default 0).
    denominator : int
        q, with q >= 2 A (so that every row fits on the grid).

    Returns
    -------
    (S, A) policy: Fractions for an exact MDP, floats otherwise.

    Examples
    --------
    >>> import tabular_mirror as tm
    >>> mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [1, 0]], "1/2")
    >>> from fractions import Fraction
    >>> policy = interior_policy(mdp, 0)
    >>> min(policy.ravel()) >= Fraction(1, 1000), [str(t) for t in policy.sum(axis=1)]
    (True, ['1', '1'])
    """
    check_mdp(mdp)
    denominator = whole_number(denominator, "denominator", minimum=2 * mdp.num_actions)
    generator = random_generator(rng, "rng")
    num_states, num_actions = mdp.num_states, mdp.num_actions
    if mdp.has_infeasible_actions:  # inside each state's feasible face, 0 elsewhere
        mask, counts = mdp.action_mask, mdp.num_feasible_actions
        draws = np.where(mask, generator.gamma(1.0, size=mask.shape), 0.0) + 1e-300 * mask
        rows = draws / draws.sum(axis=1, keepdims=True)
        numerators = np.where(
            mask, np.floor(rows * (denominator - counts[:, None])).astype(np.int64) + 1, 0
        )
        last = num_actions - 1 - np.argmax(mask[:, ::-1], axis=1)
        numerators[np.arange(num_states), last] += denominator - numerators.sum(axis=1)
    else:
        rows = generator.dirichlet(np.ones(num_actions), size=num_states)
        numerators = np.floor(rows * (denominator - num_actions)).astype(np.int64) + 1
        numerators[:, -1] += denominator - numerators.sum(axis=1)
    if mdp.is_exact:
        policy = np.empty((num_states, num_actions), dtype=object)
        policy.ravel()[:] = [Fraction(int(n), denominator) for n in numerators.ravel()]
        return policy
    return numerators / denominator
