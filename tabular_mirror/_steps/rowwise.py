"""Per-state solvers for any drift (your own pieces), all states at once.

When nu does not depend on pibar (nu = nu_pi is fixed during the step) and beta > 0, the mirror
objective separates over states (Kuba et al. 2022, Def. 3.4):

    sum_s beta[s] ( <pibar[s], A[s]> - c[s] D_pi(pibar | s) ),   c[s] = nu[s] / beta[s],

one small problem per state over its simplex (the face of its feasible actions). N = Pi keeps
it separated; a per-state ball adds one multiplier per state, an average ball (TRPO-like) one
multiplier for all states, each row then carrying ``extra[s]`` times the ball's divergence
(:func:`tabular_mirror._steps.constrained.state_ball` and ``average_ball`` search the
multipliers over these row solvers).

Each row problem ``f_s(p) = <p, A[s]> - c[s] D(p | s) - extra[s] div_s(p)`` is solved by a
scaled projected-gradient ascent, vectorised over states:

- every iterate is a point of the simplex: the step goes to q = the projection of
  p + g / h onto the simplex in the metric diag(h) (h a per-coordinate curvature estimate,
  secant-updated), then backtracks along the segment [p, q], so the drift is never evaluated
  off the simplex (a drift that is infinite or NaN at a trial point rejects it);
- a row whose f is -inf at its best vertex (a drift infinite on the boundary, like a forward
  KL), or whose step reached a point where the drift's slope is infinite (an entry at 0 of a
  log-like drift, like a reverse KL: the step is undone), takes the barrier model instead:
  the curvature grows like 1 / q^2 away from p, so q_a = w_a / (mu - m_a) with
  w_a = h_a p_a^2, m_a = g_a - h_a p_a, mu a 1-D root (the forward-KL row's form; one step
  is the exact row for a forward KL) and every entry stays > 0; its curvature is the secant
  of g against 1 / p;
- g is the drift's own gradient, or finite differences along the simplex directions e_a - p
  (points p + t (e_a - p), on the simplex) when it has none;
- the Frank-Wolfe gap max_a g_a - <p, g> bounds f_s* - f_s(p) when f_s is concave (a convex
  drift, Jaggi 2013): with the drift's gradient it is the row's certificate; without it each
  directional derivative g_a - <p, g> is bounded from above with the linear part (and a
  ball's divergence) exact and the drift's part by a backward difference quotient of the
  penalty, (c D(p) - c D(p - t (e_a - p))) / t <= its slope (a convex penalty's slopes
  increase), plus the rounding of the difference for a drift function accurate to
  :data:`DRIFT_ULPS` ulps (an assumption the certificate's detail states); the bound is
  O(t), so without a gradient it is typically ~1e-6, above the default tolerance;
- a drift not declared convex is solved from several starts (pi, a move toward the best
  action, the centre of the face) and the best row kept per state; its certificate is ``local``
  (a first-order point that may not be global).

References
----------
E. G. Birgin, J. M. Martinez, M. Raydan, "Nonmonotone spectral projected gradient methods on
convex sets", SIAM J. Optim. 10(4), 2000 (projected gradient with curvature steps).
M. Jaggi, "Revisiting Frank-Wolfe: projection-free sparse convex optimization", ICML 2013.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import divergences
from .._rows import dot, row_max, row_sum

if TYPE_CHECKING:  # pragma: no cover
    from ..algorithm import MirrorAlgorithm
    from ..context import Context

#: Machine epsilon of float64 (np.finfo is a call, about half a microsecond, in a loop).
_EPS = float(np.finfo(float).eps)

#: Iterations of one start (each: one gradient and a few drift evaluations); a drift not
#: declared convex gets fewer per start (it has several starts, and no bound to reach).
ITERATIONS = 400
LOCAL_ITERATIONS = 100
#: A row is solved once its Frank-Wolfe gap is below this (times max(1, max |A|)).
ROW_TOLERANCE = 1e-13
#: Halvings of a step before a state counts as stalled (no ascent along the segment).
BACKTRACKS = 40
#: Iterations in a row without a visible increase of f after which a state stops.
STALLED = 3
#: The increase per iteration below which a row of a drift not declared convex is idle.
IDLE = 1e-12
#: How far toward the best action the first curvature probe goes.
PROBE = 0.1
#: Armijo's sufficient-increase fraction.
SUFFICIENT = 1e-4
#: Finite-difference step along e_a - p (simplex directions) for drifts without a gradient.
DIFFERENCE_STEP = 1e-6
#: Steps of the secant bound of a drift without a gradient (the smallest bound is kept).
SECANT_STEPS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
#: The rounding assumed of a user's drift function: this many units in the last place of
#: max(1, |D|) per value (a sum of O(1) terms of mixed sign, as in a KL, loses that much).
DRIFT_ULPS = 64
#: A far-away target that keeps an infeasible action out of every projection.
_OFF = -1e30


def _family_divergence(family: str) -> tuple[Callable, Callable]:
    """(value, gradient) of a ball's divergence div(pi[s], p) as functions of (pi, p)."""

    def forward_kl_gradient(policy: np.ndarray, p: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(policy > 0, -policy / p, 0.0)

    def reverse_kl_gradient(policy: np.ndarray, p: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(p > 0, np.log(p) - np.log(policy) + 1.0, -np.inf)

    def squared_tv(policy: np.ndarray, p: np.ndarray) -> np.ndarray:
        tv = divergences.total_variation(policy, p)
        return tv * tv

    def squared_tv_gradient(policy: np.ndarray, p: np.ndarray) -> np.ndarray:
        return divergences.total_variation(policy, p)[:, None] * np.sign(p - policy)

    return {
        "forward_kl": (divergences.kl, forward_kl_gradient),
        "reverse_kl": (lambda policy, p: divergences.kl(p, policy), reverse_kl_gradient),
        "squared_l2": (divergences.squared_euclidean, lambda policy, p: 2.0 * (p - policy)),
        "squared_tv": (squared_tv, squared_tv_gradient),
    }[family]


def _quiet(method: Callable) -> Callable:
    """Run ``method`` with numpy's floating-point warnings off: trial points where the drift
    is infinite or NaN are expected (and rejected), and one ``errstate`` around a solve costs
    less than one around every evaluation."""

    @functools.wraps(method)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return method(*args, **kwargs)

    return quiet


class RowProblems:
    """The row problems of one mirror step, f_s(p) = <p, A[s]> - c[s] D(p | s) - extra[s]
    div_s(p), evaluated for all states at once (per unit of beta[s]).

    :meth:`solve` and :meth:`secant_gap` are the entry points; the evaluations they use
    (:meth:`values`, :meth:`gradient`) expect numpy's warnings to be off.

    ``family`` names the ball's divergence (a ball's Lagrangian rows), or None.
    """

    def __init__(
        self, algorithm: MirrorAlgorithm, context: Context, family: str | None = None
    ) -> None:
        self.drift = algorithm.drift
        self.context = context
        self.policy = np.asarray(context.policy, dtype=float)
        self.advantages = np.asarray(context.advantages, dtype=float)
        beta = np.asarray(context.sampling_weights, dtype=float)
        nu = np.asarray(
            algorithm.drift_distribution.weights(context, context.policy, None), dtype=float
        )
        self.coefficient = nu / beta
        self._column = self.coefficient[:, None]
        self._everywhere = bool((self.coefficient > 0).all())  # no 0 * inf to mask
        mdp = context.mdp
        self.feasible = mdp.action_mask if mdp.has_infeasible_actions else None
        self.divergence = None if family is None else _family_divergence(family)
        self.extra = np.zeros(len(self.policy))
        self.convex = bool(algorithm.drift.convex)
        self.scale = max(1.0, float(np.abs(self.advantages).max()))
        self.has_gradient = self.drift.trial_gradient(context, context.policy) is not None
        self.calls = 0

    # ------------------------------------------------------------------ values and gradients
    def penalties(self, p: np.ndarray) -> np.ndarray:
        """c[s] D(p | s) for every state (0 where c[s] = 0); inf where the drift cannot be
        evaluated (inf, NaN)."""
        self.calls += 1
        drift = np.asarray(self.drift.trial_value(self.context, p), dtype=float)
        if self._everywhere:
            penalty = self.coefficient * drift
        else:
            penalty = np.where(self.coefficient > 0, self.coefficient * drift, 0.0)
        return np.where(np.isfinite(penalty), penalty, np.inf)

    def values(self, p: np.ndarray, penalty: np.ndarray | None = None) -> np.ndarray:
        """f_s(p) for every state; -inf where the drift cannot be evaluated (inf, NaN)."""
        if penalty is None:
            penalty = self.penalties(p)
        out = row_sum(p * self.advantages) - penalty
        if self.divergence is not None:
            extra = self.extra
            div = self.divergence[0](self.policy, p)
            out = out - np.where(extra > 0, extra * div, 0.0)
        return np.where(np.isfinite(out), out, -np.inf)

    def gradient(self, p: np.ndarray, value: np.ndarray) -> np.ndarray:
        """df_s/dp (up to a constant per state, which no simplex direction sees)."""
        if self.has_gradient:
            self.calls += 1
            drift = np.asarray(self.drift.trial_gradient(self.context, p), dtype=float)
            if self._everywhere:
                out = self.advantages - self._column * drift
            else:
                out = self.advantages - np.where(self._column > 0, self._column * drift, 0.0)
            if self.divergence is not None:
                out = out - self.extra[:, None] * self.divergence[1](self.policy, p)
        else:  # differences of f itself: the ball's term is in them already
            out = self._differences(p, value)
        if self.feasible is not None:
            out = np.where(self.feasible, out, 0.0)
        return out

    def _differences(self, p: np.ndarray, value: np.ndarray) -> np.ndarray:
        """<grad f, e_a - p> by differences along e_a - p (both ways where the simplex allows:
        p - t (e_a - p) needs p_a >= t / (1 + t)), every trial point on the simplex."""
        step = DIFFERENCE_STEP
        out = np.zeros(p.shape)
        for a in range(p.shape[1]):
            if self.feasible is not None and not self.feasible[:, a].any():
                continue
            direction = -p.copy()
            direction[:, a] += 1.0
            if self.feasible is not None:
                direction[~self.feasible[:, a]] = 0.0  # not a direction of that face
            up = self.values(p + step * direction)
            back = p[:, a] >= 2 * step
            down = self.values(np.where(back[:, None], p - step * direction, p))
            central = (up - down) / (2 * step)
            forward = (up - value) / step
            out[:, a] = np.where(back, central, forward)
        return np.where(np.isfinite(out), out, 0.0)

    # ------------------------------------------------------------------ certificates
    def frank_wolfe(self, p: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        """max_a g_a - <p, g> = sum_a p_a (max g - g_a) over the feasible actions (a sum of
        nonnegative terms: no cancellation against a large common part of g); inf where the
        gradient is not finite (no bound is claimed there)."""
        best = gradient if self.feasible is None else np.where(self.feasible, gradient, -np.inf)
        below = row_max(best)[:, None] - gradient
        if self.feasible is not None:
            below = np.where(self.feasible, below, 0.0)
        gap = row_sum(p * below)
        return np.where(np.isfinite(gap), gap, np.inf)

    @_quiet
    def secant_gap(self, p: np.ndarray) -> np.ndarray:
        """A bound on f* - f(p) for a concave row whose drift has no gradient: the Frank-Wolfe
        gap max_a phi_a'(0), phi_a(t) = f(p + t (e_a - p)), with the drift's part bounded by a
        backward difference quotient.

        The linear part (and a ball's divergence) have exact gradients; the penalty
        psi_a(t) = c D(p + t (e_a - p)) is convex, so psi_a'(0) >= (psi_a(0) - psi_a(-t)) / t
        (slopes of a convex function increase), from the point p - t (e_a - p), on the
        simplex while t (1 - p_a) < p_a. The smallest bound over :data:`SECANT_STEPS` is kept,
        after adding the rounding of the difference: the drift function is taken to be
        accurate to :data:`DRIFT_ULPS` units in the last place of max(1, |D|) (an assumption
        about the user's function, stated in the certificate's detail). inf where no such
        point exists (p_a = 0: the one-sided derivative toward a vertex needs the gradient)."""
        num_states, num_actions = p.shape
        known = self.advantages
        if self.divergence is not None:
            known = known - self.extra[:, None] * self.divergence[1](self.policy, p)
        here = self.penalties(p)
        bound = np.zeros(num_states)
        for a in range(num_actions):
            if self.feasible is not None and not self.feasible[:, a].any():
                continue
            direction = -p.copy()
            direction[:, a] += 1.0
            # <known, e_a - p> = sum_b p_b (known_a - known_b): no cancellation of a common part
            linear = row_sum(p * (known[:, a : a + 1] - known))
            best = np.full(num_states, np.inf)
            for t in SECANT_STEPS:
                inside = t * (1.0 - p[:, a]) < p[:, a] * (1.0 - 1e-9)  # p - t (e_a - p) > 0
                trial = np.where(inside[:, None], np.maximum(p - t * direction, 0.0), p)
                there = self.penalties(trial)
                coefficient = self.coefficient  # c max(1, |D|) = max(c, |c D|), both points
                scale = np.maximum(coefficient, np.abs(here)) + np.maximum(
                    coefficient, np.abs(there)
                )
                rounding = DRIFT_ULPS * _EPS * scale / t
                quotient = linear - (here - there) / t + rounding
                quotient = np.where(inside & np.isfinite(quotient), quotient, np.inf)
                best = np.minimum(best, quotient)
            if self.feasible is not None:
                best = np.where(self.feasible[:, a], best, -np.inf)
            bound = np.maximum(bound, best)
        return bound

    # ------------------------------------------------------------------ the solver
    def _probe(
        self, p: np.ndarray, gradient: np.ndarray, curvature: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Where to start the curvature model: (curvature, barrier rows).

        Barrier rows are those where f is -inf at the best action's vertex (a drift that is
        infinite on the boundary, like KL's); they take the barrier model
        (:func:`_barrier_step`). The curvature is the per-coordinate secant from p' a tenth
        of the way toward that vertex (on the simplex): (g(p) - g(p')) / (p' - p), in barrier
        rows taken at p through the secant of g against 1/p (x p'/p); ``curvature`` where the
        probe says nothing (a coordinate that does not move, a non-finite or non-positive
        estimate)."""
        best = gradient if self.feasible is None else np.where(self.feasible, gradient, -np.inf)
        vertex = np.zeros(p.shape)
        vertex[np.arange(len(p)), np.argmax(best, axis=1)] = 1.0
        barrier = self.values(vertex) == -np.inf
        probe = _on_simplex(p + PROBE * (vertex - p))
        value = self.values(probe)
        change = gradient - self.gradient(probe, value)
        step = probe - p
        estimate = change / step
        if barrier.any():
            estimate = np.where(barrier[:, None], estimate * probe / p, estimate)
        usable = (np.abs(step) > 1e-14) & np.isfinite(estimate) & (estimate > 0)
        usable &= np.isfinite(value)[:, None]
        curvature = np.where(usable, np.maximum(estimate, 1e-12 * self.scale), curvature)
        return curvature, barrier

    @_quiet
    def solve(self, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scaled projected-gradient ascent from ``start`` (on the simplex): returns
        (rows, f values, Frank-Wolfe gaps with the last gradient)."""
        p = np.array(start, dtype=float)
        value = self.values(p)
        gradient = self.gradient(p, value)
        gap = self.frank_wolfe(p, gradient)
        # initial curvature: c / p (a KL-like drift near pi), at least a scale that lets a
        # linear row (no drift) jump to its best vertex; then, where the gradient changes
        # along a short move toward the best action, the secant estimate of that move
        floor = 1e-12 * self.scale
        curvature = np.maximum(self.coefficient, floor)[:, None] / np.maximum(p, 1e-3)
        tolerance = ROW_TOLERANCE * self.scale
        active = (gap > tolerance) & np.isfinite(gap)
        barrier = np.zeros(len(p), dtype=bool)
        if active.any():
            curvature, barrier = self._probe(p, gradient, curvature)
        # below the rounding of f an increase cannot be seen: there the full step of the
        # curvature model is taken as long as f does not drop beyond rounding (the gradient,
        # not f, then measures the progress; Newton's regime)
        magnitude = 16 * _EPS * row_max(np.abs(self.advantages))
        idle = np.zeros(len(p), dtype=int)
        idle_floor = 0.0 if self.convex else IDLE * self.scale
        for _ in range(ITERATIONS if self.convex else LOCAL_ITERATIONS):
            if not active.any():
                break
            direction, slope = _model_step(p, gradient, curvature, self.feasible)
            if barrier.any():
                # rows whose drift was infinite at a model step: the barrier model, whose
                # curvature grows like 1 / p^2 (a full-support row only)
                inside = p > 0 if self.feasible is None else (p > 0) | ~self.feasible
                eligible = barrier & inside.all(axis=1)
                if eligible.any():
                    feasible = None if self.feasible is None else self.feasible[eligible]
                    direction[eligible], slope[eligible] = _barrier_step(
                        p[eligible], gradient[eligible], curvature[eligible], feasible
                    )
            moved = active & (slope > 0)
            if not moved.any():
                break
            direction = np.where(moved[:, None], direction, 0.0)
            noise = 16 * _EPS * np.abs(value) + magnitude
            flat = SUFFICIENT * slope <= noise
            length = np.ones(len(p))
            pending = moved
            new, new_value = p, value
            for _ in range(BACKTRACKS):  # along [p, q], all pending states at once
                trial = _on_simplex(p + length[:, None] * direction)
                values = self.values(trial)
                good = pending & (
                    (values >= value + SUFFICIENT * length * slope)
                    | (flat & (length == 1.0) & (values >= value - noise))
                )
                new = np.where(good[:, None], trial, new)
                new_value = np.where(good, values, new_value)
                pending = pending & ~good
                if not pending.any():
                    break
                barrier |= pending & (values == -np.inf) & (length == 1.0)
                length = np.where(pending, 0.5 * length, length)
            failed = pending  # no ascent along [p, q]: stalled
            previous, old, old_value, old_gap = gradient, p, value, gap
            gradient = self.gradient(new, new_value)
            gap = self.frank_wolfe(new, gradient)
            broken = moved & ~np.isfinite(gap)
            if broken.any():
                # the step reached a point where the drift's slope is infinite (an entry at 0
                # of a log-like drift): go back, and take the barrier model from there (it
                # keeps every entry > 0)
                new = np.where(broken[:, None], old, new)
                new_value = np.where(broken, old_value, new_value)
                gradient = np.where(broken[:, None], previous, gradient)
                gap = np.where(broken, old_gap, gap)
                failed |= broken & barrier  # the barrier model did not help either: stop
                barrier |= broken
            step = new - old
            # no visible increase for STALLED iterations in a row: as far as f can tell (for a
            # drift not declared convex, whose gap certifies nothing: an increase below
            # IDLE * max(1, max |A|))
            idle = np.where(new_value - value <= np.maximum(noise, idle_floor), idle + 1, 0)
            idle = np.where(broken, 0, idle)
            p, value = new, new_value
            # secant curvature per coordinate, kept within 1e-6..1e6 of the row's mean
            estimate = (previous - gradient) / step
            if barrier.any():
                # the barrier model's weight w = h p^2 from the secant of g against 1/p
                # (exact for a KL-like drift whatever the step): h at p_new = secant p_old/p_new
                estimate = np.where(barrier[:, None], estimate * (p - step) / p, estimate)
            usable = (np.abs(step) > 1e-14) & np.isfinite(estimate) & (estimate > 0)
            curvature = np.where(usable, estimate, curvature)
            typical = np.exp(row_sum(np.log(curvature)) / curvature.shape[1])[:, None]
            curvature = np.minimum(np.maximum(curvature, typical * 1e-6), typical * 1e6)
            curvature = np.maximum(curvature, floor)
            active &= (gap > tolerance) & np.isfinite(gap) & ~failed & (idle < STALLED)
        return p, value, gap


def _on_simplex(rows: np.ndarray) -> np.ndarray:
    """``rows`` with the rounding of a step removed: entries >= 0 and each row summing to 1
    within a few units of rounding (a row whose sum drifted beyond 1e-14 is divided by it).
    The step to q = a point of the simplex keeps every entry >= 0 by construction; only the
    sum of the step, zero in exact arithmetic, can carry rounding of its large terms."""
    rows = np.maximum(rows, 0.0)
    sums = row_sum(rows)
    drifted = np.abs(sums - 1.0) > 1e-14
    if drifted.any():
        rows = np.where(drifted[:, None], rows / sums[:, None], rows)
    return rows


def _barrier_step(
    p: np.ndarray, gradient: np.ndarray, curvature: np.ndarray, feasible: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The step d = q - p to the maximiser q of the barrier model
    <g, q - p> - sum_a w_a (q_a / p_a - 1 - log(q_a / p_a)), w_a = h_a p_a^2 (curvature h at
    p, growing like 1 / q^2 away from it: a KL-like drift's), over each row's simplex, for
    rows with p > 0 on their face; and its slope <g, d> >= 0.

    Stationarity gives q_a = w_a / (mu - m_a) with m_a = g_a - h_a p_a: the forward-KL row's
    form, so mu is found the same way (Newton on the concave 1 / sum_a w_a / (mu - m_a) from
    the left, in offsets x = mu - max m). d_a = p_a (g_a - mu) / (mu - m_a) is formed from
    g - mu directly, so small steps keep their digits."""
    weights = curvature * p * p
    shifts = gradient - curvature * p
    if feasible is not None:
        weights = np.where(feasible, weights, 0.0)
        shifts = np.where(feasible, shifts, -np.inf)
    rows = np.arange(len(p))
    best = np.argmax(shifts, axis=1)
    top = shifts[rows, best]
    distance = top[:, None] - shifts  # >= 0; inf on infeasible actions
    x = weights[rows, best]  # the sum is >= 1 here
    cap = row_sum(weights)  # and <= 1 here
    for _ in range(100):
        inverse = 1.0 / (x[:, None] + distance)
        terms = weights * inverse
        total = row_sum(terms)
        slope = row_sum(terms * inverse)
        step = np.maximum((total - 1.0) / slope * total, 0.0)
        step = np.where(np.isfinite(step), step, 0.0)
        x = np.minimum(x + step, cap)
        if (step <= 4 * _EPS * x).all():
            break
    centred = gradient - top[:, None] - x[:, None]  # g_a - mu
    step = p * centred / (x[:, None] + distance)
    if feasible is not None:
        step = np.where(feasible, step, 0.0)
        centred = np.where(feasible, centred, 0.0)
    return step, row_sum(centred * step)


def _model_step(
    p: np.ndarray, gradient: np.ndarray, curvature: np.ndarray, feasible: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The step d = q - p to the maximiser q of <g, q - p> - (1/2) sum_a h_a (q_a - p_a)^2 over
    each row's simplex (face), and its slope <g, d> >= 0.

    q_a = max(p_a + (g_a - mu) / h_a, 0), with mu fixing sum q = 1. The sum decreases piecewise
    linearly in mu with breakpoints mu_b = g_b + h_b p_b; at the smallest breakpoint whose sum
    is at most 1 the active set is {a : mu_a >= that breakpoint}, and mu solves the linear
    equation on it (all pairs of breakpoints at once: no sort). d and the slope are formed
    from g - mu directly (not as q - p and <g, q - p>), so a step far below the size of p
    keeps its digits: near the optimum the steps are ~1e-13 while p is ~1."""
    if feasible is not None:
        gradient = np.where(feasible, gradient, _OFF)
        curvature = np.where(feasible, curvature, 1.0)
    points = gradient + curvature * p  # mu_b: where q_b reaches 0
    shifted = p[:, None, :] + (gradient[:, None, :] - points[:, :, None]) / curvature[:, None, :]
    sums = np.maximum(shifted, 0.0).sum(axis=2)
    if feasible is not None:
        sums = np.where(feasible, sums, np.inf)
    high = np.min(points, axis=1, where=sums <= 1.0, initial=np.inf)  # the largest is reached
    active = points >= high[:, None]
    if feasible is not None:
        active &= feasible
    inverse = np.where(active, 1.0 / curvature, 0.0)
    dropped = row_sum(np.where(active, 0.0, p))  # mass of the actions that go to 0
    mu = (row_sum(np.where(active, gradient, 0.0) * inverse) - dropped) / row_sum(inverse)
    centred = gradient - mu[:, None]
    step = np.maximum(np.where(active, centred * inverse, -p), -p)
    if feasible is not None:
        step = np.where(feasible, step, 0.0)
        centred = np.where(feasible, centred, 0.0)
    return step, row_sum(centred * step)


def starts(problems: RowProblems) -> list[np.ndarray]:
    """Where the row solver starts: pi, and for a drift not declared convex also a move half
    way toward each state's best action and the centre of its face (unless that is pi)."""
    policy = problems.policy
    if problems.convex:
        return [policy]
    advantages = problems.advantages
    if problems.feasible is not None:
        advantages = np.where(problems.feasible, advantages, -np.inf)
    best = np.zeros(policy.shape)
    best[np.arange(len(policy)), np.argmax(advantages, axis=1)] = 1.0
    mask = np.ones(policy.shape) if problems.feasible is None else problems.feasible * 1.0
    centre = mask / row_sum(mask)[:, None]
    if np.array_equal(centre, policy):
        return [policy, 0.5 * (policy + best)]
    return [policy, 0.5 * (policy + best), centre]


def best_rows(problems: RowProblems, warm: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
    """The best row per state over the starts (and ``warm``, a previous answer, in the states
    where f is at least its value at pi there: a row that (nearly) left pi's support is a bad
    start once a KL ball's term is weighed in); returns (rows, per-state gap bounds) with the
    bounds None for a drift not declared convex."""
    if warm is not None:
        with np.errstate(all="ignore"):
            usable = problems.values(warm) >= problems.values(problems.policy)
        warm = np.where(usable[:, None], warm, problems.policy)
    candidates = starts(problems) if warm is None else [warm, *starts(problems)[1:]]
    best_rows = best_values = best_gaps = None
    for start in candidates:
        rows, values, gaps = problems.solve(start)
        if best_rows is None:
            best_rows, best_values, best_gaps = rows, values, gaps
            continue
        better = values > best_values
        best_rows = np.where(better[:, None], rows, best_rows)
        best_values = np.where(better, values, best_values)
        best_gaps = np.where(better, gaps, best_gaps)
    if not problems.convex:
        return best_rows, None
    if not problems.has_gradient:
        return best_rows, problems.secant_gap(best_rows)
    return best_rows, best_gaps


def lagrangian_rows(problems: RowProblems) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``rows_for(extra)`` for the multiplier searches: each call warm-starts from the last
    answer (the multipliers change little between calls). Gaps are inf when no bound exists
    (a drift not declared convex), so no duality gap is ever claimed for it."""
    memory: dict[str, np.ndarray] = {}

    def rows(extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        problems.extra = np.asarray(extra, dtype=float)
        found, gaps = best_rows(problems, memory.get("last"))
        memory["last"] = found
        if gaps is None:
            gaps = np.full(len(found), np.inf)
        return found, gaps

    return rows


def total_bound(beta: np.ndarray, gaps: np.ndarray | None) -> float | None:
    """sum_s beta[s] gap_s, or None without per-state bounds."""
    return None if gaps is None else dot(np.asarray(beta, dtype=float), gaps)
