"""The definitions of Kuba et al. (2022), section 3, checked on samples.

- Drift functional (Def. 3.1): nonnegativity D_pi(pibar | s) >= 0, D_pi(pi | s) = 0, and zero
  Gateaux derivatives at pibar = pi along simplex directions (one-sided difference quotients of
  both signs at shrinking steps must tend to 0); plus continuity in pibar along segments (the
  framework needs drift_pi(pibar) continuous; PPO-KL with an adaptive coefficient breaks it).
  :func:`check_drift`. A sympy *proof* for :class:`~tabular_mirror.drifts.SympyDrift` is in
  :mod:`proofs_check.symbolic`.
- Neighbourhood operator (Def. 3.2): contains a closed ball around pi (the largest radius found
  is reported), compact-valued (closed and bounded), and monotone in per-state distances (the
  property Lemma 3.5's proof uses silently). :func:`check_neighbourhood`.
- Sampling distribution: beta_pi[s] > 0 and continuous in pi. :func:`check_sampling`.
- Drift distribution: continuous in pibar; whether it depends on pibar (the proofs of Lemma 3.5
  and Theorem 3.6 assume it does not). :func:`check_drift_distribution`.

All checks are on samples: a pass means no violation was found among the samples, never a
proof. Exact MDPs with rational pieces are checked in Fractions (nonnegativity, zero at pi,
inside/outside decisions exactly); limits (derivatives, continuity, radii) are numerical by
nature and say so in their tolerance.

References
----------
Kuba, Schroeder de Witt, Foerster, "Mirror Learning", ICML 2022, Definitions 3.1, 3.2, and the
appendix (per-state monotone metric).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np

import tabular_mirror as tm
from tabular_mirror.algorithm import MirrorAlgorithm, make_context
from tabular_mirror.drift_distributions import DriftDistribution
from tabular_mirror.drifts import Drift
from tabular_mirror.neighbourhoods import Neighbourhood
from tabular_mirror.sampling import Sampling

from ._common import value_scale
from .verdicts import EXACT, Report, Tolerance, Verdict, decide, held, mdp_witness

__all__ = [
    "check_drift",
    "check_neighbourhood",
    "check_sampling",
    "check_drift_distribution",
    "random_policies",
    "difference_quotients",
]

#: Steps of the one-sided difference quotients (largest first).
QUOTIENT_STEPS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)

#: A quotient at the smallest step must be below this fraction of its value at the largest.
QUOTIENT_DECAY = 1e-2

#: Bisection halvings when locating a jump or a boundary.
HALVINGS = 40


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
            weights = np.where(
                mask, rng.integers(0 if (k % 3 and not interior) else 1, 5, mask.shape), 0
            )
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


# ---------------------------------------------------------------------------- drifts
def difference_quotients(
    drift: Drift, context: Any, direction: np.ndarray, steps: tuple = QUOTIENT_STEPS
) -> np.ndarray:
    """(D_pi(pi + t v | s) - D_pi(pi | s)) / t for each t in ``steps``, shape (len(steps), S)."""
    policy = context.policy
    base = np.asarray(drift.value(context, policy), dtype=float)
    rows = []
    for t in steps:
        moved = drift.value(context, np.asarray(policy, float) + t * direction)
        rows.append((np.asarray(moved, dtype=float) - base) / t)
    return np.array(rows)


def _directions(
    policy: np.ndarray, action_mask: np.ndarray | None = None
) -> list[tuple[np.ndarray, str]]:
    """Simplex directions e_a - e_b (mass from b to a) usable at every state where pi_b > 0
    (and action a is feasible: the directions stay on the feasible face).

    Each direction is (S, A); at states where it is infeasible the row is 0.
    """
    policy = np.asarray(policy, dtype=float)
    num_actions = policy.shape[1]
    out = []
    for a in range(num_actions):
        for b in range(num_actions):
            if a == b:
                continue
            direction = np.zeros(policy.shape)
            feasible = policy[:, b] > 0
            if action_mask is not None:
                feasible = feasible & action_mask[:, a]
            direction[feasible, a] = 1.0
            direction[feasible, b] = -1.0
            if feasible.any():
                out.append((direction, f"mass from action {b} to {a}"))
    return out


def _zero_gradient(drift: Drift, mdp: tm.FiniteMDP, policy: np.ndarray) -> Verdict:
    context = _context(mdp.to_float() if mdp.is_exact else mdp, np.asarray(policy, float), drift)
    worst: tuple[float, float, int, str] | None = None
    mask = mdp.action_mask if mdp.has_infeasible_actions else None
    for direction, label in _directions(policy, mask):
        with np.errstate(all="ignore"):
            quotients = difference_quotients(drift, context, direction)
        first, last = np.abs(quotients[0]), np.abs(quotients[-1])
        allowed = np.maximum(QUOTIENT_DECAY * first, 1e-8 * value_scale(mdp))
        excess = last - allowed
        s = int(np.nanargmax(np.where(np.isnan(excess), np.inf, excess)))
        if worst is None or excess[s] > worst[0] or np.isnan(excess[s]):
            worst = (float(excess[s]), float(quotients[-1][s]), s, label)
    tolerance = Tolerance(
        0.0,
        f"numerical limit: |quotient| at t={QUOTIENT_STEPS[-1]:g} must fall below "
        f"{QUOTIENT_DECAY:g} x its value at t={QUOTIENT_STEPS[0]:g} (O(t) for a drift with zero "
        "derivative; constant for a nonzero one)",
    )
    witness = mdp_witness(mdp, policy=policy)
    if worst is None:
        return Verdict(
            "definition_3_1_zero_gradient", "passed", np.inf, None, None, witness, tolerance,
            "no simplex direction (one action): vacuous",
        )  # fmt: skip
    excess, quotient, state, label = worst
    witness["direction"] = label
    outcome = "inconclusive" if np.isnan(excess) else held(excess <= 0)
    return Verdict(
        "definition_3_1_zero_gradient",
        outcome,
        -excess,
        state,
        None,
        witness,
        tolerance,
        f"one-sided quotients along simplex directions tend to 0 (Def. 3.1(2)); worst "
        f"{label}: quotient {quotient:.3g} at t={QUOTIENT_STEPS[-1]:g}",
        reason="a difference quotient is NaN" if outcome == "inconclusive" else "",
    )


def _largest_jump(function: Any, start: np.ndarray, end: np.ndarray) -> tuple[float, float]:
    """The size of the largest jump of ``function`` (-> array) along start -> end, located by
    bisection: (jump at width 2^-HALVINGS/64, its position t)."""
    grid = np.linspace(0.0, 1.0, 65)
    values = [np.asarray(function(_mix(start, end, t)), dtype=float) for t in grid]
    steps = [float(np.nanmax(np.abs(values[k + 1] - values[k]))) for k in range(64)]
    k = int(np.argmax(steps))
    low, high = grid[k], grid[k + 1]
    f_low, f_high = values[k], values[k + 1]
    for _ in range(HALVINGS):
        middle = (low + high) / 2
        f_middle = np.asarray(function(_mix(start, end, middle)), dtype=float)
        if np.nanmax(np.abs(f_middle - f_low)) >= np.nanmax(np.abs(f_high - f_middle)):
            high, f_high = middle, f_middle
        else:
            low, f_low = middle, f_middle
    return float(np.nanmax(np.abs(f_high - f_low))), float((low + high) / 2)


def _continuity(
    name: str,
    function_for: Any,
    mdp: tm.FiniteMDP,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    what: str,
) -> Verdict:
    scale = value_scale(mdp)
    limit = 1e-6 * scale
    worst = (0.0, 0.0, 0)
    for k, (start, end) in enumerate(pairs):
        with np.errstate(all="ignore"):
            jump, position = _largest_jump(function_for(start), start, end)
        if jump > worst[0] or np.isnan(jump):
            worst = (jump, position, k)
    jump, position, k = worst
    start, end = pairs[k] if pairs else (None, None)
    witness = mdp_witness(mdp, start=start, end=end)
    witness["position"] = position
    tolerance = Tolerance(
        limit,
        f"a jump that survives {HALVINGS} bisections (width ~1e-14) and exceeds 1e-6 x the "
        "value scale is a discontinuity",
    )
    return Verdict(
        name,
        "inconclusive" if np.isnan(jump) else held(jump <= limit),
        limit - jump,
        None,
        None,
        witness,
        tolerance,
        f"{what} is continuous along {len(pairs)} sampled segments (largest jump {jump:.3g} "
        f"at t={position:.6g})",
        reason="NaN along a segment" if np.isnan(jump) else "",
    )


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
        pi; default uniform. Drifts with ``needs_support`` get pi mixed with uniform if pi has
        zeros (they are undefined off pi's support).
    samples, seed : the number of random candidates pibar and the seed.

    Returns
    -------
    Report
        ``definition_3_1_nonnegative`` (exact for rational drifts on exact MDPs),
        ``definition_3_1_zero_at_policy``, ``definition_3_1_zero_gradient`` (numerical
        one-sided quotients of both signs at t = 1e-2 .. 1e-6), ``drift_continuity``
        (jumps along segments pi -> pibar, located by bisection).

    Examples
    --------
    >>> import tabular_mirror as tm
    >>> from tabular_mirror.drifts import SquaredEuclidean, TotalVariation
    >>> mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [1, 0]], 0.5)
    >>> check_drift(SquaredEuclidean(), mdp).passed, check_drift(TotalVariation(), mdp).passed
    (True, False)
    """
    policy = tm.uniform_policy(mdp) if policy is None else tm.check_policy(mdp, policy)
    if drift.needs_support and np.any(np.asarray(policy <= 0, dtype=bool)):
        policy = _interior(mdp, policy)
    exact = mdp.is_exact and drift.rational
    working = mdp if exact else (mdp.to_float() if mdp.is_exact else mdp)
    working_policy = policy if exact else np.asarray(policy, dtype=float)
    context = _context(working, working_policy, drift)
    candidates = random_policies(working, samples, seed, interior=drift.needs_support)
    candidates += [_mix(working_policy, c, Fraction(1, 8) if exact else 0.125) for c in candidates]
    tolerance = EXACT if exact else Tolerance(1e-12 * value_scale(mdp), "rounding")
    with np.errstate(all="ignore"):
        values = np.array([drift.value(context, c) for c in candidates], dtype=object)
        at_policy = drift.value(context, working_policy)
    nonnegative = decide(
        "definition_3_1_nonnegative",
        values,
        tolerance,
        f"D_pi(pibar|s) >= 0 on {len(candidates)} sampled candidates (Def. 3.1(1))",
    )
    witness = mdp_witness(
        mdp, policy=policy, candidate=candidates[nonnegative.worst_iteration or 0]
    )
    nonnegative = replace(nonnegative, witness=witness, worst_iteration=None)
    zero = decide(
        "definition_3_1_zero_at_policy",
        np.array([-abs(v) for v in at_policy], dtype=object),
        tolerance,
        "D_pi(pi|s) = 0 (Def. 3.1(1))",
        mdp_witness(mdp, policy=policy),
    )
    # segments to mixtures 0.1 pi + 0.9 pibar: finite for every drift (KL is infinite where
    # pibar drops an action pi uses)
    start = np.asarray(working_policy, float)
    pairs = [(start, 0.1 * start + 0.9 * np.asarray(c, float)) for c in candidates[:6]]
    float_mdp = working.to_float() if working.is_exact else working
    float_context = _context(float_mdp, np.asarray(working_policy, float), drift)

    def along(_start: np.ndarray) -> Any:
        return lambda candidate: drift.value(float_context, candidate)

    verdicts = (
        nonnegative,
        zero,
        _zero_gradient(drift, working, working_policy),
        _continuity("drift_continuity", along, float_mdp, pairs, "D_pi(pibar|s) in pibar"),
    )
    return Report(verdicts, f"Definition 3.1: {drift!r}")


# ---------------------------------------------------------------------------- neighbourhoods
def _tv_distance(policy: np.ndarray, candidate: np.ndarray) -> float:
    """chi(pi, pibar) = max_s TV(pi[s], pibar[s]), a metric monotone in per-state distances."""
    difference = np.abs(np.asarray(candidate, float) - np.asarray(policy, float))
    return float(difference.sum(axis=1).max() / 2)


def _boundary(
    neighbourhood: Neighbourhood, context: Any, policy: np.ndarray, candidate: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Along pi -> candidate, the last inside point by bisection: (t, inside point, outside
    point or None when the whole segment is inside)."""
    if neighbourhood.contains(context, candidate):
        return 1.0, candidate, None
    low, high = 0.0, 1.0
    for _ in range(HALVINGS):
        middle = (low + high) / 2
        if neighbourhood.contains(context, _mix(policy, candidate, middle)):
            low = middle
        else:
            high = middle
    return low, _mix(policy, candidate, low), _mix(policy, candidate, high)


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
        ``definition_3_2_contains_policy``; ``definition_3_2_closed_ball`` (the largest radius
        r found in chi = max_s TV: the smallest chi-distance to the boundary over 2 x samples
        directions, then confirmed on samples inside the ball of radius r/2; fails when r = 0);
        ``definition_3_2_compact`` (bounded as a subset of Pi; closed: the slack at each
        boundary point found by bisection is >= 0); ``lemma_3_5_monotone_neighbourhood``
        (replacing pibar[s] by pi[s] at any one state keeps a member inside: what Lemma 3.5's
        proof needs; compared with the declared ``monotone`` flag).

    Notes
    -----
    Float arithmetic (bisection), also for exact MDPs.
    """
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    policy = tm.uniform_policy(float_mdp) if policy is None else np.asarray(
        tm.check_policy(mdp, policy), dtype=float
    )  # fmt: skip
    context = _context(float_mdp, policy)
    witness = mdp_witness(float_mdp, policy=policy)
    witness["neighbourhood"] = repr(neighbourhood)
    inside_pi = decide(
        "definition_3_2_contains_policy",
        [neighbourhood.slack(context, policy)],
        Tolerance(1e-12, "rounding"),
        "pi in N(pi)",
        witness,
    )
    candidates = random_policies(float_mdp, 2 * samples, seed)
    boundary_distances, members, boundary_slacks = [], [], []
    for candidate in candidates:
        _t, inside, outside = _boundary(neighbourhood, context, policy, candidate)
        members.append(inside)
        if outside is not None:
            boundary_distances.append(_tv_distance(policy, outside))
            boundary_slacks.append(float(neighbourhood.slack(context, inside)))
    radius = min(boundary_distances) if boundary_distances else 1.0
    rng = np.random.default_rng(seed + 1)
    confirmed = True
    for candidate in random_policies(float_mdp, samples, seed + 2):
        distance = _tv_distance(policy, candidate)
        if distance == 0:
            continue
        scale = rng.uniform(0, 1) * (radius / 2) / distance
        point = _mix(policy, candidate, min(1.0, scale))
        if not neighbourhood.contains(context, point, 1e-12):
            confirmed = False
    ball = Verdict(
        "definition_3_2_closed_ball",
        held(radius > 1e-9 and confirmed and inside_pi.passed),
        radius,
        None,
        None,
        witness,
        Tolerance(1e-9, "bisection resolution (2^-40) on the radius"),
        f"largest radius found r = {radius:.4g} in chi = max_s TV over {len(candidates)} "
        f"directions (an upper estimate; the ball of radius r/2 "
        f"{'held' if confirmed else 'did NOT hold'} on {samples} samples)",
    )
    compact = decide(
        "definition_3_2_compact",
        boundary_slacks,
        Tolerance(1e-9, "bisection resolution"),
        "bounded (a subset of Pi) and closed: the slack at every boundary point found is >= 0",
        witness,
        states=False,
    )
    compact = replace(compact, worst_iteration=None)
    violations = []
    for member in members:
        for s in range(float_mdp.num_states):
            swapped = member.copy()
            swapped[s] = policy[s]
            if not neighbourhood.contains(context, swapped, 1e-12):
                violations.append((s, member))
    declared = bool(getattr(neighbourhood, "monotone", True))
    detail = (
        f"replacing pibar[s] by pi[s] keeps {len(members)} sampled members of N(pi) inside "
        f"(declared monotone={declared}; Lemma 3.5's proof needs it)"
    )
    if violations:
        s, member = violations[0]
        monotone_witness = dict(witness, member=member.tolist(), swapped_state=s)
        detail = (
            f"{len(violations)} swaps of one row back to pi[s] leave N(pi) (declared "
            f"monotone={declared}): Lemma 3.5's swap argument does not apply"
        )
        monotone = Verdict(
            "lemma_3_5_monotone_neighbourhood", "failed", -len(violations), s, None,
            monotone_witness, EXACT, detail,
        )  # fmt: skip
    else:
        monotone = Verdict(
            "lemma_3_5_monotone_neighbourhood", "passed", 0, None, None, witness, EXACT, detail
        )
    return Report((inside_pi, ball, compact, monotone), f"Definition 3.2: {neighbourhood!r}")


# ---------------------------------------------------------------------------- sampling and nu
def check_sampling(
    sampling: Sampling, mdp: tm.FiniteMDP, *, samples: int = 8, seed: int = 0
) -> Report:
    """beta_pi[s] > 0 for every s on sampled pi (exactly for exact MDPs), and continuity in pi.

    Returns ``sampling_positive`` (margin: the smallest beta found) and
    ``sampling_continuity``.
    """
    algorithm = MirrorAlgorithm.with_defaults(sampling=sampling)
    policies = random_policies(mdp, samples, seed)
    weights = []
    for policy in policies:
        weights.append(algorithm.sampling.weights(make_context(mdp, algorithm, policy)))
    positive_margins = np.array(weights, dtype=object)
    tolerance = EXACT
    smallest = min(positive_margins.reshape(-1))
    positive = Verdict(
        "sampling_positive",
        held(smallest > 0),
        smallest,
        None,
        None,
        mdp_witness(mdp, policy=policies[0]),
        tolerance,
        f"beta_pi[s] > 0 for every s on {len(policies)} sampled policies "
        f"(smallest {float(smallest):.3g})",
    )
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    float_policies = [np.asarray(p, float) for p in policies]
    pairs = list(itertools.pairwise(float_policies))[:4]

    def along(_start: np.ndarray) -> Any:
        return lambda policy: sampling.weights(make_context(float_mdp, algorithm, policy))

    continuity = _continuity("sampling_continuity", along, float_mdp, pairs, "beta_pi in pi")
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
    """nu^{pibar}_pi: a distribution, continuous in pibar, and whether it depends on pibar.

    Returns ``drift_distribution_continuity`` and ``drift_distribution_independent`` (fails
    for nu depending on pibar: outside the assumptions of Lemma 3.5 / Thm 3.6's proofs).
    """
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    policy = tm.uniform_policy(float_mdp) if policy is None else np.asarray(policy, float)
    context = _context(float_mdp, policy, drift)
    candidates = random_policies(float_mdp, samples, seed, interior=True)
    pairs = [(policy, c) for c in candidates]

    def along(_start: np.ndarray) -> Any:
        def weights(candidate: np.ndarray) -> np.ndarray:
            values = drift.value(context, candidate)
            return distribution.weights(context, candidate, values)

        return weights

    continuity = _continuity(
        "drift_distribution_continuity", along, float_mdp, pairs, "nu^{pibar}_pi in pibar"
    )
    depends = bool(distribution.depends_on_candidate)
    independent = Verdict(
        "drift_distribution_independent",
        held(not depends),
        -1 if depends else 0,
        None,
        None,
        {"drift_distribution": repr(distribution)},
        EXACT,
        "nu depends on pibar: Lemma 3.5 and Thm 3.6's proofs treat it as fixed"
        if depends
        else "nu does not depend on pibar (as the proofs assume)",
    )
    return Report((continuity, independent), f"drift distribution: {distribution!r}")
