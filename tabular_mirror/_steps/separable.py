"""Exact per-state maximisers of  <p, A[s]> - c[s] D(pi[s], p)  over the simplex, vectorised.

When nu does not depend on pibar and N(pi) = Pi, the mirror objective separates over states
with per-state coefficient c[s] = factor * nu[s] / beta[s]; the Lagrangian solvers reuse these
row solvers with c[s] augmented by a multiplier. Every solver returns the rows and a per-state
*optimality gap bound* from a dual function (0 for exact closed forms), so each step is
certified. Rows with c[s] = 0 are greedy.

Families and their maximisers (p is the new row, pi the old row, A the advantages):

- ``zero``: any distribution on argmax_a A (the choice rule picks one).
- ``reverse_kl`` (D = KL(p || pi)): p ∝ pi exp(A / c); dual value c log sum_a pi exp(A/c).
- ``forward_kl`` (D = KL(pi || p)): p_a = c pi_a / (mu - A_a) on supp(pi), mu the root of
  sum_a p_a = 1 (vectorised bisection + Newton); leftover mass goes to an action outside the
  support when its advantage exceeds mu. Dual value mu + sum_a (c pi_a log(c pi_a/(mu - A_a))
  - c pi_a).
- ``squared_l2`` (D = ||p - pi||^2): p = Proj_simplex(pi + A / (2c)) (sort-based projection,
  exact on Fractions).
- ``squared_tv`` (D = TV(p, pi)^2): move mass delta from the lowest-advantage actions to the
  best action; delta maximises a concave piecewise-quadratic (exact on Fractions).
- ``ppo_clip``: each action's term is concave piecewise linear with breakpoints at
  (1 ± eps) pi_a; the maximiser fills segments in decreasing order of slope (a greedy that
  solves the per-state LP exactly); ties at the threshold slope form the argmax *set*, from
  which ``choice`` picks ("closest" to pi in L2, "vertex", or "adversarial": lowest advantages
  first). Dual value lambda + sum (slope - lambda)_+ length.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._exact import ZERO
from .._kernels import compiled
from .._rows import row_count, row_max, row_sum

#: Machine epsilon of float64 (np.finfo is a call, about half a microsecond, in a loop).
_EPS = float(np.finfo(float).eps)
_TINY = float(np.finfo(float).tiny)  # the smallest normal double

#: Newton on the forward-KL multiplier stops after a step below this fraction of x: the
#: iteration converges quadratically (e_{k+1} ~ C e_k^2 with C about 0.04 on random rows), so
#: what is left after such a step is below C 1e-18 x, under the rounding of x itself; one
#: confirming iteration fewer than waiting for a step of a few ulps. The duality gap is
#: computed from the final x either way.
NEWTON_STOP = 1e-9

CHOICES = ("closest", "vertex", "adversarial")


def _positive_part(x: np.ndarray) -> np.ndarray:
    if x.dtype != object:
        return np.maximum(x, 0.0)
    return np.where(x > 0, x, x * 0)


#: The smallest positive double. A forward-KL step keeps every action pi uses, but its true
#: probability can lie below the float range (pi_a ~ 1e-317 and a strong pull): representing it
#: by the nearest positive double keeps KL(pi || p) finite (its term is then < 1e-310).
SMALLEST = float(np.nextafter(0.0, 1.0))


def keep_support(candidate: np.ndarray, policy: np.ndarray) -> np.ndarray:
    """Lift underflowed entries on pi's support to the smallest positive double (in place)."""
    lost = (policy > 0) & (candidate <= 0)
    if lost.any():
        candidate[lost] = SMALLEST
    return candidate


def _row_max(x: np.ndarray) -> np.ndarray:
    return row_max(x)


def tie_tolerance(advantages: np.ndarray) -> float:
    """Advantages within this of the row maximum count as tied (0 in exact mode)."""
    if advantages.dtype == object:
        return 0
    return 1e-12 * max(1.0, float(np.abs(advantages).max()))


# ------------------------------------------------------------------------------ greedy
def greedy_rows(policy: np.ndarray, advantages: np.ndarray, choice: str = "closest") -> np.ndarray:
    """A maximiser of <p, A[s]> per state, chosen from the argmax face by ``choice``.

    closest: the L2 projection of pi[s] onto the face of maximisers (= pi[s] when pi already
    lives on it; policy iteration's "keep the current action"); vertex: the smallest maximising
    action; adversarial: the maximising vertex farthest from pi[s] (smallest pi[s, a]).
    """
    tolerance = tie_tolerance(advantages)
    best = _row_max(advantages)[:, None]
    mask = np.asarray(advantages >= (best - tolerance if tolerance else best), dtype=bool)
    exact = advantages.dtype == object
    num_states, num_actions = advantages.shape
    if not exact and mask.sum() == num_states:  # one maximiser per state: every rule agrees
        out = np.zeros((num_states, num_actions))
        out[np.arange(num_states), advantages.argmax(axis=1)] = 1.0
        return out
    if choice == "closest":
        # project pi restricted to the face onto the face's simplex (other entries -> -inf)
        if exact:
            lowest = min(-1, *(v for v in policy.ravel())) - 2
            restricted = np.where(mask, policy, lowest)
        else:
            restricted = np.where(mask, policy, -np.inf)
        projected = project_rows(restricted)
        return np.where(mask, projected, projected * 0)
    if choice == "vertex":
        actions = np.argmax(mask, axis=1)
    else:  # adversarial
        masked = np.where(mask, np.asarray(policy, dtype=float), np.inf)
        actions = np.argmin(masked, axis=1)
    out = (
        np.full((num_states, num_actions), ZERO, dtype=object)
        if exact
        else np.zeros((num_states, num_actions))
    )
    out[np.arange(num_states), actions] = 1
    if exact:
        out[np.arange(num_states), actions] = ZERO + 1
    return out


def project_rows(values: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row onto the probability simplex (Held et al. 1974;
    Duchi et al. 2008), sort-based, exact on Fractions; entries of -inf map to 0."""
    num_states, num_actions = values.shape
    ordered = -np.sort(-values, axis=1)
    if values.dtype != object:
        ordered = np.where(np.isfinite(ordered), ordered, -1e300)
    cumulative = np.cumsum(ordered, axis=1) - 1
    counts = np.arange(1, num_actions + 1)
    condition = np.asarray(ordered - cumulative / counts > 0, dtype=bool)
    last = num_actions - 1 - np.argmax(condition[:, ::-1], axis=1)
    threshold = cumulative[np.arange(num_states), last] / (last + 1)
    if values.dtype == object:
        return _positive_part(values - threshold[:, None])
    with np.errstate(invalid="ignore"):
        shifted = values - threshold[:, None]
    return np.where(np.isfinite(shifted), np.maximum(shifted, 0.0), 0.0)


def _merge_greedy(
    candidate: np.ndarray,
    policy: np.ndarray,
    advantages: np.ndarray,
    coefficient: np.ndarray,
    choice: str,
) -> np.ndarray:
    zero = np.asarray(coefficient == 0, dtype=bool)
    if zero.any():
        greedy = greedy_rows(policy[zero], advantages[zero], choice)
        candidate = candidate.copy()
        candidate[zero] = greedy
    return candidate


# ------------------------------------------------------------------------------ reverse KL
def reverse_kl_rows(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray, choice: str = "closest"
) -> tuple[np.ndarray, np.ndarray]:
    """p ∝ pi exp(A / c) (the PMD / NPG / MDPO closed form); gap from the log-partition."""
    policy = np.asarray(policy, dtype=float)
    advantages = np.asarray(advantages, dtype=float)
    coefficient = np.asarray(coefficient, dtype=float)
    if coefficient.min() > 0 and policy.min() > 0:  # the common case, without masks
        return _reverse_kl_interior(policy, advantages, coefficient)
    safe = np.where(coefficient > 0, coefficient, 1.0)[:, None]
    with np.errstate(divide="ignore"):
        logits = np.log(policy) + advantages / safe
    peak = logits.max(axis=1, keepdims=True)
    weights = np.exp(logits - peak)
    partition = weights.sum(axis=1, keepdims=True)
    candidate = weights / partition
    dual = safe[:, 0] * (np.log(partition[:, 0]) + peak[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(candidate > 0, candidate * (np.log(candidate) - np.log(policy)), 0.0).sum(1)
    primal = row_sum(candidate * advantages) - safe[:, 0] * kl
    gap = np.maximum(dual - primal, 0.0)
    gap = np.where(coefficient > 0, gap, 0.0)
    return _merge_greedy(candidate, policy, advantages, coefficient, choice), gap


def _reverse_kl_interior(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`reverse_kl_rows` for pi > 0 and c > 0: log p is read from the logits (never
    log 0 of an entry that underflowed), so no masking is needed. Small problems take the
    compiled kernel (:func:`tabular_mirror._kernels.reverse_kl_rows`)."""
    kernel = compiled("reverse_kl_rows") if len(policy) < SMALL_FILL_ROWS else None
    if kernel is None:
        return _reverse_kl_interior_numpy(policy, advantages, coefficient)
    return kernel(policy, advantages, coefficient)


def _reverse_kl_interior_numpy(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_reverse_kl_interior` in numpy calls, every row at once."""
    log_policy = np.log(policy)
    logits = log_policy + advantages / coefficient[:, None]
    peak = row_max(logits)[:, None]
    weights = np.exp(logits - peak)
    partition = row_sum(weights)[:, None]
    candidate = weights / partition
    log_partition = np.log(partition)
    log_candidate = logits - peak - log_partition
    kl = row_sum(candidate * (log_candidate - log_policy))
    dual = coefficient * (log_partition[:, 0] + peak[:, 0])
    primal = row_sum(candidate * advantages) - coefficient * kl
    return candidate, np.maximum(dual - primal, 0.0)


# ------------------------------------------------------------------------------ forward KL
def forward_kl_rows(
    policy: np.ndarray,
    advantages: np.ndarray,
    coefficient: np.ndarray,
    choice: str = "closest",
    iterations: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise <p, A> - c KL(pi || p) per state: p_a = c pi_a / (mu - A_a), mu a 1-D root.

    Computed in offsets from the best advantage on pi's support, A*: with x = mu - A* > 0 and
    d_a = A* - A_a >= 0, p_a = c pi_a / (x + d_a), so a tiny c (x ~ c pi_a*) never cancels
    against A*. Newton from the left on 1 / sum_a pi_a / (x + d_a) = c (concave increasing:
    a weighted harmonic mean of affine functions) increases monotonically to the root; x
    starts at c pi_a* (sum >= 1) and is capped at c (sum <= 1). Rows whose c is below ~1e-250
    are greedy (the numerical limit).
    """
    policy = np.asarray(policy, dtype=float)
    advantages = np.asarray(advantages, dtype=float)
    coefficient = np.asarray(coefficient, dtype=float)
    if policy.min() > 0 and coefficient.min() > 1e-200 and choice == "closest":
        found = _forward_kl_interior(policy, advantages, coefficient, iterations)
        if found is not None:
            return found
    if coefficient.max() <= 0:  # no drift at all: the greedy rows, exactly
        return greedy_rows(policy, advantages, choice), np.zeros(len(policy))
    support = policy > 0
    support_best = np.where(support, advantages, -np.inf).max(axis=1)
    best_action = np.argmax(np.where(support, advantages, -np.inf), axis=1)
    rows = np.arange(len(policy))
    lower = coefficient * policy[rows, best_action]  # x here: the sum is >= 1
    coefficient = np.where(lower > 1e-250, coefficient, 0.0)  # below: numerically greedy
    c = np.where(coefficient > 0, coefficient, 1.0)[:, None]
    lower = c[:, 0] * policy[rows, best_action]
    upper = c[:, 0]  # x here: the sum is <= 1
    distance = np.where(support, support_best[:, None] - advantages, np.inf)  # d_a >= 0
    outside = np.where(support, -np.inf, advantages - support_best[:, None]).max(axis=1)

    x = lower
    for _ in range(iterations):
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(support, c * policy / (x[:, None] + distance), 0.0)
            slope = np.where(support, terms / (x[:, None] + distance), 0.0).sum(axis=1)
        total = terms.sum(axis=1)
        excess = total - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            # Newton on 1/sum - 1/c (concave and nearly linear in x: the weighted harmonic
            # mean of the affine x + d_a), i.e. the plain Newton step times the sum (>= 1 left
            # of the root): still monotone from the left, far fewer steps where the sum is
            # steep
            step = np.where(slope > 0, excess / slope * total, 0.0)
        step = np.where(np.isfinite(step), np.maximum(step, 0.0), 0.0)
        x = np.minimum(x + step, upper)
        if np.all(step <= NEWTON_STOP * x):
            break
    leftover_needed = outside > x  # an action outside the support beats the multiplier
    x = np.where(leftover_needed, outside, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        candidate = np.where(support, c * policy / (x[:, None] + distance), 0.0)
    leftover = np.maximum(1.0 - candidate.sum(axis=1), 0.0)
    outside_action = np.argmax(np.where(support, -np.inf, advantages), axis=1)
    candidate[rows[leftover_needed], outside_action[leftover_needed]] += leftover[leftover_needed]
    candidate /= candidate.sum(axis=1, keepdims=True)
    keep_support(candidate, policy)
    # duality gap g(mu) - f(p), both shifted by A* (sum p = 1): f(p) = <p, A - A*> + c sum pi
    # log p and g(mu) = x + c (sum_a pi_a log(c pi_a / (x + d_a)) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_terms = np.where(support, policy * np.log(c * policy / (x[:, None] + distance)), 0)
        dual = x + c[:, 0] * (log_terms.sum(axis=1) - 1.0)
        shifted = np.where(candidate > 0, candidate * (advantages - support_best[:, None]), 0.0)
        primal = shifted.sum(axis=1) + c[:, 0] * np.where(
            support, policy * np.log(candidate), 0.0
        ).sum(axis=1)
    gap = np.where(coefficient > 0, np.maximum(dual - primal, 0.0), 0.0)
    gap = np.where(np.isfinite(gap), gap, np.inf)
    return _merge_greedy(candidate, policy, advantages, coefficient, choice), gap


def _forward_kl_interior(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray, iterations: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`forward_kl_rows` for pi > 0 and c > 0 (full support, no greedy rows): the same
    Newton iteration and duality gap without masks (no 0/0 or log 0 can arise). None when a
    row's start x = max(c pi_a*, c - sum pi d) is below the normal range (0 after an
    underflow: the Newton steps would divide by it; the masked rows handle such rows).
    Small problems take the compiled kernel (:func:`tabular_mirror._kernels.forward_kl_rows`)."""
    kernel = compiled("forward_kl_rows") if len(policy) < SMALL_FILL_ROWS else None
    if kernel is None:
        return _forward_kl_interior_numpy(policy, advantages, coefficient, iterations)
    candidate, gaps, usable = kernel(
        policy, advantages, coefficient, iterations, NEWTON_STOP, SMALLEST
    )
    return (candidate, gaps) if usable else None


def _forward_kl_interior_numpy(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray, iterations: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_forward_kl_interior` in numpy calls, every row at once (Newton until every
    row's step is small)."""
    rows = np.arange(len(policy))
    best_action = advantages.argmax(axis=1)
    best = advantages[rows, best_action]
    distance = best[:, None] - advantages  # d_a >= 0
    weights = coefficient[:, None] * policy  # c pi_a
    # a start left of the root: the sum is >= 1 at c pi_a*, and at c - sum_a pi_a d_a (the
    # harmonic mean 1/sum_a pi_a/(x + d_a) is at most the arithmetic mean x + sum pi d),
    # which is close to the root when c is large
    x = np.maximum(weights[rows, best_action], coefficient - row_sum(policy * distance))
    if not x.min() >= _TINY:  # c pi_a* underflowed (below the normal range): the masked rows
        return None
    for _ in range(iterations):
        inverse = 1.0 / (x[:, None] + distance)
        terms = weights * inverse
        total = row_sum(terms)
        slope = row_sum(terms * inverse)
        step = np.maximum((total - 1.0) / slope * total, 0.0)  # Newton on 1/sum (see above)
        x = np.minimum(x + step, coefficient)
        if (step / x).max() <= NEWTON_STOP:  # (x >= c pi_a* > 0)
            break
    unnormalised = weights / (x[:, None] + distance)  # c pi_a / (x + d_a), sums to ~1
    candidate = unnormalised / row_sum(unnormalised)[:, None]
    if not candidate.min() > 0:  # (pi > 0 everywhere here)
        keep_support(candidate, policy)
    dual = x + coefficient * (row_sum(policy * np.log(unnormalised)) - 1)
    primal = coefficient * row_sum(policy * np.log(candidate)) - row_sum(candidate * distance)
    gap = np.maximum(dual - primal, 0.0)
    return candidate, np.where(np.isfinite(gap), gap, np.inf)


# ------------------------------------------------------------------------------ squared L2
def euclidean_rows(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray, choice: str = "closest"
) -> tuple[np.ndarray, np.ndarray]:
    """p = Proj_simplex(pi + A / (2c)): maximises <p, A> - c ||p - pi||^2 (exact on Fractions).

    The gap bound is the exact dual gap of the projection: 0 up to rounding.
    """
    exact = policy.dtype == object
    positive = np.asarray(coefficient > 0, dtype=bool)
    safe = np.where(positive, coefficient, coefficient * 0 + 1)
    candidate = project_rows(policy + advantages / (2 * safe[:, None]))
    candidate = _merge_greedy(candidate, policy, advantages, coefficient, choice)
    if exact:
        return candidate, np.full(len(policy), ZERO, dtype=object)
    # KKT: on the support A - 2c(p - pi) equals the multiplier; elsewhere it is below it
    gradient = advantages - 2 * safe[:, None] * (candidate - policy)
    on = candidate > 0
    level = np.where(on, gradient, -np.inf).max(axis=1)
    spread = level - np.where(on, gradient, np.inf).min(axis=1)
    violation = np.maximum(np.where(on, -np.inf, gradient).max(axis=1) - level, 0.0)
    gap = np.where(positive, 2 * (spread + violation), 0.0)  # |<grad, q - p>| <= 2 ||.||_inf
    return candidate, gap


# ------------------------------------------------------------------------------ squared TV
def squared_tv_rows(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray, choice: str = "closest"
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise <p, A> - c TV(p, pi)^2: move delta from the worst actions to the best one.

    For a moved mass delta the best gain takes mass from actions in increasing order of A and
    gives it to a maximiser a*, so the objective is phi(delta) = g(delta) - c delta^2 with g
    concave piecewise linear (slopes A* - A_j, lengths pi_j). delta* is where the slope
    crosses 2 c delta. Exact on Fractions.
    """
    exact = policy.dtype == object
    num_states = policy.shape[0]
    rows = np.arange(num_states)
    best = greedy_rows(policy * 0 + 1, advantages, "vertex")  # a*: smallest maximising action
    best_action = np.argmax(np.asarray(best == 1, dtype=bool), axis=1)
    best_value = advantages[rows, best_action]
    order = np.argsort(advantages, axis=1, kind="stable")  # ascending advantage
    sorted_policy = np.take_along_axis(policy, order, axis=1)
    is_best = order == best_action[:, None]
    lengths = np.where(is_best, sorted_policy * 0, sorted_policy)
    slopes = best_value[:, None] - np.take_along_axis(advantages, order, axis=1)
    ends = np.cumsum(lengths, axis=1)
    starts = ends - lengths
    positive = np.asarray(coefficient > 0, dtype=bool)
    safe = np.where(positive, coefficient, coefficient * 0 + 1)
    stationary = slopes / (2 * safe[:, None])
    reachable = np.asarray((stationary >= starts) & (lengths > 0), dtype=bool)
    reach = np.where(reachable, np.minimum(ends, stationary), starts * 0)
    delta = reach.max(axis=1)
    # take min(length, delta - start)_+ from each sorted action
    taken = _positive_part(np.minimum(lengths, delta[:, None] - starts))
    removal = np.empty_like(taken)
    np.put_along_axis(removal, order, taken, axis=1)
    candidate = policy - removal
    candidate[rows, best_action] = candidate[rows, best_action] + removal.sum(axis=1)
    candidate = _merge_greedy(candidate, policy, advantages, coefficient, choice)
    gap = np.full(num_states, ZERO, dtype=object) if exact else np.zeros(num_states)
    return candidate, gap


# ------------------------------------------------------------------------------ PPO clip
def _row_gather(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``array[s, index[s, j]]`` for a 2-D ``array`` and an (S, k) or (S,) ``index``.

    One flat ``take`` (``np.take_along_axis`` builds a broadcast fancy index, several times
    slower on (10^5, 8) arrays).
    """
    offsets = np.arange(0, array.size, array.shape[1])
    flat = index + (offsets[:, None] if index.ndim == 2 else offsets)
    return np.take(array.ravel(), flat)


def ppo_segments(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray, epsilon: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(lengths, slopes) of the 2A linear pieces of each state's clipped objective.

    Piece j belongs to action j mod A.

    Piece 1 of action a covers [0, b_a], piece 2 [b_a, 1]; b_a = (1+eps) pi_a if A_a > 0,
    (1-eps) pi_a if A_a < 0. Slopes: A_a then (1-w) A_a for A_a > 0; (1-w) A_a then A_a for
    A_a < 0, with w = c[s] (nu/beta times the drift scale).
    """
    num_actions = policy.shape[1]
    gain = advantages > 0
    breakpoint_ = np.where(gain, policy * (1 + epsilon), policy * (1 - epsilon))
    damped = (1 - coefficient[:, None]) * advantages
    lengths = np.empty((len(policy), 2 * num_actions), dtype=breakpoint_.dtype)
    lengths[:, :num_actions] = _positive_part(breakpoint_)
    lengths[:, num_actions:] = _positive_part(1 - breakpoint_)
    slopes = np.empty(lengths.shape, dtype=damped.dtype)
    slopes[:, :num_actions] = np.where(gain, advantages, damped)
    slopes[:, num_actions:] = np.where(gain, damped, advantages)
    return lengths, slopes


def ppo_rows(
    policy: np.ndarray,
    advantages: np.ndarray,
    coefficient: np.ndarray,
    epsilon: Any,
    choice: str = "closest",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact maximiser of the per-state clipped PPO objective (a small LP solved greedily).

    Per state the objective is concave piecewise linear with the 2A pieces of
    :func:`ppo_segments`; over the simplex the LP is a fractional knapsack: fill the steepest
    pieces first. The threshold lambda is the slope of the piece the unit budget reaches (one
    sort per state); pieces steeper than lambda are full, pieces at lambda (ties) share the
    rest by ``choice`` (:func:`distribute`). Certificate: the dual value
    lambda + sum_j (slope_j - lambda)_+ length_j minus the primal value.
    """
    exact = policy.dtype == object
    num_states, num_actions = policy.shape
    if (
        not exact
        and choice == "closest"
        and num_states < SMALL_FILL_ROWS
        and num_actions <= SMALL_FILL_ACTIONS
    ):
        return _ppo_rows_small(policy, advantages, coefficient, epsilon)
    lengths, slopes = ppo_segments(policy, advantages, coefficient, epsilon)
    # capacity of piece 2 can exceed what the simplex allows; the budget of 1 caps the fill
    order = np.argsort(-slopes, axis=1)  # ties are resolved below, not by the sort
    ends = np.cumsum(_row_gather(lengths, order), axis=1)
    reached = np.argmax(np.asarray(ends >= 1, dtype=bool), axis=1)
    threshold = _row_gather(slopes, _row_gather(order, reached))
    above_threshold = slopes - threshold[:, None]
    if exact:
        above = np.asarray(above_threshold > 0, dtype=bool)
        tied = np.asarray(above_threshold == 0, dtype=bool)
        none = ZERO
    else:
        tolerance = 1e-12 * max(1.0, float(np.abs(slopes).max()))
        above = above_threshold > tolerance
        tied = np.abs(above_threshold) <= tolerance
        none = 0.0
    fill = np.where(above, lengths, none)
    remaining = 1 - row_sum(fill)
    base = fill[:, :num_actions] + fill[:, num_actions:]
    tied_lengths = np.where(tied, lengths, none)
    tie_caps = tied_lengths[:, :num_actions] + tied_lengths[:, num_actions:]
    candidate = base + distribute(policy, base, tie_caps, remaining, advantages, choice)
    primal = _piece_value(candidate, lengths, slopes, num_actions)
    dual = threshold + row_sum(_positive_part(above_threshold) * lengths)
    gap = dual - primal
    if not exact:
        gap = np.maximum(gap, 0.0)
    return candidate, gap


def _ppo_rows_small(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray, epsilon: Any
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ppo_rows` for small float arrays and the "closest" rule: the compiled kernel
    (:func:`tabular_mirror._kernels.ppo_rows`, 1-2 us at S = 5, A = 3) when numba imports,
    else its numpy twin :func:`_ppo_rows_numpy` (about 60 us); the same rows."""
    kernel = compiled("ppo_rows")
    if kernel is None:  # pragma: no cover - numba is a dependency
        return _ppo_rows_numpy(policy, advantages, coefficient, epsilon)
    return kernel(policy, advantages, np.asarray(coefficient, dtype=float), float(epsilon))


def _ppo_rows_numpy(
    policy: np.ndarray, advantages: np.ndarray, coefficient: np.ndarray, epsilon: Any
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_ppo_rows_small` in numpy calls (no compiled kernel).

    The same greedy LP: the threshold lambda is the largest slope whose pieces at least as
    steep hold a unit of length (all pairs of the 2A pieces compared at once instead of a
    sort), pieces above it are full, the tied ones share the rest by the L2-closest water
    filling, and the gap is the dual value minus the primal value.
    """
    num_actions = policy.shape[1]
    gain = advantages > 0
    breakpoint_ = policy * np.where(gain, 1 + epsilon, 1 - epsilon)
    damped = (1 - coefficient)[:, None] * advantages
    lengths = np.maximum(np.concatenate((breakpoint_, 1 - breakpoint_), axis=1), 0.0)
    slopes = np.concatenate(
        (np.where(gain, advantages, damped), np.where(gain, damped, advantages)), axis=1
    )
    # mass of the pieces at least as steep as each piece; lambda reaches a unit of it
    steeper = slopes[:, None, :] >= slopes[:, :, None]
    held = (steeper * lengths[:, None, :]).sum(axis=2)
    threshold = np.where(held >= 1, slopes, -np.inf).max(axis=1)
    above_threshold = slopes - threshold[:, None]
    tolerance = 1e-12 * max(1.0, float(np.abs(slopes).max()))
    above = above_threshold > tolerance
    tied = np.abs(above_threshold) <= tolerance
    fill = np.where(above, lengths, 0.0)
    base = fill[:, :num_actions] + fill[:, num_actions:]
    tied_lengths = np.where(tied, lengths, 0.0)
    caps = tied_lengths[:, :num_actions] + tied_lengths[:, num_actions:]
    candidate = base + _water_fill_small(policy - base, caps, 1 - base.sum(axis=1))
    primal = _piece_value(candidate, lengths, slopes, num_actions)
    dual = threshold + (np.maximum(above_threshold, 0.0) * lengths).sum(axis=1)
    return candidate, np.maximum(dual - primal, 0.0)


def _piece_value(candidate, lengths, slopes, num_actions):
    """sum over pieces of slope * (mass of the candidate inside the piece)."""
    first = np.minimum(candidate, lengths[:, :num_actions])
    second = candidate - first
    return row_sum(first * slopes[:, :num_actions] + second * slopes[:, num_actions:])


def distribute(
    policy: np.ndarray,
    base: np.ndarray,
    caps: np.ndarray,
    budget: np.ndarray,
    advantages: np.ndarray,
    choice: str,
) -> np.ndarray:
    """Split ``budget[s]`` over actions with room ``caps[s, a]`` (the tied pieces).

    closest: x_a = clip(pi_a - base_a + tau, 0, cap_a) with tau solving sum x = budget, i.e.
    the candidate closest to pi in L2 among the maximisers (:func:`water_fill`); vertex: fill
    in action order; adversarial: fill lowest advantages first.
    """
    if choice == "closest":
        # one piece with room: it takes the budget; several: the L2-closest water filling
        shared = np.flatnonzero(row_count(np.asarray(caps > 0, dtype=bool)) > 1)
        if len(shared) > len(caps) // 2:  # most rows: fill all, no gather and scatter
            return water_fill(policy - base, caps, budget)
        extra = np.minimum(caps, budget[:, None] + caps * 0)
        if len(shared):
            extra[shared] = water_fill((policy - base)[shared], caps[shared], budget[shared])
        return extra
    keys = np.asarray(advantages, dtype=float) if choice == "adversarial" else None
    order = (
        np.argsort(keys, axis=1, kind="stable")
        if keys is not None
        else np.broadcast_to(np.arange(policy.shape[1]), policy.shape)
    )
    sorted_caps = np.take_along_axis(caps, order, axis=1)
    before = np.cumsum(sorted_caps, axis=1) - sorted_caps
    take = np.minimum(sorted_caps, _positive_part(budget[:, None] - before))
    extra = np.empty_like(take)
    np.put_along_axis(extra, order, take, axis=1)
    return extra


#: Float water filling below these sizes evaluates the sum at every breakpoint at once
#: (:func:`_water_fill_small`: an (S, 2A, A) array, no sort), fewer numpy calls.
SMALL_FILL_ROWS = 512
SMALL_FILL_ACTIONS = 16


def _water_fill_small(target: np.ndarray, caps: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """:func:`water_fill` for small float arrays: the sum at each of the 2A breakpoints by
    broadcasting, then the segment that crosses the budget read off by masked reductions
    (the sum is nondecreasing in tau, so the largest breakpoint whose sum is at most the
    budget also has the largest such sum). A budget beyond the room fills every piece."""
    points = np.concatenate((-target, caps - target), axis=1)  # (S, 2A)
    filled = np.minimum(np.maximum(target[:, None, :] + points[:, :, None], 0.0), caps[:, None, :])
    totals = filled.sum(axis=2)  # sum_a x_a at every breakpoint, (S, 2A)
    # (capped at the largest sum reached, so that some breakpoint always reaches it)
    need = np.minimum(np.maximum(budget, 0.0), totals.max(axis=1))[:, None]
    below = totals <= need
    point_low = np.max(points, axis=1, where=below, initial=-np.inf)
    total_low = np.max(totals, axis=1, where=below, initial=-np.inf)
    above = totals >= need
    point_high = np.min(points, axis=1, where=above, initial=np.inf)
    total_high = np.min(totals, axis=1, where=above, initial=np.inf)
    # interpolate on the crossing segment; on a flat one (span 0) the budget is met at its start
    span = np.maximum(total_high - total_low, 1e-300)
    tau = point_low + (need[:, 0] - total_low) * (point_high - point_low) / span
    return np.minimum(np.maximum(target + tau[:, None], 0.0), caps)


def water_fill(target: np.ndarray, caps: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """x[s, a] = clip(target[s, a] + tau[s], 0, caps[s, a]) with sum_a x[s, a] = budget[s].

    The L2-closest way to add ``budget`` to the tied pieces. sum_a x is nondecreasing and
    piecewise linear in tau with breakpoints -target and caps - target, so tau is found exactly
    by evaluating the sum at every breakpoint and interpolating on the segment that crosses the
    budget: no iteration, vectorised over states, exact on Fractions.
    """
    num_states, num_actions = target.shape
    exact = target.dtype == object
    if not exact and num_states < SMALL_FILL_ROWS and num_actions <= SMALL_FILL_ACTIONS:
        return _water_fill_small(target, caps, budget)
    # the slope of the sum rises by 1 at -target_a and falls by 1 at caps_a - target_a (for
    # pieces with room), so the sum at every sorted breakpoint is a cumulative sum: O(S A log A)
    points = np.empty((num_states, 2 * num_actions), dtype=target.dtype)
    np.negative(target, out=points[:, :num_actions])
    np.subtract(caps, target, out=points[:, num_actions:])
    deltas = np.empty((num_states, 2 * num_actions), dtype=np.int8)
    deltas[:, :num_actions] = caps > 0
    np.negative(deltas[:, :num_actions], out=deltas[:, num_actions:])
    order = np.argsort(points, axis=1)
    points = _row_gather(points, order)
    slopes = np.cumsum(_row_gather(deltas, order), axis=1, dtype=np.int64)
    increments = slopes[:, :-1] * np.diff(points, axis=1)
    totals = np.empty((num_states, 2 * num_actions), dtype=increments.dtype)
    totals[:, 0] = increments[:, 0] * 0 if exact else 0.0
    np.cumsum(increments, axis=1, out=totals[:, 1:])
    # totals is nondecreasing: the budget is reached iff the last total reaches it
    first = np.argmax(np.asarray(totals >= budget[:, None], dtype=bool), axis=1)
    never = np.asarray(totals[:, -1] < budget, dtype=bool)  # fill every piece
    upper = np.where(never, 2 * num_actions - 1, first)
    lower = np.maximum(upper - 1, 0)
    total_low, total_high = _row_gather(totals, lower), _row_gather(totals, upper)
    point_low, point_high = _row_gather(points, lower), _row_gather(points, upper)
    span = total_high - total_low
    flat = np.asarray(span == 0, dtype=bool)
    safe = np.where(flat, span * 0 + 1, span)
    tau = np.where(
        flat, point_high, point_low + (budget - total_low) * (point_high - point_low) / safe
    )
    tau = np.where((first == 0) & ~never, points[:, 0], tau)  # budget <= 0: nothing
    return np.minimum(_positive_part(target + tau[:, None]), caps)


FAMILIES = ("zero", "reverse_kl", "forward_kl", "squared_l2", "squared_tv", "ppo_clip")


def solve_rows(
    family: str,
    policy: np.ndarray,
    advantages: np.ndarray,
    coefficient: np.ndarray,
    choice: str = "closest",
    epsilon: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Dispatch to the family's row solver; returns (rows, per-state gap bound)."""
    if family == "zero":
        rows = greedy_rows(policy, advantages, choice)
        gap = (
            np.zeros(len(policy))
            if policy.dtype != object
            else np.full(len(policy), ZERO, dtype=object)
        )
        return rows, gap
    if family == "reverse_kl":
        return reverse_kl_rows(policy, advantages, coefficient, choice)
    if family == "forward_kl":
        return forward_kl_rows(policy, advantages, coefficient, choice)
    if family == "squared_l2":
        return euclidean_rows(policy, advantages, coefficient, choice)
    if family == "squared_tv":
        return squared_tv_rows(policy, advantages, coefficient, choice)
    if family == "ppo_clip":
        return ppo_rows(policy, advantages, coefficient, epsilon, choice)
    raise ValueError(f"unknown family {family!r}")


# ------------------------------------------------------------------------------ drift + KL ball
def _row_frank_wolfe(candidate: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """max_a g_a - <p, g> per state: bounds the suboptimality of a concave row objective."""
    expected = np.where(candidate > 0, candidate * gradient, 0.0).sum(axis=1)
    gap = np.maximum(gradient.max(axis=1) - expected, 0.0)
    return np.where(np.isfinite(gap), gap, np.inf)


def _bisect(
    function, low: np.ndarray, high: np.ndarray, iterations: int = 200, geometric: bool = False
) -> np.ndarray:
    """Vectorised bisection for an increasing function with function(low) < 0 <= function(high).

    ``geometric`` bisects positive brackets in relative terms (midpoint sqrt(low * high)), for
    unknowns whose scale matters more than their absolute size.
    """
    for _ in range(iterations):
        middle = np.sqrt(low * high) if geometric else 0.5 * (low + high)
        below = function(middle) < 0
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
        if geometric:
            if np.all(high <= low * (1 + 4 * _EPS)):
                break
        elif np.all(high - low <= 2 * _EPS * np.maximum(1.0, np.abs(high))):
            break
    return high


def euclidean_kl_rows(
    policy: np.ndarray, advantages: np.ndarray, alpha: np.ndarray, kappa: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise <p, A> - alpha ||p - pi||^2 - kappa KL(pi || p) per state (alpha, kappa > 0).

    Stationarity A_a - 2 alpha (p_a - pi_a) + kappa pi_a / p_a = mu gives p_a(mu) as the
    positive root of 2 alpha p^2 + (mu - A_a - 2 alpha pi_a) p - kappa pi_a = 0, decreasing in
    mu; mu solves sum_a p_a(mu) = 1 (bisection). Gap bound: the row Frank-Wolfe gap.
    """
    a = alpha[:, None]
    k = kappa[:, None]

    def rows(mu: np.ndarray) -> np.ndarray:
        # the positive root of 2a p^2 + L p - k pi = 0 in the cancellation-free form
        linear = mu[:, None] - advantages - 2 * a * policy
        product = 8 * a * k * policy
        root = np.sqrt(linear * linear + product)
        with np.errstate(divide="ignore", invalid="ignore"):
            positive = 2 * k * policy / (linear + root)  # for L > 0
        return np.where(linear > 0, np.where(root > 0, positive, 0.0), (root - linear) / (4 * a))

    low = advantages.min(axis=1) - 2 * alpha - 1.0 - 1.0 / np.maximum(alpha, 1e-300)
    high = advantages.max(axis=1) + kappa + 2 * alpha + 1.0
    mu = _bisect(lambda m: 1.0 - rows(m).sum(axis=1), low, high)
    candidate = rows(mu)
    candidate /= candidate.sum(axis=1, keepdims=True)
    keep_support(candidate, policy)
    with np.errstate(divide="ignore", invalid="ignore"):
        pull = np.where(policy > 0, k * policy / candidate, 0.0)
    gradient = advantages - 2 * a * (candidate - policy) + pull
    return candidate, _row_frank_wolfe(candidate, gradient)


def _tv_kl_gap(
    policy: np.ndarray,
    advantages: np.ndarray,
    alpha: np.ndarray,
    kappa: np.ndarray,
    candidate: np.ndarray,
    mu: np.ndarray,
) -> np.ndarray:
    """Weak-duality gap of the row max <p, A> - alpha T(p)^2 - kappa KL(pi || p), T = TV(p, pi).

    With theta = 2 alpha T(candidate) (the tangent of -alpha T^2), -alpha T^2 <= -theta T +
    theta^2/(4 alpha), and a multiplier mu for sum p = 1, every feasible p has objective at most
    mu + theta^2/(4 alpha) - kappa sum pi log pi + sum_a max_{p_a >= 0} [(A_a - mu) p_a
    - (theta/2)|p_a - pi_a| + kappa pi_a log p_a], each maximum in closed form. Unlike a
    Frank-Wolfe gap this stays tight when an action's curvature kappa pi_a / p_a^2 is huge.
    """
    k = kappa[:, None]
    theta = (2 * alpha * np.abs(candidate - policy).sum(axis=1) / 2)[:, None]
    shifted = mu[:, None] - advantages
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gaining = k * policy / (shifted + theta / 2)  # stationary point above pi
        losing = k * policy / (shifted - theta / 2)  # stationary point below pi (if > 0)
        valid_loss = (shifted - theta / 2 > 0) & (losing < policy)
        best = np.where(gaining > policy, gaining, np.where(valid_loss, losing, policy))
        best = np.where(shifted + theta / 2 > 0, best, np.inf)
        # a maximiser below the float range is represented by the smallest double: for such
        # an action f(p*) - f(SMALLEST) <= |A - mu| SMALLEST (the log term only decreases)
        best = np.where(policy > 0, np.maximum(best, SMALLEST), 0.0)
        inner = (
            -shifted * best
            - theta / 2 * np.abs(best - policy)
            + np.where(policy > 0, k * policy * np.log(best), 0.0)
        )
        entropy = np.where(policy > 0, policy * np.log(policy), 0.0).sum(axis=1)
        dual = mu + theta[:, 0] ** 2 / (4 * alpha) - kappa * entropy + inner.sum(axis=1)
        tv = np.abs(candidate - policy).sum(axis=1) / 2
        kl = np.where(policy > 0, policy * (np.log(policy) - np.log(candidate)), 0.0).sum(axis=1)
        primal = (candidate * advantages).sum(axis=1) - alpha * tv * tv - kappa * kl
        gap = dual - primal + 1e-300
    return np.where(np.isfinite(gap), np.maximum(gap, 0.0), np.inf)


def tv_kl_rows(
    policy: np.ndarray, advantages: np.ndarray, alpha: np.ndarray, kappa: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise <p, A> - alpha TV(p, pi)^2 - kappa KL(pi || p) per state (pi > 0, kappa > 0).

    With T = TV(p, pi) and theta = 2 alpha T, actions that gain mass satisfy
    p_a = kappa pi_a / (mu_u - A_a), actions that lose mass p_a = kappa pi_a / (mu_d - A_a), the
    rest keep p_a = pi_a, where mu_u - mu_d = 2 alpha T. Given mu_u, T = sum_a (kappa pi_a /
    (mu_u - A_a) - pi_a)_+ and mu_d = mu_u - 2 alpha T are explicit, and the mass lost,
    sum_a (pi_a - kappa pi_a / (mu_d - A_a))_+, minus T increases with mu_u: one bisection per
    state on mu_u in (max A, max A + kappa]. Gap bound: the row Frank-Wolfe gap with the
    supergradient of -alpha T^2 chosen optimally at the kink.
    """
    k = kappa[:, None]
    best = advantages.max(axis=1)

    def parts(upper: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            gained = np.maximum(k * policy / (upper[:, None] - advantages) - policy, 0.0)
            moved = gained.sum(axis=1)
            lower = upper - 2 * alpha * moved
            gap = lower[:, None] - advantages
            lost = np.where(gap > k, policy - k * policy / gap, 0.0)
        return gained, lost, moved

    def balance(offset: np.ndarray) -> np.ndarray:
        _, lost, moved = parts(best + offset)
        return lost.sum(axis=1) - moved

    offset = _bisect(balance, kappa * 1e-30, kappa.astype(float), iterations=400, geometric=True)
    upper = best + offset
    gained, lost, moved = parts(upper)
    candidate = policy + gained - lost
    candidate /= candidate.sum(axis=1, keepdims=True)
    keep_support(candidate, policy)
    middle = upper - alpha * moved  # the multiplier mu of sum p = 1
    gaps = _tv_kl_gap(policy, advantages, alpha, kappa, candidate, middle)
    # the mass-balance root is ill-conditioned for small kappa (mu_u and mu_d sit ~kappa above
    # poles while differing by 2 alpha T = O(1)); Newton in p-space on the active set is not
    level_mu, level_t = middle, moved
    for _ in range(3):  # classify by the KKT thresholds, polish, reclassify with the result
        threshold = (advantages + k - level_mu[:, None]) / np.maximum(alpha, 1e-300)[:, None]
        active = np.where(
            threshold > level_t[:, None], 1.0, np.where(threshold < -level_t[:, None], -1.0, 0.0)
        )
        polished, polished_gaps, level_mu, level_t = _polish_tv_kl(
            policy, advantages, alpha, kappa, candidate, active
        )
        better = polished_gaps < gaps
        candidate = np.where(better[:, None], polished, candidate)
        gaps = np.where(better, polished_gaps, gaps)
        if np.all(gaps <= 1e-13 * (1 + np.abs(advantages).max())):
            break
    return candidate, gaps


def _polish_tv_kl(
    policy: np.ndarray,
    advantages: np.ndarray,
    alpha: np.ndarray,
    kappa: np.ndarray,
    candidate: np.ndarray,
    sign: np.ndarray,
    iterations: int = 12,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Newton's method on the KKT system of the TV^2 + KL row with a fixed active set.

    Returns (rows, row gap bounds, mu, T).

    Unknowns p (A) and mu. For an action that gains (sign +1) or loses (-1) mass:
    A_a + kappa pi_a / p_a - sign_a alpha T - mu = 0 with T = sum_{gainers} (p - pi); for an
    action that stays, p_a = pi_a; and sum_a p_a = 1. A batched (A+1) x (A+1) solve per state;
    steps are damped to keep every gainer above pi and every loser in (0, pi).
    """
    num_states, num_actions = policy.shape
    p = candidate.copy()
    # losers with negligible mass (p < 1e-100, e.g. pi_a ~ 1e-156) are held at their value:
    # their p_a = kappa pi_a / (mu_d - A_a) is well conditioned and their curvature overflows
    held = (sign < 0) & (p < 1e-100)
    target = np.where(held, p, policy)
    sign = np.where(held, 0.0, sign)
    free = sign != 0
    up = sign > 0
    k = kappa[:, None]
    a = alpha[:, None]
    lone = ~free.any(axis=1)
    total = np.where(up, p - policy, 0.0).sum(axis=1)
    estimate = advantages + k * policy / p - a * total[:, None] * sign
    mu = np.where(free, estimate, 0.0).sum(axis=1) / np.maximum(free.sum(axis=1), 1)
    eye = np.eye(num_actions)
    for _ in range(iterations):
        total = np.where(up, p - policy, 0.0).sum(axis=1)
        residual = np.empty((num_states, num_actions + 1))
        residual[:, :num_actions] = np.where(
            free,
            advantages + k * policy / p - a * total[:, None] * sign - mu[:, None],
            p - target,
        )
        residual[:, num_actions] = p.sum(axis=1) - 1.0
        jacobian = np.zeros((num_states, num_actions + 1, num_actions + 1))
        with np.errstate(divide="ignore", over="ignore"):
            curvature = np.where(free, -k * policy / (p * p), 0.0)
        block = curvature[:, :, None] * eye - a[:, :, None] * sign[:, :, None] * up[:, None, :]
        jacobian[:, :num_actions, :num_actions] = np.where(free[:, :, None], block, eye)
        jacobian[:, :num_actions, num_actions] = np.where(free, -1.0, 0.0)
        jacobian[:, num_actions, :num_actions] = 1.0
        jacobian[lone, num_actions, :] = 0.0
        jacobian[lone, num_actions, num_actions] = 1.0
        residual[lone, num_actions] = 0.0
        try:
            step = np.linalg.solve(jacobian, -residual[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            break
        move = step[:, :num_actions]
        # damping: gainers stay above pi, losers inside (0, pi)
        with np.errstate(divide="ignore", invalid="ignore"):
            limit_up = np.where(up & (move < 0), (policy - p) / move, np.inf)
            limit_down_low = np.where(~up & free & (move < 0), -p / move, np.inf)
            limit_down_high = np.where(~up & free & (move > 0), (policy - p) / move, np.inf)
        limit = np.minimum(np.minimum(limit_up, limit_down_low), limit_down_high).min(axis=1)
        length = np.minimum(1.0, 0.99 * limit)
        length = np.where(np.isfinite(length) & (length > 0), length, 0.0)
        p = p + length[:, None] * move
        mu = mu + length * step[:, num_actions]
        if np.all(np.abs(residual) <= 1e-15 * (1 + np.abs(advantages).max())):
            break
    p = np.maximum(p, 0.0)
    p /= p.sum(axis=1, keepdims=True)
    keep_support(p, policy)
    tv = np.abs(p - policy).sum(axis=1) / 2
    return p, _tv_kl_gap(policy, advantages, alpha, kappa, p, mu), mu, tv


def kl_combined_rows(
    family: str,
    policy: np.ndarray,
    advantages: np.ndarray,
    alpha: np.ndarray,
    kappa: np.ndarray,
    choice: str = "closest",
) -> tuple[np.ndarray, np.ndarray]:
    """<p, A> - alpha D_family(p) - kappa KL(pi || p) for family squared_l2 / squared_tv; rows
    with kappa = 0 fall back to the family's own solver, rows with alpha = 0 to forward KL."""
    policy = np.asarray(policy, dtype=float)
    advantages = np.asarray(advantages, dtype=float)
    alpha = np.asarray(alpha, dtype=float)
    kappa = np.asarray(kappa, dtype=float)
    with np.errstate(all="ignore"):  # masked branches divide by zero; results are certified
        return _kl_combined_rows(family, policy, advantages, alpha, kappa, choice)


def _kl_combined_rows(
    family: str,
    policy: np.ndarray,
    advantages: np.ndarray,
    alpha: np.ndarray,
    kappa: np.ndarray,
    choice: str,
) -> tuple[np.ndarray, np.ndarray]:
    candidate, gaps = solve_rows(family, policy, advantages, alpha, choice)
    both = (kappa > 0) & (alpha > 0)
    only_kl = (kappa > 0) & (alpha <= 0)
    if only_kl.any():
        rows, row_gaps = forward_kl_rows(policy[only_kl], advantages[only_kl], kappa[only_kl])
        candidate[only_kl], gaps[only_kl] = rows, row_gaps
    if both.any():
        solver = euclidean_kl_rows if family == "squared_l2" else tv_kl_rows
        rows, row_gaps = solver(policy[both], advantages[both], alpha[both], kappa[both])
        candidate[both], gaps[both] = rows, row_gaps
    return candidate, gaps
