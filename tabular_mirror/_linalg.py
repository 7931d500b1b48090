"""Float linear solves of (I - gamma P_pi) V = r_pi and its transpose, with certified bounds.

Certificate. For any approximate solution x of (I - gamma P_pi) x = b with residual
res = b - (I - gamma P_pi) x, the error is ``x - x_true = -(I - gamma P_pi)^{-1} res`` and
``||(I - gamma P_pi)^{-1}||_inf <= 1/(1-gamma)`` (Neumann series of a stochastic matrix), so
``||x - x_true||_inf <= ||res||_inf / (1 - gamma)``. For the transposed system (the visitation)
the same holds in the l1 norm. The residual is itself computed in floating point; we add the
standard a-posteriori rounding term ``gamma_k (|b| + |x| + gamma P_pi |x|)`` with
``gamma_k = k u / (1 - k u)``, k = (nonzeros per row) + 2, u = 2^-53 (Higham, *Accuracy and
Stability of Numerical Algorithms*, 2002, section 3.1), so the bound is rigorous.

Dense systems are factorised once with LAPACK (``scipy.linalg.lu_factor``) and both systems
are solved from the same factors. Large sparse systems use restarted GMRES
(``scipy.sparse.linalg.gmres``), refined until the certified bound is below the tolerance;
direct sparse LU is only a fallback because it suffers catastrophic fill-in on random MDPs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

UNIT_ROUNDOFF = np.finfo(float).eps / 2


@dataclass(frozen=True)
class LinearSolution:
    """Solution of both systems with certified bounds."""

    values: np.ndarray
    visitation: np.ndarray
    error_bound: float
    visitation_error_bound: float
    residual: float
    iterations: int
    method: str


def _rounding_factor(nonzeros_per_row: int) -> float:
    k = nonzeros_per_row + 2
    return k * UNIT_ROUNDOFF / (1 - k * UNIT_ROUNDOFF)


def certify(
    policy_matrix: np.ndarray | sp.spmatrix,
    right_hand_side: np.ndarray,
    solution: np.ndarray,
    discount: float,
    transpose: bool,
) -> tuple[float, float]:
    """Return (certified error bound, computed residual norm) for one system.

    Sup norm for ``transpose=False`` (values), l1 norm for ``transpose=True`` (visitation).
    """
    matrix = policy_matrix.T if transpose else policy_matrix
    propagated = matrix @ solution
    residual = right_hand_side - (solution - discount * propagated)
    magnitude = np.abs(right_hand_side) + np.abs(solution) + discount * (matrix @ np.abs(solution))
    if sp.issparse(matrix):
        nonzeros = int(np.diff(sp.csr_matrix(matrix).indptr).max(initial=0))
    else:
        nonzeros = matrix.shape[1]
    rounding = _rounding_factor(nonzeros) * magnitude
    if transpose:
        norm = float(np.abs(residual).sum())
        certified = norm + float(rounding.sum())
    else:
        norm = float(np.abs(residual).max())
        certified = norm + float(rounding.max())
    return certified / (1.0 - discount), norm


def solve_dense(
    policy_matrix: np.ndarray, rewards: np.ndarray, initial: np.ndarray, discount: float
) -> LinearSolution:
    """LU-factorise I - gamma P_pi once; solve for V_pi and rho_pi; certify both."""
    num_states = len(rewards)
    system = np.eye(num_states) - discount * policy_matrix
    factors = la.lu_factor(system, overwrite_a=True, check_finite=False)
    values = la.lu_solve(factors, rewards, check_finite=False)
    visitation = la.lu_solve(factors, initial, trans=1, check_finite=False)
    error_bound, residual = certify(policy_matrix, rewards, values, discount, transpose=False)
    visitation_bound, _ = certify(policy_matrix, initial, visitation, discount, transpose=True)
    return LinearSolution(values, visitation, error_bound, visitation_bound, residual, 0, "dense")


def _krylov(
    system: sp.spmatrix,
    policy_matrix: sp.spmatrix,
    right_hand_side: np.ndarray,
    discount: float,
    transpose: bool,
    tolerance: float,
    max_iterations: int,
    restart: int = 30,
) -> tuple[np.ndarray, float, float, int]:
    """GMRES refined until the certified bound <= tolerance (or iterations run out)."""
    iterations = 0

    def count(_: object) -> None:
        nonlocal iterations
        iterations += 1

    num_states = len(right_hand_side)
    # ||res||_inf <= ||res||_2 and ||res||_1 <= sqrt(S) ||res||_2 turn the 2-norm GMRES test
    # into the norm of the certificate; the loop below re-checks the real certificate.
    norm_factor = np.sqrt(num_states) if transpose else 1.0
    target = 0.5 * tolerance * (1.0 - discount) / norm_factor
    solution = np.array(right_hand_side, dtype=float)  # x0 = b: exact when gamma P_pi x0 = 0
    bound, residual = certify(policy_matrix, right_hand_side, solution, discount, transpose)
    while bound > tolerance and iterations < max_iterations:
        solution, _ = spla.gmres(
            system,
            right_hand_side,
            x0=solution,
            rtol=0.0,
            atol=target,
            restart=restart,
            maxiter=max(1, (max_iterations - iterations) // restart + 1),
            callback=count,
            callback_type="pr_norm",
        )
        bound, residual = certify(policy_matrix, right_hand_side, solution, discount, transpose)
        target *= 0.1  # only reached again if rounding kept the certificate above tolerance
    return solution, bound, residual, iterations


def solve_sparse(
    policy_matrix: sp.spmatrix,
    rewards: np.ndarray,
    initial: np.ndarray,
    discount: float,
    tolerance: float,
    visitation_tolerance: float,
    max_iterations: int,
    method: str,
) -> LinearSolution:
    """Krylov (GMRES) with certification, or sparse LU when ``method == "sparse_direct"``.

    If GMRES cannot certify the tolerance within ``max_iterations``, sparse LU is tried; the
    result always reports its real certified bounds.
    """
    num_states = len(rewards)
    policy_matrix = sp.csr_matrix(policy_matrix)
    system = (sp.identity(num_states, format="csr") - discount * policy_matrix).tocsr()
    if method == "krylov":
        values, bound, residual, iterations = _krylov(
            system, policy_matrix, rewards, discount, False, tolerance, max_iterations
        )
        transposed = system.T.tocsr()
        visitation, visitation_bound, _, more = _krylov(
            transposed, policy_matrix, initial, discount, True, visitation_tolerance, max_iterations
        )
        iterations += more
        if bound <= tolerance and visitation_bound <= visitation_tolerance:
            return LinearSolution(
                values, visitation, bound, visitation_bound, residual, iterations, "krylov"
            )
    factor = spla.splu(system.tocsc())
    values = factor.solve(rewards)
    visitation = factor.solve(initial, trans="T")
    bound, residual = certify(policy_matrix, rewards, values, discount, transpose=False)
    visitation_bound, _ = certify(policy_matrix, initial, visitation, discount, transpose=True)
    return LinearSolution(values, visitation, bound, visitation_bound, residual, 0, "sparse_direct")
