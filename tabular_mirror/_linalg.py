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
are solved from the same factors. Large sparse systems are solved iteratively until the
certified bound is below the tolerance (see :func:`_krylov`): stationary steps x <- b + gamma
P_pi x with MacQueen's constant extrapolation for the values, while they contract fast
(fast-mixing chains such as Garnets), then restarted GMRES (implemented here: adaptive restart
length, the constant vector as augmentation for the values, the exact total mass as start for
the visitation). The two systems are independent and run in two threads. Direct sparse LU is
only a fallback because it suffers catastrophic fill-in on random MDPs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

UNIT_ROUNDOFF = np.finfo(float).eps / 2


@dataclass(frozen=True)
class LinearSolution:
    """Solution of both systems with certified bounds."""

    values: np.ndarray
    visitation: np.ndarray | None
    error_bound: float
    visitation_error_bound: float
    residual: float
    iterations: int
    method: str


class IterativeSolution(NamedTuple):
    """What :func:`_krylov` returns: the iterate, its certified bound, the norm of its true
    residual, the products used, and whether rounding alone keeps the bound above the
    tolerance (no solver can then certify it, so no fallback is tried)."""

    solution: np.ndarray
    bound: float
    residual: float
    iterations: int
    rounding_limited: bool


#: GMRES restart length m: the Krylov basis holds m + 1 vectors of length S.
RESTART = 32

#: Stationary steps continue while the residual contracts by at least this factor per
#: product, measured over :data:`STATIONARY_WINDOW` steps; slower chains switch to GMRES.
STATIONARY_RATE = 0.7
STATIONARY_WINDOW = 3


@lru_cache(maxsize=256)
def _rounding_factor(nonzeros_per_row: int) -> float:
    # b + gamma (P x) - x: a dot product of nnz terms, then three more roundings
    k = nonzeros_per_row + 3
    return k * UNIT_ROUNDOFF / (1 - k * UNIT_ROUNDOFF)


def formation_bounds(
    num_actions: int,
    weighted_rewards: Any,
    values_norm: Any,
    visitation_mass: Any,
    discount: Any,
) -> tuple[Any, Any]:
    """What forming r_pi and gamma P_pi from r, P and pi in floating point can add to the
    errors of V_pi (sup norm) and rho_pi (l1 norm), to first order: (values term, visitation
    term). Works elementwise on arrays (a batch of MDPs).

    r_pi[s] = sum_a pi[s, a] r[s, a] is a sum of A products, off by at most
    gamma_A sum_a pi |r| (Higham 2002, section 3.1): cancellation in the sum does not shrink
    it. Each row of gamma P_pi = sum_a pi gamma P is off by at most gamma_{A+1} gamma in l1
    (rows of pi and P sum to 1), and I - gamma P_pi's diagonal by one more rounding. The
    computed system is the exact one perturbed by e in r_pi and E in I - gamma P_pi, which
    moves V by at most (||e||_inf + ||E||_inf ||V||_inf) / (1 - gamma) and rho by at most
    ||rho||_1 ||E||_inf / (1 - gamma); gamma_{A+3} covers both constants.
    ``weighted_rewards`` is max_s sum_a pi[s, a] |r[s, a]|, ``values_norm`` ||V||_inf and
    ``visitation_mass`` ||rho||_1 (computed).
    """
    factor = _rounding_factor(num_actions)
    horizon = 1.0 / (1.0 - discount)
    return (
        factor * (weighted_rewards + values_norm) * horizon,
        factor * visitation_mass * horizon,
    )


def _max_nonzeros(matrix: np.ndarray | sp.spmatrix, transpose: bool) -> int:
    """Largest number of terms in one entry of ``matrix @ x`` (``transpose``: ``x @ matrix``)."""
    if not sp.issparse(matrix):
        return matrix.shape[0] if transpose else matrix.shape[1]
    matrix = sp.csr_matrix(matrix)
    if transpose:
        return int(np.bincount(matrix.indices, minlength=matrix.shape[1]).max(initial=0))
    return int(np.diff(matrix.indptr).max(initial=0))


def _norm(vector: np.ndarray, transpose: bool) -> float:
    """Sup norm (values) or l1 norm (visitation, ``transpose=True``)."""
    if transpose:
        return float(np.abs(vector).sum())
    return max(float(vector.max(initial=0.0)), -float(vector.min(initial=0.0)))


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
    factor = _rounding_factor(_max_nonzeros(policy_matrix, transpose))
    rounding = _rounding_norm(
        right_hand_side, solution, matrix @ np.abs(solution), discount, factor, transpose
    )
    norm = _norm(residual, transpose)
    return (norm + rounding) / (1.0 - discount), norm


def _rounding_norm(
    right_hand_side: np.ndarray,
    solution: np.ndarray,
    propagated_magnitude: np.ndarray,
    discount: float,
    factor: float,
    transpose: bool,
) -> float:
    """Norm of the rounding term gamma_k (|b| + |x| + gamma P_pi |x|) of a computed residual.

    ``propagated_magnitude`` is P_pi |x| (x P_pi for the transposed system).
    """
    magnitude = np.abs(right_hand_side) + np.abs(solution)
    magnitude += discount * propagated_magnitude
    return factor * _norm(magnitude, transpose)


class PolicyProducts:
    """P_pi x and x P_pi computed from P (S, A, S) and pi (S, A) without forming P_pi.

    ``P_pi x = sum_a pi[s, a] (P[s, a, :] . x)`` is one pass over P (a BLAS product on its
    (S*A, S) view), so a dense evaluation can factorise P_pi in place and still certify with
    exact products. Quacks like the matrix for :func:`certify` (``@``, ``.T``, ``.shape``).
    """

    def __init__(self, transitions: np.ndarray, policy: np.ndarray, transpose: bool = False):
        self.transitions = transitions
        self.policy = policy
        self.transpose = transpose
        num_states = policy.shape[0]
        self.shape = (num_states, num_states)

    @property
    def T(self) -> PolicyProducts:
        return PolicyProducts(self.transitions, self.policy, not self.transpose)

    def __matmul__(self, vector: np.ndarray) -> np.ndarray:
        num_states, num_actions = self.policy.shape
        flat = self.transitions.reshape(num_states * num_actions, num_states)
        if self.transpose:  # (x^T P_pi)[t] = sum_{s,a} x[s] pi[s, a] P[s, a, t]
            return (self.policy * vector[:, None]).reshape(-1) @ flat
        return (self.policy * (flat @ vector).reshape(num_states, num_actions)).sum(axis=1)


def solve_dense(
    policy_matrix: np.ndarray,
    rewards: np.ndarray,
    initial: np.ndarray,
    discount: float,
    sparse_matrix: sp.spmatrix | None = None,
    products: PolicyProducts | None = None,
) -> LinearSolution:
    """LU-factorise I - gamma P_pi once; solve for V_pi and rho_pi; certify both.

    ``sparse_matrix``: the same P_pi in sparse form, if there is one; the certificates then
    use its (cheaper) products and its smaller number of terms per entry. ``products``: P_pi's
    products from P and pi (:class:`PolicyProducts`); ``policy_matrix`` is then a fresh array
    the caller gives up: it is turned into I - gamma P_pi and factorised in place (no copy of
    an S x S matrix), and the certificates use ``products``.
    """
    num_states = len(rewards)
    if products is not None:
        system = policy_matrix
        system *= -discount
    else:
        system = -discount * policy_matrix
    system.flat[:: num_states + 1] += 1.0
    # LAPACK works in Fortran order: factorise the transpose (a Fortran view of the C array),
    # in place, and solve A x = b as (A^T)^T x = b
    factors = la.lu_factor(system.T, overwrite_a=True, check_finite=False)
    values = la.lu_solve(factors, rewards, trans=1, check_finite=False)
    visitation = la.lu_solve(factors, initial, trans=0, check_finite=False)
    if products is not None:
        matrix: Any = products
    else:
        matrix = policy_matrix if sparse_matrix is None else sp.csr_matrix(sparse_matrix)
    error_bound, residual = certify(matrix, rewards, values, discount, transpose=False)
    visitation_bound, _ = certify(matrix, initial, visitation, discount, transpose=True)
    return LinearSolution(values, visitation, error_bound, visitation_bound, residual, 0, "dense")


#: Dense systems with at most this many states take :func:`solve_small` first.
SMALL_STATE_LIMIT = 64

_IDENTITIES: dict[int, np.ndarray] = {}
_getrf = la.lapack.dgetrf
_getrs = la.lapack.dgetrs


def identity(num_states: int) -> np.ndarray:
    """The read-only S x S identity (one per size, kept: small evaluations form I - gamma P_pi
    thousands of times)."""
    found = _IDENTITIES.get(num_states)
    if found is None:
        found = _IDENTITIES[num_states] = np.eye(num_states)
        found.flags.writeable = False
    return found


def solve_small(
    system: np.ndarray,
    rewards: np.ndarray,
    initial: np.ndarray,
    discount: float,
    weighted_rewards: float,
    initial_mass: float,
    num_actions: int,
) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """Both systems of a small dense MDP from one LU factorisation, certified as in
    :func:`solve_dense`, and the rounding of the system's formation added; a handful of calls,
    for MDPs where call overhead dominates (LAPACK's getrf/getrs are called directly: scipy's
    and numpy's wrappers cost more than the arithmetic at S = 5).

    ``system`` is I - gamma P_pi and ``rewards`` r_pi as the caller formed them from P, r and
    pi (A actions). Returns (values, visitation, error bound, visitation error bound, residual
    norm). ``weighted_rewards`` is max_s sum_a pi |r| (>= ||r_pi||_inf), ``initial_mass``
    ||d||_1. The certificate is the a-posteriori bound of :func:`certify` (computed residual
    plus its rounding term), with the rounding term's norms bounded through the row sums of the
    stochastic P_pi: ``||gamma P |x| ||_inf <= gamma ||x||_inf`` and
    ``|| |y| gamma P ||_1 <= gamma ||y||_1`` (up to the rows' own rounding). One factor
    gamma_k with k = S + A + 7 >= (S + 4) + (A + 3) covers both the rounding of the residuals
    (gamma_{S+4}) and that of forming r_pi and I - gamma P_pi (gamma_{A+3}, see
    :func:`formation_bounds`), whose terms are dominated by the same magnitudes. A bound above
    the caller's tolerance (gamma very near 1) sends the caller to :func:`solve_dense`.
    """
    num_states = len(rewards)
    factors, pivots, info = _getrf(system)
    if info != 0:  # pragma: no cover - I - gamma P_pi is never singular for gamma < 1
        raise np.linalg.LinAlgError(f"I - gamma P_pi is singular (LAPACK getrf info {info})")
    values, _ = _getrs(factors, pivots, rewards)
    visitation, _ = _getrs(factors, pivots, initial, trans=1)
    factor = _rounding_factor(num_states + num_actions + 4)
    residual = float(np.abs(rewards - system @ values).max())
    magnitude = weighted_rewards + (1.0 + discount) * float(np.abs(values).max())
    error_bound = (residual + factor * magnitude) / (1.0 - discount)
    visitation_residual = float(np.abs(initial - visitation @ system).sum())
    mass = initial_mass + (1.0 + discount) * float(np.abs(visitation).sum())
    visitation_bound = (visitation_residual + factor * mass) / (1.0 - discount)
    return values, visitation, error_bound, visitation_bound, residual


def _gmres_cycle(
    apply: Callable[[np.ndarray], np.ndarray],
    solution: np.ndarray,
    residual: np.ndarray,
    stop: float,
    basis: np.ndarray,
    deflation: tuple[np.ndarray, np.ndarray, float] | None,
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """One GMRES(m) cycle from ``solution`` (m = len(basis) - 1 at most).

    Arnoldi with classical Gram-Schmidt and Givens rotations; stops early when the 2-norm of
    the residual (updated by the Arnoldi relation) is <= ``stop``. ``deflation`` = (u, c,
    ||A u||) with c = A u / ||A u|| augments the search space with a fixed vector u: the cycle
    runs on (I - c c^T) A and removes the residual's c-component through u (Morgan's and de
    Sturler's augmented GMRES), so a slow mode along u costs nothing. Inner products use
    einsum, which needs no threaded BLAS (multi-threaded level-1 BLAS stalls on a loaded
    machine). Returns (solution, updated residual, steps, its 2-norm).
    """
    if deflation is not None:
        direction, unit, size = deflation
        weight = float(np.einsum("i,i->", unit, residual))
        solution = solution + (weight / size) * direction
        residual = residual - weight * unit
    beta = float(np.sqrt(np.einsum("i,i->", residual, residual)))
    if beta == 0.0:
        return solution, residual, 0, 0.0
    np.divide(residual, beta, out=basis[0])
    hessenberg = np.zeros((len(basis), len(basis) - 1))
    triangle = np.zeros((len(basis), len(basis) - 1))
    along: list[float] = []  # c-components of A v_j, removed from the Arnoldi vectors
    cosines: list[float] = []
    sines: list[float] = []
    projection = [beta]  # Q^T (beta e1), rotated along
    steps = 0
    for j in range(len(basis) - 1):
        vector = apply(basis[j])
        if deflation is not None:
            along.append(float(np.einsum("i,i->", unit, vector)))
            vector -= along[-1] * unit
        active = basis[: j + 1]
        column = np.einsum("ij,j->i", active, vector)
        vector -= np.einsum("i,ij->j", column, active)
        remaining = float(np.sqrt(np.einsum("i,i->", vector, vector)))
        hessenberg[: j + 1, j] = column
        hessenberg[j + 1, j] = remaining
        entries = [float(value) for value in column]
        for i in range(j):  # previous rotations
            upper, lower = entries[i], entries[i + 1]
            entries[i] = cosines[i] * upper + sines[i] * lower
            entries[i + 1] = -sines[i] * upper + cosines[i] * lower
        diagonal = float(np.hypot(entries[j], remaining))
        if diagonal == 0.0:
            break
        cosines.append(entries[j] / diagonal)
        sines.append(remaining / diagonal)
        entries[j] = diagonal
        projection.append(-sines[j] * projection[j])
        projection[j] *= cosines[j]
        triangle[: j + 1, j] = entries
        steps = j + 1
        if remaining > 0.0:
            np.divide(vector, remaining, out=basis[j + 1])
        if abs(projection[j + 1]) <= stop or remaining == 0.0:
            break
    if steps == 0:
        return solution, residual, 0, beta
    coefficients = la.solve_triangular(
        triangle[:steps, :steps], np.array(projection[:steps]), check_finite=False
    )
    solution = solution + np.einsum("i,ij->j", coefficients, basis[:steps])
    if deflation is not None:
        solution -= (float(np.dot(np.array(along), coefficients)) / size) * direction
    # r - A V y = V_{k+1} (beta e1 - H y) by the Arnoldi relation
    small = -hessenberg[: steps + 1, :steps] @ coefficients
    small[0] += beta
    if hessenberg[steps, steps - 1] == 0.0:  # lucky breakdown: no vector v_{k+1}
        small = small[:steps]
    residual = np.einsum("i,ij->j", small, basis[: len(small)])
    return solution, residual, steps, abs(projection[steps])


def _krylov(
    policy_matrix: sp.csr_matrix,
    right_hand_side: np.ndarray,
    guess: np.ndarray,
    discount: float,
    transpose: bool,
    tolerance: float,
    max_iterations: int,
    restart: int = RESTART,
) -> IterativeSolution:
    """Certified iterative solve until the bound <= tolerance; (x, bound, residual, iterations).

    Two phases, each product of P_pi counted as one iteration:

    1. Stationary (Richardson) steps ``x <- x + res`` with ``res = b - (I - gamma P_pi) x``,
       i.e. ``x <- b + gamma P_pi x``: one product and a few vector passes each. For the values
       every step also adds the constant ``c = gamma mid(res) / (1 - gamma)`` (mid = the
       midrange): as P_pi 1 = 1 the next residual is ``gamma (P_pi res - mid(res))``, whose
       sup norm is at most ``gamma span(res) / 2`` -- the extrapolation of MacQueen (1966) and
       Porteus (1971), which removes the slow eigenvalue gamma of the constant mode. The
       visitation starts with the exact total mass d / (1 - gamma), so its residual has no
       mass along that mode. On a fast-mixing chain (Garnet) the residual then contracts at
       the rate gamma |lambda_2(P_pi)| per product, as fast as GMRES per product and three
       times cheaper.
    2. If a window of stationary steps contracts by less than :data:`STATIONARY_RATE` per
       product (a slowly mixing chain: gridworlds, RiverSwim), restarted GMRES continues from
       the current iterate: adaptive restart length (cycles start short, nearly free of
       orthogonalisation, and double up to ``restart`` while a cycle contracts the residual
       by less than 0.6 per product); for the values the constant vector augments every
       cycle (see :func:`_gmres_cycle`).

    The certificate is always computed from the true residual b - (I - gamma P_pi) x: once the
    (GMRES-updated) residual meets the target (scaled from 2-norm to the certificate's norm by
    their ratio at the last true residual), the true residual and its rounding term (one
    product each) decide; if they miss, the iteration continues from the true residual. An
    initial guess that is already certified costs no iteration.
    """
    if transpose:

        def propagate(vector: np.ndarray) -> np.ndarray:
            return vector @ policy_matrix

    else:

        def propagate(vector: np.ndarray) -> np.ndarray:
            return policy_matrix @ vector

    def apply(vector: np.ndarray) -> np.ndarray:
        image = propagate(vector)
        image *= -discount
        image += vector
        return image

    factor = _rounding_factor(_max_nonzeros(policy_matrix, transpose))
    scale = 1.0 - discount
    solution = np.array(guess, dtype=float)
    iterations = 0
    rounding = 0.0

    def certificate(residual: np.ndarray, norm: float) -> float:
        """Certified bound of ``solution`` from its true residual (sets ``rounding``)."""
        nonlocal rounding
        rounding = _rounding_norm(
            right_hand_side, solution, propagate(np.abs(solution)), discount, factor, transpose
        )
        return (norm + rounding) / scale

    def finish(bound: float, norm: float) -> IterativeSolution:
        floor = bool(rounding >= tolerance * scale)
        return IterativeSolution(solution, bound, norm, iterations, floor)

    # ---- phase 1: stationary steps, while they contract fast
    norms: list[float] = []
    while True:
        image = propagate(solution)  # T x = b + gamma P_pi x, the next iterate
        image *= discount
        image += right_hand_side
        residual = image - solution
        if transpose:
            norm = _norm(residual, transpose)
        else:
            high, low = float(residual.max()), float(residual.min())
            norm = max(high, -low)
        if norm + rounding <= tolerance * scale or iterations >= max_iterations:
            bound = certificate(residual, norm)
            if bound <= tolerance or iterations >= max_iterations:
                return finish(bound, norm)
            if rounding >= tolerance * scale:  # rounding alone exceeds it: report the bound
                return finish(bound, norm)
        norms.append(norm)
        if len(norms) > STATIONARY_WINDOW and (
            norms[-1] > STATIONARY_RATE**STATIONARY_WINDOW * norms[-1 - STATIONARY_WINDOW]
        ):
            break  # too slow for stationary steps: GMRES from here
        if not transpose:  # MacQueen's constant: the next residual is gamma (P res - mid)
            image += discount * 0.5 * (high + low) / scale
        solution = image
        iterations += 1

    # ---- phase 2: restarted GMRES from the current iterate
    deflation = None
    if not transpose:
        ones = np.ones(len(right_hand_side))
        image = apply(ones)
        size = float(np.sqrt(np.einsum("i,i->", image, image)))
        if size > 0.0:
            deflation = (ones, image / size, size)
    basis = np.empty((restart + 1, len(right_hand_side)))
    length = 2
    true_residual = True
    ratio = 1.0  # certificate norm / 2-norm of the last true residual
    two_norm = None
    while True:
        norm = _norm(residual, transpose)
        if true_residual or two_norm is None:
            two_norm = float(np.sqrt(np.einsum("i,i->", residual, residual)))
            ratio = norm / two_norm if two_norm > 0.0 else 1.0
        if norm + rounding <= tolerance * scale or iterations >= max_iterations:
            if not true_residual:
                residual = right_hand_side - apply(solution)
                true_residual = True
                continue
            bound = certificate(residual, norm)
            if bound <= tolerance or iterations >= max_iterations:
                return finish(bound, norm)
            if rounding >= tolerance * scale:  # rounding alone exceeds it: report the bound
                return finish(bound, norm)
        stop = 0.5 * (tolerance * scale - rounding) / max(ratio, 1e-300)
        cycle = basis[: min(length, max_iterations - iterations) + 1]
        solution, updated, steps, updated_norm = _gmres_cycle(
            apply, solution, residual, stop, cycle, deflation
        )
        if steps == 0:  # breakdown: re-anchor at the true residual (or stop if it is one)
            iterations = max_iterations if true_residual else iterations
            residual = right_hand_side - apply(solution)
            true_residual = True
            continue
        iterations += steps
        if (updated_norm / two_norm) ** (1 / steps) > 0.6 and length < restart:
            length = min(2 * length, restart)
        residual, two_norm = updated, updated_norm
        true_residual = False
        if iterations % 64 < steps:  # re-anchor now and then against drift of the update
            residual = right_hand_side - apply(solution)
            true_residual = True
            # and refresh the rounding term: a tolerance below it ends here, not at the budget
            anchored = _norm(residual, transpose)
            bound = certificate(residual, anchored)
            if rounding >= tolerance * scale:
                return finish(bound, anchored)


#: Sparse systems with at least this many states solve the values and the visitation in two
#: threads (when the machine has two cores).
PARALLEL_STATE_LIMIT = 20_000

_WORKER: list[ThreadPoolExecutor] = []
_WORKER_LOCK = threading.Lock()


def _worker() -> ThreadPoolExecutor:
    """One background thread, created on first use, for the visitation's solve."""
    with _WORKER_LOCK:
        if not _WORKER:
            _WORKER.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="tabular-mirror"))
        return _WORKER[0]


def _forget_worker() -> None:
    """In a forked child the parent's thread does not exist: start a new one on demand."""
    global _WORKER_LOCK
    _WORKER_LOCK = threading.Lock()
    _WORKER.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_worker)


def _usable_cores() -> int:
    """Cores this process may run on (CPU affinity respected where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def solve_sparse(
    policy_matrix: sp.spmatrix,
    rewards: np.ndarray,
    initial: np.ndarray,
    discount: float,
    tolerance: float,
    visitation_tolerance: float,
    max_iterations: int,
    method: str,
    values_guess: np.ndarray | None = None,
    visitation: bool = True,
) -> LinearSolution:
    """Krylov (GMRES) with certification, or sparse LU when ``method == "sparse_direct"``.

    If the iterative solve cannot certify the tolerance within ``max_iterations``, sparse LU
    is tried -- unless rounding alone keeps the bound above the tolerance, which LU's
    certificate shares; the result always reports its real certified bounds.
    ``values_guess`` starts the values' solve (policy iteration passes the previous policy's
    values). ``visitation=False`` skips the transposed system (``visitation`` is then None and
    its bound NaN).
    """
    num_states = len(rewards)
    policy_matrix = sp.csr_matrix(policy_matrix)
    horizon = 1.0 / (1.0 - discount)
    visitation_bound = np.nan
    occupancy = None
    if method == "krylov":
        guess = rewards if values_guess is None else values_guess
        # rho_0 = d / (1 - gamma) has the exact total mass, so the residual has none left
        visitation_arguments = (
            policy_matrix,
            initial,
            initial * horizon,
            discount,
            True,
            visitation_tolerance,
            max_iterations,
        )
        pending = None
        if visitation and num_states >= PARALLEL_STATE_LIMIT and _usable_cores() > 1:
            # the two systems are independent and the products release the GIL
            pending = _worker().submit(_krylov, *visitation_arguments)
        try:
            first = _krylov(
                policy_matrix, rewards, guess, discount, False, tolerance, max_iterations
            )
        except BaseException:
            if pending is not None:  # wait: no solve keeps running unseen; this error wins
                pending.exception()
            raise
        second = None
        if visitation:
            second = pending.result() if pending is not None else _krylov(*visitation_arguments)
        values, bound, residual, iterations = first[:4]
        if second is not None:
            occupancy, visitation_bound = second.solution, second.bound
            iterations += second.iterations
        certified = bound <= tolerance and (
            not visitation or visitation_bound <= visitation_tolerance
        )
        # sparse LU has the same rounding floor in its certificate: no point trying it then
        limited = first.rounding_limited or (second is not None and second.rounding_limited)
        if certified or limited:
            return LinearSolution(
                values, occupancy, bound, visitation_bound, residual, iterations, "krylov"
            )
    system = sp.identity(num_states, format="csc") - discount * policy_matrix.tocsc()
    factor = spla.splu(sp.csc_matrix(system))
    values = factor.solve(rewards)
    bound, residual = certify(policy_matrix, rewards, values, discount, transpose=False)
    if visitation:
        occupancy = factor.solve(initial, trans="T")
        visitation_bound, _ = certify(policy_matrix, initial, occupancy, discount, transpose=True)
    return LinearSolution(values, occupancy, bound, visitation_bound, residual, 0, "sparse_direct")
