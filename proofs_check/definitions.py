"""The definitions of Kuba et al. (2022), section 3, checked on samples.

- Drift functional (Def. 3.1): nonnegativity D_pi(pibar | s) >= 0, D_pi(pi | s) = 0, zero
  one-sided directional derivatives at pibar = pi along every feasible simplex direction
  (below), and continuity in pibar along segments (the framework needs drift_pi(pibar)
  continuous; PPO-KL with an adaptive coefficient breaks it). :func:`check_drift`. A sympy
  *proof* for :class:`~tabular_mirror.drifts.SympyDrift` is in :mod:`proofs_check.symbolic`.
- Neighbourhood operator (Def. 3.2): contains pi, contains a closed ball around pi (the largest
  radius found is reported), compact-valued (closed along the boundaries found), and monotone in
  per-state distances (the property Lemma 3.5's proof uses silently). :func:`check_neighbourhood`.
- Sampling distribution: beta_pi[s] > 0 and continuous in pi. :func:`check_sampling`.
- Drift distribution: drift_pi(pibar) = sum_s nu[s] D_pi(pibar | s) continuous in pibar (the
  spec's condition; nu itself may jump, as trust-region learning's point mass does), and whether
  nu depends on pibar (the proofs of Lemma 3.5 and Theorem 3.6 assume it does not).
  :func:`check_drift_distribution`.

Every check returns three-valued verdicts: a NaN (or an infinite value where a finite one is
needed) makes a claim inconclusive unless something else refutes it, never a pass. All checks
are on samples: a pass means no violation was found among the samples, never a proof. Exact MDPs
with rational pieces are checked in Fractions (nonnegativity, zero at pi, the zero-gradient
quotients); limits in float arithmetic (derivatives, continuity, radii) say so in their
tolerance.

The zero-gradient test (Def. 3.1(2))
------------------------------------
**Directions.** At each state s, for every ordered pair of actions (b, a) with pi[s, b] > 0,
the direction v = e_a - e_b moves mass *from b to a*; pibar = pi + t v stays on the simplex for
0 < t <= pi[s, b]. Where pi[s, a] = 0 (a face) only this sign is feasible: the derivative is
one-sided there (``one_sided`` in the witness). Directions with pi[s, b] = 0 are infeasible and
not evaluated. Pair directions span the tangent cone, and for a drift whose one-sided derivative
is sublinear in v (every convex drift) they suffice.

**Steps.** The natural length scale of e_a - e_b is L = min(pi[s, a], pi[s, b]) in the interior
and L = pi[s, b] on a face: for t >> pi[s, a] a smooth drift already behaves like its boundary
value (forward KL's quotient toward a tiny entry is about 1 for t >> pi[s, a] although its
derivative at pi is 0). Steps halve from L/2: 12 halvings in exact arithmetic; in float up
to 40, stopping once every state's quotients are below their noise (two steps running, after
8 usable ones) or its extrapolation is decided with an uncertainty below 1e-9 of its scale.
Every float step is an exact move: t is adjusted (to a multiple of the ulp of the larger entry,
and so on) until pi[s, a] + t and pi[s, b] - t are both exactly representable, checked by an
error-free TwoSum, so pibar is exactly as much on the simplex as pi is. Where no such t exists
(a target just below a power of two whose parity the source's grid cannot match, as for
0.2/0.8 next to 0.6/0.8) the target is rounded and its residual (< 1 ulp) is moved to the
smallest other positive entry, again exactly (``compensated_steps`` in the witness). A step that
cannot be made exact, or that would repeat the previous one, is dropped.

**Rounding noise.** At every float step, D is also evaluated at three jitter points t - h,
t + h, t + 2h (h = max(2^-26 t, 16 ulps)); the quadratic through three of them extrapolated to
the fourth misses by the rounding noise (the curvature cancels; the cubic term is ~2^-78 D).
Rounding of D falls in two kinds. Rounding relative to D itself (at most 32 eps |D| per miss)
is local. Rounding of terms that cancel in D (eps x |p log p| for a KL) is absolute, and along
a direction with a tiny entry it can be locally smooth in t (logarithms locked to the float
grid), so that it looks like a derivative and no local jitter sees it; it shows only where the
jitter decorrelates it, at large moves of large entries. So the *absolute floor* of a state is
the largest miss in excess of 32 eps |D| over all its directions and steps (steps where
D - D(pi) is within 16 misses of 0 excluded: there a nonlinear drift such as a square root of a
KL amplifies its noise; so are compensated steps), and each quotient
q_k = (D(pi + t_k v) - D(pi)) / t_k carries the bound
nu_k = 2 (floor_k + |D(pi)|) / t_k + eps (8 max_j |q_j| + 4 |q_k|),
floor_k = max(the absolute floor, the misses at steps k - 2 .. k + 2).
Exact (Fraction) quotients carry no noise. The model assumes D is computed in double
precision (a drift rounded to float32 is not seen as noisy).

**Extrapolation.** The one-sided derivative g = lim q(t) is estimated by Richardson
extrapolation (the polynomial through 2 or 3 consecutive (t, q) points, evaluated at t = 0).
Each estimate carries an uncertainty U = (its propagated noise bound) + (its disagreement with
the estimates from the neighbouring steps, which bounds the truncation error of a smooth
quotient and exposes noise the floor missed). The estimate with the smallest U is used:
g*, U*. sigma = max_k |q_k| is the size of the quotients at the natural scale.

**Decision**, per direction:

- *flat*, FAIL: |g*| > 4 U*. The quotients level off at g* != 0: a nonzero one-sided derivative,
  reported with the state, the direction (mass from b to a) and whether it is one-sided at a face.
  All quotients +inf also fails, and so do quotients that grow without bound (over the last 6
  usable steps, each resolved, |q| > 4 nu, and growing like t^-p with 1/4 <= p <= 3/4, as
  sqrt(KL) toward an unused action; noise would grow like 1/t): an infinite derivative, margin
  -inf.
- *decaying*, PASS: |g*| <= U* and U* <= sigma / 8 (the derivative is 0 to within U*, which is
  resolved against the quotients' own size). All quotients exactly 0 passes (U* = 0).
- *undecided*, INCONCLUSIVE (with the reason) otherwise: too few usable steps (an entry below the
  rounding resolution of the other), NaN, or an estimate within a few U* of 0. Where the drift
  provides an analytic ``gradient``, an undecided interior direction PASSES when the gradient's
  directional derivative at pi is 0 to rounding and agrees with g* within 4 U* ("corroborated by
  the gradient"). The gradient never overrides reliably flat quotients (a gradient at a kink
  lies: TotalVariation's gradient at pi is 0), and is not used on faces.

The verdict fails if any direction fails (the largest |g*| is reported; ties broken by state,
then source action, then target action), is inconclusive if any direction is undecided, and
passes otherwise (reporting the direction with the largest |g*| + U*). Its margin is -|g*| and
its tolerance has value U* (the pass allowance) and fail value 4 U*.

Drifts with ``needs_support`` (reverse KL, chi-squared) are not drifts on faces of Pi; at a
policy with zeros they are checked at pi mixed with 1/10 uniform, and every verdict says so.
Other drifts are checked at the policy given: KL-type drifts without ``needs_support`` (forward
KL, squared Hellinger, the trust-region KL) then fail toward actions pi never takes, as they
should (spec, "where the proofs are loose").

References
----------
Kuba, Schroeder de Witt, Foerster, "Mirror Learning", ICML 2022, Definitions 3.1, 3.2, and the
appendix (per-state monotone metric).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np

import tabular_mirror as tm
from tabular_mirror.algorithm import MirrorAlgorithm, make_context
from tabular_mirror.drift_distributions import DriftDistribution
from tabular_mirror.drifts import Drift
from tabular_mirror.errors import InvalidParameterError
from tabular_mirror.neighbourhoods import Neighbourhood
from tabular_mirror.sampling import Sampling

from ._common import value_scale
from .verdicts import EXACT, Report, Tolerance, Verdict, decide, mdp_witness, number_text
from .witness import call_witness

__all__ = [
    "check_drift",
    "check_neighbourhood",
    "check_sampling",
    "check_drift_distribution",
    "random_policies",
    "difference_quotients",
]

#: Halvings of the step along each direction in float arithmetic (from L/2 down to L/2^40).
FLOAT_STEPS = 40

#: Halvings in exact (Fraction) arithmetic, where no rounding limits the steps.
EXACT_STEPS = 12

#: Relative spacing of the jitter points that measure rounding noise at each step.
JITTER = 2.0**-26

#: Smallest jitter spacing, in ulps of the larger of the two entries moved.
JITTER_ULPS = 16

#: A direction fails when its extrapolated derivative exceeds this many uncertainties.
FLAT = 4

#: A direction stops early once every state's uncertainty is below this fraction of its scale.
SETTLED = 1e-9

#: Consecutive resolved steps over which growing quotients mean an infinite derivative.
DIVERGING = 6

#: A direction passes only when its uncertainty is at most this fraction of its quotients' size.
RESOLVED = Fraction(1, 8)

#: Jitter misses up to this many eps x |D| count as rounding relative to D (not absolute).
RELATIVE_NOISE = 32

#: Bisection halvings when locating a jump or a boundary.
HALVINGS = 40

#: Rounding allowance of a jump, in eps x the size of the values compared.
JUMP_ROUNDING = 64

#: Cells of the first grid along a segment in the continuity checks.
GRID = 64

#: Steps of :func:`difference_quotients` (largest first).
QUOTIENT_STEPS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)

_EPS = float(np.finfo(float).eps)

#: How a self-validating sampling piece refuses a zero: "sampling ...[2] = 0, expected > 0".
_REFUSED_ZERO = re.compile(r"\[(\d+)\] = ([-+0-9./e]+), expected > 0")
_ZERO_GRADIENT = "definition_3_1_zero_gradient"


# ---------------------------------------------------------------------------- sampling
def random_policies(mdp: tm.FiniteMDP, count: int, seed: int = 0, interior: bool = False) -> list:
    """``count`` random policies: Dirichlet rows (float) or small-denominator Fractions (exact),
    with deterministic ones mixed in unless ``interior``."""
    rng = np.random.default_rng(seed)
    num_states, num_actions = mdp.num_states, mdp.num_actions
    if mdp.has_infeasible_actions:  # policies stay on each state's feasible face
        return _random_face_policies(mdp, count, rng, interior)
    out = []
    for k in range(count):
        if mdp.is_exact:
            weights = rng.integers(
                0 if (k % 3 and not interior) else 1, 5, (num_states, num_actions)
            )
            weights[:, 0] += weights.sum(axis=1) == 0
            policy = np.array(
                [[Fraction(int(w), int(row.sum())) for w in row] for row in weights], dtype=object
            )
        elif k % 4 == 3 and not interior:
            policy = np.eye(num_actions)[rng.integers(num_actions, size=num_states)]
        else:
            policy = rng.dirichlet(np.full(num_actions, 0.7), size=num_states)
            if interior:
                policy = 0.9 * policy + 0.1 / num_actions
        out.append(policy)
    return out


def _random_face_policies(
    mdp: tm.FiniteMDP, count: int, rng: np.random.Generator, interior: bool
) -> list:
    """:func:`random_policies` for an MDP with infeasible actions: the same mixture (random,
    deterministic, interior) over each state's feasible actions."""
    mask = mdp.action_mask
    out = []
    for k in range(count):
        if mdp.is_exact:
            low = 0 if (k % 3 and not interior) else 1
            weights = np.where(mask, rng.integers(low, 5, mask.shape), 0)
            empty = weights.sum(axis=1) == 0
            weights[empty, np.argmax(mask[empty], axis=1)] = 1
            policy = np.array(
                [[Fraction(int(w), int(row.sum())) for w in row] for row in weights], dtype=object
            )
        elif k % 4 == 3 and not interior:
            scores = np.where(mask, rng.random(mask.shape), -1.0)
            policy = np.eye(mdp.num_actions)[np.argmax(scores, axis=1)]
        else:
            draws = np.where(mask, rng.gamma(0.7, size=mask.shape), 0.0) + 1e-300 * mask
            policy = draws / draws.sum(axis=1, keepdims=True)
            if interior:
                policy = 0.9 * policy + 0.1 * np.asarray(tm.uniform_policy(mdp), dtype=float)
        out.append(policy)
    return out


def _mix(policy: np.ndarray, candidate: np.ndarray, t: Any) -> np.ndarray:
    return policy + (candidate - policy) * t


def _context(mdp: tm.FiniteMDP, policy: Any, drift: Drift | None = None) -> Any:
    algorithm = MirrorAlgorithm.with_defaults(drift=drift)
    return make_context(mdp, algorithm, tm.check_policy(mdp, policy))


def _interior(mdp: tm.FiniteMDP, policy: np.ndarray) -> np.ndarray:
    """policy mixed with uniform (1/10 of it), keeping the arithmetic mode."""
    uniform = tm.uniform_policy(mdp)
    weight = Fraction(1, 10) if mdp.is_exact else 0.1
    return policy * (1 - weight) + uniform * weight


def _is_exact_array(values: Any) -> bool:
    array = np.asarray(values, dtype=object)
    return array.size > 0 and all(isinstance(v, Fraction | int) for v in array.reshape(-1))


def _floats(values: Any) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(values, dtype=float)


# ---------------------------------------------------------------------------- quotients
def difference_quotients(
    drift: Drift, context: Any, direction: np.ndarray, steps: tuple = QUOTIENT_STEPS
) -> np.ndarray:
    """(D_pi(pi + t v | s) - D_pi(pi | s)) / t for each t in ``steps``, shape (len(steps), S).

    Only feasible points are evaluated: where pi[s] + t v[s] leaves the simplex (an entry below 0
    or above 1) the row is left at pi[s] and the quotient is NaN. The moves are not made exact
    (see :func:`check_drift` for the exact, noise-aware test).
    """
    policy = np.asarray(context.policy, dtype=float)
    direction = np.asarray(direction, dtype=float)
    base = _floats(drift.value(context, policy))
    rows = []
    for t in steps:
        moved = policy + t * direction
        feasible = (moved >= 0).all(axis=1) & (moved <= 1).all(axis=1)
        moved[~feasible] = policy[~feasible]
        values = _floats(drift.value(context, moved))
        with np.errstate(all="ignore"):
            rows.append(np.where(feasible, (values - base) / t, np.nan))
    return np.array(rows)


def _two_sum_error(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The rounding error of x + y (Knuth's TwoSum): 0 exactly when x + y is a float."""
    total = x + y
    back = total - x
    return (x - (total - back)) + (y - back)


def _exact_moves(target: np.ndarray, source: np.ndarray, requested: np.ndarray) -> np.ndarray:
    """Steps t close to ``requested`` such that target + t and source - t are exact floats.

    t is rounded to the grids of both entries in turn (a multiple of the ulp of the larger
    entry, fixing the parity when the target crosses a binade) until both sums are exact, which
    an error-free TwoSum confirms. NaN where no positive exact step <= source was found.
    """
    steps = np.asarray(requested, dtype=float)
    with np.errstate(all="ignore"):
        for _ in range(3):
            steps = (target + steps) - target
            steps = source - (source - steps)
        exact = (
            (steps > 0)
            & (steps <= source)
            & (_two_sum_error(target, steps) == 0)
            & (_two_sum_error(source, -steps) == 0)
        )
    return np.where(exact, steps, np.nan)


def _moved(policy: np.ndarray, target: int, source: int, steps: np.ndarray) -> np.ndarray:
    """pi + t (e_target - e_source) row by row; rows with a NaN step are left at pi."""
    candidate = policy.copy()
    usable = ~np.isnan(steps)
    candidate[usable, target] = policy[usable, target] + steps[usable]
    candidate[usable, source] = policy[usable, source] - steps[usable]
    return candidate


def _partners(policy: np.ndarray, target: int, source: int) -> np.ndarray:
    """Per state, the smallest positive entry other than target and source (finest float
    grid), or -1: where it takes a compensation (see :func:`_exact_candidates`)."""
    others = np.array(policy, dtype=float)
    others[:, [target, source]] = np.inf
    others[others <= 0] = np.inf
    partner = np.argmin(others, axis=1)
    return np.where(np.isfinite(others[np.arange(len(partner)), partner]), partner, -1)


def _exact_candidates(
    policy: np.ndarray, target: int, source: int, partner: np.ndarray, requested: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps t, candidates pibar, compensated rows): pibar exactly on the simplex.

    Where an exact two-entry move exists (:func:`_exact_moves`) pibar = pi + t (e_a - e_b).
    Where none does (a target just below a power of two whose parity the source's grid cannot
    match: every move of mass between 0.2499999999996875 and 0.7500000000003125 rounds one of
    them) the target is rounded and its residual r (< 1 ulp) goes to the ``partner`` entry:
    pibar = pi + t (e_a - e_b) + r (e_partner - e_a), still exactly on the simplex, its direction
    off e_a - e_b by r / t. Rows with no exact candidate get a NaN step.
    """
    to, fro = policy[:, target], policy[:, source]
    steps = _exact_moves(to, fro, requested)
    candidate = _moved(policy, target, source, steps)
    rows = np.arange(policy.shape[0])
    compensated = np.zeros(policy.shape[0], dtype=bool)
    with np.errstate(all="ignore"):
        need = np.isnan(steps) & (requested > 0) & (requested <= fro / 2) & (partner >= 0)
        if need.any():
            moved = fro - (fro - requested)  # exact (Sterbenz): fro - moved is a float
            rounded = to + moved
            residual = _two_sum_error(to, moved)  # to + moved = rounded + residual exactly
            other = policy[rows, partner]
            ok = (
                need
                & (moved > 0)
                & (_two_sum_error(fro, -moved) == 0)
                & (_two_sum_error(other, residual) == 0)
                & (other + residual >= 0)
            )
            steps = np.where(ok, moved, steps)
            candidate[ok, target] = rounded[ok]
            candidate[ok, source] = (fro - moved)[ok]
            candidate[rows[ok], partner[ok]] = (other + residual)[ok]
            compensated = ok
    return steps, candidate, compensated


@dataclass(frozen=True)
class _Evidence:
    """The one-sided quotients along e_target - e_source at every state, arrays (K, S)."""

    target: int
    source: int
    steps: np.ndarray
    quotients: np.ndarray
    usable: np.ndarray
    infinite: np.ndarray  # (S,) every step gave +inf
    undefined: np.ndarray  # (S,) a NaN (or -inf) value was met
    exact: bool
    values: np.ndarray | None = None  # D(pi + t v) at each step (float)
    miss: np.ndarray | None = None  # the jitter fit's miss at each step (float)
    base: np.ndarray | None = None  # D(pi) (float)
    noise: np.ndarray | None = None  # bound on each quotient's rounding error
    floor: np.ndarray | None = None  # the absolute noise floor used at each step
    compensated: np.ndarray | None = None  # (K, S) steps that needed a third entry


def _fit_miss(values: list[np.ndarray], points: list[np.ndarray]) -> np.ndarray:
    """|D(x0) - P(x0)| for the quadratic P through the other three points (x, D(x)): rounding
    noise (the curvature cancels; what is left of D is its third derivative x (x0 - x1)^3)."""
    (x0, x1, x2, x3), (f0, f1, f2, f3) = points, values
    weights = (
        (x0 - x2) * (x0 - x3) / ((x1 - x2) * (x1 - x3)),
        (x0 - x1) * (x0 - x3) / ((x2 - x1) * (x2 - x3)),
        (x0 - x1) * (x0 - x2) / ((x3 - x1) * (x3 - x2)),
    )
    return np.abs(f0 - weights[0] * f1 - weights[1] * f2 - weights[2] * f3)


def _window_max(array: np.ndarray, width: int = 2) -> np.ndarray:
    """max over rows k - width .. k + width (NaN ignored; NaN where all are NaN)."""
    out = array.copy()
    for shift in range(1, width + 1):
        out[shift:] = np.fmax(out[shift:], array[:-shift])
        out[:-shift] = np.fmax(out[:-shift], array[shift:])
    return out


def _float_evidence(drift: Drift, context: Any, policy: np.ndarray, target: int, source: int):
    """Exact float moves t_k = L/2, L/4, ..., D there and the jitter misses (module docstring).

    The noise bounds are added by :func:`_with_noise` once every direction at the state has
    been measured (the absolute noise floor is shared by the directions of a state).
    """
    to, fro = policy[:, target], policy[:, source]
    num_states = policy.shape[0]
    feasible = (fro > 0) & context.mdp.action_mask[:, target]  # stay on the feasible face
    scale = np.where(to > 0, np.minimum(to, fro), fro)
    ulp = np.spacing(np.maximum(to, fro))

    partner = _partners(policy, target, source)

    def value(candidate: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return _floats(drift.value(context, candidate))

    def move(requested: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _exact_candidates(policy, target, source, partner, requested)

    base = value(policy)
    steps_rows, value_rows, miss_rows = [], [], []
    previous = np.full(num_states, np.inf)
    quiet_before = np.zeros(num_states, dtype=bool)
    counted = np.zeros(num_states, dtype=int)
    compensated_rows = []
    with np.errstate(all="ignore"):
        for k in range(FLOAT_STEPS):
            steps, candidate, fixed = move(np.where(feasible, scale * 2.0 ** -(k + 1), np.nan))
            repeated = ~(steps < previous)  # a repeated step adds nothing
            steps = np.where(repeated, np.nan, steps)
            candidate[repeated] = policy[repeated]
            compensated = fixed & ~repeated
            previous = np.where(np.isnan(steps), previous, steps)
            spacing = np.maximum(steps * JITTER, JITTER_ULPS * ulp)
            first = np.where(steps - spacing > 0, steps - spacing, steps + 3 * spacing)
            jitter = [move(x) for x in (first, steps + spacing, steps + 2 * spacing)]
            compensated_rows.append(compensated | np.any([j[2] for j in jitter], axis=0))
            at_step = value(candidate)
            miss = _fit_miss(
                [value(jitter[0][1]), at_step, value(jitter[1][1]), value(jitter[2][1])],
                [jitter[0][0], steps, jitter[1][0], jitter[2][0]],
            )
            steps_rows.append(steps)
            value_rows.append(at_step)
            miss_rows.append(np.where(np.isfinite(miss), miss, np.nan))
            quotients = (at_step - base) / steps
            usable = ~np.isnan(steps) & np.isfinite(quotients)
            counted += usable
            local = np.fmax(miss_rows[-1], miss_rows[-2] if k else np.nan)
            quiet = ~usable | ((local + 2 * np.abs(base)) / steps >= np.abs(quotients))
            if np.all(~feasible | ((counted >= 8) & quiet & quiet_before)):
                break  # noise dominates every quotient: smaller steps add nothing
            quiet_before = quiet
            if k >= 7 and k % 2 and _settled(steps_rows, value_rows, miss_rows, base, feasible):
                break  # every state decided with a wide margin: smaller steps add nothing
        steps = np.array(steps_rows)
        values = np.array(value_rows)
        quotients = (values - base) / steps
    stepped = ~np.isnan(steps)
    usable = stepped & np.isfinite(quotients)
    infinite = feasible & stepped.any(axis=0) & np.all(~stepped | (quotients == np.inf), axis=0)
    undefined = feasible & (
        ~np.isfinite(base) | np.any(stepped & (np.isnan(values) | (values == -np.inf)), axis=0)
    )
    return _Evidence(
        target, source, np.where(usable, steps, np.nan), np.where(usable, quotients, np.nan),
        usable, infinite, undefined, False, values, np.array(miss_rows), base,
        compensated=np.array(compensated_rows),
    )  # fmt: skip


def _settled(steps_rows, value_rows, miss_rows, base, feasible) -> bool:
    """Has every feasible state an extrapolation so far whose uncertainty (on the local noise
    bounds) is below SETTLED x max(|estimate|, quotient size)? Then it is decided either way with
    a wide margin (the state's absolute floor, added later, cannot change that at these steps)."""
    steps = np.array(steps_rows)
    with np.errstate(all="ignore"):
        quotients = (np.array(value_rows) - base) / steps
        usable = ~np.isnan(steps) & np.isfinite(quotients)
        local = _window_max(np.array(miss_rows))
        noise = (local + 2 * np.abs(base)) / steps + _EPS * 4 * np.abs(quotients)
    usable &= np.isfinite(noise)
    partial = _Evidence(
        0, 0, np.where(usable, steps, np.nan), np.where(usable, quotients, np.nan), usable,
        np.zeros_like(feasible), np.zeros_like(feasible), False, noise=np.where(usable, noise, 0),
    )  # fmt: skip
    estimates, uncertainties, sigma = _extrapolations(partial)
    best = np.argmin(uncertainties, axis=0)
    columns = np.arange(len(best))
    estimate, uncertainty = estimates[best, columns], uncertainties[best, columns]
    with np.errstate(all="ignore"):
        settled = uncertainty <= SETTLED * np.maximum(np.abs(estimate), sigma)
    return bool(np.all(~feasible | settled))


def _absolute_floor(evidence: _Evidence) -> np.ndarray:
    """Per state, the largest jitter miss not explained by rounding relative to D itself:
    rounding of terms that cancel in D (eps x |p log p| for a KL). It is measured where the
    jitter decorrelates the rounding errors (large moves of large entries) and applies to every
    direction at the state, including those along which the errors are locally smooth in t.
    Steps where D - D(pi) is within 16 misses of 0 do not count: there the value is noise, and
    a nonlinear drift (a square root of a KL) amplifies it far beyond its noise elsewhere; nor
    do compensated steps, whose misses include the jitter of their own direction."""
    with np.errstate(all="ignore"):
        excess = evidence.miss - RELATIVE_NOISE * _EPS * np.abs(evidence.values)
        resolved = 16 * evidence.miss <= np.abs(evidence.values - evidence.base)
        plain = ~evidence.compensated  # a compensated move jitters the direction itself
        excess = np.where(evidence.usable & resolved & plain & np.isfinite(excess), excess, 0.0)
    return np.max(np.maximum(excess, 0.0), axis=0, initial=0.0)


def _with_noise(evidence: _Evidence, absolute: np.ndarray) -> _Evidence:
    """The noise bound of each quotient: nu_k = 2 (floor_k + |D(pi)|) / t_k
    + eps (8 max_j |q_j| + 4 |q_k|), floor_k = max(absolute floor of the state, the local
    jitter misses at steps k - 2 .. k + 2)."""
    local = _window_max(evidence.miss)
    floor = np.fmax(local, absolute)
    quotients = evidence.quotients
    with np.errstate(all="ignore"):
        sigma = np.nanmax(np.where(evidence.usable, np.abs(quotients), np.nan), axis=0,
                          initial=0.0)  # fmt: skip
        noise = (floor + 2 * np.abs(evidence.base)) / evidence.steps + _EPS * (
            8 * sigma + 4 * np.abs(quotients)
        )
    usable = evidence.usable & np.isfinite(noise)
    return replace(
        evidence,
        noise=np.where(usable, noise, np.nan),
        floor=np.where(usable, floor, np.nan),
        usable=usable,
        steps=np.where(usable, evidence.steps, np.nan),
        quotients=np.where(usable, quotients, np.nan),
    )


def _exact_evidence(drift: Drift, context: Any, policy: np.ndarray, target: int, source: int):
    """Quotients in Fractions at t = L/2, L/4, ... (no rounding, so no noise); None if the
    drift does not return Fractions (its ``rational`` flag overstates it)."""
    num_states = policy.shape[0]
    to, fro = policy[:, target], policy[:, source]
    feasible = np.array([b > 0 for b in fro], dtype=bool) & context.mdp.action_mask[:, target]
    scale = [
        (min(a, b) if a > 0 else b) if f else Fraction(1)
        for a, b, f in zip(to, fro, feasible, strict=True)
    ]
    base = drift.value(context, policy)
    if not _is_exact_array(base):
        return None
    steps_rows, quotient_rows = [], []
    for k in range(EXACT_STEPS):
        steps = np.array([Fraction(s) / 2 ** (k + 1) for s in scale], dtype=object)
        moved = np.where(feasible, steps, 0)
        candidate = policy.copy()
        candidate[:, target] = to + moved
        candidate[:, source] = fro - moved
        values = drift.value(context, candidate)
        if not _is_exact_array(values):
            return None
        steps_rows.append(steps)
        quotients = [(v - b) / t for v, b, t in zip(values, base, steps, strict=True)]
        quotient_rows.append(np.array(quotients, dtype=object))
    steps = np.array(steps_rows, dtype=object)
    quotients = np.array(quotient_rows, dtype=object)
    usable = np.tile(feasible, (EXACT_STEPS, 1))
    zero = np.full(steps.shape, Fraction(0), dtype=object)
    nothing = np.zeros(num_states, dtype=bool)
    return _Evidence(
        target, source, steps, quotients, usable, nothing, nothing, True, noise=zero, floor=zero
    )


def _extrapolations(evidence: _Evidence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Richardson estimates of lim q(t) with their uncertainties, and the quotient scale.

    Returns (estimates, uncertainties, sigma): (M, S) arrays over every (order, first step)
    pair, order 1 and 2 (the line or the parabola through consecutive (t, q) points, evaluated
    at t = 0). uncertainty = propagated noise bound + the larger disagreement with the estimates
    of the same order from the previous and the next step (+inf when one is missing).
    """
    steps, quotients, noise, usable = (
        evidence.steps, evidence.quotients, evidence.noise, evidence.usable
    )  # fmt: skip
    count, num_states = steps.shape
    exact = evidence.exact
    placeholder = (
        np.array([[Fraction(1, 2 ** (k + 1))] * num_states for k in range(count)], dtype=object)
        if exact
        else 2.0 ** -np.arange(1.0, count + 1)[:, None] * np.ones((1, num_states))
    )
    t = np.where(usable, steps, placeholder)
    q = np.where(usable, quotients, 0)
    nu = np.where(usable, noise, 0)
    inf = np.full((1, num_states), math.inf, dtype=object if exact else float)
    estimates, uncertainties = [], []
    for order in (1, 2):
        length = count - order
        if length < 3:
            continue
        ok = np.ones((length, num_states), dtype=bool)
        value: Any = 0
        bound: Any = 0
        for j in range(order + 1):
            ok &= usable[j : j + length]
            weight: Any = 1
            for i in range(order + 1):
                if i != j:
                    weight = weight * t[i : i + length] / (t[i : i + length] - t[j : j + length])
            value = value + weight * q[j : j + length]
            bound = bound + abs(weight) * nu[j : j + length]
        value = np.where(ok, value, 0)
        gap = abs(np.diff(value, axis=0))
        gap_ok = ok[1:] & ok[:-1]
        gap = np.where(gap_ok, gap, math.inf)
        spread = np.maximum(np.vstack([inf, gap]), np.vstack([gap, inf]))
        if not exact:
            spread = spread.astype(float)
        uncertainty = np.where(ok, bound + spread, math.inf)
        estimates.append(value)
        uncertainties.append(uncertainty)
    if not estimates:
        empty = np.full((1, num_states), math.inf)
        return np.zeros((1, num_states)), empty, np.zeros(num_states)
    estimates_all = np.vstack(estimates)
    uncertainties_all = np.vstack(uncertainties)
    if exact:
        sizes = [
            max(
                (abs(v) for v, u in zip(quotients[:, s], usable[:, s], strict=True) if u), default=0
            )
            for s in range(num_states)
        ]
        sigma = np.array(sizes, dtype=object)
    else:
        with np.errstate(all="ignore"):
            sigma = np.nanmax(np.where(usable, np.abs(quotients), np.nan), axis=0, initial=0.0)
    return estimates_all, uncertainties_all, sigma


@dataclass(frozen=True)
class _Direction:
    """The decision along mass from ``source`` to ``target`` at ``state``."""

    state: int
    source: int
    target: int
    one_sided: bool
    outcome: str
    derivative: Any
    uncertainty: Any
    sigma: Any
    reason: str
    evidence: _Evidence
    corroborated: bool = False

    @property
    def label(self) -> str:
        return f"mass from action {self.source} to {self.target} at state {self.state}"

    def series(self) -> dict[str, Any]:
        """The steps, quotients and noise bounds used (JSON-ready)."""
        column = self.state
        rows = [k for k in range(self.evidence.steps.shape[0]) if self.evidence.usable[k, column]]

        def text(value: Any) -> Any:
            return str(value) if isinstance(value, Fraction) else float(value)

        return {
            "steps": [text(self.evidence.steps[k, column]) for k in rows],
            "quotients": [text(self.evidence.quotients[k, column]) for k in rows],
            "noise": [text(self.evidence.noise[k, column]) for k in rows],
            "noise_floor": text(max((self.evidence.floor[k, column] for k in rows), default=0)),
            "compensated_steps": 0
            if self.evidence.compensated is None
            else int(np.sum(self.evidence.compensated[rows, column])),
        }


def _diverging(evidence: _Evidence, state: int) -> bool:
    """The quotients grow without bound: the last DIVERGING usable steps are all resolved
    (|q| > FLAT nu), of one sign, and |q| grows like t^-p with 1/4 <= p <= 3/4 at each (a
    one-sided derivative of +-infinity, as sqrt(KL) has toward an unused action: p = 1/2).
    A drift with zero derivative has |q| -> 0 where the quotients are resolved; rounding noise
    that escaped the noise bound would grow like 1/t (p = 1), which is not taken as divergence."""
    if evidence.exact:
        return False
    rows = np.flatnonzero(evidence.usable[:, state])[-DIVERGING:]
    if len(rows) < DIVERGING:
        return False
    q = np.abs(evidence.quotients[rows, state])
    t = evidence.steps[rows, state]
    resolved = np.all(q > FLAT * evidence.noise[rows, state])
    with np.errstate(all="ignore"):
        growth = np.log(q[1:] / q[:-1]) / np.log(t[:-1] / t[1:])
    same_sign = np.all(
        np.sign(evidence.quotients[rows, state]) == np.sign(evidence.quotients[rows[-1], state])
    )
    return bool(resolved and same_sign and np.all((growth >= 0.25) & (growth <= 0.75)))


def _classify(
    evidence: _Evidence, policy: np.ndarray, gradient: np.ndarray | None
) -> list[_Direction]:
    """The decision rule of the module docstring, for every state where the move is feasible."""
    estimates, uncertainties, sigma = _extrapolations(evidence)
    target, source = evidence.target, evidence.source
    out = []
    for s in range(policy.shape[0]):
        if not policy[s, source] > 0:
            continue
        one_sided = not policy[s, target] > 0
        column = list(uncertainties[:, s])
        best = min(range(len(column)), key=lambda k: column[k])
        g, u = estimates[best, s], uncertainties[best, s]
        scale = sigma[s]
        corroborated = False
        if evidence.infinite[s] or _diverging(evidence, s):
            outcome, reason, g, u = "failed", "", math.inf, 0
        elif u == math.inf:
            outcome, g = "inconclusive", math.nan  # no estimate
            if evidence.undefined[s]:
                reason = "the drift is NaN at feasible points along this direction"
            else:
                usable = int(np.sum(evidence.usable[:, s]))
                reason = (
                    f"only {usable} usable steps: pi[{s}, {source}] = "
                    f"{number_text(policy[s, source])} and pi[{s}, {target}] = "
                    f"{number_text(policy[s, target])} leave too few exact moves above the "
                    "rounding noise to extrapolate"
                )
        elif abs(g) > FLAT * u:
            outcome, reason = "failed", ""
        elif abs(g) <= u and u <= RESOLVED * scale:
            outcome, reason = "passed", ""
        else:
            outcome = "inconclusive"
            if abs(g) > u:
                reason = (
                    f"the extrapolated derivative {number_text(g)} is within {FLAT} x its "
                    f"uncertainty {number_text(u)}: neither clearly 0 nor clearly nonzero"
                )
            else:
                reason = (
                    f"the quotients are consistent with 0 but not resolved: uncertainty "
                    f"{number_text(u)} exceeds {RESOLVED} of their size {number_text(scale)}"
                )
            if evidence.undefined[s]:
                reason += "; the drift is NaN at some feasible points"
            if gradient is not None and not one_sided and not evidence.exact:
                directional = gradient[s, target] - gradient[s, source]
                rounding = 16 * _EPS * (abs(gradient[s, target]) + abs(gradient[s, source]))
                if (
                    np.isfinite(directional)
                    and abs(directional) <= rounding
                    and abs(g - directional) <= FLAT * u
                ):
                    outcome, reason, corroborated = "passed", "", True
        out.append(
            _Direction(s, source, target, one_sided, outcome, g, u, scale, reason, evidence,
                       corroborated)
        )  # fmt: skip
    return out


def _perturbed_contexts(context: Any) -> list[Any]:
    """The context with V, Q (and A = Q - V) moved by their certified error plus 4 ulps, along
    a fixed sign pattern and its opposite: what the float evaluation cannot tell apart."""
    evaluation = context.evaluation
    values = np.asarray(evaluation.values, dtype=float)
    q_values = np.asarray(evaluation.q_values, dtype=float)
    error = float(evaluation.error_bound)
    gamma = float(context.mdp.discount)
    delta_v = error + 4 * float(np.spacing(np.max(np.abs(values), initial=1.0)))
    delta_q = gamma * error + 4 * float(np.spacing(np.max(np.abs(q_values), initial=1.0)))
    rng = np.random.default_rng(0)
    signs_v = rng.choice([-1.0, 1.0], size=values.shape)
    signs_q = rng.choice([-1.0, 1.0], size=q_values.shape)
    contexts = []
    for sign in (1.0, -1.0):
        moved_v = values + sign * delta_v * signs_v
        moved_q = q_values + sign * delta_q * signs_q
        moved = replace(
            evaluation, values=moved_v, q_values=moved_q, advantages=moved_q - moved_v[:, None]
        )
        contexts.append(replace(context, evaluation=moved))
    return contexts


def _within_input_error(
    drift: Drift, context: Any, policy: np.ndarray, directions: list[_Direction], absolute: Any
) -> list[_Direction]:
    """A float derivative that fails is re-measured with the evaluation moved within its
    certified error, along a sign pattern and its opposite (:func:`_perturbed_contexts`). A
    drift that reads V, Q or A (the PPO clip drift, a learned drift) inherits their rounding:
    when one of the moves brings the derivative to zero or across it (to at most 1/FLAT of
    its size, with its sign), zero is within what the evaluation's error explains, and the
    direction is undecided, not failed. (A drift that is 0 only because sum_a pi A = 0, or
    because an advantage is exactly 0, otherwise fails on the last bits of the evaluation.)
    A derivative that the moves leave away from zero (a drift weighing |pibar - pi| by
    1 + [A > 0] at A = 0 stays between 2 and 4) keeps its failure, and so does one that
    cannot be re-measured; drifts that ignore the evaluation move by nothing."""
    failing = {
        (d.state, d.source, d.target): d
        for d in directions
        if d.outcome == "failed" and math.isfinite(float(d.derivative))
    }
    if not failing:
        return directions
    moves: dict[tuple[int, int, int], list[float]] = {key: [] for key in failing}
    for moved in _perturbed_contexts(context):
        for target, source in {(d.target, d.source) for d in failing.values()}:
            try:
                with np.errstate(all="ignore"):
                    evidence = _with_noise(
                        _float_evidence(drift, moved, policy, target, source), absolute
                    )
            except (ValueError, TypeError, ArithmeticError):
                continue
            for other in _classify(evidence, policy, None):
                key = (other.state, other.source, other.target)
                if key in failing:
                    moves[key].append(float(other.derivative) - float(failing[key].derivative))
    out = []
    for d in directions:
        derivative = float(d.derivative)
        moved = [derivative + m for m in moves.get((d.state, d.source, d.target), [])]
        closest = min((math.copysign(1.0, derivative) * g for g in moved), default=math.inf)
        if moved and closest <= abs(derivative) / FLAT:  # a move of V, Q, A reaches 0
            reason = (
                f"the derivative {number_text(d.derivative)} is within what the evaluation's "
                "certified error explains: moving V, Q and A within it gives "
                f"{', '.join(number_text(g) for g in moved)}"
            )
            d = replace(d, outcome="inconclusive", reason=reason)
        out.append(d)
    return out


def _pick(directions: list[_Direction]) -> _Direction:
    """The direction to report: a failure with the largest |derivative| (estimates that agree
    within their uncertainties are ties, and go to the first in (state, source, target) order),
    else the first undecided one, else the passing one with the largest |derivative| +
    uncertainty."""
    failed = [d for d in directions if d.outcome == "failed"]
    if failed:
        top = max(failed, key=lambda d: abs(d.derivative))
        tied = [
            d
            for d in failed
            if abs(d.derivative) == abs(top.derivative)
            or abs(d.derivative) + d.uncertainty + top.uncertainty >= abs(top.derivative)
        ]
        return min(tied, key=lambda d: (d.state, d.source, d.target))
    undecided = [d for d in directions if d.outcome == "inconclusive"]
    if undecided:
        return min(undecided, key=lambda d: (d.state, d.source, d.target))
    return max(directions, key=lambda d: float(abs(d.derivative)) + float(d.uncertainty))


def _zero_gradient(
    drift: Drift, mdp: tm.FiniteMDP, policy: Any, witness_of: Any, note: str
) -> Verdict:
    """Def. 3.1(2) at ``policy`` (module docstring): exact quotients for a rational drift on an
    exact MDP at an exact policy, else exact float moves with noise bounds."""
    directions: list[_Direction] = []
    exact = mdp.is_exact and drift.rational and _is_exact_array(policy)
    arithmetic = "exact"
    evidences = []
    if exact:
        context = _context(mdp, policy, drift)
        for target, source in itertools.permutations(range(mdp.num_actions), 2):
            evidence = _exact_evidence(drift, context, policy, target, source)
            if evidence is None:
                evidences = []
                break
            evidences.append(evidence)
    gradient = None
    if not evidences:
        arithmetic = "float"
        float_mdp = mdp.to_float() if mdp.is_exact else mdp
        policy = np.asarray(policy, dtype=float)
        context = _context(float_mdp, policy, drift)
        measured = [
            _float_evidence(drift, context, policy, target, source)
            for target, source in itertools.permutations(range(mdp.num_actions), 2)
        ]
        absolute = np.max([_absolute_floor(e) for e in measured], axis=0)
        evidences = [_with_noise(e, absolute) for e in measured]
        try:
            with np.errstate(all="ignore"):
                raw = drift.gradient(context, policy)
            gradient = None if raw is None else _floats(raw)
        except (ValueError, TypeError, ArithmeticError):
            gradient = None
    for evidence in evidences:
        directions.extend(_classify(evidence, policy, gradient))
    if arithmetic == "float":
        directions = _within_input_error(drift, context, policy, directions, absolute)
    directions.sort(key=lambda d: (d.state, d.source, d.target))
    if not directions:
        return Verdict(
            _ZERO_GRADIENT, "passed", math.inf, None, None, witness_of(_ZERO_GRADIENT),
            EXACT, "no simplex direction (one action): vacuous" + note,
        )  # fmt: skip
    chosen = _pick(directions)
    counts = {
        o: sum(d.outcome == o for d in directions) for o in ("passed", "failed", "inconclusive")
    }
    outcome = (
        "failed" if counts["failed"] else "inconclusive" if counts["inconclusive"] else "passed"
    )
    g, u = chosen.derivative, chosen.uncertainty
    face = (
        f" (pi[{chosen.state}, {chosen.target}] = 0: one-sided at a face)"
        if chosen.one_sided
        else ""
    )
    total = len(directions)
    if outcome == "failed":
        if g == math.inf:
            what = "is infinite (D = +inf at every step, or the quotients grow without bound)"
        elif u == 0:
            what = f"is {number_text(g)}, not 0"
        else:
            what = f"is {number_text(g)} +- {number_text(u)}, not 0"
        detail = (
            f"the one-sided derivative along {chosen.label}{face} {what}: the difference "
            f"quotients level off instead of decaying (Def. 3.1(2) fails along "
            f"{counts['failed']} of {total} feasible directions)"
        )
    elif outcome == "inconclusive":
        detail = (
            f"Def. 3.1(2) undecided along {counts['inconclusive']} of {total} feasible "
            f"directions (none failed), first {chosen.label}{face}"
        )
    else:
        via = (
            f" ({sum(d.corroborated for d in directions)} decided with the analytic gradient)"
            if any(d.corroborated for d in directions)
            else ""
        )
        detail = (
            f"the one-sided difference quotients decay to 0 along all {total} feasible "
            f"directions (Def. 3.1(2)){via}; largest extrapolated derivative "
            f"{number_text(g)} +- {number_text(u)} ({chosen.label})"
        )
    detail += f" [{arithmetic} quotients]" + note
    margin = 0 - abs(g) if g == g else math.nan
    if arithmetic == "float":
        margin = float(margin)
    exact_decision = arithmetic == "exact" and u == 0
    tolerance = (
        EXACT
        if exact_decision
        else Tolerance(
            float(u),
            "uncertainty of the extrapolated one-sided derivative (propagated rounding noise + "
            "disagreement of neighbouring Richardson estimates); a derivative within it passes "
            f"when resolved (<= {RESOLVED} of the quotients' size), one beyond {FLAT} x fails",
            FLAT * float(u),
        )
    )
    witness = witness_of(
        _ZERO_GRADIENT,
        state=chosen.state,
        from_action=chosen.source,
        to_action=chosen.target,
        one_sided=chosen.one_sided,
        derivative=g,
        uncertainty=u,
        quotient_scale=chosen.sigma,
        corroborated_by_gradient=chosen.corroborated,
        arithmetic=arithmetic,
        directions=total,
        failed_directions=counts["failed"],
        undecided_directions=counts["inconclusive"],
        **chosen.series(),
    )
    return Verdict(
        _ZERO_GRADIENT, outcome, margin, chosen.state, None, witness, tolerance, detail,
        reason=chosen.reason if outcome == "inconclusive" else "",
    )  # fmt: skip


# ---------------------------------------------------------------------------- continuity
def _vector(function: Any, point: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.atleast_1d(_floats(function(point)))


def _jump_in_cell(
    function: Any, start: np.ndarray, end: np.ndarray, low: float, high: float, f_low, f_high
) -> tuple[np.ndarray, float, bool]:
    """Bisect [low, high] toward a jump: (the jump per component, its position, whether a
    non-finite value was met).

    At each halving the half whose change deviates more from the change over an adjacent
    interval of the same width (outside the cell: the local slope) is kept, so a jump is
    followed even where the function is steep. The jump is that deviation at the final width
    2^-HALVINGS of the cell, less JUMP_ROUNDING x eps x |f| for the rounding of the values
    compared: about J for a jump J, about f'' width^2 for a continuous function however steep
    (a plain difference would be slope x width).
    """
    undefined = False

    def reference(low: float, high: float, f_low, f_high, width: float) -> np.ndarray:
        if high + width <= 1:
            return _vector(function, _mix(start, end, high + width)) - f_high
        return f_low - _vector(function, _mix(start, end, low - width))

    for _ in range(HALVINGS):
        middle = (low + high) / 2
        width = (high - low) / 2
        f_middle = _vector(function, _mix(start, end, middle))
        slope = reference(low, high, f_low, f_high, width)
        left, right = f_middle - f_low, f_high - f_middle
        with np.errstate(all="ignore"):
            dev_left = np.where(np.isfinite(left - slope), np.abs(left - slope), np.inf)
            dev_right = np.where(np.isfinite(right - slope), np.abs(right - slope), np.inf)
        undefined |= not (np.isfinite(f_middle).all() and np.isfinite(slope).all())
        if np.max(dev_left) >= np.max(dev_right):
            high, f_high = middle, f_middle
        else:
            low, f_low = middle, f_middle
    slope = reference(low, high, f_low, f_high, high - low)
    with np.errstate(all="ignore"):
        jump = np.abs((f_high - f_low) - slope)
        # the four values compared carry rounding relative to their size
        jump = np.maximum(jump - JUMP_ROUNDING * _EPS * np.fmax(np.abs(f_low), np.abs(f_high)), 0)
    undefined |= not np.isfinite(jump).all()
    return jump, (low + high) / 2, undefined


def _largest_jump(function: Any, start: np.ndarray, end: np.ndarray):
    """The largest jump of ``function`` (-> array) along start -> end.

    A grid of GRID cells, then bisection (:func:`_jump_in_cell`) in the cell with the largest
    change and in the cell whose change stands out most from its neighbours'. Returns (jump per
    component, position t, whether a non-finite value was met).
    """
    grid = np.linspace(0.0, 1.0, GRID + 1)
    values = np.array([_vector(function, _mix(start, end, t)) for t in grid])
    undefined = not np.isfinite(values).all()
    with np.errstate(all="ignore"):
        changes = np.abs(np.diff(values, axis=0))
    changes = np.where(np.isfinite(changes), changes, np.inf)
    finite = np.where(np.isfinite(changes), changes, 0.0)
    padded = np.vstack([finite[:1], finite, finite[-1:]])
    excess = finite - (padded[:-2] + padded[2:]) / 2
    cells = dict.fromkeys((int(np.argmax(changes.max(axis=1))), int(np.argmax(excess.max(axis=1)))))
    best: tuple[np.ndarray, float] | None = None
    for k in cells:
        change, position, bad = _jump_in_cell(
            function, start, end, grid[k], grid[k + 1], values[k], values[k + 1]
        )
        undefined |= bad
        finite_change = np.where(np.isfinite(change), change, 0.0)
        if best is None or finite_change.max() > np.where(np.isfinite(best[0]), best[0], 0).max():
            best = (change, position)
    assert best is not None
    return best[0], best[1], undefined


def _continuity(
    name: str,
    function: Any,
    mdp: tm.FiniteMDP,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    what: str,
    witness_of: Any = None,
    components: str = "state",
) -> Verdict:
    """A jump larger than 1e-6 x the value scale that survives HALVINGS bisections fails;
    a NaN or infinite value along a segment (and nothing failed) is inconclusive."""
    limit = 1e-6 * value_scale(mdp)
    worst = (0.0, 0.0, 0, None)  # jump, position, segment, component
    undefined_segments = []
    for k, (start, end) in enumerate(pairs):
        change, position, undefined = _largest_jump(function, start, end)
        if undefined:
            undefined_segments.append(k)
        finite = np.where(np.isfinite(change), change, 0.0)
        component = int(np.argmax(finite))
        if finite[component] > worst[0]:
            worst = (float(finite[component]), float(position), k, component)
    jump, position, k, component = worst
    start, end = pairs[k] if pairs else (None, None)
    tolerance = Tolerance(
        limit,
        f"a jump that survives {HALVINGS} bisections (width ~1e-14), measured against the local "
        f"slope and net of {JUMP_ROUNDING} eps x |value| rounding, and exceeds 1e-6 x the value "
        "scale is a discontinuity",
    )
    if jump > limit:
        outcome, reason = "failed", ""
    elif undefined_segments:
        outcome = "inconclusive"
        reason = (
            f"NaN or infinite values along {len(undefined_segments)} of {len(pairs)} segments "
            f"(first: segment {undefined_segments[0]}): jumps there cannot be measured"
        )
    else:
        outcome, reason = "passed", ""
    where = "" if component is None or jump == 0 else f", {components} {component}"
    detail = (
        f"{what} is continuous along {len(pairs)} sampled segments: largest jump "
        f"{number_text(jump)} at t={position:.6g} of segment {k}{where}"
        if outcome != "failed"
        else f"{what} jumps by {number_text(jump)} at t={position:.6g} of segment {k}{where} "
        f"(limit {number_text(limit)}): not continuous"
    )
    facts = {"segment": k, "position": position, "jump": jump, "component": component,
             "start": start, "end": end}  # fmt: skip
    if witness_of is None:
        witness = mdp_witness(mdp, start=start, end=end)
        witness.update(segment=k, position=position, jump=jump, component=component)
    else:
        witness = witness_of(name, **facts)
    state = component if components == "state" and jump > 0 else None
    return Verdict(name, outcome, -jump, state, None, witness, tolerance, detail, reason)


# ---------------------------------------------------------------------------- drifts
def check_drift(
    drift: Drift,
    mdp: tm.FiniteMDP,
    policy: Any = None,
    *,
    samples: int = 16,
    seed: int = 0,
) -> Report:
    """Definition 3.1 for ``drift`` at ``policy`` on ``mdp``, on sampled candidates.

    Parameters
    ----------
    drift : Drift
    mdp : FiniteMDP
        Supplies the shapes and, for drifts that look at A_pi (PPO clip), the advantages.
    policy : (S, A), optional
        pi; default uniform. It is checked as given (on a face too), except that drifts with
        ``needs_support`` get pi mixed with 1/10 uniform if pi has zeros (they are undefined
        off pi's support); the verdicts then say so.
    samples, seed : the number of random candidates pibar and the seed.

    Returns
    -------
    Report
        ``definition_3_1_nonnegative`` (exact for rational drifts on exact MDPs),
        ``definition_3_1_zero_at_policy``, ``definition_3_1_zero_gradient`` (one-sided
        difference quotients along every feasible simplex direction, exact moves, noise-aware
        extrapolation: see the module docstring; margin -|one-sided derivative|, the state and
        direction in the witness), ``drift_continuity`` (jumps along segments pi -> pibar,
        located by bisection). Witnesses replay with :func:`proofs_check.replay`.

    Notes
    -----
    Cost: the zero-gradient test evaluates the drift about 4 x 40 times per direction in float
    arithmetic (fewer when rounding noise takes over early), vectorised over states; A (A - 1)
    directions.

    Examples
    --------
    >>> import tabular_mirror as tm
    >>> from tabular_mirror.drifts import SquaredEuclidean, TotalVariation
    >>> mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [1, 0]], 0.5)
    >>> check_drift(SquaredEuclidean(), mdp).passed, check_drift(TotalVariation(), mdp).passed
    (True, False)
    >>> check_drift(TotalVariation(), mdp)["definition_3_1_zero_gradient"].margin
    -1.0
    """
    given = tm.uniform_policy(mdp) if policy is None else tm.check_policy(mdp, policy)
    policy = given
    note = ""
    if drift.needs_support and np.any(np.asarray(policy <= 0, dtype=bool)):
        policy = _interior(mdp, policy)
        note = (
            f" (checked at pi mixed with 1/10 uniform: {drift!r} needs pi > 0 and the given pi "
            "has zeros)"
        )
    exact = mdp.is_exact and drift.rational
    working = mdp if exact else (mdp.to_float() if mdp.is_exact else mdp)
    working_policy = policy if exact else np.asarray(policy, dtype=float)
    arguments = {"drift": drift, "mdp": mdp, "policy": given, "samples": samples, "seed": seed}

    def witness_of(claim: str, **shown: Any) -> dict[str, Any]:
        if note:
            shown["checked_policy"] = policy
        return call_witness(check_drift, arguments, claim, **shown)

    context = _context(working, working_policy, drift)
    candidates = random_policies(working, samples, seed, interior=drift.needs_support)
    candidates += [_mix(working_policy, c, Fraction(1, 8) if exact else 0.125) for c in candidates]
    tolerance = EXACT if exact else Tolerance(1e-12 * value_scale(mdp), "rounding")
    with np.errstate(all="ignore"):
        values = np.array([drift.value(context, c) for c in candidates], dtype=object)
        at_policy = drift.value(context, working_policy)
    if exact and not (_is_exact_array(values) and _is_exact_array(at_policy)):
        values = _floats(values)  # a drift flagged rational that returned floats
        at_policy = _floats(at_policy)
        tolerance = Tolerance(1e-12 * value_scale(mdp), "rounding (the drift returned floats)")
    nonnegative = decide(
        "definition_3_1_nonnegative",
        values,
        tolerance,
        f"D_pi(pibar|s) >= 0 on {len(candidates)} sampled candidates (Def. 3.1(1))" + note,
    )
    worst = nonnegative.worst_iteration or 0
    nonnegative = replace(
        nonnegative,
        witness=witness_of("definition_3_1_nonnegative", candidate=candidates[worst]),
        worst_iteration=None,
    )
    zero = decide(
        "definition_3_1_zero_at_policy",
        np.array([-abs(v) for v in at_policy], dtype=object),
        tolerance,
        "D_pi(pi|s) = 0 (Def. 3.1(1))" + note,
        witness_of("definition_3_1_zero_at_policy"),
    )
    # segments to mixtures 0.1 pi + 0.9 pibar: finite for every drift (KL is infinite where
    # pibar drops an action pi uses)
    start = np.asarray(working_policy, float)
    pairs = [(start, 0.1 * start + 0.9 * np.asarray(c, float)) for c in candidates[:6]]
    float_mdp = working.to_float() if working.is_exact else working
    float_context = _context(float_mdp, np.asarray(working_policy, float), drift)
    continuity = _continuity(
        "drift_continuity",
        lambda candidate: drift.value(float_context, candidate),
        float_mdp,
        pairs,
        "D_pi(pibar|s) in pibar",
        witness_of,
    )
    continuity = replace(continuity, detail=continuity.detail + note)
    verdicts = (
        nonnegative,
        zero,
        _zero_gradient(drift, mdp if exact else working, working_policy, witness_of, note),
        continuity,
    )
    name = getattr(drift, "name", None)
    shown = f"{name} ({type(drift).__name__})" if isinstance(name, str) else repr(drift)
    return Report(verdicts, f"Definition 3.1: {shown}")


# ---------------------------------------------------------------------------- neighbourhoods
def _tv_distance(policy: np.ndarray, candidate: np.ndarray) -> float:
    """chi(pi, pibar) = max_s TV(pi[s], pibar[s]), a metric monotone in per-state distances."""
    difference = np.abs(np.asarray(candidate, float) - np.asarray(policy, float))
    return float(difference.sum(axis=1).max() / 2)


def _slack(neighbourhood: Neighbourhood, context: Any, candidate: np.ndarray) -> float:
    """The slack as a float (NaN stays NaN: it is never read as 'outside')."""
    with np.errstate(all="ignore"):
        return float(neighbourhood.slack(context, candidate))


def _boundary(
    neighbourhood: Neighbourhood, context: Any, policy: np.ndarray, candidate: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None, float, float, bool]:
    """Along pi -> candidate, the last inside point by bisection on the slack.

    Returns (inside point, outside point or None when the candidate is inside, slack inside,
    slack outside, whether a NaN slack was met). A NaN slack stops the search.
    """
    slack = _slack(neighbourhood, context, candidate)
    if math.isnan(slack):
        return policy, None, math.nan, math.nan, True
    if slack >= 0:
        return candidate, None, slack, math.nan, False
    low, high = 0.0, 1.0
    slack_low, slack_high = _slack(neighbourhood, context, policy), slack
    for _ in range(HALVINGS):
        middle = (low + high) / 2
        value = _slack(neighbourhood, context, _mix(policy, candidate, middle))
        if math.isnan(value):
            return _mix(policy, candidate, low), None, slack_low, math.nan, True
        if value >= 0:
            low, slack_low = middle, value
        else:
            high, slack_high = middle, value
    return _mix(policy, candidate, low), _mix(policy, candidate, high), slack_low, slack_high, False


def check_neighbourhood(
    neighbourhood: Neighbourhood,
    mdp: tm.FiniteMDP,
    policy: Any = None,
    *,
    samples: int = 16,
    seed: int = 0,
) -> Report:
    """Definition 3.2 and per-state monotonicity for ``neighbourhood`` at ``policy``.

    Returns
    -------
    Report
        ``definition_3_2_contains_policy`` (margin: the slack at pi);
        ``definition_3_2_closed_ball`` (margin: the radius r, in chi = max_s TV, of the largest
        ball no sampled point contradicts: the smallest distance of an outside point found by
        bisection toward 2 x samples candidates or among samples points drawn within the
        radius; fails when r <= 1e-9, the bisection's resolution, or pi is outside);
        ``definition_3_2_compact`` (bounded as a subset of Pi; closed along each boundary found
        when the slack is continuous across it, so the boundary point has slack 0; a slack that
        jumps there leaves closedness undecided: samples cannot tell an open boundary from a
        closed one, so this claim is never refuted, only passed or left inconclusive);
        ``lemma_3_5_monotone_neighbourhood`` (margin: the smallest slack after replacing
        pibar[s] by pi[s] at one state of a sampled member; fails below -1e-12; what Lemma
        3.5's proof needs; compared with the declared ``monotone`` flag).
        A NaN slack makes the claims it touches inconclusive, never outside or failed.

    Notes
    -----
    Float arithmetic (bisection), also for exact MDPs. Witnesses replay with
    :func:`proofs_check.replay`.
    """
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    given = tm.uniform_policy(mdp) if policy is None else tm.check_policy(mdp, policy)
    policy = np.asarray(given, dtype=float)
    context = _context(float_mdp, policy)
    # the witness replays the call as given: pi exact for an exact MDP
    arguments = {"neighbourhood": neighbourhood, "mdp": mdp, "policy": given,
                 "samples": samples, "seed": seed}  # fmt: skip

    def witness_of(claim: str, **shown: Any) -> dict[str, Any]:
        return call_witness(check_neighbourhood, arguments, claim, **shown)

    resolution = Tolerance(1e-9, f"bisection resolution (2^-{HALVINGS}) on the radius")
    inside_pi = decide(
        "definition_3_2_contains_policy",
        [_slack(neighbourhood, context, policy)],
        Tolerance(1e-12, "rounding"),
        "pi in N(pi)",
        witness_of("definition_3_2_contains_policy"),
    )
    candidates = random_policies(float_mdp, 2 * samples, seed)
    outside: list[tuple[float, np.ndarray]] = []
    members, boundaries = [], []
    undefined = 0
    for candidate in candidates:
        inside, out, slack_in, slack_out, bad = _boundary(neighbourhood, context, policy, candidate)
        undefined += bad
        members.append(inside)
        if out is not None:
            outside.append((_tv_distance(policy, out), out))
            boundaries.append((slack_in, slack_out, inside, out))
    radius = min((d for d, _ in outside), default=1.0)
    rng = np.random.default_rng(seed + 1)
    for candidate in random_policies(float_mdp, samples, seed + 2):
        distance = _tv_distance(policy, candidate)
        if distance == 0:
            continue
        scale = rng.uniform(0, 1) * radius / distance
        point = _mix(policy, candidate, min(1.0, scale))
        slack = _slack(neighbourhood, context, point)
        if math.isnan(slack):
            undefined += 1
        elif slack < -1e-12:
            outside.append((_tv_distance(policy, point), point))
    radius = min((d for d, _ in outside), default=1.0)
    nearest = min(outside, key=lambda item: item[0])[1] if outside else None
    if inside_pi.failed or radius <= 1e-9:
        ball_outcome, ball_reason = "failed", ""
    elif undefined or inside_pi.inconclusive:
        ball_outcome = "inconclusive"
        ball_reason = f"NaN slack at {undefined} sampled points" if undefined else "pi undecided"
    else:
        ball_outcome, ball_reason = "passed", ""
    ball = Verdict(
        "definition_3_2_closed_ball",
        ball_outcome,
        radius,
        None,
        None,
        witness_of("definition_3_2_closed_ball", nearest_outside=nearest, radius=radius),
        resolution,
        (
            "pi is not in N(pi): no ball around pi is inside"
            if inside_pi.failed
            else f"no point within chi = max_s TV distance r = {radius:.4g} of pi was found "
            f"outside N(pi) ({len(candidates)} bisections, {samples} samples inside the ball; "
            "an upper estimate of the largest ball)"
            + ("" if radius > 1e-9 else ": points arbitrarily close to pi are outside, no ball")
        ),
        ball_reason,
    )
    jumps = [abs(s_in - s_out) for s_in, s_out, _, _ in boundaries]
    continuous = [j <= 1e-6 for j in jumps]
    if undefined:
        compact_outcome = "inconclusive"
        compact_reason = f"NaN slack at {undefined} sampled points"
    elif all(continuous):
        compact_outcome, compact_reason = "passed", ""
    else:
        compact_outcome = "inconclusive"
        compact_reason = (
            f"the slack jumps by up to {number_text(max(jumps))} across {continuous.count(False)} "
            "of the boundaries found: whether the boundary points belong to N(pi) (closed) "
            "cannot be decided from samples"
        )
    worst_jump = int(np.argmax(jumps)) if jumps else None
    compact = Verdict(
        "definition_3_2_compact",
        compact_outcome,
        min((s_in for s_in, _, _, _ in boundaries), default=math.inf),
        None,
        None,
        witness_of(
            "definition_3_2_compact",
            boundary_inside=None if worst_jump is None else boundaries[worst_jump][2],
            boundary_outside=None if worst_jump is None else boundaries[worst_jump][3],
        ),
        Tolerance(1e-6, "largest slack change across a boundary bracketed to 2^-40"),
        f"bounded (a subset of Pi) and closed along the {len(boundaries)} boundaries found: "
        "the slack is continuous across each (inside slack >= 0, outside slack -> 0)",
        compact_reason,
    )
    swaps = []
    for member in members:
        for s in range(float_mdp.num_states):
            swapped = member.copy()
            swapped[s] = policy[s]
            swaps.append((_slack(neighbourhood, context, swapped), s, member))
    declared = bool(getattr(neighbourhood, "monotone", True))
    finite_swaps = [item for item in swaps if not math.isnan(item[0])]
    worst_swap = min(finite_swaps, key=lambda item: item[0], default=None)
    violations = [item for item in finite_swaps if item[0] < -1e-12]
    if violations:
        monotone_outcome, monotone_reason = "failed", ""
    elif len(finite_swaps) < len(swaps):
        monotone_outcome = "inconclusive"
        monotone_reason = f"NaN slack after {len(swaps) - len(finite_swaps)} swaps"
    else:
        monotone_outcome, monotone_reason = "passed", ""
    margin, state, member = worst_swap if worst_swap is not None else (math.nan, None, None)
    detail = (
        f"replacing pibar[s] by pi[s] keeps {len(members)} sampled members of N(pi) inside "
        f"(declared monotone={declared}; Lemma 3.5's proof needs it)"
        if not violations
        else f"{len(violations)} swaps of one row back to pi[s] leave N(pi) (declared "
        f"monotone={declared}), worst at state {state} with slack {number_text(margin)}: "
        "Lemma 3.5's swap argument does not apply"
    )
    monotone = Verdict(
        "lemma_3_5_monotone_neighbourhood",
        monotone_outcome,
        margin,
        state,
        None,
        witness_of("lemma_3_5_monotone_neighbourhood", member=member, swapped_state=state),
        Tolerance(1e-12, "rounding of the slack"),
        detail,
        monotone_reason,
    )
    return Report((inside_pi, ball, compact, monotone), f"Definition 3.2: {neighbourhood!r}")


# ---------------------------------------------------------------------------- sampling and nu
def check_sampling(
    sampling: Sampling, mdp: tm.FiniteMDP, *, samples: int = 8, seed: int = 0
) -> Report:
    """beta_pi[s] > 0 for every s on sampled pi (exactly for exact MDPs), and continuity in pi.

    Returns ``sampling_positive`` (margin: the smallest beta found, at its state; fails when it
    is <= 0, also when the piece itself refuses a zero, as the on-policy visitation does at a
    policy that never reaches a state; inconclusive on NaN or another error of the piece) and
    ``sampling_continuity`` (jumps of beta_pi along segments between sampled policies, located
    by bisection; a refused beta counts as NaN).
    """
    algorithm = MirrorAlgorithm.with_defaults(sampling=sampling)
    policies = random_policies(mdp, samples, seed)
    arguments = {"sampling": sampling, "mdp": mdp, "samples": samples, "seed": seed}

    def witness_of(claim: str, **shown: Any) -> dict[str, Any]:
        return call_witness(check_sampling, arguments, claim, **shown)

    entries: list[tuple[Any, int, int]] = []  # (beta[s], policy index, s)
    refused: list[tuple[int, str]] = []
    for index, policy in enumerate(policies):
        try:
            weights = algorithm.sampling.weights(make_context(mdp, algorithm, policy))
        except InvalidParameterError as error:
            # pieces that validate themselves (on-policy visitation) refuse a zero entry
            found = _REFUSED_ZERO.search(str(error))
            if found:
                entries.append((Fraction(found.group(2)), index, int(found.group(1))))
            else:
                refused.append((index, str(error)))
            continue
        row = np.asarray(weights, dtype=object)
        entries.extend((row[s], index, s) for s in range(row.size))
    exact = _is_exact_array([value for value, _, _ in entries])
    if not exact:
        entries = [(float(value), index, s) for value, index, s in entries]
    finite = [item for item in entries if not math.isnan(item[0])]
    smallest, index, state = min(finite, key=lambda item: item[0], default=(math.nan, 0, None))
    nans = len(entries) - len(finite)
    if finite and smallest <= 0:
        outcome, reason = "failed", ""
    elif nans or refused:
        outcome = "inconclusive"
        reason = "; ".join(
            ([f"beta is NaN at {nans} entries"] if nans else [])
            + [f"the sampling piece raised at sampled policy {k}: {text}" for k, text in refused]
        )
    else:
        outcome, reason = "passed", ""
    positive = Verdict(
        "sampling_positive",
        outcome,
        smallest,
        state,
        None,
        witness_of("sampling_positive", policy=policies[index], state=state),
        EXACT if exact else Tolerance(0.0, "beta read as computed"),
        f"beta_pi[s] > 0 for every s on {len(policies)} sampled policies (smallest "
        f"{number_text(smallest)} at state {state})"
        if outcome != "failed"
        else f"beta_pi[{state}] = {number_text(smallest)} <= 0 at sampled policy {index}: "
        f"state {state} is never sampled there (the sampling distribution must be positive)",
        reason,
    )
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    float_policies = [np.asarray(p, float) for p in policies]
    pairs = list(itertools.pairwise(float_policies))[:4]

    def beta(policy: np.ndarray) -> Any:
        try:
            return sampling.weights(make_context(float_mdp, algorithm, policy))
        except InvalidParameterError:  # a refused (zero) beta: no value to compare
            return np.full(float_mdp.num_states, np.nan)

    continuity = _continuity(
        "sampling_continuity",
        beta,
        float_mdp,
        pairs,
        "beta_pi in pi",
        witness_of,
    )
    return Report((positive, continuity), f"sampling: {sampling!r}")


def check_drift_distribution(
    distribution: DriftDistribution,
    drift: Drift,
    mdp: tm.FiniteMDP,
    policy: Any = None,
    *,
    samples: int = 4,
    seed: int = 0,
) -> Report:
    """nu^{pibar}_pi: the weighted drift continuous in pibar, and whether nu depends on pibar.

    Returns
    -------
    Report
        ``drift_distribution_continuity``: drift_pi(pibar) = sum_s nu[s] D_pi(pibar | s) has no
        jump along segments pi -> pibar (the framework's requirement; nu itself may jump where
        the drifts it switches between agree, as the max-drift state of trust-region learning
        does; its own largest jump is in the witness). ``drift_distribution_independent``:
        fails for nu depending on pibar (declared, or observed: weights that differ between
        candidates beyond 1e-12), outside the assumptions of Lemma 3.5 / Thm 3.6's proofs.
    """
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    policy = tm.uniform_policy(float_mdp) if policy is None else np.asarray(policy, float)
    context = _context(float_mdp, policy, drift)
    candidates = random_policies(float_mdp, samples, seed, interior=True)
    pairs = [(policy, c) for c in candidates]
    arguments = {"distribution": distribution, "drift": drift, "mdp": mdp, "policy": policy,
                 "samples": samples, "seed": seed}  # fmt: skip

    def weights(candidate: np.ndarray) -> np.ndarray:
        values = drift.value(context, candidate)
        return _floats(distribution.weights(context, candidate, values))

    def weighted(candidate: np.ndarray) -> np.ndarray:
        values = _floats(drift.value(context, candidate))
        with np.errstate(all="ignore"):
            return np.array([np.sum(weights(candidate) * values)])

    nu_jump = max((float(np.nanmax(_largest_jump(weights, a, b)[0])) for a, b in pairs[:2]),
                  default=0.0)  # fmt: skip

    def witness_of(claim: str, **shown: Any) -> dict[str, Any]:
        return call_witness(check_drift_distribution, arguments, claim,
                            largest_jump_of_nu=nu_jump, **shown)  # fmt: skip

    continuity = _continuity(
        "drift_distribution_continuity",
        weighted,
        float_mdp,
        pairs,
        "drift_pi(pibar) = sum_s nu[s] D_pi(pibar|s) in pibar",
        witness_of,
        components="output",
    )
    declared = bool(distribution.depends_on_candidate)
    observed = [weights(c) for c in candidates]
    change = max((float(np.nanmax(np.abs(w - observed[0]))) for w in observed), default=0.0)
    if declared:
        detail = "nu depends on pibar (declared): Lemma 3.5 and Thm 3.6's proofs treat it as fixed"
    elif change > 1e-12:
        detail = (
            f"nu changes by {number_text(change)} between sampled candidates although it "
            "declares depends_on_candidate=False: Lemma 3.5 and Thm 3.6's proofs treat it as fixed"
        )
    else:
        detail = "nu does not depend on pibar (as the proofs assume)"
    depends = declared or change > 1e-12
    independent = Verdict(
        "drift_distribution_independent",
        "failed" if depends else "passed",
        -change if change > 1e-12 else (-1 if declared else 0),
        None,
        None,
        witness_of("drift_distribution_independent", observed_change=change),
        EXACT,
        detail,
    )
    return Report((continuity, independent), f"drift distribution: {distribution!r}")
