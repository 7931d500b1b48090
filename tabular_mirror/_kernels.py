"""Compiled per-row kernels for small float problems, where numpy's per-call cost dominates.

A mirror step on a 5-state MDP spends most of its time in the fixed cost of numpy calls
(0.3-1 us each), not in arithmetic: the clipped-PPO rows of :mod:`.separable` are about 55
calls (about 60 us) for 15 numbers, a forward-KL row solve (TRPO's multiplier search takes
5-6 of them per step) about 40, the reverse-KL (PMD) closed form about 15. Each kernel here
is the same algorithm as its numpy twin, written row by row and compiled with numba (Lam,
Pitrou, Seibert, "Numba: a LLVM-based Python JIT compiler", LLVM-HPC 2015) when numba
imports; without numba the numpy twin runs, with the same results. The tests compare the
two on random rows (ties, zeros, every coefficient).

numba is imported on first use (importing it costs about half a second) and each kernel is
compiled once per process, or loaded from numba's cache.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import scipy.linalg as la

_getrf = la.lapack.dgetrf
_getrs = la.lapack.dgetrs


def ppo_rows(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray, epsilon: float
) -> tuple[np.ndarray, np.ndarray]:
    """The maximiser of the clipped PPO objective in each row and its duality gap, the
    L2-closest to pi among the maximisers (what :func:`.separable._ppo_rows_small` computes).

    Per state s, with pieces of slope sigma1_a = max(A_a, (1 - c) A_a) up to the clip
    breakpoint b_a = (1 +- epsilon) pi_a and sigma2_a = min(A_a, (1 - c) A_a) beyond it: the
    threshold lambda is the largest slope whose at-least-as-steep pieces hold a unit of mass
    (at least max_a sigma2_a, where a piece of unbounded length lies); pieces above lambda are
    full (lo_a = b_a), tied pieces may take mass (up to b_a, or to 1 for a tied second piece);
    the candidate is x_a = clip(pi_a + tau, lo_a, hi_a) with sum_a x_a = 1 (the water filling,
    tau found on the segment between the two breakpoints whose sums bracket 1). The gap is
    lambda + sum_a (sigma1_a - lambda)_+ b_a minus the objective at x.
    """
    num_states, num_actions = policy.shape
    rows = np.empty((num_states, num_actions))
    gaps = np.empty(num_states)
    first = np.empty(num_actions)
    slope1 = np.empty(num_actions)
    slope2 = np.empty(num_actions)
    low = np.empty(num_actions)
    high = np.empty(num_actions)
    points = np.empty(2 * num_actions)
    for s in range(num_states):
        largest = 1.0
        floor = -math.inf  # max_a sigma2_a
        for a in range(num_actions):
            advantage = advantages[s, a]
            damped = advantage * (1.0 - coefficient[s])
            first[a] = policy[s, a] * ((1.0 + epsilon) if advantage > 0 else (1.0 - epsilon))
            slope1[a] = max(advantage, damped)
            slope2[a] = min(advantage, damped)
            floor = max(floor, slope2[a])
            largest = max(largest, abs(slope1[a]), abs(slope2[a]))
        threshold = floor
        for a in range(num_actions):
            held = 0.0
            for b in range(num_actions):
                if slope1[b] >= slope1[a]:
                    held += first[b]
            if held >= 1.0 and slope1[a] > threshold:
                threshold = slope1[a]
        tolerance = 1e-12 * largest
        for a in range(num_actions):
            # (the numpy twin's tests, on the differences: above, tied)
            above = slope1[a] - threshold
            low[a] = first[a] if above > tolerance else 0.0
            if abs(slope2[a] - threshold) <= tolerance:  # an unbounded piece at lambda
                high[a] = 1.0
            elif above > tolerance or abs(above) <= tolerance:
                high[a] = first[a]
            else:
                high[a] = 0.0
            points[a] = low[a] - policy[s, a]
            points[num_actions + a] = high[a] - policy[s, a]
        # the sum at every breakpoint; the budget, capped into the range of the sums
        smallest_total, largest_total = math.inf, -math.inf
        for k in range(2 * num_actions):
            total = 0.0
            for a in range(num_actions):
                total += min(max(policy[s, a] + points[k], low[a]), high[a])
            smallest_total = min(smallest_total, total)
            largest_total = max(largest_total, total)
        need = min(max(1.0, smallest_total), largest_total)
        point_low, total_low, point_high, total_high = -math.inf, -math.inf, math.inf, math.inf
        for k in range(2 * num_actions):
            total = 0.0
            for a in range(num_actions):
                total += min(max(policy[s, a] + points[k], low[a]), high[a])
            if total <= need and points[k] > point_low:
                point_low, total_low = points[k], total
            if total >= need and points[k] < point_high:
                point_high, total_high = points[k], total
        span = max(total_high - total_low, 1e-300)
        tau = point_low + (need - total_low) * (point_high - point_low) / span
        primal = 0.0
        dual = threshold
        for a in range(num_actions):
            x = min(max(policy[s, a] + tau, low[a]), high[a])
            rows[s, a] = x
            primal += slope2[a] * x + (slope1[a] - slope2[a]) * min(x, first[a])
            dual += max(slope1[a] - threshold, 0.0) * first[a]
        gaps[s] = max(dual - primal, 0.0)
    return rows, gaps


def forward_kl_rows(
    policy: np.ndarray,
    advantages: np.ndarray,
    coefficient: np.ndarray,
    iterations: int,
    newton_stop: float,
    smallest: float,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Maximise <p, A> - c KL(pi || p) in each row for pi > 0 and c > 0 (what
    :func:`.separable._forward_kl_interior` computes): p_a = c pi_a / (x + d_a) with
    d_a = A* - A_a and x the root of sum_a c pi_a / (x + d_a) = 1, by Newton on the reciprocal
    of the sum from x = max(c pi_a*, c - sum_a pi_a d_a) (left of the root), each row until
    its step is below ``newton_stop`` x; then the duality gap
    x + c (sum_a pi_a log(c pi_a / (x + d_a)) - 1) - (c sum_a pi_a log p_a - sum_a p_a d_a).
    The flag is False (and the rows unusable) when a row's start is below the normal range.
    """
    num_states, num_actions = policy.shape
    rows = np.empty((num_states, num_actions))
    gaps = np.empty(num_states)
    distance = np.empty(num_actions)
    for s in range(num_states):
        c = coefficient[s]
        best_action = 0
        for a in range(1, num_actions):
            if advantages[s, a] > advantages[s, best_action]:
                best_action = a
        best = advantages[s, best_action]
        spread = 0.0
        for a in range(num_actions):
            distance[a] = best - advantages[s, a]
            spread += policy[s, a] * distance[a]
        x = max(c * policy[s, best_action], c - spread)
        if not x >= 2.2250738585072014e-308:  # below the normal range
            return rows, gaps, False
        for _ in range(iterations):
            total = 0.0
            slope = 0.0
            for a in range(num_actions):
                inverse = 1.0 / (x + distance[a])
                term = c * policy[s, a] * inverse
                total += term
                slope += term * inverse
            step = max((total - 1.0) / slope * total, 0.0)
            x = min(x + step, c)
            if step / x <= newton_stop:
                break
        total = 0.0
        dual = 0.0
        for a in range(num_actions):
            unnormalised = c * policy[s, a] / (x + distance[a])
            rows[s, a] = unnormalised
            total += unnormalised
            dual += policy[s, a] * math.log(unnormalised)
        entropy = 0.0
        pull = 0.0
        for a in range(num_actions):
            p = rows[s, a] / total
            if not p > 0:  # an underflowed entry on pi's support: the smallest double
                p = smallest
            rows[s, a] = p
            entropy += policy[s, a] * math.log(p)
            pull += p * distance[a]
        gap = max(x + c * (dual - 1.0) - (c * entropy - pull), 0.0)
        gaps[s] = gap if math.isfinite(gap) else math.inf
    return rows, gaps, True


def reverse_kl_rows(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise <p, A> - c KL(p || pi) in each row for pi > 0 and c > 0 (what
    :func:`.separable._reverse_kl_interior` computes): p proportional to pi exp(A / c), from
    the logits l_a = log pi_a + A_a / c shifted by their maximum; log p is read from the
    logits (never the log of an entry that underflowed); the gap is
    c (log Z + max l) - (<p, A> - c KL(p || pi)) with Z = sum_a exp(l_a - max l).
    """
    num_states, num_actions = policy.shape
    rows = np.empty((num_states, num_actions))
    gaps = np.empty(num_states)
    logits = np.empty(num_actions)
    for s in range(num_states):
        c = coefficient[s]
        peak = -math.inf
        for a in range(num_actions):
            logits[a] = math.log(policy[s, a]) + advantages[s, a] / c
            peak = max(peak, logits[a])
        partition = 0.0
        for a in range(num_actions):
            weight = math.exp(logits[a] - peak)
            rows[s, a] = weight
            partition += weight
        log_partition = math.log(partition)
        kl = 0.0
        gain = 0.0
        for a in range(num_actions):
            p = rows[s, a] / partition
            rows[s, a] = p
            kl += p * (logits[a] - peak - log_partition - math.log(policy[s, a]))
            gain += p * advantages[s, a]
        gaps[s] = max(c * (log_partition + peak) - (gain - c * kl), 0.0)
    return rows, gaps


def small_system(
    policy: np.ndarray, stacked: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """I - gamma P_pi and r_pi of a small dense float MDP from ``stacked`` = [gamma P | r | |r|]
    (S, A, S + 2), with max_s sum_a pi |r| (what the rounding of r_pi is proportional to) and
    ||r_pi||_inf. NaN or inf in pi gives NaN in the system (the caller certifies nothing)."""
    num_states, num_actions = policy.shape
    system = np.empty((num_states, num_states))
    rewards = np.empty(num_states)
    weighted = 0.0
    largest_reward = 0.0
    for s in range(num_states):
        for t in range(num_states + 2):
            total = 0.0
            for a in range(num_actions):
                total += policy[s, a] * stacked[s, a, t]
            if t < num_states:
                system[s, t] = (1.0 if s == t else 0.0) - total
            elif t == num_states:
                rewards[s] = total
                largest_reward = max(largest_reward, abs(total))
            else:
                weighted = max(weighted, total)
    return system, rewards, weighted, largest_reward


def small_certificate(
    system: np.ndarray,
    rewards: np.ndarray,
    values: np.ndarray,
    visitation: np.ndarray,
    initial: np.ndarray,
    stacked: np.ndarray,
    discount: float,
    initial_mass: float,
    weighted: float,
    factor: float,
) -> tuple[float, float, float, np.ndarray]:
    """The certificate of :func:`tabular_mirror._linalg.solve_small` for computed V and rho of
    (I - gamma P_pi) V = r_pi and (I - gamma P_pi)^T rho = d, and Q = r + gamma P V:
    (||r_pi - (I - gamma P_pi) V||_inf + f (max_s sum_a pi |r| + (1 + gamma) ||V||_inf)) /
    (1 - gamma) and (||d - rho (I - gamma P_pi)||_1 + f (||d||_1 + (1 + gamma) ||rho||_1)) /
    (1 - gamma), f = ``factor`` (gamma_k, k = S + A + 7). Returns (error bound, visitation
    error bound, residual norm, Q)."""
    num_states = len(values)
    num_actions = stacked.shape[1]
    residual = 0.0
    values_norm = 0.0
    for s in range(num_states):
        total = rewards[s]
        for t in range(num_states):
            total -= system[s, t] * values[t]
        residual = max(residual, abs(total))
        values_norm = max(values_norm, abs(values[s]))
    visitation_residual = 0.0
    visitation_mass = 0.0
    for t in range(num_states):
        total = initial[t]
        for s in range(num_states):
            total -= visitation[s] * system[s, t]
        visitation_residual += abs(total)
        visitation_mass += abs(visitation[t])
    horizon = 1.0 / (1.0 - discount)
    bound = (residual + factor * (weighted + (1.0 + discount) * values_norm)) * horizon
    mass = initial_mass + (1.0 + discount) * visitation_mass
    visitation_bound = (visitation_residual + factor * mass) * horizon
    q_values = np.empty((num_states, num_actions))
    for s in range(num_states):
        for a in range(num_actions):
            total = stacked[s, a, num_states]
            for t in range(num_states):
                total += stacked[s, a, t] * values[t]
            q_values[s, a] = total
    return bound, visitation_bound, residual, q_values


def small_evaluation(
    policy: np.ndarray,
    stacked: np.ndarray,
    initial: np.ndarray,
    discount: float,
    initial_mass: float,
    factor: float,
    plain: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float, float]:
    """V_pi, rho_pi and Q_pi of a small dense float MDP with the certificate of
    :func:`tabular_mirror._linalg.solve_small` (what :func:`tabular_mirror.evaluation.
    _small_solve_numpy` computes in numpy calls): :func:`small_system`, one LU factorisation
    with partial pivoting (LAPACK getrf, called from Python: numba's own linear algebra takes
    seconds to compile) solving both systems, then :func:`small_certificate`. Returns (V, rho,
    Q, error bound, visitation error bound, residual norm, ||r_pi||_inf). ``plain``: the
    pieces as Python functions, not compiled (for the tests)."""
    num_states, num_actions = policy.shape
    system, rewards, weighted, largest = _piece("small_system", plain)(policy, stacked)
    if not (math.isfinite(float(system.sum())) and math.isfinite(float(rewards.sum()))):
        # a policy with NaN or inf (validate=False): no solve; NaN bounds certify nothing
        nothing = np.full(num_states, np.nan)
        return (nothing, nothing.copy(), np.full((num_states, num_actions), np.nan),
                math.nan, math.nan, math.nan, math.nan)  # fmt: skip
    factors, pivots, info = _getrf(system)
    if info != 0:  # pragma: no cover - I - gamma P_pi is never singular for gamma < 1
        raise np.linalg.LinAlgError(f"I - gamma P_pi is singular (LAPACK getrf info {info})")
    values, _ = _getrs(factors, pivots, rewards)
    visitation, _ = _getrs(factors, pivots, initial, trans=1)
    bound, visitation_bound, residual, q_values = _piece("small_certificate", plain)(
        system, rewards, values, visitation, initial, stacked, discount, initial_mass, weighted,
        factor,
    )  # fmt: skip
    return values, visitation, q_values, bound, visitation_bound, residual, largest


def _piece(name: str, plain: bool) -> Callable:
    found = None if plain else compiled(name)
    return globals()[name] if found is None else found


#: Kernels that are Python functions around compiled pieces (not compiled themselves).
_COMPOSED = ("small_evaluation",)


@functools.cache
def compiled(name: str) -> Callable | None:
    """The kernel ``name`` compiled by numba, or None without numba (its numpy twin runs)."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; a platform without it
        return None
    if name in _COMPOSED:
        return globals()[name]
    return numba.njit(cache=True, nogil=True)(globals()[name])
