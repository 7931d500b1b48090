"""Policy-induced matrices and the Bellman operators, vectorised over states.

Formulas (spec section 1; Puterman 1994, chapter 6):

- ``policy_transitions``  P_pi[s, s'] = sum_a pi[s, a] P[s, a, s']
- ``policy_rewards``      r_pi[s] = sum_a pi[s, a] r[s, a]
- ``q_from_values``       Q[s, a] = r[s, a] + gamma sum_s' P[s, a, s'] V[s']
- ``bellman_operator``    (T_pi V)[s] = r_pi[s] + gamma (P_pi V)[s]
- ``bellman_optimality_operator``  (T* V)[s] = max_a Q[s, a]

T_pi and T* are monotone gamma-contractions in the sup norm; V_pi is the fixed point of T_pi
and V* that of T*. With infeasible actions (``mdp.action_mask``) T* maximises over the feasible
actions only, and ``q_from_values`` reports V[s] at an infeasible pair (a neutral value; see
:mod:`tabular_mirror.model`). All functions work on float arrays (dense or sparse P) and on
exact Fraction arrays; they never loop over states in Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _exact
from ._rows import row_max, row_sum
from .errors import InvalidParameterError
from .model import FiniteMDP, check_mdp
from .policies import check_policy, masked_row_max

__all__ = [
    "policy_transitions",
    "policy_rewards",
    "q_from_values",
    "bellman_operator",
    "bellman_optimality_operator",
]


def _policy_selector(mdp: FiniteMDP, policy: np.ndarray) -> sp.csr_matrix:
    """Sparse (S, S*A) matrix with entry pi[s, a] at column s*A + a."""
    num_states, num_actions = mdp.num_states, mdp.num_actions
    columns = np.flatnonzero(policy)  # no explicit zeros: P_pi costs nnz(P_pi), not nnz(P)
    return sp.csr_matrix(
        (policy.ravel()[columns], (columns // num_actions, columns)),
        shape=(num_states, num_states * num_actions),
    )


def _exact_sum_at(rows: np.ndarray, terms: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Object array of ``shape``: Fraction zeros plus ``terms`` summed at the index ``rows``."""
    out = np.empty(shape, dtype=object)
    out.fill(_exact.ZERO)
    np.add.at(out, rows, terms)
    return out


#: For the solvers, a full-support policy's P_pi keeps one stored entry per (s, a, s') term
#: (no merging of actions that share a successor) when at least this fraction of P's entries
#: stay distinct (see :func:`solver_policy_transitions`).
DISTINCT_FRACTION = 0.8


def _distinct_fraction(mdp: FiniteMDP) -> float:
    """nnz(sum_a P[s, a, :]) / nnz(P): how few successors the actions of a state share."""
    matrix = mdp.transitions
    merged = _policy_selector(mdp, np.ones((mdp.num_states, mdp.num_actions))) @ matrix
    return merged.nnz / max(matrix.nnz, 1)


def _stacked_policy_transitions(mdp: FiniteMDP, policy: np.ndarray) -> sp.csr_matrix:
    """P_pi with row s holding the rows s*A .. s*A + A - 1 of P scaled by pi[s, a].

    P's rows of one state are contiguous in CSR, so this is one scaling pass over P's data
    (the read-only column indices are shared); entries of different actions into the same s'
    stay separate. Products, ``tocsc`` and ``toarray`` sum them; scipy methods that tidy the
    matrix in place (``sum_duplicates``, ``max``) fail on the read-only indices, so this form
    never leaves the package.
    """
    matrix = mdp.transitions
    data = np.repeat(policy.ravel(), np.diff(matrix.indptr))
    data *= matrix.data
    shape = (mdp.num_states, mdp.num_states)
    return sp.csr_matrix((data, matrix.indices, matrix.indptr[:: mdp.num_actions]), shape=shape)


def policy_transitions(
    mdp: FiniteMDP, policy: Any, *, validate: bool = True
) -> np.ndarray | sp.csr_matrix:
    """P_pi, the (S, S) state-to-state transition matrix under ``policy`` (sparse if P is).

    Sparse P gives a canonical CSR P_pi (sorted indices, no duplicates, nnz(P_pi) <= nnz of
    the rows pi uses). ``validate=False`` skips
    :func:`~tabular_mirror.policies.check_policy` (for callers that checked the policy).
    """
    if validate:
        policy = check_policy(mdp, policy)
    if mdp.is_sparse:
        return _merged_policy_transitions(mdp, policy)
    if mdp.is_exact:  # Fraction arithmetic only where pi[s, a] P[s, a, s'] != 0
        states, actions, successors = np.nonzero(mdp.transitions)
        weights = policy[states, actions]
        used = np.flatnonzero(weights)
        terms = weights[used] * mdp.transitions[states[used], actions[used], successors[used]]
        return _exact_sum_at((states[used], successors[used]), terms, policy.shape[:1] * 2)
    return np.einsum("sa,sat->st", policy, mdp.transitions)


def _merged_policy_transitions(mdp: FiniteMDP, policy: np.ndarray) -> sp.csr_matrix:
    matrix = (_policy_selector(mdp, policy) @ mdp.transitions).tocsr()
    matrix.sort_indices()
    return matrix


def solver_policy_transitions(mdp: FiniteMDP, policy: np.ndarray) -> np.ndarray | sp.csr_matrix:
    """P_pi in the form cheapest for matrix-vector products (internal: the linear solvers).

    A full-support policy on a sparse MDP whose actions rarely share successors (Garnet) gets
    the stacked form of :func:`_stacked_policy_transitions` (one scaling pass instead of a
    sparse product; duplicate entries, the MDP's read-only indices shared): only products,
    ``tocsc`` and ``toarray`` may be applied to it. Otherwise the same as
    :func:`policy_transitions` with ``validate=False``.
    """
    if (
        mdp.is_sparse
        and policy.all()
        and mdp._derived_value("distinct_fraction", _distinct_fraction) >= DISTINCT_FRACTION
    ):
        return _stacked_policy_transitions(mdp, policy)
    if mdp.is_sparse:  # merged, indices left unsorted (products do not need them sorted)
        return (_policy_selector(mdp, policy) @ mdp.transitions).tocsr()
    return policy_transitions(mdp, policy, validate=False)


def policy_rewards(mdp: FiniteMDP, policy: Any, *, validate: bool = True) -> np.ndarray:
    """r_pi, the (S,) expected one-step reward under ``policy``."""
    if validate:
        policy = check_policy(mdp, policy)
    return row_sum(policy * mdp.rewards)


def _check_values(mdp: FiniteMDP, values: Any) -> np.ndarray:
    """An (S,) value vector for ``mdp``: Fractions (exact MDP) or finite floats."""
    check_mdp(mdp)
    try:
        array = np.asarray(values, dtype=object if mdp.is_exact else None)
    except ValueError as error:  # ragged nested lists
        raise InvalidParameterError(f"values could not be read as an array: {error}") from None
    if array.shape != (mdp.num_states,):
        raise InvalidParameterError(
            f"values has shape {array.shape}, expected (S,) = ({mdp.num_states},)"
        )
    if not mdp.is_exact:
        if array.dtype.kind not in "biuf":
            raise InvalidParameterError(f"values has dtype {array.dtype}, expected numbers")
        array = array.astype(float, copy=False)
        if not np.all(np.isfinite(array)):
            raise InvalidParameterError("values contains NaN or inf")
    return array


def q_from_values(mdp: FiniteMDP, values: np.ndarray) -> np.ndarray:
    """Q[s, a] = r[s, a] + gamma (P V)[s, a], shape (S, A): one-step lookahead of ``values``.

    At an infeasible pair (s, a) the entry is V[s] (neutral: see :mod:`tabular_mirror.model`).
    """
    values = _check_values(mdp, values)
    if mdp.is_exact:  # Fraction arithmetic only on the nonzero P[s, a, s']
        matrix = mdp.transition_matrix
        rows, columns = np.nonzero(matrix)
        terms = matrix[rows, columns] * np.asarray(values)[columns]
        next_values = _exact_sum_at(rows, terms, matrix.shape[:1])
    else:
        next_values = mdp.transition_matrix @ values
    q_values = mdp.rewards + mdp.discount * np.asarray(next_values).reshape(
        mdp.num_states, mdp.num_actions
    )
    if mdp.has_infeasible_actions:  # the neutral value V[s] at infeasible pairs
        q_values = np.where(mdp.action_mask, q_values, np.asarray(values)[:, None])
    return q_values


def bellman_operator(
    mdp: FiniteMDP, policy: Any, values: Any, *, validate: bool = True
) -> np.ndarray:
    """(T_pi V)[s] = sum_a pi[s, a] Q_V[s, a], the policy's Bellman operator."""
    if validate:
        policy = check_policy(mdp, policy)
    return row_sum(policy * q_from_values(mdp, values))


def bellman_optimality_operator(mdp: FiniteMDP, values: np.ndarray) -> np.ndarray:
    """(T* V)[s] = max_a Q_V[s, a] over the feasible actions, the Bellman optimality operator."""
    q_values = q_from_values(mdp, values)
    if mdp.has_infeasible_actions:
        return masked_row_max(q_values, mdp.action_mask)
    return row_max(q_values)
