"""Batched policy evaluation and batched policy iteration, each MDP with its certified bound.

For B same-shaped MDPs and policies (spec section 1, stacked over a leading batch axis):

    (I - gamma_b P_pi,b) V_b = r_pi,b,      (I - gamma_b P_pi,b)^T rho_b = d_b,
    Q_b = r_b + gamma_b P_b V_b,   A_b = Q_b - V_b,   eta_b = d_b . V_b,
    rhobar_b = (1 - gamma_b) rho_b.

Both systems are solved with numpy's batched LAPACK (``gesv`` on a (B, S, S) stack), and each
MDP gets the same rigorous a-posteriori bound as the per-MDP path
(:func:`tabular_mirror._linalg.certify`): ``||V - V_true||_inf <= (||res||_inf + rounding) /
(1 - gamma)`` with the residual of the computed solution and Higham's rounding term, and the l1
analogue for the visitation. Nothing is trusted that was not checked per MDP.

:func:`solve_batch` is Howard's policy iteration vectorised over the batch (greedy in Q with
"keep the current action" on ties), with the certificate ``||V* - V_pi||_inf <= error bound +
max(max_{s,a} A_pi, 0) / (1 - gamma)``.

Examples
--------
>>> import numpy as np
>>> import tabular_mirror as tm
>>> from tabular_mirror.batch import MDPBatch, evaluate_batch
>>> small = tm.FiniteMDP([[[0.5, 0.5], [0, 1]], [[0.8, 0.2], [0.1, 0.9]]], [[5, 10], [-1, 2]], 0.9)
>>> batch = MDPBatch.repeat(small, 3)
>>> result = evaluate_batch(batch, np.tile([[0.0, 1.0], [1.0, 0.0]], (3, 1, 1)))
>>> np.round(result.values[0], 6).tolist(), bool(result.error_bound.max() < 1e-12)
([42.44186, 36.046512], True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._linalg import _rounding_factor, formation_bounds
from ..errors import InvalidParameterError, InvalidPolicyError
from ..evaluation import RELATIVE_TOLERANCE
from .model import MDPBatch

__all__ = [
    "BatchEvaluation",
    "BatchOptimum",
    "evaluate_batch",
    "solve_batch",
    "check_policies",
    "uniform_policies",
    "random_policies",
]


@dataclass(frozen=True, eq=False)
class BatchEvaluation:
    """Evaluations of B policies on B MDPs (float), each with its certificate.

    Attributes
    ----------
    policy : (B, S, A) pi_b.
    values : (B, S) V_pi.   q_values, advantages : (B, S, A) Q_pi, A_pi.
    expected_return : (B,) eta(pi).
    visitation : (B, S) rho_pi (sums to 1/(1-gamma)), or None when not requested.
    normalized_visitation : (B, S) rhobar_pi, or None.
    error_bound : (B,) certified ``||values - V_pi||_inf``.
    visitation_error_bound : (B,) certified l1 error of ``visitation`` (nan if not computed).
    residual : (B,) sup norm of the computed residual of the values.
    converged : (B,) bool, every bound within the per-MDP path's default tolerance
        (:data:`tabular_mirror.evaluation.RELATIVE_TOLERANCE` relative).
    """

    policy: np.ndarray
    values: np.ndarray
    q_values: np.ndarray
    advantages: np.ndarray
    expected_return: np.ndarray
    visitation: np.ndarray | None
    normalized_visitation: np.ndarray | None
    error_bound: np.ndarray
    visitation_error_bound: np.ndarray
    residual: np.ndarray
    converged: np.ndarray

    @property
    def size(self) -> int:
        """B."""
        return self.values.shape[0]


@dataclass(frozen=True, eq=False)
class BatchOptimum:
    """Optimal values of B MDPs by batched policy iteration.

    ``values`` (B, S) are V_pi of the final deterministic ``policy`` (B, S, A) with
    ``||V* - values||_inf <= error_bound`` (certified: evaluation bound + max(A_pi)_+ /
    (1 - gamma)); ``expected_return`` (B,) eta* up to ``error_bound`` too (d sums to 1);
    ``iterations`` the policy-iteration sweeps used; ``converged`` (B,) whether the greedy
    policy was stable within the budget.
    """

    policy: np.ndarray
    values: np.ndarray
    q_values: np.ndarray
    expected_return: np.ndarray
    error_bound: np.ndarray
    iterations: int
    converged: np.ndarray


# ---------------------------------------------------------------------------- policies
def check_policies(batch: MDPBatch, policies: Any, name: str = "policy") -> np.ndarray:
    """Validate a (B, S, A) stack of policies (or one (S, A) policy for every member).

    Raises InvalidPolicyError naming the member and state of the first bad row.
    """
    shape = (batch.size, batch.num_states, batch.num_actions)
    try:
        array = np.asarray(policies, dtype=float)
    except (TypeError, ValueError) as error:
        raise InvalidPolicyError(f"{name} is not a numeric array: {error}") from None
    if array.shape == shape[1:]:
        array = np.broadcast_to(array, shape)
    if array.shape != shape:
        raise InvalidPolicyError(f"{name} has shape {array.shape}, expected {shape}")
    bad = ~np.isfinite(array) | (array < -1e-12)
    if bad.any():
        b, s, a = (int(i) for i in np.argwhere(bad)[0])
        raise InvalidPolicyError(
            f"{name}[{b}, {s}, {a}] = {array[b, s, a]}, expected a probability >= 0"
        )
    sums = array.sum(axis=2)
    off = np.abs(sums - 1) > 1e-9
    if off.any():
        b, s = (int(i) for i in np.argwhere(off)[0])
        raise InvalidPolicyError(
            f"{name}[{b}, {s}, :] sums to {sums[b, s]:.12g}, expected 1 (tolerance 1e-09)"
        )
    return np.ascontiguousarray(array)


def uniform_policies(batch: MDPBatch) -> np.ndarray:
    """pi[b, s, a] = 1/A for every member."""
    shape = (batch.size, batch.num_states, batch.num_actions)
    return np.full(shape, 1.0 / batch.num_actions)


def random_policies(batch: MDPBatch, seed: Any, concentration: float = 1.0) -> np.ndarray:
    """Rows drawn i.i.d. from Dirichlet(concentration) (normalised Gamma draws), seeded.

    Draw order: one (B, S, A) array of standard Gamma(concentration) variates.
    """
    if not concentration > 0:
        raise InvalidParameterError(f"concentration = {concentration!r}, expected > 0")
    generator = np.random.default_rng(seed)
    draws = generator.standard_gamma(
        concentration, size=(batch.size, batch.num_states, batch.num_actions)
    )
    draws = np.maximum(draws, np.finfo(float).tiny)
    return draws / draws.sum(axis=2, keepdims=True)


# ---------------------------------------------------------------------------- evaluation
def _solve(batch: MDPBatch, matrix: np.ndarray, rewards: np.ndarray, visitation: bool):
    """Solve both systems for (B, S, S) P_pi; returns values, visitation and certificates."""
    size, num_states = rewards.shape
    gamma = batch.discount
    system = np.multiply(matrix, -gamma[:, None, None])
    diagonal = np.arange(num_states)
    system[:, diagonal, diagonal] += 1.0
    values = np.linalg.solve(system, rewards[:, :, None])[:, :, 0]
    factor = _rounding_factor(num_states)
    horizon = 1.0 / (1.0 - gamma)
    propagated = np.einsum("bst,bt->bs", matrix, values)
    residual = rewards - (values - gamma[:, None] * propagated)
    magnitude = np.abs(rewards) + np.abs(values)
    magnitude += gamma[:, None] * np.einsum("bst,bt->bs", matrix, np.abs(values))
    residual_norm = np.abs(residual).max(axis=1)
    error_bound = (residual_norm + factor * magnitude.max(axis=1)) * horizon
    if not visitation:
        return values, None, error_bound, np.full(size, np.nan), residual_norm
    initial = batch.initial
    rho = np.linalg.solve(np.swapaxes(system, 1, 2), initial[:, :, None])[:, :, 0]
    carried = np.einsum("bs,bst->bt", rho, matrix)
    residual_t = initial - (rho - gamma[:, None] * carried)
    magnitude_t = np.abs(initial) + np.abs(rho)
    magnitude_t += gamma[:, None] * np.einsum("bs,bst->bt", np.abs(rho), matrix)
    visitation_bound = (np.abs(residual_t).sum(axis=1) + factor * magnitude_t.sum(axis=1)) * horizon
    return values, rho, error_bound, visitation_bound, residual_norm


def evaluate_batch(
    batch: MDPBatch,
    policies: Any,
    *,
    visitation: bool = True,
    validate: bool = True,
) -> BatchEvaluation:
    """Evaluate policy pi_b on MDP b for every member, with a certified bound per member.

    Parameters
    ----------
    batch : MDPBatch
    policies : (B, S, A) array_like, or one (S, A) policy for all members
        pi[b, s, a].
    visitation : bool
        Also solve the transposed system for rho_pi (default True).
    validate : bool
        Check the policies (internal callers that built them pass False).

    Returns
    -------
    BatchEvaluation

    Raises
    ------
    InvalidPolicyError
        Wrong shape, a negative entry, a row off the simplex (the message names b and s).

    Notes
    -----
    Cost: two batched LU solves of (S, S) systems and a few (B, S, A, S) contractions; at
    S = 5, A = 3 about a microsecond per MDP (``benchmarks/bench_batch.py``). Agrees with
    :func:`tabular_mirror.evaluate` on ``batch.mdp(b)`` within the two certified bounds.
    """
    if not isinstance(batch, MDPBatch):
        raise InvalidParameterError(f"batch = {batch!r} is not an MDPBatch")
    policy = check_policies(batch, policies) if validate else np.asarray(policies, dtype=float)
    transitions = batch.transitions
    matrix = np.einsum("bsa,bsat->bst", policy, transitions)
    rewards = np.einsum("bsa,bsa->bs", policy, batch.rewards)
    values, rho, error_bound, visitation_bound, residual = _solve(
        batch, matrix, rewards, visitation
    )
    gamma = batch.discount
    # the rounding of forming r_pi and I - gamma P_pi (the solve's bound covers the solve)
    weighted = np.einsum("bsa,bsa->bs", policy, np.abs(batch.rewards)).max(axis=1)
    mass = np.zeros(batch.size) if rho is None else np.abs(rho).sum(axis=1)
    formed, formed_visitation = formation_bounds(
        batch.num_actions, weighted, np.abs(values).max(axis=1), mass, gamma
    )
    error_bound = error_bound + formed
    if rho is not None:
        visitation_bound = visitation_bound + formed_visitation
    q_values = batch.rewards + gamma[:, None, None] * np.einsum("bsat,bt->bsa", transitions, values)
    advantages = q_values - values[:, :, None]
    expected_return = np.einsum("bs,bs->b", batch.initial, values)
    horizon = 1.0 / (1.0 - gamma)
    tolerance = RELATIVE_TOLERANCE * np.maximum(1.0, np.abs(rewards).max(axis=1) * horizon)
    converged = error_bound <= tolerance
    if visitation:
        converged &= visitation_bound <= RELATIVE_TOLERANCE * horizon
    return BatchEvaluation(
        policy=policy,
        values=values,
        q_values=q_values,
        advantages=advantages,
        expected_return=expected_return,
        visitation=rho,
        normalized_visitation=None if rho is None else (1.0 - gamma)[:, None] * rho,
        error_bound=error_bound,
        visitation_error_bound=visitation_bound,
        residual=residual,
        converged=converged,
    )


# ---------------------------------------------------------------------------- optimum
def solve_batch(
    batch: MDPBatch, *, max_iterations: int = 1000, initial_actions: Any = None
) -> BatchOptimum:
    """V*, eta* and an optimal deterministic policy of every member by policy iteration.

    Howard's policy iteration vectorised over the batch: evaluate the deterministic policies
    (batched LU), switch an action only where another is better by more than the tie tolerance
    1e-12 max(1, max|Q|) of that member (so ties never cycle), until no member changes.

    Parameters
    ----------
    batch : MDPBatch
    max_iterations : int
        Sweep budget (policy iteration needs few: at most A^S, in practice < 10).
    initial_actions : (B, S) int array, optional
        Starting actions; default the greedy actions of r.

    Returns
    -------
    BatchOptimum
        Certified: ``||V* - values||_inf <= error_bound`` per member.
    """
    size, num_states, num_actions = batch.size, batch.num_states, batch.num_actions
    transitions, rewards, gamma = batch.transitions, batch.rewards, batch.discount
    if initial_actions is None:
        actions = np.argmax(rewards, axis=2)
    else:
        actions = np.asarray(initial_actions, dtype=np.int64)
        if actions.shape != (size, num_states) or actions.min() < 0 or actions.max() >= num_actions:
            raise InvalidParameterError(
                f"initial_actions must be (B, S) = {(size, num_states)} integers in "
                f"[0, {num_actions})"
            )
    rows = np.arange(size)[:, None]
    states = np.arange(num_states)[None, :]
    active = np.ones(size, dtype=bool)
    values = np.zeros((size, num_states))
    q_values = np.zeros((size, num_states, num_actions))
    iterations = 0
    while active.any() and iterations < max_iterations:
        iterations += 1
        index = np.flatnonzero(active)
        sub = actions[index]
        matrix = transitions[index[:, None], states, sub]
        reward = rewards[index[:, None], states, sub]
        system = -gamma[index, None, None] * matrix
        system[:, np.arange(num_states), np.arange(num_states)] += 1.0
        value = np.linalg.solve(system, reward[:, :, None])[:, :, 0]
        q = rewards[index] + gamma[index, None, None] * np.einsum(
            "bsat,bt->bsa", transitions[index], value
        )
        values[index], q_values[index] = value, q
        current = np.take_along_axis(q, sub[:, :, None], axis=2)[:, :, 0]
        best = np.argmax(q, axis=2)
        best_value = q.max(axis=2)
        tie = 1e-12 * np.maximum(1.0, np.abs(q).max(axis=(1, 2)))
        switch = best_value > current + tie[:, None]
        actions[index] = np.where(switch, best, sub)
        active[index] = switch.any(axis=1)
    converged = ~active
    policy = np.zeros((size, num_states, num_actions))
    policy[rows, states, actions] = 1.0
    evaluation = evaluate_batch(batch, policy, visitation=False, validate=False)
    largest = np.maximum(evaluation.advantages.max(axis=(1, 2)), 0.0)
    error_bound = evaluation.error_bound + largest / (1.0 - gamma)
    return BatchOptimum(
        policy=policy,
        values=evaluation.values,
        q_values=evaluation.q_values,
        expected_return=evaluation.expected_return,
        error_bound=error_bound,
        iterations=iterations,
        converged=converged,
    )
