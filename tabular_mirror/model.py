"""The finite discounted MDP (S, A, P, r, gamma, d): validated, immutable, float or exact.

A :class:`FiniteMDP` holds

- ``transitions`` P[s, a, s'] (spec symbol P): a dense (S, A, S) array, or a scipy.sparse CSR
  matrix of shape (S*A, S) whose row ``s*A + a`` is the distribution of the next state;
- ``rewards`` r[s, a]: expected rewards (S, A). Rewards given per transition, r(s, a, s') of
  shape (S, A, S), are reduced to ``r[s, a] = sum_s' P[s, a, s'] r(s, a, s')``;
- ``discount`` gamma in [0, 1) (gamma = 1 is accepted for the undiscounted criteria only:
  :func:`~tabular_mirror.backward_induction` and :func:`~tabular_mirror.average_reward`);
- ``initial`` d, the initial-state distribution (uniform unless given);
- ``action_mask`` (optional): which actions are feasible in which state.

Infeasible actions. An action can be unavailable in a state: give ``action_mask`` (S, A), True
where the action is feasible, or a reward of ``-inf`` (QuantEcon's convention), or build the
MDP from its feasible state-action pairs (:meth:`FiniteMDP.from_state_action_pairs`). The
transition rows of infeasible pairs are not part of the model and are not stored (zero rows;
a sparse P keeps no entry for them) and their stored reward is 0. Policies put no mass on
infeasible actions (:func:`~tabular_mirror.check_policy` rejects them): each state's simplex is
the face of its feasible actions, and every solver, step and check works on that face. At an
infeasible pair, Q_V[s, a] is reported as V[s] and the advantage as 0: neutral values, so the
row maxima and minima of a policy's Q and A and every policy-weighted sum are those of the
feasible actions; use ``mdp.action_mask`` to select entries. A state without a feasible
action is an error. An MDP without infeasible actions stores no mask and pays nothing.

Two arithmetic modes. *Float* mode stores float64 arrays. *Exact* mode stores numpy object
arrays of ``fractions.Fraction``; every quantity computed from an exact MDP is then an exact
Fraction. An MDP is exact when any of its inputs contains a Fraction or a string such as
``"1/3"`` (or when ``exact=True``); a float among exact inputs raises
:class:`~tabular_mirror.errors.ExactnessError` instead of being rounded silently. The explicit
conversions are :meth:`FiniteMDP.to_exact` and :meth:`FiniteMDP.to_float`.

Validation happens once, here; nothing is normalised, clipped or densified. Row sums are
checked to ``row_tolerance`` (1e-10 by default) in float mode and exactly in exact mode.

References
----------
Kuba, Schroeder de Witt, Foerster, "Mirror Learning: A Unifying Framework of Policy
Optimisation", ICML 2022, section 2 (the setting).

Examples
--------
The two-state "small" MDP of MDPtoolbox, exactly:

>>> from fractions import Fraction as F
>>> mdp = FiniteMDP(
...     [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
...     [[5, 10], [-1, 2]],
...     discount="9/10",
... )
>>> mdp.num_states, mdp.num_actions, mdp.is_exact
(2, 2, True)
>>> mdp.initial.tolist()
[Fraction(1, 2), Fraction(1, 2)]
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _exact
from ._files import check_allocation
from ._validate import (
    DEFAULT_ROW_TOLERANCE,
    check_finite,
    check_nonnegative,
    check_rows_sum_to_one,
    plain_number,
)
from .errors import ExactnessError, InvalidMDPError, InvalidParameterError

__all__ = ["FiniteMDP"]

_NEGATIVE_INFINITY = float("-inf")


def _is_negative_infinity(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("-inf", "-infinity")
    if isinstance(value, float | np.floating):
        return bool(value == _NEGATIVE_INFINITY)
    return False


def _split_negative_infinity(rewards: Any) -> tuple[Any, np.ndarray | None]:
    """(rewards with each -inf replaced by 0, mask of the -inf entries or None).

    QuantEcon marks an infeasible action by a reward of -inf; exact inputs may write "-inf".
    """
    if sp.issparse(rewards):
        return rewards, None
    if isinstance(rewards, np.ndarray) and rewards.dtype.kind in "biuc":
        return rewards, None
    if isinstance(rewards, np.ndarray) and rewards.dtype.kind == "f":
        infinite = np.isneginf(rewards)
        if not infinite.any():
            return rewards, None
        return np.where(infinite, 0.0, rewards), infinite
    try:
        array = np.array(rewards, dtype=object)
    except ValueError:  # ragged: the readers below name the problem
        return rewards, None
    if array.dtype != object or array.ndim == 0:
        return rewards, None
    flat = array.ravel()
    infinite = np.fromiter((_is_negative_infinity(v) for v in flat), bool, len(flat))
    if not infinite.any():
        return rewards, None
    flat = flat.copy()
    flat[infinite] = 0
    return flat.reshape(array.shape), infinite.reshape(array.shape)


def _read_action_mask(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    """An (S, A) boolean mask (True = feasible), checked."""
    try:
        array = np.asarray(mask)
    except ValueError as error:
        raise InvalidMDPError(f"action_mask could not be read as an array: {error}") from None
    if array.dtype != bool:
        if array.dtype.kind not in "iu" or not np.isin(array, (0, 1)).all():
            raise InvalidMDPError(
                f"action_mask has dtype {array.dtype}, expected booleans (True where the "
                "action is feasible)"
            )
        array = array.astype(bool)
    if array.shape != shape:
        raise InvalidMDPError(f"action_mask has shape {array.shape}, expected (S, A) = {shape}")
    return array


def _has_exact_marker(value: Any) -> bool:
    """Does ``value`` contain a Fraction or a string (the signal for exact mode)?"""
    if sp.issparse(value):
        return False
    if isinstance(value, Fraction | str):
        return True
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "U":
            return True
        if value.dtype != object:
            return False
        return any(isinstance(v, Fraction | str) for v in value.ravel())
    if isinstance(value, list | tuple):
        try:
            array = np.array(value, dtype=object)
        except ValueError:
            return False
        return any(isinstance(v, Fraction | str) for v in array.ravel())
    return False


def is_complex(value: Any) -> bool:
    """Does ``value`` hold complex numbers (which a float conversion would silently truncate)?"""
    try:
        return bool(np.iscomplexobj(np.asarray(value)))
    except (TypeError, ValueError):
        return False


def _float_array(value: Any, name: str) -> np.ndarray:
    if is_complex(value):
        raise InvalidMDPError(f"{name} has complex entries, expected real numbers")
    try:
        array = np.array(value, dtype=float)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidMDPError(f"{name} could not be read as a numeric array: {error}") from error
    check_finite(array, name, InvalidMDPError)
    return array


def _check_row_tolerance(value: Any) -> float:
    """``row_tolerance`` as a float in [0, inf] (inf skips the row check: internal rebuilds)."""
    value = plain_number(value)
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise InvalidParameterError(
            f"row_tolerance = {value!r} must be a real number >= 0 (default "
            f"{DEFAULT_ROW_TOLERANCE:g})"
        )
    try:
        value = float(value)
    except OverflowError:  # an integer beyond the float range: as good as infinite
        value = float("inf") if value > 0 else -1.0
    if np.isnan(value) or value < 0:
        raise InvalidParameterError(
            f"row_tolerance = {value!r} must be a real number >= 0 (default "
            f"{DEFAULT_ROW_TOLERANCE:g})"
        )
    return value


def _check_sparse_input(matrix: Any, name: str) -> None:
    """Reject sparse input that scipy would silently change: complex data, bad indices."""
    if np.iscomplexobj(matrix.data if hasattr(matrix, "data") else matrix):
        raise InvalidMDPError(
            f"{name} is a sparse matrix of complex dtype {matrix.dtype}, expected real numbers "
            "(the imaginary part would be dropped)"
        )
    if len(matrix.shape) != 2:
        raise InvalidMDPError(f"sparse {name} has shape {matrix.shape}, expected (S*A, S)")
    rows, columns = matrix.shape
    if sp.issparse(matrix) and matrix.format in ("csr", "csc"):
        major, minor = (rows, columns) if matrix.format == "csr" else (columns, rows)
        indptr, indices = np.asarray(matrix.indptr), np.asarray(matrix.indices)
        if (
            indptr.ndim != 1
            or len(indptr) != major + 1
            or (len(indptr) and (indptr[0] != 0 or np.any(np.diff(indptr) < 0)))
            or (len(indptr) and indptr[-1] > len(indices))
        ):
            raise InvalidMDPError(
                f"sparse {name} ({matrix.format.upper()}, shape {matrix.shape}) has an invalid "
                "indptr array (not non-decreasing from 0 with one entry per row + 1)"
            )
        stored = indices[: indptr[-1]] if len(indptr) else indices
        bad = (stored < 0) | (stored >= minor)
        if bad.any():
            k = int(np.argmax(bad))
            axis = "column" if matrix.format == "csr" else "row"
            raise InvalidMDPError(
                f"sparse {name} stores an entry in {axis} {int(stored[k])}, outside 0..{minor - 1} "
                f"(shape {matrix.shape})"
            )
    elif sp.issparse(matrix) and matrix.format == "coo":
        for axis, (coords, extent) in enumerate(((matrix.row, rows), (matrix.col, columns))):
            bad = (coords < 0) | (coords >= extent)
            if bad.any():
                k = int(np.argmax(bad))
                raise InvalidMDPError(
                    f"sparse {name} stores an entry at {('row', 'column')[axis]} "
                    f"{int(coords[k])}, outside 0..{extent - 1} (shape {matrix.shape})"
                )


def _exact_array(value: Any, name: str) -> np.ndarray:
    try:
        return _exact.fraction_array(value, name)
    except ValueError as error:
        if isinstance(error, ExactnessError):
            raise
        raise InvalidMDPError(f"{name} could not be read as an array: {error}") from error


class FiniteMDP:
    """A finite discounted Markov decision process (S, A, P, r, gamma, d).

    Parameters
    ----------
    transitions : array_like (S, A, S) or scipy.sparse matrix (S*A, S)
        P[s, a, s'], the probability of moving to s' after action a in state s. Sparse input
        (float mode only) has row ``s*A + a``; it stays sparse.
    rewards : array_like (S, A) or (S, A, S)
        r[s, a] expected reward, or r(s, a, s') per transition (reduced to expectations).
    discount : float, Fraction or str
        gamma in [0, 1]; gamma = 1 (undiscounted) only serves the finite-horizon and
        average-reward solvers (the discounted methods raise :class:`InvalidMDPError`).
    initial : array_like (S,), optional
        d, the initial-state distribution; uniform by default.
    action_mask : array_like of bool (S, A), optional
        True where action a is feasible in state s. Rewards of ``-inf`` also mark infeasible
        pairs (QuantEcon's convention); both may be given if they agree. Rows of P at
        infeasible pairs are dropped (stored as zero rows; any content is ignored).
    exact : bool, optional
        Force exact (True) or float (False) mode; by default exact iff an input holds a
        Fraction or a string.
    row_tolerance : float
        Allowed |row sum - 1| in float mode (exact mode compares exactly).
    copy : bool
        Copy dense float transitions (the default: the caller's array is neither aliased nor
        changed). ``copy=False`` takes a C-contiguous float64 (S, A, S) numpy array as it is
        and makes it read-only instead of copying it: for a large dense P (2.3 GB at
        S = 12,000, A = 2) this saves a whole copy. The caller must not write to it through
        another view afterwards. Any other input is copied as usual.

    Raises
    ------
    InvalidMDPError
        Wrong ndim or shape, NaN or +inf (-inf is an infeasible action's reward), a negative
        probability, a feasible row not summing to 1, a discount outside [0, 1], an initial
        vector that is not a distribution, no states or no actions, a state with no feasible
        action, a mask that disagrees with the -inf rewards.
    ExactnessError
        A float given to an exact MDP.
    """

    __slots__ = (
        "_action_mask",
        "_derived",
        "_discount",
        "_exact",
        "_exact_discount",
        "_frozen",
        "_initial",
        "_num_actions",
        "_num_states",
        "_rewards",
        "_transitions",
    )

    def __init__(
        self,
        transitions: Any,
        rewards: Any,
        discount: Any,
        initial: Any = None,
        *,
        action_mask: Any = None,
        exact: bool | None = None,
        row_tolerance: float = DEFAULT_ROW_TOLERANCE,
        copy: bool = True,
    ) -> None:
        row_tolerance = _check_row_tolerance(row_tolerance)
        if not isinstance(copy, bool | np.bool_):
            raise InvalidParameterError(f"copy = {copy!r} must be True or False")
        rewards, infinite = _split_negative_infinity(rewards)
        if exact is None:
            exact = any(_has_exact_marker(v) for v in (transitions, rewards, discount, initial))
        elif not isinstance(exact, bool | np.bool_):
            raise InvalidParameterError(f"exact = {exact!r} must be True, False or None")
        if exact and sp.issparse(transitions):
            raise ExactnessError(
                "transitions is a scipy.sparse matrix, which cannot hold exact Fractions; "
                "pass a dense (S, A, S) array of Fractions for an exact MDP"
            )
        self._exact = bool(exact)
        self._exact_discount = None if self._exact else _given_exactly(discount)
        self._action_mask = None
        if action_mask is not None or infinite is not None:
            self._action_mask = self._read_mask(transitions, action_mask, infinite)
        transitions = self._read_transitions(transitions, row_tolerance, bool(copy))
        num_states, num_actions = self._num_states, self._num_actions
        self._transitions = transitions
        self._rewards = self._read_rewards(rewards)
        self._discount = self._read_discount(discount)
        self._initial = self._read_initial(initial, row_tolerance)
        self._num_states, self._num_actions = num_states, num_actions
        self._derived: dict[str, Any] = {}
        self._frozen = True

    # ------------------------------------------------------------------ reading and checking
    def _read_mask(self, transitions: Any, action_mask: Any, infinite: Any) -> np.ndarray | None:
        """The (S, A) feasibility mask from ``action_mask`` and the -inf rewards; None if every
        action is feasible."""
        if sp.issparse(transitions):
            rows, num_states = transitions.shape
            shape = (num_states, rows // num_states if num_states else 0)
        else:
            shape = tuple(np.shape(transitions)[:2]) if np.ndim(transitions) == 3 else None
        if infinite is not None:
            if infinite.ndim != 2 or (shape is not None and infinite.shape != shape):
                raise InvalidMDPError(
                    f"rewards has -inf entries and shape {infinite.shape}: -inf marks an "
                    f"infeasible action only in (S, A) rewards (expected {shape})"
                )
            shape = infinite.shape
        if shape is None:
            return None  # the transitions reader names the shape problem
        mask = np.ones(shape, dtype=bool)
        if action_mask is not None:
            mask = _read_action_mask(action_mask, shape)
            if infinite is not None:
                clash = infinite & mask
                if clash.any():
                    s, a = (int(i) for i in np.argwhere(clash)[0])
                    raise InvalidMDPError(
                        f"rewards[{s}, {a}] is -inf but action_mask[{s}, {a}] is True: a "
                        "feasible action needs a finite reward"
                    )
        if infinite is not None:
            mask = mask & ~infinite
        empty = ~mask.any(axis=1)
        if empty.any():
            s = int(np.argmax(empty))
            raise InvalidMDPError(
                f"state {s} has no feasible action (action_mask[{s}, :] is all False or its "
                "rewards are all -inf); every state needs at least one"
            )
        if mask.all():
            return None
        mask.flags.writeable = False
        return mask

    def _drop_infeasible_rows(self, array: np.ndarray) -> np.ndarray:
        """Dense (S, A, S) P with the rows of infeasible pairs set to 0 (a copy, also with
        ``copy=False``: the caller's array is never changed)."""
        mask = self._action_mask
        if mask is None or mask.shape != array.shape[:2]:
            return array
        array = array.copy()
        array[~mask] = _exact.ZERO if self._exact else 0.0
        return array

    def _read_transitions(self, transitions: Any, tolerance: float, copy: bool = True) -> Any:
        if sp.issparse(transitions):
            return self._read_sparse_transitions(transitions, tolerance)
        adopt = (
            not copy
            and not self._exact
            and isinstance(transitions, np.ndarray)
            and transitions.dtype == np.float64
            and transitions.flags.c_contiguous
        )
        if adopt:  # taken as it is (checked below like any input) and made read-only
            check_finite(transitions, "transitions", InvalidMDPError)
            array = transitions
        else:
            array = (
                _exact_array(transitions, "transitions")
                if self._exact
                else _float_array(transitions, "transitions")
            )
        if array.ndim != 3:
            raise InvalidMDPError(
                f"transitions has ndim {array.ndim} (shape {array.shape}), expected a dense "
                "(S, A, S) array or a scipy.sparse (S*A, S) matrix"
            )
        num_states, num_actions, num_next = array.shape
        self._check_sizes(num_states, num_actions)
        if num_next != num_states:
            raise InvalidMDPError(
                f"transitions has shape {array.shape}: the last axis has {num_next} next "
                f"states but the first has {num_states} states, expected (S, A, S)"
            )
        array = self._drop_infeasible_rows(array)
        check_nonnegative(array, "transitions", InvalidMDPError)
        row_sums = array.sum(axis=2)
        if self._action_mask is not None:
            row_sums = np.where(self._action_mask, row_sums, _exact.ONE if self._exact else 1.0)
        check_rows_sum_to_one(row_sums, "transitions", InvalidMDPError, tolerance, self._exact)
        self._num_states, self._num_actions = num_states, num_actions
        return _exact.readonly(array)

    def _read_sparse_transitions(self, transitions: Any, tolerance: float) -> sp.csr_matrix:
        # a copy (the caller's matrix is neither aliased nor made read-only), never densified
        _check_sparse_input(transitions, "transitions")
        matrix = sp.csr_matrix(transitions, dtype=float, copy=True)
        matrix.sum_duplicates()
        rows, num_states = matrix.shape
        if num_states == 0 or rows == 0:
            self._check_sizes(num_states, 0 if rows == 0 else 1)
        if rows % num_states:
            raise InvalidMDPError(
                f"sparse transitions has shape {matrix.shape}; expected (S*A, S): the number of "
                f"rows ({rows}) must be a multiple of the number of columns ({num_states})"
            )
        num_actions = rows // num_states
        self._check_sizes(num_states, num_actions)
        if self._action_mask is not None and self._action_mask.shape == (num_states, num_actions):
            # the rows of infeasible pairs are not part of the model: keep no entry for them
            keep = np.repeat(self._action_mask.ravel(), np.diff(matrix.indptr))
            if not keep.all():
                matrix.data[~keep] = 0.0
                matrix.eliminate_zeros()
        coo = matrix.tocoo()

        def where(k: int) -> tuple[int, int, int]:
            row = int(coo.row[k])
            return (row // num_actions, row % num_actions, int(coo.col[k]))

        bad = ~np.isfinite(coo.data)
        if bad.any():
            k = int(np.argmax(bad))
            raise InvalidMDPError(
                f"transitions[{', '.join(map(str, where(k)))}] is {coo.data[k]}, "
                "expected a finite number"
            )
        negative = coo.data < 0
        if negative.any():
            k = int(np.argmax(negative))
            raise InvalidMDPError(
                f"transitions[{', '.join(map(str, where(k)))}] = {coo.data[k]} is negative, "
                "expected a probability"
            )
        row_sums = np.asarray(matrix.sum(axis=1)).reshape(num_states, num_actions)
        if self._action_mask is not None:
            row_sums = np.where(self._action_mask, row_sums, 1.0)
        check_rows_sum_to_one(row_sums, "transitions", InvalidMDPError, tolerance, False)
        for part in (matrix.data, matrix.indices, matrix.indptr):
            part.flags.writeable = False
        self._num_states, self._num_actions = num_states, num_actions
        return matrix

    @staticmethod
    def _check_sizes(num_states: int, num_actions: int) -> None:
        if num_states == 0:
            raise InvalidMDPError("transitions has no states (S = 0), expected S >= 1")
        if num_actions == 0:
            raise InvalidMDPError("transitions has no actions (A = 0), expected A >= 1")

    def _read_rewards(self, rewards: Any) -> np.ndarray:
        shape = (self._num_states, self._num_actions)
        if sp.issparse(rewards):
            if self._exact:
                raise ExactnessError("rewards is a scipy.sparse matrix; exact MDPs need dense")
            _check_sparse_input(rewards, "rewards")
            matrix = sp.csr_matrix(rewards, dtype=float)
            if matrix.shape != (shape[0] * shape[1], shape[0]):
                raise InvalidMDPError(
                    f"sparse rewards has shape {matrix.shape}, expected (S*A, S) = "
                    f"{(shape[0] * shape[1], shape[0])}"
                )
            check_finite(matrix.data, "rewards (stored entries)", InvalidMDPError)
            # P may be dense here: multiply through a sparse P (elementwise, never densified)
            transitions = sp.csr_matrix(self.transition_matrix)
            expected = np.asarray(transitions.multiply(matrix).sum(axis=1))
            return _exact.readonly(expected.reshape(shape))  # infeasible rows of P are 0
        array = (
            _exact_array(rewards, "rewards") if self._exact else _float_array(rewards, "rewards")
        )
        if array.shape == (*shape, shape[0]):
            if sp.issparse(self._transitions):
                flat = array.reshape(shape[0] * shape[1], shape[0])
                expected = np.asarray(self._transitions.multiply(flat).sum(axis=1)).reshape(shape)
            else:
                expected = (self._transitions * array).sum(axis=2)
            return _exact.readonly(np.array(expected, dtype=object if self._exact else float))
        if array.shape != shape:
            raise InvalidMDPError(
                f"rewards has shape {array.shape}, expected (S, A) = {shape} or (S, A, S) = "
                f"{(*shape, shape[0])}"
            )
        if self._action_mask is not None:  # an infeasible pair's reward is not stored
            array = np.where(self._action_mask, array, _exact.ZERO if self._exact else 0.0)
        return _exact.readonly(array)

    def _read_discount(self, discount: Any) -> Any:
        if self._exact:
            value = _exact.to_fraction(discount, "discount")
        else:
            discount = plain_number(discount)
            if isinstance(discount, bool) or is_complex(discount):
                raise InvalidMDPError(f"discount = {discount!r} is not a real number")
            try:
                value = float(Fraction(discount.strip()) if isinstance(discount, str) else discount)
            except (TypeError, ValueError, ZeroDivisionError, OverflowError) as error:
                raise InvalidMDPError(f"discount = {discount!r} is not a number") from error
            if not np.isfinite(value):
                raise InvalidMDPError(f"discount = {discount!r} is not finite")
        if not 0 <= value <= 1:
            raise InvalidMDPError(f"discount = {discount} is outside [0, 1]")
        return value

    def _read_initial(self, initial: Any, tolerance: float) -> np.ndarray:
        num_states = self._num_states
        if initial is None:
            if self._exact:
                array = np.array([Fraction(1, num_states)] * num_states, dtype=object)
            else:
                array = np.full(num_states, 1.0 / num_states)
            return _exact.readonly(array)
        array = (
            _exact_array(initial, "initial") if self._exact else _float_array(initial, "initial")
        )
        if array.shape != (num_states,):
            raise InvalidMDPError(
                f"initial has shape {array.shape}, expected (S,) = ({num_states},)"
            )
        check_nonnegative(array, "initial", InvalidMDPError)
        total = array.sum()
        if (total != 1) if self._exact else abs(total - 1.0) > tolerance:
            expectation = "exactly 1" if self._exact else f"1 (tolerance {tolerance:g})"
            raise InvalidMDPError(
                f"initial sums to {total}, expected {expectation}: it must be a distribution"
            )
        return _exact.readonly(array)

    # ------------------------------------------------------------------ immutability
    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"FiniteMDP is immutable; cannot set {name!r}")
        object.__setattr__(self, name, value)

    def _derived_value(self, key: str, compute: Callable[[FiniteMDP], Any]) -> Any:
        """``compute(self)``, computed once: a cache of structure derived from the immutable MDP.

        Internal (for example :func:`~tabular_mirror.operators.policy_transitions` asks once
        how many successors different actions share).
        """
        if key not in self._derived:
            self._derived[key] = compute(self)
        return self._derived[key]

    # ------------------------------------------------------------------ properties
    @property
    def transitions(self) -> np.ndarray | sp.csr_matrix:
        """P[s, a, s']: dense (S, A, S), or CSR (S*A, S) with row ``s*A + a`` (read-only)."""
        return self._transitions

    @property
    def transition_matrix(self) -> np.ndarray | sp.csr_matrix:
        """P as an (S*A, S) matrix (a reshaped view of dense P, or the CSR matrix itself)."""
        if sp.issparse(self._transitions):
            return self._transitions
        return self._transitions.reshape(self._num_states * self._num_actions, self._num_states)

    @property
    def rewards(self) -> np.ndarray:
        """r[s, a], the expected reward, shape (S, A) (read-only)."""
        return self._rewards

    @property
    def discount(self) -> Any:
        """gamma in [0, 1] (1 only for the undiscounted criteria): a float, or a Fraction."""
        return self._discount

    @property
    def action_mask(self) -> np.ndarray:
        """(S, A) booleans, True where action a is feasible in state s (read-only)."""
        if self._action_mask is not None:
            return self._action_mask
        return self._derived_value("all_feasible", _all_feasible)

    @property
    def has_infeasible_actions(self) -> bool:
        """True when some action is infeasible in some state (see ``action_mask``)."""
        return self._action_mask is not None

    @property
    def num_feasible_actions(self) -> np.ndarray:
        """(S,) the number of feasible actions of each state (int64, read-only)."""
        return self._derived_value("num_feasible", _num_feasible)

    @property
    def is_discounted(self) -> bool:
        """True when gamma < 1 (the discounted criterion and the mirror-learning engine)."""
        return self._discount < 1

    @property
    def initial(self) -> np.ndarray:
        """d, the initial-state distribution, shape (S,) (read-only)."""
        return self._initial

    @property
    def num_states(self) -> int:
        """S, the number of states."""
        return self._num_states

    @property
    def num_actions(self) -> int:
        """A, the number of actions (the same in every state)."""
        return self._num_actions

    @property
    def is_exact(self) -> bool:
        """True when every array holds exact Fractions."""
        return self._exact

    @property
    def is_sparse(self) -> bool:
        """True when the transitions are stored as a scipy.sparse (S*A, S) matrix."""
        return not isinstance(self._transitions, np.ndarray)  # (dense or CSR, nothing else)

    # ------------------------------------------------------------------ conversions
    def to_exact(self, limit_denominator: int | None = None) -> FiniteMDP:
        """An exact copy: each float becomes its exact binary Fraction, or the nearest fraction
        with denominator <= ``limit_denominator`` (then rows must still sum to exactly 1). A
        discount that was given exactly (``"99/100"``, a Fraction) is kept exactly."""
        if self._exact:
            return self
        if limit_denominator is not None:
            limit = plain_number(limit_denominator)
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise InvalidParameterError(
                    f"limit_denominator = {limit_denominator!r} must be an integer >= 1 or None"
                )
            limit_denominator = limit
        check_allocation(
            (self._num_states, self._num_actions, self._num_states), 8, "exact transitions",
            "exact mode stores P densely: use a smaller MDP or stay in float mode",
            InvalidMDPError,
        )  # fmt: skip
        dense = self.to_dense()

        def convert(array: Any) -> np.ndarray:
            return _exact.float_to_fraction_array(array, limit_denominator)

        if self._exact_discount is not None:  # given exactly ("99/100"): kept exactly
            discount = self._exact_discount
        else:
            discount = Fraction(self._discount)
            if limit_denominator is not None:
                discount = discount.limit_denominator(limit_denominator)
        try:
            return FiniteMDP(
                convert(dense.transitions),
                convert(self._rewards),
                discount,
                convert(self._initial),
                action_mask=self._action_mask,
                exact=True,
            )
        except InvalidMDPError as error:
            hint = (
                "; the exact binary values of the floats do not sum to 1: use "
                "to_exact(limit_denominator=...) to read them as nearby fractions"
                if limit_denominator is None
                else f"; no fractions with denominator <= {limit_denominator} sum to 1 here"
            )
            raise InvalidMDPError(f"{error}{hint}") from error

    def to_float(self) -> FiniteMDP:
        """A float64 copy (rounding each Fraction to the nearest double)."""
        if not self._exact:
            return self
        return FiniteMDP(
            _exact.to_float_array(self._transitions),
            _exact.to_float_array(self._rewards),
            self._discount,  # a Fraction: the float MDP remembers it for to_exact()
            _exact.to_float_array(self._initial),
            action_mask=self._action_mask,
            exact=False,
            row_tolerance=1e-9,
        )

    def to_dense(self) -> FiniteMDP:
        """The same MDP with dense (S, A, S) transitions (an explicit densification)."""
        if not self.is_sparse:
            return self
        check_allocation(
            (self._num_states, self._num_actions, self._num_states), 8, "dense transitions",
            "keep the MDP sparse (every solver and step accepts sparse MDPs)", InvalidMDPError,
        )  # fmt: skip
        dense = self._transitions.toarray().reshape(
            self._num_states, self._num_actions, self._num_states
        )
        return FiniteMDP(
            dense,
            self._rewards,
            self._discount_given(),
            self._initial,
            action_mask=self._action_mask,
            exact=False,
        )

    def to_sparse(self) -> FiniteMDP:
        """The same float MDP with CSR (S*A, S) transitions."""
        if self.is_sparse:
            return self
        if self._exact:
            raise ExactnessError("an exact MDP cannot be stored sparse; use to_float() first")
        return FiniteMDP(
            sp.csr_matrix(self.transition_matrix),
            self._rewards,
            self._discount_given(),
            self._initial,
            action_mask=self._action_mask,
            exact=False,
        )

    def _discount_given(self) -> Any:
        """The discount as it was given: its Fraction when given exactly, else the float."""
        return self._exact_discount if self._exact_discount is not None else self._discount

    def with_discount(self, discount: Any) -> FiniteMDP:
        """The same MDP with another discount factor.

        P, r and d are shared with this MDP (they are read-only), not copied: a dense P of
        gigabytes is not duplicated. Only the new discount is checked.
        """
        return self._sharing(
            discount=self._read_discount(discount),
            exact_discount=None if self._exact else _given_exactly(discount),
        )

    def with_initial(self, initial: Any) -> FiniteMDP:
        """The same MDP with another initial distribution (P and r shared, not copied)."""
        return self._sharing(initial=self._read_initial(initial, DEFAULT_ROW_TOLERANCE))

    def _sharing(self, **changes: Any) -> FiniteMDP:
        """A copy that shares the read-only arrays, with ``discount`` / ``initial`` replaced."""
        other = object.__new__(FiniteMDP)
        values = {
            "_exact": self._exact,
            "_transitions": self._transitions,
            "_rewards": self._rewards,
            "_discount": changes.get("discount", self._discount),
            "_exact_discount": changes.get("exact_discount", self._exact_discount),
            "_initial": changes.get("initial", self._initial),
            "_action_mask": self._action_mask,
            "_num_states": self._num_states,
            "_num_actions": self._num_actions,
            "_derived": {},  # recomputed on demand: nothing cached is assumed to carry over
            "_frozen": True,
        }
        for name, value in values.items():
            object.__setattr__(other, name, value)
        return other

    @classmethod
    def from_state_action_pairs(
        cls,
        state_indices: Any,
        action_indices: Any,
        transitions: Any,
        rewards: Any,
        discount: Any,
        initial: Any = None,
        *,
        num_actions: int | None = None,
        exact: bool | None = None,
        row_tolerance: float = DEFAULT_ROW_TOLERANCE,
    ) -> FiniteMDP:
        """An MDP from its L feasible state-action pairs (QuantEcon's ``s_indices`` form).

        Pair i is (``state_indices[i]``, ``action_indices[i]``) with next-state distribution
        ``transitions[i, :]`` and reward ``rewards[i]``; every other pair is infeasible.

        Parameters
        ----------
        state_indices, action_indices : (L,) integer array_like
            s and a of each feasible pair (any order, no duplicates).
        transitions : (L, S) array_like or scipy.sparse matrix
            P[s_i, a_i, :]. Float input becomes a sparse (S*A, S) CSR matrix with no row for
            the infeasible pairs; exact input (Fractions, strings) a dense (S, A, S) array.
        rewards : (L,) array_like
            r[s_i, a_i] (a -inf also marks the pair infeasible).
        discount, initial, exact, row_tolerance : as for :class:`FiniteMDP`.
        num_actions : int, optional
            A; default ``max(action_indices) + 1``.

        Returns
        -------
        FiniteMDP

        Raises
        ------
        InvalidMDPError
            Lengths that differ, indices out of range or negative, a repeated pair, a state
            with no pair.

        Examples
        --------
        Puterman (1994) section 3.1 (QuantEcon's DiscreteDP example): state 1 has one action.

        >>> mdp = FiniteMDP.from_state_action_pairs(
        ...     [0, 0, 1], [0, 1, 0], [["1/2", "1/2"], [0, 1], [0, 1]], [5, 10, -1], "95/100")
        >>> mdp.action_mask.tolist()
        [[True, True], [True, False]]
        """
        states = _index_vector(state_indices, "state_indices")
        actions = _index_vector(action_indices, "action_indices")
        if len(states) != len(actions):
            raise InvalidMDPError(
                f"state_indices has {len(states)} entries but action_indices has "
                f"{len(actions)}, expected one (s, a) per feasible pair"
            )
        sparse_input = sp.issparse(transitions)
        if sparse_input:
            matrix = sp.csr_matrix(transitions)
            pairs, num_states = matrix.shape
        else:
            if exact is None:
                exact = any(_has_exact_marker(v) for v in (transitions, rewards, discount, initial))
            table = (
                _exact_array(transitions, "transitions")
                if exact
                else _float_array(transitions, "transitions")
            )
            if table.ndim != 2:
                raise InvalidMDPError(
                    f"transitions has shape {table.shape}, expected (L, S): one row per "
                    "feasible state-action pair"
                )
            pairs, num_states = table.shape
        if pairs != len(states):
            raise InvalidMDPError(
                f"transitions has {pairs} rows but there are {len(states)} state-action pairs "
                "(state_indices), expected one row per pair"
            )
        reward_values, infinite = _split_negative_infinity(rewards)
        reward_array = np.asarray(reward_values, dtype=object)
        if reward_array.shape != (pairs,):
            raise InvalidMDPError(
                f"rewards has shape {reward_array.shape}, expected (L,) = ({pairs},): one "
                "reward per feasible pair"
            )
        if num_actions is None:
            num_actions = int(actions.max()) + 1 if len(actions) else 0
        if num_states == 0 or num_actions == 0:
            cls._check_sizes(num_states, num_actions)
        for name, index, size in (
            ("state_indices", states, num_states),
            ("action_indices", actions, num_actions),
        ):
            bad = index >= size
            if bad.any():
                i = int(np.argmax(bad))
                raise InvalidMDPError(
                    f"{name}[{i}] = {int(index[i])} is out of range, expected 0..{size - 1}"
                )
        flat = states * num_actions + actions
        seen = np.zeros(num_states * num_actions, dtype=np.int64)
        np.add.at(seen, flat, 1)
        if (seen > 1).any():
            pair = int(np.argmax(seen > 1))
            raise InvalidMDPError(
                f"the pair (state {pair // num_actions}, action {pair % num_actions}) appears "
                f"{int(seen[pair])} times, expected each feasible pair once"
            )
        mask = (seen > 0).reshape(num_states, num_actions)
        if infinite is not None:
            mask[states[infinite], actions[infinite]] = False
        if exact:
            if sparse_input:
                raise ExactnessError(
                    "transitions is a scipy.sparse matrix, which cannot hold exact Fractions"
                )
            dense = np.empty((num_states, num_actions, num_states), dtype=object)
            dense.fill(_exact.ZERO)
            dense[states, actions] = table
            reward_table = np.empty((num_states, num_actions), dtype=object)
            reward_table.fill(_exact.ZERO)
            reward_table[states, actions] = reward_array
            return cls(
                dense, reward_table, discount, initial,
                action_mask=mask, exact=True, row_tolerance=row_tolerance,
            )  # fmt: skip
        if not sparse_input:
            matrix = sp.csr_matrix(table)
        # row i of the pair table goes to row s_i * A + a_i of the (S*A, S) matrix
        order = np.argsort(flat, kind="stable")
        matrix = matrix[order]
        lengths = np.zeros(num_states * num_actions, dtype=np.int64)
        lengths[flat[order]] = np.diff(matrix.indptr)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        full = sp.csr_matrix(
            (matrix.data, matrix.indices, indptr), shape=(num_states * num_actions, num_states)
        )
        try:
            reward_floats = np.array(reward_array, dtype=float)
        except (TypeError, ValueError) as error:
            raise InvalidMDPError(f"rewards could not be read as numbers: {error}") from error
        reward_table = np.zeros((num_states, num_actions))
        reward_table[states, actions] = reward_floats
        return cls(
            full, reward_table, discount, initial,
            action_mask=mask, exact=False, row_tolerance=row_tolerance,
        )  # fmt: skip

    def __repr__(self) -> str:
        mode = "exact" if self._exact else "float"
        storage = "sparse" if self.is_sparse else "dense"
        infeasible = ""
        if self._action_mask is not None:
            infeasible = f", {int((~self._action_mask).sum())} infeasible actions"
        return (
            f"FiniteMDP(num_states={self._num_states}, num_actions={self._num_actions}, "
            f"discount={self._discount}, {mode}, {storage}{infeasible})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FiniteMDP):
            return NotImplemented
        if (self._exact, self._num_states, self._num_actions) != (
            other._exact,
            other._num_states,
            other._num_actions,
        ):
            return False
        left, right = self.transition_matrix, other.transition_matrix
        if sp.issparse(left) or sp.issparse(right):
            same_transitions = (sp.csr_matrix(left) != sp.csr_matrix(right)).nnz == 0
        else:
            same_transitions = bool(np.all(left == right))
        return (
            same_transitions
            and bool(np.all(self._rewards == other._rewards))
            and self._discount == other._discount
            and bool(np.all(self._initial == other._initial))
            and bool(np.array_equal(self.action_mask, other.action_mask))
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle (and copy) by rebuilding: the copy is validated and read-only again."""
        return (
            _rebuild,
            (
                self._transitions,
                self._rewards,
                self._discount_given(),
                self._initial,
                self._exact,
                self._action_mask,
            ),
        )


def check_mdp(mdp: Any, name: str = "mdp") -> FiniteMDP:
    """Raise :class:`InvalidMDPError` unless ``mdp`` is a :class:`FiniteMDP`; return it."""
    if not isinstance(mdp, FiniteMDP):
        raise InvalidMDPError(
            f"{name} has type {type(mdp).__name__!r}, expected a tabular_mirror.FiniteMDP "
            "(build one with FiniteMDP(transitions, rewards, discount) or mdps.make(...))"
        )
    return mdp


def _given_exactly(discount: Any) -> Fraction | None:
    """The Fraction of a discount given exactly (a Fraction, an int or a string like
    "99/100"), remembered by float MDPs so that to_exact() keeps it; None for a float."""
    if isinstance(discount, bool) or not isinstance(discount, Fraction | str | int):
        return None
    try:
        return Fraction(discount.strip() if isinstance(discount, str) else discount)
    except (ValueError, ZeroDivisionError):
        return None


def require_discounted(mdp: FiniteMDP, what: str) -> None:
    """Raise :class:`InvalidMDPError` when ``mdp`` is undiscounted (gamma = 1)."""
    if mdp.discount >= 1:
        raise InvalidMDPError(
            f"discount = {mdp.discount}: {what} needs gamma < 1 (the discounted value is "
            "infinite or undefined at gamma = 1); use tabular_mirror.backward_induction for a "
            "finite horizon or tabular_mirror.average_reward for the long-run average reward"
        )


def _all_feasible(mdp: FiniteMDP) -> np.ndarray:
    mask = np.ones((mdp.num_states, mdp.num_actions), dtype=bool)
    mask.flags.writeable = False
    return mask


def _num_feasible(mdp: FiniteMDP) -> np.ndarray:
    counts = np.einsum("ij->i", mdp.action_mask, dtype=np.int64)
    counts.flags.writeable = False
    return counts


def _index_vector(values: Any, name: str) -> np.ndarray:
    """A 1-D array of nonnegative integer indices."""
    try:
        array = np.asarray(values)
    except ValueError as error:
        raise InvalidMDPError(f"{name} could not be read as an array: {error}") from None
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise InvalidMDPError(
            f"{name} has shape {array.shape} and dtype {array.dtype}, expected a vector of "
            "integer indices"
        )
    array = array.astype(np.int64)
    if (array < 0).any():
        i = int(np.argmax(array < 0))
        raise InvalidMDPError(f"{name}[{i}] = {int(array[i])} is negative, expected an index")
    return array


def _rebuild(
    transitions: Any,
    rewards: Any,
    discount: Any,
    initial: Any,
    exact: bool,
    action_mask: Any = None,
) -> FiniteMDP:
    """Unpickle a :class:`FiniteMDP` (its rows were checked when it was first built)."""
    return FiniteMDP(
        transitions,
        rewards,
        discount,
        initial,
        action_mask=action_mask,
        exact=exact,
        row_tolerance=float("inf"),
    )
