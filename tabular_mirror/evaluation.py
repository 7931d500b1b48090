"""Exact policy evaluation: V_pi, Q_pi, A_pi, eta(pi), rho_pi and rhobar_pi of one policy.

The algorithm (spec section 1):

1. form P_pi and r_pi (:mod:`tabular_mirror.operators`);
2. solve ``(I - gamma P_pi) V = r_pi`` for the values and ``(I - gamma P_pi)^T rho = d`` for the
   improper discounted visitation rho_pi (which sums to 1/(1-gamma));
3. Q = r + gamma P V, A = Q - V, eta = d . V, rhobar = (1 - gamma) rho.

Exact mode solves both systems over the rationals (python-flint, or sympy's DomainMatrix),
so every output is a Fraction and the error bound is 0. Float mode uses dense LAPACK for small
or dense problems and certified GMRES for large sparse ones; every float result carries a
rigorous bound ``||values - V_pi||_inf <= error_bound`` obtained from the residual and the
rounding of forming r_pi and P_pi from pi (see :mod:`tabular_mirror._linalg`), so
floating-point answers are never uncertified. (Rewards that nearly cancel in
sum_a pi[s, a] r[s, a] lose digits when r_pi is formed; the bound says so.)

Examples
--------
The MDPtoolbox "small" MDP at gamma = 9/10, for its optimal policy (action 1, then 0):

>>> import tabular_mirror as tm
>>> mdp = tm.FiniteMDP(
...     [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
...     [[5, 10], [-1, 2]], "9/10")
>>> result = tm.evaluate(mdp, [[0, 1], [1, 0]])
>>> [str(v) for v in result.values]
['1825/43', '1550/43']
>>> sum(result.visitation)
Fraction(10, 1)
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from . import _exact, _linalg
from ._kernels import compiled
from ._rows import row_sum
from ._validate import choice, positive_number, whole_number
from .errors import InvalidMDPError
from .model import FiniteMDP, check_mdp, require_discounted
from .operators import (
    policy_rewards,
    policy_transitions,
    q_from_values,
    solver_policy_transitions,
)
from .policies import check_policy
from .results import EvaluationResult, message_for

__all__ = ["evaluate", "DENSE_STATE_LIMIT"]

#: Sparse MDPs with at most this many states are evaluated with dense LAPACK.
DENSE_STATE_LIMIT = 2000

METHODS = ("auto", "dense", "krylov", "sparse_direct")

#: From this many states a dense evaluation factorises P_pi in place (one S x S array, not two)
#: and certifies with products computed from P and pi.
IN_PLACE_STATES = 2048

#: Default relative accuracy of float evaluation (see ``tolerance`` in :func:`evaluate`).
RELATIVE_TOLERANCE = 1e-10


def evaluate(
    mdp: FiniteMDP,
    policy: Any,
    *,
    tolerance: float | None = None,
    visitation_tolerance: float | None = None,
    method: str = "auto",
    max_iterations: int = 10_000,
    validate: bool = True,
) -> EvaluationResult:
    """Evaluate ``policy`` on ``mdp`` exactly (rational) or with a certified error bound (float).

    Parameters
    ----------
    mdp : FiniteMDP
    policy : (S, A) array_like
        pi[s, a]; Fractions (or ints / strings) for an exact MDP.
    tolerance : float, optional
        Target for the certified sup-norm error of ``values`` in float mode. Default:
        ``RELATIVE_TOLERANCE * max(1, ||r_pi||_inf / (1 - gamma))``, i.e. relative to the
        largest possible value. Iterative solves refine until it is met; any solve whose
        certified bound exceeds it is reported ``not_certified``.
    visitation_tolerance : float, optional
        Target for the certified l1 error of ``visitation``; default
        ``RELATIVE_TOLERANCE / (1 - gamma)`` (relative to its total mass).
    method : {"auto", "dense", "krylov", "sparse_direct"}
        Float mode only. "auto": dense LAPACK unless P is sparse with more than
        :data:`DENSE_STATE_LIMIT` states, then GMRES.
    max_iterations : int
        Iteration budget (products with P_pi) per system before falling back to sparse LU.
    validate : bool
        Check the policy (shape, simplex rows). Internal callers that built the policy
        themselves pass False.

    Returns
    -------
    EvaluationResult
        ``values`` V_pi, ``q_values`` Q_pi, ``advantages`` A_pi, ``expected_return`` eta(pi),
        ``visitation`` rho_pi, ``normalized_visitation`` rhobar_pi and the certificate.

    Raises
    ------
    InvalidPolicyError, ExactnessError
        A policy of the wrong shape, with a row off the simplex, or with floats for an exact
        MDP.
    InvalidParameterError
        An unknown method, a negative or non-numeric tolerance, max_iterations not an
        integer >= 0 (0: certify the starting guess, else fall back to sparse LU).

    Notes
    -----
    ``visitation`` is rho_pi[s] = sum_t gamma^t Pr(s_t = s) with s_0 ~ d, the improper
    measure of Kuba et al. (2022) and Schulman et al. (2015); other papers call the
    normalised ``normalized_visitation`` d^pi_rho.
    """
    check_mdp(mdp)
    require_discounted(mdp, "evaluate")
    choice(method, "method", METHODS)
    max_iterations = whole_number(max_iterations, "max_iterations")
    if tolerance is not None:
        tolerance = float(positive_number(tolerance, "tolerance", allow_zero=True))
    if visitation_tolerance is not None:
        visitation_tolerance = float(
            positive_number(visitation_tolerance, "visitation_tolerance", allow_zero=True)
        )
    if validate:
        policy = check_policy(mdp, policy)  # a copy of its own
    if mdp.is_exact:
        return _evaluate_exact(mdp, policy)
    if method in _SMALL_METHODS:  # a small dense MDP first (None: not one, or not certified)
        small = _evaluate_small(mdp, policy, tolerance, visitation_tolerance, validate)
        if small is not None:
            return small
    return _evaluate_float(
        mdp, policy, tolerance, visitation_tolerance, method, max_iterations, try_small=False
    )


def _evaluate(mdp: FiniteMDP, policy: np.ndarray) -> EvaluationResult:
    """:func:`evaluate` with default options for a policy the caller has validated (the
    package's own workers: one check at the public boundary, none inside)."""
    if mdp.is_exact:
        return _evaluate_exact(mdp, policy)
    small = _evaluate_small(mdp, policy, None, None)
    if small is not None:
        return small
    return _evaluate_float(mdp, policy, None, None, "auto", 10_000, try_small=False)


def _assemble(
    mdp: FiniteMDP,
    policy: np.ndarray,
    values: np.ndarray,
    visitation: np.ndarray | None,
    **evidence: Any,
) -> EvaluationResult:
    q_values = q_from_values(mdp, values)
    advantages = q_values - values[:, None]
    expected_return = (mdp.initial * values).sum()
    if visitation is None:  # policy iteration's inner evaluations (see _evaluate_values)
        return EvaluationResult(
            policy=policy,
            values=values,
            q_values=q_values,
            advantages=advantages,
            expected_return=expected_return,
            visitation=None,
            normalized_visitation=None,
            **evidence,
        )
    return EvaluationResult(
        policy=_exact.readonly(np.array(policy)),
        values=_exact.readonly(values),
        q_values=_exact.readonly(q_values),
        advantages=_exact.readonly(advantages),
        expected_return=expected_return,
        visitation=_exact.readonly(visitation),
        normalized_visitation=_exact.readonly((1 - mdp.discount) * visitation),
        **evidence,
    )


def _evaluate_values(
    mdp: FiniteMDP, policy: np.ndarray, values_guess: np.ndarray | None = None
) -> EvaluationResult:
    """Internal fast path of policy iteration: everything but the visitation.

    ``visitation`` and ``normalized_visitation`` are None (``visitation_error_bound`` says
    nothing); the certificate of ``values`` is the same as :func:`evaluate`'s. Float solves start
    from ``values_guess``. Never returned to users: :func:`_complete` fills in the visitation.
    """
    if mdp.is_exact:
        return _evaluate_exact(mdp, policy, visitation=False)
    return _evaluate_float(
        mdp, policy, None, None, "auto", 10_000, values_guess=values_guess, visitation=False
    )


def _complete(mdp: FiniteMDP, evaluation: EvaluationResult) -> EvaluationResult:
    """The full :func:`evaluate` result of a :func:`_evaluate_values` result (values reused)."""
    if evaluation.visitation is not None:
        return evaluation
    if mdp.is_exact:
        return _evaluate_exact(mdp, evaluation.policy)
    return _evaluate_float(
        mdp, evaluation.policy, None, None, "auto", 10_000, values_guess=evaluation.values
    )


def _evaluate_exact(
    mdp: FiniteMDP, policy: np.ndarray, visitation: bool = True
) -> EvaluationResult:
    num_states = mdp.num_states
    matrix = policy_transitions(mdp, policy, validate=False)
    system = np.empty((num_states, num_states), dtype=object)  # I - gamma P_pi
    system.fill(_exact.ZERO)
    entries = np.nonzero(matrix)  # Fraction arithmetic on the nonzeros only
    system[entries] = -mdp.discount * matrix[entries]
    diagonal = np.arange(num_states)
    system[diagonal, diagonal] += _exact.ONE
    values = _exact.exact_solve(system, policy_rewards(mdp, policy, validate=False))
    if visitation:
        visitation = _exact.exact_solve(np.ascontiguousarray(system.T), mdp.initial)
    else:
        visitation = None
    return _assemble(
        mdp,
        policy,
        values,
        visitation,
        error_bound=_exact.ZERO,
        visitation_error_bound=_exact.ZERO,
        residual=_exact.ZERO,
        method="exact",
        iterations=0,
        exact=True,
        converged=True,
        status="converged",
        message=message_for("converged", "exact"),
    )


_CERTIFIED_MESSAGE = message_for("converged", "certified")


def _absolute_rewards(mdp: FiniteMDP) -> np.ndarray:
    """|r[s, a]| of a float MDP (computed once per MDP)."""
    return np.abs(np.asarray(mdp.rewards, dtype=float))


def _mass(mdp: FiniteMDP) -> float:
    """||d||_1 of a float MDP (computed once per MDP)."""
    return float(np.abs(mdp.initial).sum())


class _SmallOperators(NamedTuple):
    """What :func:`_evaluate_small` needs of one small dense float MDP, computed once."""

    stacked: np.ndarray  # [gamma P | r | |r|], (S, A, S + 2)
    initial: np.ndarray  # d
    mass: float  # ||d||_1
    discount: float
    horizon: float  # 1 / (1 - gamma)
    mask: np.ndarray | None  # the feasible actions, None when all are
    factor: float  # gamma_k, k = S + A + 7 (see _linalg.solve_small)


#: The methods under which a small dense MDP takes :func:`_evaluate_small` first.
_SMALL_METHODS = ("auto", "dense")


def _small_operators(mdp: FiniteMDP) -> _SmallOperators | None:
    """[gamma P | r | |r|] (row s of pi[s] @ it is row s of gamma P_pi next to r_pi[s] and
    sum_a pi |r|, what the rounding of r_pi is proportional to) and the other constants of a
    small dense float MDP: one cache lookup per evaluation. None for any other MDP (exact,
    sparse, or more than ``_linalg.SMALL_STATE_LIMIT`` states)."""
    num_states = mdp.num_states
    if mdp.is_exact or mdp.is_sparse or num_states > _linalg.SMALL_STATE_LIMIT:
        return None
    stacked = np.empty((num_states, mdp.num_actions, num_states + 2))
    np.multiply(mdp.discount, mdp.transitions, out=stacked[..., :num_states])
    stacked[..., num_states] = mdp.rewards
    np.abs(mdp.rewards, out=stacked[..., num_states + 1])
    stacked.setflags(write=False)
    return _SmallOperators(
        stacked,
        mdp.initial,
        _mass(mdp),
        float(mdp.discount),
        1.0 / (1.0 - mdp.discount),
        mdp.action_mask if mdp.has_infeasible_actions else None,
        _linalg._rounding_factor(num_states + mdp.num_actions + 4),
    )


def _small_solve_numpy(
    policy: np.ndarray,
    stacked: np.ndarray,
    initial: np.ndarray,
    discount: float,
    mass: float,
    factor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float, float]:
    """:func:`tabular_mirror._kernels.small_evaluation` in numpy calls (the kernel's twin,
    run when numba is missing): gamma P_pi, r_pi and sum_a pi |r| in one product, both systems
    by :func:`tabular_mirror._linalg.solve_small` (whose rounding factor is ``factor``), Q in
    one more product."""
    num_states, num_actions = policy.shape
    combined = (policy[:, None, :] @ stacked)[:, 0, :]  # [gamma P_pi | r_pi | pi |r|]
    rewards = combined[:, num_states]
    weighted = float(combined[:, num_states + 1].max())  # >= ||r_pi||, to first order
    values, visitation, bound, visitation_bound, residual = _linalg.solve_small(
        _linalg.identity(num_states) - combined[:, :num_states],
        rewards,
        initial,
        discount,
        weighted,
        mass,
        num_actions,
    )
    q_values = stacked[..., : num_states + 1] @ np.append(values, 1.0)  # r + gamma P V
    return (
        values, visitation, q_values, bound, visitation_bound, residual,
        float(np.abs(rewards).max()),
    )  # fmt: skip


def _evaluate_small(
    mdp: FiniteMDP,
    policy: np.ndarray,
    tolerance: float | None,
    visitation_tolerance: float | None,
    owned: bool = False,
) -> EvaluationResult | None:
    """A small dense MDP in a few numpy calls (:func:`tabular_mirror._linalg.solve_small`);
    None for an MDP that is not one, or when its certificate misses a tolerance (the caller
    then solves with LU).

    The same quantities and certificate as the general path; only the per-call overhead is
    gone (theorem checks and searches evaluate thousands of 5-state MDPs): gamma P_pi and r_pi
    come from one product with the MDP's stacked [gamma P | r | |r|], Q from one more. ``owned``:
    the policy is the caller's private copy (it is kept, read-only, without another copy).
    """
    small = mdp._derived_value("small_operators", _small_operators)
    if small is None:
        return None
    stacked, initial, mass, discount, horizon, mask, factor = small
    kernel = compiled("small_evaluation")  # the same computation, compiled (numba)
    solve = _small_solve_numpy if kernel is None else kernel
    values, visitation, q_values, bound, visitation_bound, residual, largest = solve(
        policy, stacked, initial, discount, mass, factor
    )
    if tolerance is None:  # (at least RELATIVE_TOLERANCE: ||r_pi|| is needed only above it)
        tolerance = RELATIVE_TOLERANCE
        if not bound <= tolerance:
            tolerance *= max(1.0, largest * horizon)
    if visitation_tolerance is None:
        visitation_tolerance = RELATIVE_TOLERANCE * horizon
    if not (bound <= tolerance and visitation_bound <= visitation_tolerance):  # NaN too
        return None
    if mask is not None:  # the neutral value V[s] at infeasible pairs
        q_values = np.where(mask, q_values, values[:, None])
    advantages = q_values - values[:, None]
    kept = policy if owned else policy.copy()
    normalized = (1.0 - discount) * visitation
    for array in (kept, values, q_values, advantages, visitation, normalized):
        array.setflags(write=False)  # (half the cost of flags.writeable = False)
    return EvaluationResult.of(
        kept,
        values,
        q_values,
        advantages,
        initial @ values,
        visitation,
        normalized,
        bound,
        visitation_bound,
        residual,
        "dense",
        0,
        False,
        True,
        "converged",
        _CERTIFIED_MESSAGE,
    )


def _evaluate_float(
    mdp: FiniteMDP,
    policy: np.ndarray,
    tolerance: float | None,
    visitation_tolerance: float | None,
    method: str,
    max_iterations: int,
    values_guess: np.ndarray | None = None,
    visitation: bool = True,
    try_small: bool = True,
) -> EvaluationResult:
    if try_small and visitation and method in _SMALL_METHODS:
        small = _evaluate_small(mdp, policy, tolerance, visitation_tolerance)
        if small is not None:
            return small
    matrix = solver_policy_transitions(mdp, policy)
    rewards = policy_rewards(mdp, policy, validate=False)
    initial = np.asarray(mdp.initial, dtype=float)
    horizon = 1.0 / (1.0 - mdp.discount)
    if tolerance is None:
        tolerance = RELATIVE_TOLERANCE * max(1.0, float(np.abs(rewards).max()) * horizon)
    if visitation_tolerance is None:
        visitation_tolerance = RELATIVE_TOLERANCE * horizon
    if method == "auto":
        small = mdp.num_states <= DENSE_STATE_LIMIT
        method = "dense" if (not mdp.is_sparse or small) else "krylov"
    if method == "dense":
        if sp.issparse(matrix):
            solution = _linalg.solve_dense(
                matrix.toarray(), rewards, initial, mdp.discount, sparse_matrix=matrix
            )
        elif mdp.num_states >= IN_PLACE_STATES:  # no second S x S array: factorise P_pi in place
            products = _linalg.PolicyProducts(np.asarray(mdp.transitions), np.asarray(policy))
            solution = _linalg.solve_dense(
                matrix, rewards, initial, mdp.discount, products=products
            )
        else:
            solution = _linalg.solve_dense(matrix, rewards, initial, mdp.discount)
    else:
        solution = _linalg.solve_sparse(
            matrix,
            rewards,
            initial,
            mdp.discount,
            tolerance,
            visitation_tolerance,
            max_iterations,
            method,
            values_guess=values_guess,
            visitation=visitation,
        )
    if not np.all(np.isfinite(solution.values)) or (
        solution.visitation is not None and not np.all(np.isfinite(solution.visitation))
    ):
        raise InvalidMDPError(
            f"discount = {mdp.discount!r}: float64 evaluation overflowed (the horizon "
            f"1/(1 - gamma) = {horizon:.3g} is beyond what floating point can resolve); use a "
            "discount further from 1, or an exact MDP (mdp.to_exact())"
        )
    # the rounding of forming r_pi and I - gamma P_pi (the solve's bound covers the solve)
    weighted = float(
        row_sum(policy * mdp._derived_value("absolute_rewards", _absolute_rewards)).max()
    )
    mass = 0.0 if solution.visitation is None else float(np.abs(solution.visitation).sum())
    formed, formed_visitation = _linalg.formation_bounds(
        mdp.num_actions, weighted, float(np.abs(solution.values).max()), mass, mdp.discount
    )
    solution = dataclasses.replace(
        solution,
        error_bound=solution.error_bound + formed,
        visitation_error_bound=solution.visitation_error_bound
        if solution.visitation is None
        else solution.visitation_error_bound + formed_visitation,
    )
    values_certified = bool(solution.error_bound <= tolerance)
    visitation_certified = bool(
        solution.visitation is None or solution.visitation_error_bound <= visitation_tolerance
    )
    certified = values_certified and visitation_certified
    status = "converged" if certified else "not_certified"
    detail = "certified" if certified else ("bound" if not values_certified else "visitation")
    return _assemble(
        mdp,
        policy,
        solution.values,
        solution.visitation,
        error_bound=solution.error_bound,
        visitation_error_bound=solution.visitation_error_bound,
        residual=solution.residual,
        method=solution.method,
        iterations=solution.iterations,
        exact=False,
        converged=certified,
        status=status,
        message=message_for(status, detail),
        values_certified=values_certified,
        visitation_certified=visitation_certified,
    )
