"""Mirror steps with a neighbourhood constraint, by Lagrange multipliers over the row solvers.

- :func:`average_ball`: N = {sum_s w[s] div_s(pibar) <= radius} with div of the same family as
  the drift (or a zero drift). For a multiplier lam >= 0 the Lagrangian separates over states
  with coefficient c[s] = base[s] + lam * ball[s]; the constraint value decreases in lam, so a
  bisection finds the smallest feasible lam (TRPO's average-KL ball, the paper's drift ball,
  the KL ball with a KL drift). Certificate: the duality gap
  sum_s beta[s] gap_s + lam (radius - constraint) (Boyd & Vandenberghe 2004, section 5.5).
- :func:`state_ball`: N = {div_s(pibar) <= bound for every s}: one multiplier per state,
  bisected for all states at once.
- :func:`trust_region`: trust-region learning, max sum_s beta[s] <pibar, A> - C max_s
  KL(pi[s] || pibar[s]) in epigraph form: for a common radius t each state solves its KL-ball
  problem (multiplier lam_s(t)); the objective is concave in t with derivative
  sum_s beta[s] lam_s(t) - C, bisected to zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._rows import dot
from .faces import Faces, on_faces, restrict
from .separable import keep_support, solve_rows

RowDivergence = Callable[[np.ndarray], np.ndarray]


def _weighted_sum(weights: np.ndarray, values: np.ndarray) -> float:
    total = float(values.sum())
    if total - total == 0:  # finite values: no 0 * inf to mask
        return dot(weights, values)
    with np.errstate(invalid="ignore"):
        return dot(weights, np.where(weights > 0, values, 0.0))


RowSolver = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def family_rows(
    family: str,
    policy: np.ndarray,
    advantages: np.ndarray,
    base: np.ndarray,
    choice: str,
    epsilon: Any = None,
    faces: Faces | None = None,
) -> RowSolver:
    """Row solver of ``<p, A> - (base[s] + extra[s]) D_family(p)`` as a function of ``extra``
    (on the feasible faces when ``faces`` is given)."""

    def solve(p: np.ndarray, a: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return solve_rows(family, p, a, c, choice, epsilon)

    def rows(extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return on_faces(faces, solve, policy, advantages, base + extra)

    return rows


def average_ball(
    rows_for: RowSolver,
    sampling: np.ndarray,
    ball: np.ndarray,
    ball_weights: np.ndarray,
    divergence: RowDivergence,
    radius: float,
    iterations: int = 100,
    gap_tolerance: float = 0.0,
) -> tuple[np.ndarray, float, float, float]:
    """Returns (candidate, multiplier, duality-gap bound, constraint slack).

    The constraint value c(lam) = sum_s w[s] div_s(rows(lam)) decreases in lam. The smallest
    feasible lam (c(lam) = radius) is bracketed and found by a safeguarded regula falsi on
    log c against log lam (nearly linear: c ~ lam^-2 for small steps), with the Illinois
    correction and a bisection whenever an interpolation would not shrink the bracket; it
    stops once the duality gap sum_s beta[s] gap_s + lam (radius - c(lam)) at the feasible end
    is below ``gap_tolerance`` or the bracket is exhausted. The answer is always the feasible
    end of the bracket (a handful of row solves instead of a plain bisection's dozens).

    ``rows_for(extra)`` maximises each state's Lagrangian row with the ball's divergence
    weighted by ``extra[s]`` (per unit of beta); here ``extra = lam * ball`` with
    ``ball[s] = w[s] / beta[s]`` times the divergence's scale; ``ball_weights`` w[s] weight the
    constraint sum_s w[s] div_s <= radius.
    """

    def solve(multiplier: float) -> tuple[np.ndarray, np.ndarray, float]:
        rows, gaps = rows_for(multiplier * ball)
        return rows, gaps, _weighted_sum(ball_weights, divergence(rows))

    def gap_at(multiplier: float, gaps: np.ndarray, value: float) -> float:
        return _weighted_sum(sampling, gaps) + multiplier * (radius - value)

    def excess(value: float) -> float:  # log c - log radius: > 0 infeasible, <= 0 feasible
        if value != value:  # the rows failed at this multiplier (NaN): never the feasible end
            return math.inf
        return math.log(value / radius) if value > 0 else -math.inf

    # lam = 1 first: c decreases in lam, so when c(1) > radius, c(0) is too and the
    # unconstrained rows (lam = 0) need no solve; otherwise they may be the answer
    rows_u, gaps_u, value_u = solve(1.0)
    if not value_u > radius:
        rows, gaps, value = solve(0.0)
        if value <= radius:
            return rows, 0.0, _weighted_sum(sampling, gaps), radius - value
    # every feasible point is an answer with its own duality-gap bound: keep the best one seen
    # (the rows can lose accuracy near a jump of c, e.g. a KL ball's c(lam) from inf to ~0 as
    # lam -> 0, where the search may end; an earlier feasible point's gap still holds)
    best: list[Any] = []

    def feasible(multiplier: float, rows: np.ndarray, gaps: np.ndarray, value: float) -> None:
        gap = gap_at(multiplier, gaps, value)
        if gap == gap and (not best or gap < best[0]):
            best[:] = [gap, multiplier, rows, value]

    # bracket [low, high] in u = log lam, c(low) > radius >= c(high), stepping by the slope
    # -2 of small steps (10 % beyond the model's root, at least 1 % of lam) and doubling the
    # stride while it fails
    u = 0.0
    low = high = None
    stride = 1.0
    for _ in range(2000):
        f = excess(value_u)
        if f > 0:
            low = (u, f)
            if high is not None:
                break
            # slope -2 (and 10 % beyond it, to land feasible), at least 1 % per try
            u_next = u + max(min(0.55 * f, 50.0), 0.01) * stride
        else:
            high = (u, f, rows_u, gaps_u, value_u)
            feasible(math.exp(u), rows_u, gaps_u, value_u)
            if low is not None or gap_at(math.exp(u), gaps_u, value_u) <= gap_tolerance:
                break
            # the same slope -2 from the feasible side (10 % beyond, to land infeasible)
            u_next = u + max(0.55 * f, -50.0) * stride if f > -math.inf else u - 50.0 * stride
            u_next = min(u_next, u - 0.01 * stride)
        stride *= 2
        if not -700.0 < u_next < 700.0:  # multipliers beyond e^700: stop at the feasible end
            break
        u = u_next
        rows_u, gaps_u, value_u = solve(math.exp(u))
    if high is None:  # pragma: no cover - c(lam) -> 0 as lam grows: e^700 is feasible
        return rows_u, math.exp(u), gap_at(math.exp(u), gaps_u, value_u), radius - value_u
    recent = [low, high[:2]] if low is not None else []
    stalled = True  # the first interpolation is always tried
    for _ in range(iterations):
        u_high, _, rows_h, gaps_h, value_h = high
        if low is None or gap_at(math.exp(u_high), gaps_h, value_h) <= gap_tolerance:
            break
        if radius - value_h <= 1e-13 * radius:  # the constraint is active to rounding
            break
        u_low = low[0]
        if u_high - u_low <= 1e-13 * max(1.0, abs(u_high)):
            break
        # the secant through the two latest points, aimed a little inside the feasible side
        # (where the gap term lam (radius - c) is half the tolerance), kept inside the
        # bracket; a bisection when it would leave it or the bracket stopped halving
        target = -0.5 * gap_tolerance / (math.exp(u_high) * radius) if gap_tolerance else 0.0
        target = max(target, -1e-3)
        (u0, f0), (u1, f1) = recent
        u = 0.5 * (u_low + u_high)
        progress = abs(f1) <= 0.5 * abs(f0)  # else the secant stalls: bisect once
        if math.isfinite(f0) and math.isfinite(f1) and f0 != f1 and (progress or stalled):
            secant = u1 - (f1 - target) * (u1 - u0) / (f1 - f0)
            if u_low < secant < u_high:
                u = secant
        stalled = not progress
        rows_u, gaps_u, value_u = solve(math.exp(u))
        f = excess(value_u)
        if f > 0:
            low = (u, f)
        else:
            high = (u, f, rows_u, gaps_u, value_u)
            feasible(math.exp(u), rows_u, gaps_u, value_u)
        recent = [recent[1], (u, f)]
    u_high, _, rows_h, gaps_h, value_h = high
    multiplier = math.exp(u_high)
    gap = gap_at(multiplier, gaps_h, value_h)
    if best and not gap <= best[0]:  # an earlier feasible point has the smaller gap bound
        gap, multiplier, rows_h, value_h = best
    if not gap <= gap_tolerance:  # the secant did not certify: the plain geometric bisection
        found = _bisection(solve, gap_at, radius, iterations, gap_tolerance)
        if found[2] < gap:
            rows_h, multiplier, gap, value_h = found
    return rows_h, multiplier, gap, radius - value_h


def _bisection(
    solve: Callable[[float], tuple[np.ndarray, np.ndarray, float]],
    gap_at: Callable[[float, np.ndarray, float], float],
    radius: float,
    iterations: int,
    gap_tolerance: float,
) -> tuple[np.ndarray, float, float, float]:
    """The average ball's multiplier by geometric bisection (slow and sure): a bracket grown
    by 4 or shrunk from lam = 1 by 16 until the gap is below ``gap_tolerance`` or the point is
    infeasible, then sqrt(low high) until the gap is small or the bracket closes. Returns
    (rows, multiplier, gap, constraint value) of the feasible end."""
    low, high = 0.0, 1.0
    rows_high, gaps_high, value_high = solve(high)
    while value_high > radius and high < 1e300:  # grow until feasible
        low, high = high, 4 * high
        rows_high, gaps_high, value_high = solve(high)
    if low == 0.0:  # feasible at 1: shrink until infeasible, or until the gap is negligible
        while high > 1e-300 and gap_at(high, gaps_high, value_high) > gap_tolerance:
            trial = high / 16
            rows_mid, gaps_mid, value_mid = solve(trial)
            if not value_mid <= radius:
                low = trial
                break
            high, rows_high, gaps_high, value_high = trial, rows_mid, gaps_mid, value_mid
    for _ in range(iterations):
        if low == 0.0 or gap_at(high, gaps_high, value_high) <= gap_tolerance:
            break
        middle = math.sqrt(low * high)
        rows_mid, gaps_mid, value_mid = solve(middle)
        if not value_mid <= radius:
            low = middle
        else:
            high, rows_high, gaps_high, value_high = middle, rows_mid, gaps_mid, value_mid
        if high - low <= 1e-13 * high:
            break
    return rows_high, high, gap_at(high, gaps_high, value_high), value_high


def state_ball(
    rows_for: RowSolver,
    divergence: RowDivergence,
    bound: float,
    num_states: int,
    iterations: int = 100,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-state multipliers: returns (candidate, multipliers (S,), per-state gap bounds)."""
    rows, gaps = rows_for(np.zeros(num_states))
    inside = divergence(rows) <= bound
    multipliers = np.zeros(num_states)
    if inside.all():
        return rows, multipliers, gaps
    low = np.zeros(num_states)
    high = np.ones(num_states)
    for _ in range(2000):  # grow the bracket where still infeasible
        trial, _ = rows_for(high)
        outside = (divergence(trial) > bound) & ~inside
        if not outside.any():
            break
        low = np.where(outside, high, low)
        high = np.where(outside, 2 * high, high)
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        trial, _ = rows_for(middle)
        too_far = divergence(trial) > bound
        low = np.where(too_far, middle, low)
        high = np.where(too_far, high, middle)
        if np.all((high - low <= 1e-13 * high) | inside):
            break
    multipliers = np.where(inside, 0.0, high)
    final, final_gaps = rows_for(multipliers)
    final = np.where(inside[:, None], rows, final)
    slack = bound - divergence(final)
    gaps = np.where(inside, gaps, final_gaps + multipliers * np.maximum(slack, 0.0))
    return final, multipliers, gaps


def kl_ball_rows(
    policy: np.ndarray, advantages: np.ndarray, radius: float, iterations: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """max <p, A[s]> s.t. KL(pi[s] || p) <= radius, per state, for interior pi.

    KKT gives p_a = c pi_a / (mu - A_a); normalisation fixes c(mu) = 1 / sum_a pi_a/(mu - A_a),
    so KL(mu) = sum_a pi_a log((mu - A_a) / c(mu)) is a function of one scalar, decreasing from
    +inf (mu -> max A) to 0 (mu -> inf). A geometric bisection on mu - max A solves
    KL(mu) = radius for every state at once. Returns (rows, multipliers c).
    States whose advantages are constant keep pi (multiplier 0).
    """
    best = advantages.max(axis=1)
    distance = best[:, None] - advantages  # >= 0, exactly 0 at the maximisers
    spread = best - advantages.min(axis=1)
    flat = spread <= 1e-14 * np.maximum(1.0, np.abs(best))

    def divergence(offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gaps = offset[:, None] + distance  # mu - A_a without cancelling against max A
        coefficient = 1.0 / (policy / gaps).sum(axis=1)
        value = (policy * np.log(gaps / coefficient[:, None])).sum(axis=1)
        return value, coefficient

    scale = np.where(flat, 1.0, spread)
    low = np.full(len(policy), 1e-300)
    high = scale.copy()
    for _ in range(200):  # grow until KL(high) <= radius
        value, _ = divergence(high)
        outside = (value > radius) & ~flat
        if not outside.any():
            break
        low = np.where(outside, high, low)
        high = np.where(outside, 4 * high, high)
    low = np.maximum(low, high * 1e-30)
    for _ in range(iterations):
        middle = np.sqrt(low * high)
        value, _ = divergence(middle)
        too_far = value > radius
        low = np.where(too_far, middle, low)
        high = np.where(too_far, high, middle)
        if np.all(high <= low * (1 + 1e-14)):
            break
    _, coefficient = divergence(high)
    gaps = high[:, None] + distance
    rows = coefficient[:, None] * policy / gaps
    rows /= rows.sum(axis=1, keepdims=True)
    keep_support(rows, policy)
    rows = np.where(flat[:, None], policy, rows)
    coefficient = np.where(flat, 0.0, coefficient)
    return rows, coefficient


def trust_region(
    policy: np.ndarray,
    advantages: np.ndarray,
    sampling: np.ndarray,
    coefficient: float,
    divergence: RowDivergence,
    choice: str,
    iterations: int = 100,
    faces: Faces | None = None,
) -> tuple[np.ndarray, float, float]:
    """max_pibar sum_s beta[s] <pibar[s], A[s]> - C max_s KL(pi[s] || pibar[s]).

    Epigraph: with a common radius t every state solves its KL-ball problem (multiplier
    beta[s] c_s(t)); the objective F(t) is concave with F'(t) = sum_s beta[s] c_s(t) - C, found
    by geometric bisection. Returns (candidate, radius t*, gap bound) where the gap bound is
    the per-state ball gaps plus |F'(t)| times the final bracket width.
    Requires pi > 0 (the trust-region drift is a forward KL, which keeps pi's support).
    """
    if np.any(restrict(faces, policy) <= 0):
        return _trust_region_general(
            policy, advantages, sampling, coefficient, divergence, choice, iterations, faces
        )

    def at(radius: float) -> tuple[np.ndarray, np.ndarray]:
        def ball(p: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return kl_ball_rows(p, a, radius)

        return on_faces(faces, ball, policy, advantages)

    def derivative(multipliers: np.ndarray) -> float:
        return dot(sampling, multipliers) - coefficient

    rows, multipliers = at(1.0)
    if derivative(multipliers) > 0:  # the optimum radius is larger than 1
        low, high = 1.0, 2.0
        rows, multipliers = at(high)
        while derivative(multipliers) > 0 and high < 1e6:
            low, high = high, 2 * high
            rows, multipliers = at(high)
    else:
        low, high = 1e-300, 1.0
    if np.all(multipliers == 0):
        return np.array(policy, dtype=float), 0.0, 0.0
    best = (rows, multipliers, high)
    for _ in range(iterations):
        middle = np.sqrt(low * high) if low > 0 else 0.5 * high
        rows, multipliers = at(middle)
        if derivative(multipliers) > 0:
            low = middle
        else:
            high = middle
            best = (rows, multipliers, middle)
        if high <= low * (1 + 1e-12):
            break
    rows, multipliers, radius = best
    slack = radius - divergence(rows)
    ball_gap = dot(sampling, multipliers * np.maximum(slack, 0.0))
    gap = ball_gap + abs(derivative(multipliers)) * (high - low)
    return rows, radius, gap


def _trust_region_general(
    policy: np.ndarray,
    advantages: np.ndarray,
    sampling: np.ndarray,
    coefficient: float,
    divergence: RowDivergence,
    choice: str,
    iterations: int,
    faces: Faces | None = None,
) -> tuple[np.ndarray, float, float]:
    """The same epigraph with nested per-state multipliers (pi with zero entries)."""
    zero = np.zeros(len(policy))

    rows_for = family_rows("forward_kl", policy, advantages, zero, choice, faces=faces)

    def at(radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return state_ball(rows_for, divergence, radius, len(policy))

    def derivative(multipliers: np.ndarray) -> float:
        return dot(sampling, multipliers) - coefficient

    if np.all(np.abs(advantages) <= 1e-15 * max(1.0, float(np.abs(advantages).max()))):
        return np.array(policy, dtype=float), 0.0, 0.0
    low, high = 0.0, 1e-3
    rows, multipliers, gaps = at(high)
    while derivative(multipliers) > 0 and high < 1e6:
        low, high = high, 4 * high
        rows, multipliers, gaps = at(high)
    best = (rows, multipliers, gaps, high)
    for _ in range(min(iterations, 60)):
        middle = 0.5 * (low + high)
        rows, multipliers, gaps = at(middle)
        if derivative(multipliers) > 0:
            low = middle
        else:
            high = middle
            best = (rows, multipliers, gaps, middle)
        if high - low <= 1e-12 * max(high, 1e-300):
            break
    rows, multipliers, gaps, radius = best
    gap = dot(sampling, gaps) + abs(derivative(multipliers)) * (high - low)
    return rows, radius, gap
