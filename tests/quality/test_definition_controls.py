"""Negative controls of the definition checks (proofs_check.definitions): every check fails on
pieces built to violate it by a known amount, with that margin, at that state and direction;
passes on pieces at the edge of validity; and is inconclusive (with a reason) exactly where
its evidence cannot decide (NaN, entries below the rounding resolution, an open boundary).

Known amounts, each from a closed form independent of the checker:

- zero gradient (Def. 3.1(2)): the one-sided derivative along e_a - e_b (mass from b to a) of
  total variation is (1/2) sum |v| = 1; of sum_a w_a (pibar_a - pi_a) it is w_a - w_b; of
  sqrt(KL(pi || pibar)) it is sqrt((1/pi_a + 1/pi_b) / 2) in the interior; of the PPO clip drift
  at pi[s, b] = 0 toward b it is A_pi[s, b] when positive; of the forward KL toward an action pi
  never takes it is 1 (squared Hellinger: 1/2);
- nonnegativity, zero at pi: -(pibar[s, 0] - pi[s, 0])^2 and L2 + 1/7, exactly;
- continuity: an indicator step of known height at a known crossing;
- neighbourhood, sampling, nu: a slack of -1/7 at pi, a box with no ball at a face, a swap
  that always leaves N by 1/7, a zero in beta, a beta and a nu that switch at pi[0, 0] = 1/2.

Float estimates of a derivative are asserted within the uncertainty the verdict states (its
tolerance), exact ones exactly.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest

import proofs_check
import tabular_mirror as tm
from proofs_check import definitions
from proofs_check.counterexamples import NonMonotoneShift
from tabular_mirror import divergences, drifts
from tabular_mirror.drift_distributions import (
    CandidateVisitation,
    DriftDistribution,
    MaxDriftState,
    SameAsSampling,
)
from tabular_mirror.neighbourhoods import Neighbourhood, RatioBox, StateBall
from tabular_mirror.sampling import FixedSampling, Sampling, UniformSampling, VisitationSampling

ZERO_GRADIENT = "definition_3_1_zero_gradient"

#: A 2-state, 3-action exact MDP (advantages are Fractions).
EXACT_MDP = tm.FiniteMDP(
    [[["1/2", "1/2"], [0, 1], ["1/3", "2/3"]], [["4/5", "1/5"], ["1/10", "9/10"], [1, 0]]],
    [[5, 10, 1], [-1, 2, 0]],
    "9/10",
)
MDP = EXACT_MDP.to_float()

INTERIOR = np.array([[0.2, 0.3, 0.5], [0.6, 0.15, 0.25]])
TINY = np.array([[1e-12, 0.4, 0.6 - 1e-12], [0.3, 1e-12, 0.7 - 1e-12]])
FACE = np.array([[0.0, 0.4, 0.6], [0.3, 0.7, 0.0]])
FACE_TINY = np.array([[0.0, 1e-12, 1 - 1e-12], [1e-12, 1 - 1e-12, 0.0]])
POLICIES = {"interior": INTERIOR, "tiny_1e-12": TINY, "face": FACE, "face_tiny_1e-12": FACE_TINY}


def zero_gradient(drift, mdp=MDP, policy=INTERIOR):
    report = proofs_check.check_drift(drift, mdp, policy)
    return report[ZERO_GRADIENT]


def uncertainty(verdict) -> float:
    """The pass allowance of a float verdict (0 for an exact one)."""
    return 0.0 if verdict.exact else float(verdict.tolerance.value)


def assert_derivative(verdict, expected, state, source, target, one_sided):
    """Failed, with margin -|expected| within the stated uncertainty, at the given place."""
    assert verdict.failed, verdict
    witness = verdict.witness
    place = (verdict.worst_state, witness["from_action"], witness["to_action"])
    assert place == (state, source, target), (place, verdict)
    assert witness["one_sided"] is one_sided, verdict
    if verdict.exact:
        assert verdict.margin == -abs(expected), verdict
    else:
        # the estimate is within its uncertainty of the true derivative, and clear of 0
        assert abs(verdict.margin + abs(expected)) <= uncertainty(verdict) + 1e-15, verdict
        assert abs(verdict.margin) > definitions.FLAT * uncertainty(verdict), verdict


def scaled_per_state(drift_function, weights):
    """A CallableDrift multiplying a row-wise function by a per-state weight."""
    weights = np.asarray(weights, dtype=float)
    return drifts.CallableDrift(
        lambda policy, candidate: weights * drift_function(policy, candidate), name="per-state"
    )


def assert_replays(verdict) -> None:
    """The verdict's witness, replayed, gives the same name, outcome and margin."""
    replayed = proofs_check.replay(verdict.witness)
    assert (replayed.name, replayed.outcome, replayed.margin) == (
        verdict.name,
        verdict.outcome,
        verdict.margin,
    )


# ---------------------------------------------------------------- Def. 3.1(2): zero gradient
@pytest.mark.parametrize("where", list(POLICIES), ids=list(POLICIES))
def test_total_variation_has_one_sided_derivative_one(where):
    # weights 1 and 3 make the place unique: state 1; every direction there has derivative 3
    drift = scaled_per_state(divergences.total_variation, [1, 3])
    verdict = zero_gradient(drift, policy=POLICIES[where])
    policy = POLICIES[where]
    source = next(b for b in range(3) if policy[1, b] > 0)
    target = next(a for a in range(3) if a != source)
    assert_derivative(verdict, 3, 1, source, target, bool(policy[1, target] == 0))


@pytest.mark.parametrize("where", list(POLICIES), ids=list(POLICIES))
def test_shipped_total_variation_fails_with_margin_one(where):
    verdict = zero_gradient(drifts.TotalVariation(), policy=POLICIES[where])
    assert verdict.failed and abs(verdict.margin + 1) <= uncertainty(verdict) + 1e-15, verdict


def test_total_variation_exact_margin_is_minus_one():
    verdict = zero_gradient(drifts.TotalVariation(), EXACT_MDP, [["1/5", "3/10", "1/2"]] * 2)
    assert verdict.exact and verdict.margin == -1 and verdict.witness["arithmetic"] == "exact"
    assert (verdict.worst_state, verdict.witness["from_action"], verdict.witness["to_action"]) == (
        0,
        0,
        1,
    )


@pytest.mark.parametrize("where", list(POLICIES), ids=list(POLICIES))
def test_linear_penalty_derivative_is_the_weight_difference(where):
    policy = POLICIES[where]
    drift = drifts.LinearPenalty(weights=(0, 1, 3))
    verdict = zero_gradient(drift, policy=policy)
    # |w_a - w_b| is largest (3) between actions 0 and 2: the first feasible orientation
    source, target = (0, 2) if policy[0, 0] > 0 else (2, 0)
    assert_derivative(verdict, 3, 0, source, target, bool(policy[0, target] == 0))


def _sqrt_kl(policy, candidate):
    return np.sqrt(np.maximum(divergences.kl(policy, candidate), 0.0))


SQRT_KL = drifts.CallableDrift(_sqrt_kl, name="sqrt KL")


@pytest.mark.parametrize("where", ["interior", "tiny_1e-12"])
def test_square_root_of_kl_has_the_closed_form_derivative(where):
    policy = POLICIES[where]
    verdict = zero_gradient(SQRT_KL, policy=policy)
    # sqrt(KL(pi || pi + t v)) = t sqrt(sum v^2 / (2 pi)) + O(t^2): largest at the two
    # smallest entries of a row; directions whose derivatives agree (both orientations; every
    # pair with the same 1e-12 entry, equal to 1e-12 relative) are ties, reported first in
    # (state, source, target) order
    derivative = {
        (s, b, a): math.sqrt((1 / policy[s, a] + 1 / policy[s, b]) / 2)
        for s in range(2)
        for b in range(3)
        for a in range(3)
        if a != b
    }
    largest = max(derivative.values())
    place = min(p for p, g in derivative.items() if g >= largest * (1 - 1e-6))
    assert_derivative(verdict, derivative[place], *place, False)


def test_square_root_of_kl_with_a_1e_12_entry_next_to_one():
    policy = np.array([[1e-12, 1 - 1e-12], [0.5, 0.5]])
    mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [1, 0]], 0.5)
    verdict = zero_gradient(SQRT_KL, mdp, policy)
    expected = math.sqrt((1 / 1e-12 + 1 / (1 - 1e-12)) / 2)
    assert_derivative(verdict, expected, 0, 0, 1, False)


def _ppo_face(exact: bool):
    policy = [["0", "2/5", "3/5"], ["3/10", "7/10", "0"]]
    mdp = EXACT_MDP if exact else MDP
    advantages = tm.evaluate(EXACT_MDP, np.array(
        [[Fraction(x) for x in row] for row in policy], dtype=object
    )).advantages  # fmt: skip
    floats = np.array([[float(Fraction(x)) for x in row] for row in policy])
    return mdp, policy if exact else floats, advantages


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float"])
def test_ppo_clip_at_a_face_has_derivative_the_advantage(exact):
    mdp, policy, advantages = _ppo_face(exact)
    # pi[0, 0] = 0 with A[0, 0] = 989/785 > 0; pi[1, 2] = 0 with A[1, 2] = 689/785 > 0
    assert advantages[0, 0] == Fraction(989, 785) and advantages[1, 2] == Fraction(689, 785)
    verdict = zero_gradient(drifts.PPOClip(), mdp, policy)
    assert_derivative(verdict, Fraction(989, 785), 0, 1, 0, True)
    assert verdict.exact is exact
    assert verdict.witness["failed_directions"] == 4  # two sources into each of the two zeros


def test_ppo_clip_at_a_face_with_1e_12_entries():
    policy = np.array([[0.0, 1e-12, 1 - 1e-12], [0.5, 0.5, 0.0]])
    advantages = np.asarray(tm.evaluate(MDP, policy).advantages, dtype=float)
    faces = [(s, b) for s in range(2) for b in range(3) if policy[s, b] == 0]
    s, b = max(faces, key=lambda f: advantages[f])
    assert advantages[s, b] > 0
    verdict = zero_gradient(drifts.PPOClip(), policy=policy)
    source = next(c for c in range(3) if policy[s, c] > 0)
    assert_derivative(verdict, advantages[s, b], s, source, b, True)


@pytest.mark.parametrize("where", ["interior", "tiny_1e-12"])
def test_ppo_clip_is_a_drift_in_the_interior(where):
    assert zero_gradient(drifts.PPOClip(), policy=POLICIES[where]).passed


@pytest.mark.parametrize(
    ("name", "derivative"),
    [("forward_kl", 1), ("squared_hellinger", Fraction(1, 2))],
    ids=["forward_kl", "squared_hellinger"],
)
@pytest.mark.parametrize("where", ["face", "face_tiny_1e-12"])
def test_kl_type_drifts_fail_toward_actions_pi_never_takes(name, derivative, where):
    policy = POLICIES[where]
    verdict = zero_gradient(drifts.DRIFTS[name](), policy=policy)
    # toward the zero entry of state 0 (action 0), from the first action pi uses
    assert_derivative(verdict, float(derivative), 0, 1, 0, True)
    assert "one-sided at a face" in verdict.detail and "not 0" in verdict.detail


def test_trust_region_kl_at_a_face_has_derivative_its_coefficient():
    drift = drifts.TrustRegionKL()
    context = definitions._context(MDP, FACE, drift)
    verdict = zero_gradient(drift, policy=FACE)
    assert_derivative(verdict, drift.coefficient_for(context), 0, 1, 0, True)


def test_failure_detail_and_witness_read_correctly():
    verdict = zero_gradient(drifts.TotalVariation(), policy=TINY)
    assert "level off" in verdict.detail and "decay" not in verdict.detail.split("level off")[0]
    witness = verdict.witness
    for key in ("state", "from_action", "to_action", "one_sided", "derivative", "uncertainty",
                "steps", "quotients", "noise", "noise_floor"):  # fmt: skip
        assert key in witness, key
    steps = witness["steps"]
    assert len(steps) >= 4 and all(a > b > 0 for a, b in itertools.pairwise(steps))
    assert len(witness["quotients"]) == len(steps) == len(witness["noise"])
    passing = zero_gradient(drifts.SquaredEuclidean(), policy=TINY)
    assert passing.passed and "decay to 0" in passing.detail and "level off" not in passing.detail


def test_failed_zero_gradient_replays():
    verdict = zero_gradient(drifts.PPOClip(), *_ppo_face(True)[:2])
    replayed = proofs_check.replay(verdict.witness)
    assert (replayed.outcome, replayed.margin, replayed.worst_state) == (
        "failed",
        verdict.margin,
        verdict.worst_state,
    )


# ---------------------------------------------------------------- undecided zero gradient
@dataclass(frozen=True)
class NaNAwayFromPi(drifts.Drift):
    """Squared L2 at state 1; NaN at state 0 except at pibar = pi (a broken user drift)."""

    def value(self, context, candidate):
        values = divergences.squared_euclidean(context.policy, candidate)
        moved = np.any(np.asarray(candidate) != np.asarray(context.policy), axis=1)
        return np.where(moved & (np.arange(len(values)) == 0), np.nan, values)


def test_nan_drift_is_inconclusive_never_passed_or_failed():
    report = proofs_check.check_drift(NaNAwayFromPi(), MDP, INTERIOR)
    verdict = report[ZERO_GRADIENT]
    assert verdict.inconclusive and "NaN" in verdict.reason, verdict
    assert verdict.worst_state == 0
    assert report["definition_3_1_nonnegative"].inconclusive
    assert report["drift_continuity"].inconclusive


def test_entry_below_the_rounding_resolution_is_inconclusive():
    # 1e-300 next to 1: no exact move of mass between them exists in floating point
    policy = np.array([[1e-300, 1.0 - 1e-300, 0.0], [0.2, 0.3, 0.5]])
    verdict = zero_gradient(drifts.SquaredEuclidean(), policy=policy)
    assert verdict.inconclusive and "usable steps" in verdict.reason, verdict
    assert verdict.worst_state == 0


def test_gradient_never_passes_reliably_flat_quotients():
    # TotalVariation's gradient sign(pibar - pi) / 2 is 0 at pibar = pi: a kink
    drift = drifts.TotalVariation()
    context = definitions._context(MDP, INTERIOR, drift)
    assert np.all(drift.gradient(context, INTERIOR) == 0)
    verdict = zero_gradient(drift)
    assert verdict.failed and not verdict.witness["corroborated_by_gradient"]


# ---------------------------------------------------------------- Def. 3.1(1)
@dataclass(frozen=True)
class NegativeRow(drifts.Drift):
    """-(pibar[s, 0] - pi[s, 0])^2: zero at pi, zero derivative, negative elsewhere."""

    rational = True

    def value(self, context, candidate):
        difference = candidate[:, 0] - context.policy[:, 0]
        return -(difference * difference)


@dataclass(frozen=True)
class ShiftedL2(drifts.Drift):
    """||pi - pibar||^2 + 1/7: positive, but not 0 at pi."""

    rational = True

    def value(self, context, candidate):
        return divergences.squared_euclidean(context.policy, candidate) + Fraction(1, 7)


def test_nonnegativity_fails_by_the_most_negative_sample_exactly():
    policy = tm.uniform_policy(EXACT_MDP)
    report = proofs_check.check_drift(NegativeRow(), EXACT_MDP, policy)
    candidates = definitions.random_policies(EXACT_MDP, 16, 0)
    candidates += [policy + (c - policy) * Fraction(1, 8) for c in candidates]
    expected = min(-((c[s, 0] - policy[s, 0]) ** 2) for c in candidates for s in range(2))
    verdict = report["definition_3_1_nonnegative"]
    assert verdict.failed and verdict.exact and verdict.margin == expected < 0, verdict
    assert report["definition_3_1_zero_at_policy"].passed
    assert report[ZERO_GRADIENT].passed  # its derivative at pi is 0: only (1) fails


def test_zero_at_policy_fails_by_one_seventh():
    report = proofs_check.check_drift(ShiftedL2(), EXACT_MDP)
    verdict = report["definition_3_1_zero_at_policy"]
    assert verdict.failed and verdict.margin == Fraction(-1, 7) and verdict.worst_state == 0


# ---------------------------------------------------------------- continuity
THRESHOLD = 0.05
HEIGHTS = np.array([1 / 7, 2 / 7])


def _stepped(policy, candidate):
    distance = divergences.total_variation(policy, candidate)
    return divergences.squared_euclidean(policy, candidate) + HEIGHTS * (distance > THRESHOLD)


def test_drift_with_a_step_fails_continuity_at_the_step():
    verdict = proofs_check.check_drift(
        drifts.CallableDrift(_stepped, name="stepped"), MDP, tm.uniform_policy(MDP)
    )["drift_continuity"]
    assert verdict.failed and verdict.worst_state == 1, verdict
    assert abs(verdict.margin + HEIGHTS[1]) <= 1e-9, verdict  # the step, not the smooth part
    witness = verdict.witness
    start, end = np.array(witness["start"]), np.array(witness["end"])
    crossing = THRESHOLD / divergences.total_variation(start, end)[1]
    assert abs(witness["position"] - crossing) <= 1e-9, (witness["position"], crossing)


def test_adaptive_kl_jumps_where_the_mean_kl_crosses_a_threshold():
    drift = drifts.AdaptiveKLPenalty()
    verdict = proofs_check.check_drift(drift, MDP)["drift_continuity"]
    assert verdict.failed, verdict
    witness = verdict.witness
    start, end = np.array(witness["start"]), np.array(witness["end"])
    mean_kl = divergences.kl(start, start + (end - start) * witness["position"]).mean()
    thresholds = (1.5 * drift.target, drift.target / 1.5)
    assert min(abs(mean_kl - x) for x in thresholds) <= 1e-9, mean_kl


def test_continuity_with_nan_is_inconclusive():
    verdict = proofs_check.check_drift(NaNAwayFromPi(), MDP)["drift_continuity"]
    assert verdict.inconclusive and "NaN" in verdict.reason, verdict


# ---------------------------------------------------------------- Def. 3.2
@dataclass(frozen=True)
class AwayFromPi(Neighbourhood):
    """{pibar : max_s TV(pi[s], pibar[s]) >= 1/7}: does not contain pi (slack -1/7 there)."""

    def slack(self, context, candidate):
        return float(divergences.total_variation(context.policy, candidate).max()) - 1 / 7


@dataclass(frozen=True)
class AllOrNothing(Neighbourhood):
    """pibar is inside iff it changes every row of pi or none (slack 1/7, else -1/7): putting
    one row of a member back to pi always leaves N, by exactly 1/7."""

    monotone = False

    def slack(self, context, candidate):
        changed = np.any(np.asarray(candidate) != np.asarray(context.policy), axis=1)
        return 1 / 7 if changed.all() or not changed.any() else -1 / 7


@dataclass(frozen=True)
class OpenBall(Neighbourhood):
    """{pibar : max_s TV < 1/10}: open, its slack jumps to -1 at the boundary."""

    def slack(self, context, candidate):
        distance = float(divergences.total_variation(context.policy, candidate).max())
        return 0.1 - distance if distance < 0.1 else -1.0


@dataclass(frozen=True)
class NaNSlack(Neighbourhood):
    """A TV ball whose slack is NaN beyond chi-distance 0.05 (a broken user piece)."""

    def slack(self, context, candidate):
        distance = float(divergences.total_variation(context.policy, candidate).max())
        return 0.1 - distance if distance < 0.05 else math.nan


def test_neighbourhood_without_pi_fails_by_one_seventh():
    report = proofs_check.check_neighbourhood(AwayFromPi(), MDP)
    assert report["definition_3_2_contains_policy"].failed
    assert abs(report["definition_3_2_contains_policy"].margin + 1 / 7) <= 1e-15
    assert report["definition_3_2_closed_ball"].failed


def test_ratio_box_at_a_face_contains_no_ball():
    report = proofs_check.check_neighbourhood(RatioBox(0.2), MDP, FACE)
    ball = report["definition_3_2_closed_ball"]
    assert ball.failed and ball.margin <= 1e-9, ball
    nearest = np.array(ball.witness["nearest_outside"])
    assert definitions._tv_distance(FACE, nearest) <= 1e-9


def test_tv_ball_has_its_radius():
    report = proofs_check.check_neighbourhood(StateBall("tv", Fraction(1, 10)), MDP)
    ball = report["definition_3_2_closed_ball"]
    assert ball.passed and 0.1 - 1e-9 <= ball.margin <= 0.1 + 1e-9, ball
    assert report["definition_3_2_compact"].passed


def test_open_ball_leaves_closedness_undecided():
    report = proofs_check.check_neighbourhood(OpenBall(), MDP)
    compact = report["definition_3_2_compact"]
    assert compact.inconclusive and "cannot be decided" in compact.reason, compact
    assert report["definition_3_2_closed_ball"].passed


def test_swap_that_always_leaves_n_fails_monotonicity_by_one_seventh():
    verdict = proofs_check.check_neighbourhood(AllOrNothing(), MDP)[
        "lemma_3_5_monotone_neighbourhood"
    ]
    assert verdict.failed and abs(verdict.margin + 1 / 7) <= 1e-15 and verdict.worst_state == 0


def test_non_monotone_shift_fails_at_the_swap_it_reports():
    mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [1, 0]], 0.5)
    neighbourhood = NonMonotoneShift(Fraction(1, 4))
    verdict = proofs_check.check_neighbourhood(neighbourhood, mdp, [[0.5, 0.5]] * 2)[
        "lemma_3_5_monotone_neighbourhood"
    ]
    member = np.array(verdict.witness["member"])
    state = verdict.witness["swapped_state"]
    # N = {|sum_s (pibar[s, 0] - pi[s, 0])| <= 1/4}: the swap removes row `state`'s shift
    shifts = member[:, 0] - 0.5
    expected = 0.25 - abs(shifts.sum() - shifts[state])
    assert verdict.failed and verdict.worst_state == state
    assert abs(verdict.margin - expected) <= 1e-12 and expected < 0


def test_nan_slack_is_inconclusive_not_outside():
    report = proofs_check.check_neighbourhood(NaNSlack(), MDP)
    assert report["definition_3_2_contains_policy"].passed
    for name in ("definition_3_2_closed_ball", "definition_3_2_compact"):
        assert report[name].inconclusive and "NaN" in report[name].reason, report[name]
    assert not report.failed()


# ---------------------------------------------------------------- sampling
@dataclass(frozen=True)
class SwitchingSampling(Sampling):
    """beta = (1/4, 3/4) where pi[0, 0] > 1/2, else (1/2, 1/2): discontinuous in pi."""

    def weights(self, context):
        high = float(context.policy[0, 0]) > 0.5
        return np.array([0.25, 0.75]) if high else np.array([0.5, 0.5])


@dataclass(frozen=True)
class NaNSampling(Sampling):
    def weights(self, context):
        return np.array([np.nan, 1.0])


TWO_STATES = tm.FiniteMDP([[[0.5, 0.5], [0, 1]], [[0.8, 0.2], [0.1, 0.9]]], [[5, 10], [-1, 2]], 0.9)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float"])
def test_sampling_with_a_zero_fails_at_that_state(exact):
    mdp = tm.FiniteMDP(
        [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
    )
    mdp = mdp if exact else mdp.to_float()
    verdict = proofs_check.check_sampling(FixedSampling((0, 1), allow_zero=True), mdp)[
        "sampling_positive"
    ]
    assert verdict.failed and verdict.margin == 0 and verdict.worst_state == 0, verdict
    assert verdict.exact is exact


def test_on_policy_sampling_that_never_reaches_a_state_fails_there():
    # d = (1, 0); action 0 stays in state 0: a policy taking it never visits state 1, so
    # beta = rhobar_pi has beta[1] = 0 (VisitationSampling refuses it with an error)
    mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [1, 0]], 0.5, [1, 0])
    policies = definitions.random_policies(mdp, 8, 0)
    assert any(p[0, 0] == 1 for p in policies)  # a sampled policy never leaves state 0
    verdict = proofs_check.check_sampling(VisitationSampling(), mdp)["sampling_positive"]
    assert verdict.failed and verdict.margin == 0 and verdict.worst_state == 1, verdict


def test_sampling_nan_is_inconclusive():
    verdict = proofs_check.check_sampling(NaNSampling(), TWO_STATES)["sampling_positive"]
    assert verdict.inconclusive and "NaN" in verdict.reason


def test_switching_sampling_jumps_by_a_quarter_where_pi_0_0_crosses_a_half():
    policies = definitions.random_policies(TWO_STATES, 8, 0)
    crossing = [(a[0, 0] - 0.5) * (b[0, 0] - 0.5) < 0 for a, b in itertools.pairwise(policies[:5])]
    assert any(crossing)  # the control needs a sampled segment across pi[0, 0] = 1/2
    report = proofs_check.check_sampling(SwitchingSampling(), TWO_STATES)
    verdict = report["sampling_continuity"]
    assert verdict.failed and abs(verdict.margin + 0.25) <= 1e-9, verdict
    start, end = np.array(verdict.witness["start"]), np.array(verdict.witness["end"])
    t = (0.5 - start[0, 0]) / (end[0, 0] - start[0, 0])
    assert abs(verdict.witness["position"] - t) <= 1e-9
    assert proofs_check.check_sampling(UniformSampling(), TWO_STATES).passed


# ---------------------------------------------------------------- drift distributions
@dataclass(frozen=True)
class SwitchingNu(DriftDistribution):
    """Point mass on state 0 where pibar[0, 0] > 1/2, else on state 1 (depends on pibar)."""

    depends_on_candidate = True

    def weights(self, context, candidate, state_drift=None):
        return np.array([1.0, 0.0]) if candidate[0, 0] > 0.5 else np.array([0.0, 1.0])


@dataclass(frozen=True)
class HiddenDependence(DriftDistribution):
    """Declares independence but weights states by the candidate's first column."""

    def weights(self, context, candidate, state_drift=None):
        column = np.asarray(candidate[:, 0], dtype=float)
        return column / column.sum()


def test_switching_nu_makes_the_weighted_drift_jump():
    policy = np.array([[0.3, 0.7], [0.5, 0.5]])
    report = proofs_check.check_drift_distribution(
        SwitchingNu(), drifts.SquaredEuclidean(), TWO_STATES, policy
    )
    verdict = report["drift_distribution_continuity"]
    witness = verdict.witness
    start, end, t = np.array(witness["start"]), np.array(witness["end"]), witness["position"]
    # L2 along the segment is t^2 ||end - start||^2 per state; nu switches from state 1 to 0
    sizes = ((end - start) ** 2).sum(axis=1) * t**2
    assert verdict.failed and abs(verdict.margin + abs(sizes[0] - sizes[1])) <= 1e-9, verdict
    assert abs(start[0, 0] + t * (end[0, 0] - start[0, 0]) - 0.5) <= 1e-9
    assert report["drift_distribution_independent"].failed


def test_max_drift_state_nu_jumps_but_the_weighted_drift_is_continuous():
    report = proofs_check.check_drift_distribution(MaxDriftState(), drifts.ForwardKL(), TWO_STATES)
    verdict = report["drift_distribution_continuity"]
    assert verdict.passed, verdict  # drift_pi(pibar) = max_s KL: continuous (spec, section 2)
    assert report["drift_distribution_independent"].failed


def test_hidden_dependence_on_pibar_is_observed():
    verdict = proofs_check.check_drift_distribution(
        HiddenDependence(), drifts.SquaredEuclidean(), TWO_STATES
    )["drift_distribution_independent"]
    assert verdict.failed and verdict.margin < -1e-3 and "declares" in verdict.detail
    fixed = proofs_check.check_drift_distribution(
        SameAsSampling(), drifts.SquaredEuclidean(), TWO_STATES
    )
    assert fixed.passed and fixed["drift_distribution_independent"].passed
    assert proofs_check.check_drift_distribution(
        CandidateVisitation(), drifts.ForwardKL(), TWO_STATES
    )["drift_distribution_independent"].failed


# ---------------------------------------------------------------- exact moves
@pytest.mark.parametrize("seed", range(4))
def test_moves_are_exact_and_stay_on_the_simplex(seed):
    rng = np.random.default_rng(seed)
    to = 10.0 ** rng.uniform(-15, 0, 200)
    fro = 10.0 ** rng.uniform(-15, 0, 200)
    scale = np.minimum(to, fro)
    for k in range(0, 40, 3):
        steps = definitions._exact_moves(to, fro, scale * 2.0 ** -(k + 1))
        for a, b, t in zip(to, fro, steps, strict=True):
            if np.isnan(t):
                continue
            assert 0 < t <= b
            assert Fraction(a + t) == Fraction(a) + Fraction(t)
            assert Fraction(b - t) == Fraction(b) - Fraction(t)


def test_moves_without_an_exact_two_entry_step_are_compensated_exactly():
    # 0.2/0.8 = 0.2499999999996875... (just below 1/4, odd on its grid) next to
    # 0.6/0.8 = 0.75...: no t > 3.2e-13 moves mass between them exactly, so the target's
    # rounding residual goes to the third (1e-12) entry
    policy = np.array([[1e-12, 0.2, 0.6]])
    policy = policy / policy.sum(axis=1, keepdims=True)
    partner = definitions._partners(policy, 1, 2)
    assert partner.tolist() == [0]
    requested = np.array([0.1])
    assert np.isnan(definitions._exact_moves(policy[:, 1], policy[:, 2], requested)[0])
    steps, candidate, compensated = definitions._exact_candidates(policy, 1, 2, partner, requested)
    assert compensated[0] and abs(steps[0] - 0.1) <= 1e-15
    total = sum(Fraction(x) for x in candidate[0])
    assert total == sum(Fraction(x) for x in policy[0])  # exactly as much on the simplex as pi
    assert Fraction(candidate[0, 2]) == Fraction(policy[0, 2]) - Fraction(steps[0])
    assert abs(Fraction(candidate[0, 0]) - Fraction(policy[0, 0])) <= Fraction(2.0**-54)
    mdp = tm.FiniteMDP([[[1.0], [1.0], [1.0]]], [[0.0, 1.0, 2.0]], 0.5)
    for drift in (drifts.SquaredHellinger(), drifts.ForwardKL(), drifts.SquaredEuclidean()):
        verdict = zero_gradient(drift, mdp, policy)
        assert verdict.passed, verdict


@pytest.mark.parametrize("where", ["face", "face_tiny_1e-12"])
def test_square_root_of_kl_toward_an_unused_action_has_an_infinite_derivative(where):
    # sqrt(KL(pi || pi + t (e_0 - e_b))) = sqrt(-pi_b log(1 - t / pi_b)) ~ sqrt(t): q ~ t^-1/2;
    # (only one row, so that the infinite direction is the one reported)
    policy = POLICIES[where][:1]
    mdp = tm.FiniteMDP([[[1.0]] * 3], [[0.0, 1.0, 2.0]], 0.5)
    verdict = zero_gradient(SQRT_KL, mdp, policy)
    assert verdict.failed and verdict.margin == -math.inf, verdict
    assert (verdict.worst_state, verdict.witness["to_action"]) == (0, 0)
    assert verdict.witness["one_sided"] and "grow without bound" in verdict.detail


# ---------------------------------------------------------------- decisions (mutation testing)
# Each test below was written for a mutant of the decision code that no control above killed
# (docs/mutation.md); it pins the behaviour the mutant changed.


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float"])
def test_a_drift_at_a_face_is_checked_only_along_feasible_directions(exact):
    # pi[0, 0] = 0 and pi[1, 2] = 0: mass can leave the 2 + 2 used actions toward either other
    # action (8 directions); moving mass out of an unused action is infeasible and not checked
    mdp, policy, _ = _ppo_face(exact)
    verdict = zero_gradient(drifts.SquaredEuclidean(), mdp, policy)
    assert verdict.passed and verdict.margin == 0, verdict
    assert verdict.witness["directions"] == 8 and verdict.witness["arithmetic"] == (
        "exact" if exact else "float"
    )
    assert "along all 8 feasible directions" in verdict.detail
    assert verdict.witness["one_sided"], verdict  # the widest reported is toward a zero


def _evidence(quotients, *, undefined=False):
    """Exact quotients q_k at t_k = 2^-(k+1) along mass from action 0 to 1 at one state."""
    count = len(quotients)
    steps = np.array([[Fraction(1, 2 ** (k + 1))] for k in range(count)], dtype=object)
    zero = np.full(steps.shape, Fraction(0), dtype=object)
    return definitions._Evidence(
        1, 0, steps, np.array([[Fraction(q)] for q in quotients], dtype=object),
        np.ones((count, 1), dtype=bool), np.zeros(1, dtype=bool), np.array([undefined]), True,
        noise=zero, floor=zero,
    )  # fmt: skip


HALF = np.array([[Fraction(1, 2), Fraction(1, 2)]], dtype=object)


def classify(quotients, **options):
    (direction,) = definitions._classify(_evidence(quotients, **options), HALF, None)
    return direction


def test_decaying_quotients_pass_exactly():
    # q = t: every linear Richardson estimate is exactly 0, with uncertainty 0
    direction = classify([Fraction(1, 2 ** (k + 1)) for k in range(12)])
    assert (direction.outcome, direction.derivative, direction.uncertainty) == ("passed", 0, 0)
    assert direction.sigma == Fraction(1, 2) and direction.reason == ""


def test_an_estimate_between_one_and_four_uncertainties_is_undecided():
    # q_k = 1 +- 1/15 alternating: the estimates 1 +- 1/5 disagree by 2/5, so g = 6/5 with
    # U = 2/5: U < |g| <= 4 U, neither clearly 0 nor clearly nonzero
    direction = classify([1 + (-1) ** k * Fraction(1, 15) for k in range(12)])
    assert direction.outcome == "inconclusive", direction
    assert (direction.derivative, direction.uncertainty) == (Fraction(6, 5), Fraction(2, 5))
    assert direction.reason == (
        "the extrapolated derivative 6/5 is within 4 x its uncertainty 2/5: neither clearly 0 "
        "nor clearly nonzero"
    )
    # 1 +- 1/30: g = 11/10, U = 1/5 < |g| / 4: fails
    failing = classify([1 + (-1) ** k * Fraction(1, 30) for k in range(12)])
    assert failing.outcome == "failed" and failing.derivative == Fraction(11, 10)


@pytest.mark.parametrize("undefined", [False, True], ids=["defined", "nan_somewhere"])
def test_quotients_consistent_with_zero_but_unresolved_are_undecided(undefined):
    # q_k = +-1 alternating: g = 3, U = 6 >= |g|, but U > 1/8 of the quotients' size 1
    direction = classify([(-1) ** k for k in range(12)], undefined=undefined)
    assert direction.outcome == "inconclusive", direction
    assert (direction.derivative, direction.uncertainty, direction.sigma) == (3, 6, 1)
    expected = (
        "the quotients are consistent with 0 but not resolved: uncertainty 6 exceeds 1/8 of "
        "their size 1"
    )
    if undefined:
        expected += "; the drift is NaN at some feasible points"
    assert direction.reason == expected


def test_an_estimate_equal_to_its_uncertainty_is_consistent_with_zero():
    # q_k = 1 -+ 1/9 alternating: g = 2/3 = U exactly, so |g| <= U ("consistent with 0", not
    # "within 4 x"), unresolved against the quotients' size 10/9
    direction = classify([1 - (-1) ** k * Fraction(1, 9) for k in range(12)])
    assert direction.outcome == "inconclusive", direction
    assert direction.derivative == direction.uncertainty == Fraction(2, 3)
    assert direction.reason == (
        "the quotients are consistent with 0 but not resolved: uncertainty 2/3 exceeds 1/8 of "
        "their size 10/9"
    )


def _float_evidence(quotients):
    """Float quotients q_k at t_k = 2^-(k+1), noise 0, along mass from action 0 to 1."""
    count = len(quotients)
    steps = 2.0 ** -np.arange(1.0, count + 1)[:, None]
    zero = np.zeros((count, 1))
    return definitions._Evidence(
        1, 0, steps, np.array(quotients, dtype=float)[:, None], np.ones((count, 1), dtype=bool),
        np.zeros(1, dtype=bool), np.zeros(1, dtype=bool), False, noise=zero, floor=zero,
    )  # fmt: skip


EPS = float(np.finfo(float).eps)


@pytest.mark.parametrize(
    ("gradient", "corroborated"),
    [
        ((5.0, 5.0), True),  # directional derivative 0
        ((-5.0, -5.0), True),
        ((1.0, 1.0 + 32 * EPS), True),  # 32 eps: within 16 eps (|g_a| + |g_b|) = 32 eps + ...
        ((1.0, 1.0 + 33 * EPS), False),  # 33 eps: beyond it
        ((1.0, math.inf), False),  # not finite
        ((1.0, 1.0), True),
        ((0.0, 1e-300), False),  # beyond 16 eps x 1e-300
        (None, False),
    ],
    ids=["zero", "negative", "32_eps", "33_eps", "inf", "one", "tiny", "none"],
)
def test_the_gradient_decides_an_undecided_interior_direction_only_when_it_is_zero(
    gradient, corroborated
):
    # q_k = +-1: undecided (g = 3, U = 6 > 1/8); the gradient's directional derivative
    # g[1] - g[0] must be 0 to rounding (16 eps (|g[0]| + |g[1]|)) to decide it
    given = None if gradient is None else np.array([gradient])
    (direction,) = definitions._classify(
        _float_evidence([(-1.0) ** k for k in range(12)]), np.array([[0.5, 0.5]]), given
    )
    assert (direction.derivative, direction.uncertainty) == (3.0, 6.0)
    assert direction.corroborated is corroborated
    assert direction.outcome == ("passed" if corroborated else "inconclusive"), direction
    assert (direction.reason == "") is corroborated


def test_the_gradient_corroborates_an_estimate_up_to_four_uncertainties():
    # q_k = 27 -+ 1: g = 24 = 4 U (U = 6), undecided; a zero gradient agrees with it within 4 U
    (direction,) = definitions._classify(
        _float_evidence([27.0 - (-1.0) ** k for k in range(12)]),
        np.array([[0.5, 0.5]]),
        np.array([[2.0, 2.0]]),
    )
    assert (direction.derivative, direction.uncertainty) == (24.0, 6.0)
    assert direction.outcome == "passed" and direction.corroborated, direction


def test_the_gradient_is_not_used_on_a_face_or_for_exact_quotients():
    on_face = definitions._classify(
        _float_evidence([(-1.0) ** k for k in range(12)]),
        np.array([[0.5, 0.0]]),
        np.array([[5.0, 5.0]]),
    )
    assert [(d.outcome, d.one_sided, d.corroborated) for d in on_face] == [
        ("inconclusive", True, False)
    ]
    exact = definitions._classify(
        _evidence([(-1) ** k for k in range(12)]), HALF, np.array([[5.0, 5.0]])
    )
    assert [(d.outcome, d.corroborated) for d in exact] == [("inconclusive", False)]


def test_an_infinite_derivative_is_certain():
    # q ~ t^-1/2 grows without bound: the failure carries no uncertainty (U = 0)
    policy = POLICIES["face"][:1]
    mdp = tm.FiniteMDP([[[1.0]] * 3], [[0.0, 1.0, 2.0]], 0.5)
    verdict = zero_gradient(SQRT_KL, mdp, policy)
    assert verdict.failed and verdict.margin == -math.inf, verdict
    assert verdict.witness["uncertainty"] == 0 and verdict.tolerance.value == 0
    assert verdict.tolerance.fail_threshold == 0


def test_the_gradient_must_agree_with_the_estimate_itself():
    # g = 24 = 4 U; a directional derivative of +1 ulp(1024) (within its rounding allowance
    # 16 eps x 2048) leaves |g - directional| just below 4 U: corroborated
    ulp = float(np.spacing(1024.0))
    (direction,) = definitions._classify(
        _float_evidence([27.0 - (-1.0) ** k for k in range(12)]),
        np.array([[0.5, 0.5]]),
        np.array([[1024.0, 1024.0 + ulp]]),
    )
    assert 24.0 - ulp < 24.0 and direction.derivative == 24.0
    assert direction.outcome == "passed" and direction.corroborated, direction
    # with -1 ulp the difference 24 + ulp exceeds 4 U: undecided
    (against,) = definitions._classify(
        _float_evidence([27.0 - (-1.0) ** k for k in range(12)]),
        np.array([[0.5, 0.5]]),
        np.array([[1024.0 + ulp, 1024.0]]),
    )
    assert against.outcome == "inconclusive" and not against.corroborated, against


def direction(state, source, target, outcome, derivative, uncertainty=Fraction(0)):
    reason = "undecided" if outcome == "inconclusive" else ""
    return definitions._Direction(
        state, source, target, False, outcome, Fraction(derivative), Fraction(uncertainty),
        Fraction(1), reason, None,
    )  # fmt: skip


def test_pick_reports_the_largest_failure_ties_by_place():
    largest = direction(1, 0, 1, "failed", 3, Fraction(1, 2))
    # 2 + 1/2 + 1/2 = 3: agrees with the largest within the two uncertainties, a tie
    tied = direction(0, 1, 0, "failed", 2, Fraction(1, 2))
    # 2 + 1/4 + 1/2 < 3: smaller
    smaller = direction(0, 0, 1, "failed", 2, Fraction(1, 4))
    assert definitions._pick([largest, smaller]) is largest
    assert definitions._pick([largest, tied, smaller]) is tied
    equal = direction(1, 0, 2, "failed", -3)  # the same size, exact: a tie, earlier in order
    assert definitions._pick([direction(1, 2, 0, "failed", 3), equal]) is equal
    passing = direction(0, 0, 1, "passed", 100)
    undecided = direction(0, 1, 0, "inconclusive", 50)
    assert definitions._pick([passing, undecided, largest]) is largest


def test_pick_reports_the_first_undecided_else_the_widest_pass():
    later = direction(1, 0, 1, "inconclusive", 5)
    first = direction(0, 1, 0, "inconclusive", 1)
    passing = direction(0, 0, 1, "passed", 100)
    assert definitions._pick([passing, later, first]) is first
    wide = direction(1, 0, 1, "passed", Fraction(1, 10), 1)
    high = direction(0, 0, 1, "passed", -1, 0)
    assert definitions._pick([high, wide]) is wide  # 1/10 + 1 > |-1| + 0
    assert definitions._pick([direction(0, 0, 1, "passed", -2), wide]).derivative == -2


# ---------------------------------------------------------------- check_drift's set-up
def test_check_drift_samples_its_candidates_and_their_mixtures():
    nonnegative = proofs_check.check_drift(drifts.SquaredEuclidean(), MDP)[
        "definition_3_1_nonnegative"
    ]
    assert nonnegative.detail == "D_pi(pibar|s) >= 0 on 32 sampled candidates (Def. 3.1(1))"
    assert nonnegative.witness["arguments"]["samples"] == 16
    three = proofs_check.check_drift(drifts.SquaredEuclidean(), MDP, samples=3)
    assert "on 6 sampled candidates" in three["definition_3_1_nonnegative"].detail


NOTE = (
    " (checked at pi mixed with 1/10 uniform: ReverseKL() needs pi > 0 and the given pi has zeros)"
)


def test_a_drift_that_needs_support_is_checked_inside_a_face():
    report = proofs_check.check_drift(drifts.ReverseKL(), MDP, FACE)
    inside = 0.9 * FACE + 0.1 / 3
    for verdict in report.verdicts:
        assert verdict.detail.endswith(NOTE), verdict
        assert np.allclose(verdict.witness["checked_policy"], inside, rtol=0, atol=1e-15)
        assert verdict.witness["arguments"]["policy"]["array"] == FACE.tolist()
    assert report.passed and not report.inconclusive(), report
    # at a policy without zeros there is nothing to say
    interior = proofs_check.check_drift(drifts.ReverseKL(), MDP, INTERIOR)
    for verdict in interior.verdicts:
        assert "mixed" not in verdict.detail and "checked_policy" not in verdict.witness


@pytest.mark.parametrize(
    ("mdp", "drift", "reason"),
    [
        (EXACT_MDP, drifts.SquaredEuclidean(), None),  # exact MDP, rational drift: Fractions
        (MDP, drifts.SquaredEuclidean(), "rounding"),  # a rational drift on a float MDP
        (EXACT_MDP, drifts.ForwardKL(), "rounding"),  # an irrational drift on an exact MDP
        (MDP, drifts.ForwardKL(), "rounding"),
    ],
    ids=["exact-rational", "float-rational", "exact-irrational", "float-irrational"],
)
def test_check_drift_decides_in_fractions_only_for_a_rational_drift_on_an_exact_mdp(
    mdp, drift, reason
):
    report = proofs_check.check_drift(drift, mdp)
    for name in ("definition_3_1_nonnegative", "definition_3_1_zero_at_policy"):
        verdict = report[name]
        assert verdict.passed, verdict
        if reason is None:
            assert verdict.exact and isinstance(verdict.margin, Fraction), verdict
        else:
            assert verdict.tolerance.reason == reason and isinstance(verdict.margin, float)
            assert verdict.tolerance.value == 1e-12 * float(proofs_check._common.value_scale(mdp))


def test_nonnegativity_is_decided_on_the_candidates_and_their_mixtures_one_eighth_from_pi():
    policy = tm.uniform_policy(EXACT_MDP)
    candidates = definitions.random_policies(EXACT_MDP, 16, 0)
    candidates += [policy + (c - policy) * Fraction(1, 8) for c in candidates]
    expected = min(sum((c[s] - policy[s]) ** 2) for c in candidates for s in range(2))
    verdict = proofs_check.check_drift(drifts.SquaredEuclidean(), EXACT_MDP)[
        "definition_3_1_nonnegative"
    ]
    assert verdict.passed and verdict.exact and verdict.margin == expected > 0, verdict


@dataclass(frozen=True)
class FloatZeroAtPi(drifts.Drift):
    """||pi - pibar||^2 in Fractions, but a float 0 vector at pibar = pi (a shortcut a user
    drift may take): flagged rational, yet not every value it returns is a Fraction."""

    rational = True

    def value(self, context, candidate):
        if np.array_equal(candidate, context.policy):
            return np.zeros(len(candidate))
        return divergences.squared_euclidean(context.policy, candidate)


@dataclass(frozen=True)
class FloatsFlaggedRational(drifts.Drift):
    """||pi - pibar||^2 as floats, flagged rational."""

    rational = True

    def value(self, context, candidate):
        squares = divergences.squared_euclidean(context.policy, candidate)
        return np.asarray(squares, dtype=float)


@pytest.mark.parametrize(
    "drift", [FloatZeroAtPi(), FloatsFlaggedRational()], ids=["floats_at_pi", "floats"]
)
def test_a_drift_flagged_rational_that_returns_floats_is_decided_in_floats(drift):
    report = proofs_check.check_drift(drift, EXACT_MDP)
    for name in ("definition_3_1_nonnegative", "definition_3_1_zero_at_policy"):
        verdict = report[name]
        assert verdict.passed and not verdict.exact, verdict
        assert verdict.tolerance.reason == "rounding (the drift returned floats)"
        assert verdict.tolerance.value == 1e-12 * float(proofs_check._common.value_scale(EXACT_MDP))
        assert isinstance(verdict.margin, float), verdict


@pytest.mark.parametrize(("samples", "worst"), [(1, 0), (2, 1)], ids=["first", "second"])
def test_nonnegativity_witness_shows_the_worst_candidate(samples, worst):
    # -(pibar[s, 0] - pi[s, 0])^2 at the two first sampled candidates: -1/225 and -4/9
    report = proofs_check.check_drift(NegativeRow(), EXACT_MDP, samples=samples)
    verdict = report["definition_3_1_nonnegative"]
    candidate = definitions.random_policies(EXACT_MDP, samples, 0)[worst]
    assert verdict.margin == [Fraction(-1, 225), Fraction(-4, 9)][worst], verdict
    assert verdict.witness["candidate"] == [[str(x) for x in row] for row in candidate]
    assert verdict.worst_iteration is None and verdict.worst_state == 0


def test_every_definition_3_1_witness_replays():
    report = proofs_check.check_drift(drifts.TotalVariation(), EXACT_MDP)
    assert report.outcome == "failed"
    for verdict in report.verdicts:
        assert verdict.witness["claim"] == verdict.name
        assert_replays(verdict)


def test_continuity_is_checked_along_six_segments_to_nine_tenths_of_each_candidate():
    drift = drifts.CallableDrift(_stepped, name="stepped")
    policy = tm.uniform_policy(MDP)
    verdict = proofs_check.check_drift(drift, MDP, policy)["drift_continuity"]
    assert verdict.failed and verdict.detail.startswith("D_pi(pibar|s) in pibar jumps by"), verdict
    witness = verdict.witness
    candidates = definitions.random_policies(MDP, 16, 0)
    candidates += [definitions._mix(policy, c, 0.125) for c in candidates]
    ends = [0.1 * policy + 0.9 * c for c in candidates[:6]]
    assert witness["segment"] < 6 and np.array_equal(witness["start"], policy)
    assert np.array_equal(witness["end"], ends[witness["segment"]])
    passing = proofs_check.check_drift(drifts.SquaredEuclidean(), MDP)["drift_continuity"]
    assert passing.passed and "is continuous along 6 sampled segments" in passing.detail


def test_the_report_title_names_a_user_drift_by_its_name():
    mine = drifts.CallableDrift(divergences.squared_euclidean, name="mine")
    assert proofs_check.check_drift(mine, MDP).title == "Definition 3.1: mine (CallableDrift)"
    shipped = proofs_check.check_drift(drifts.SquaredEuclidean(), MDP)
    assert shipped.title == "Definition 3.1: SquaredEuclidean()"


# ---------------------------------------------------------------- check_neighbourhood's set-up
def test_check_neighbourhood_samples_and_replays():
    report = proofs_check.check_neighbourhood(StateBall("tv", Fraction(1, 10)), MDP)
    ball = report["definition_3_2_closed_ball"]
    assert ball.detail == (
        "no point within chi = max_s TV distance r = 0.1 of pi was found outside N(pi) (32 "
        "bisections, 16 samples inside the ball; an upper estimate of the largest ball)"
    )
    for verdict in report.verdicts:
        arguments = verdict.witness["arguments"]
        assert (arguments["samples"], arguments["seed"]) == (16, 0)
        assert_replays(verdict)


TV_BALL = StateBall("tv", Fraction(1, 10))


def test_tv_ball_verdicts_in_full():
    report = proofs_check.check_neighbourhood(TV_BALL, MDP)
    policy = tm.uniform_policy(MDP)
    assert report.title == "Definition 3.2: StateBall(divergence='tv', radius=Fraction(1, 10))"
    inside = report["definition_3_2_contains_policy"]
    assert (inside.outcome, inside.margin, inside.worst_state, inside.detail) == (
        "passed", 0.1, 0, "pi in N(pi)"
    )  # fmt: skip
    assert (inside.tolerance.value, inside.tolerance.reason) == (1e-12, "rounding")
    ball = report["definition_3_2_closed_ball"]
    nearest = np.array(ball.witness["nearest_outside"])
    assert ball.witness["radius"] == ball.margin == definitions._tv_distance(policy, nearest)
    assert ball.tolerance.value == 1e-9
    assert ball.tolerance.reason == "bisection resolution (2^-40) on the radius"
    compact = report["definition_3_2_compact"]
    assert compact.passed and 0 <= compact.margin <= 1e-9, compact
    assert compact.detail == (
        "bounded (a subset of Pi) and closed along the 32 boundaries found: the slack is "
        "continuous across each (inside slack >= 0, outside slack -> 0)"
    )
    assert compact.tolerance.value == 1e-6
    for key in ("boundary_inside", "boundary_outside"):  # bracketing the sphere of radius 1/10
        point = np.array(compact.witness[key])
        assert abs(definitions._tv_distance(policy, point) - 0.1) <= 1e-9, key
    monotone = report["lemma_3_5_monotone_neighbourhood"]
    assert monotone.passed and monotone.detail == (
        "replacing pibar[s] by pi[s] keeps 32 sampled members of N(pi) inside (declared "
        "monotone=True; Lemma 3.5's proof needs it)"
    )
    assert (monotone.tolerance.value, monotone.tolerance.reason) == (1e-12, "rounding of the slack")
    swapped = np.array(monotone.witness["member"])
    swapped[monotone.witness["swapped_state"]] = policy[monotone.witness["swapped_state"]]
    assert monotone.worst_state == monotone.witness["swapped_state"]
    assert abs(monotone.margin - (0.1 - definitions._tv_distance(policy, swapped))) <= 1e-15


def test_a_neighbourhood_with_no_boundary_found():
    report = proofs_check.check_neighbourhood(AllOrNothing(), MDP)
    ball = report["definition_3_2_closed_ball"]
    assert ball.passed and ball.margin == 1.0 and ball.witness["nearest_outside"] is None
    compact = report["definition_3_2_compact"]
    assert compact.passed and compact.margin == math.inf, compact
    assert "along the 0 boundaries found" in compact.detail
    assert (
        compact.witness["boundary_inside"] is None and compact.witness["boundary_outside"] is None
    )
    monotone = report["lemma_3_5_monotone_neighbourhood"]
    assert monotone.detail == (
        "64 swaps of one row back to pi[s] leave N(pi) (declared monotone=False), worst at state 0 "
        "with slack -0.143: Lemma 3.5's swap argument does not apply"
    )


def test_failed_ball_details():
    away = proofs_check.check_neighbourhood(AwayFromPi(), MDP)["definition_3_2_closed_ball"]
    assert away.failed and away.detail == "pi is not in N(pi): no ball around pi is inside"
    box = proofs_check.check_neighbourhood(RatioBox(0.2), MDP, FACE)["definition_3_2_closed_ball"]
    assert box.failed and box.detail.endswith(
        "(32 bisections, 16 samples inside the ball; an upper estimate of the largest ball): "
        "points arbitrarily close to pi are outside, no ball"
    )


def test_an_open_boundary_is_reported_with_its_jump():
    compact = proofs_check.check_neighbourhood(OpenBall(), MDP)["definition_3_2_compact"]
    assert compact.inconclusive and compact.reason == (
        "the slack jumps by up to 1 across 32 of the boundaries found: whether the boundary "
        "points belong to N(pi) (closed) cannot be decided from samples"
    )
    # the bracket of the largest jump: inside just below TV 1/10, outside just beyond
    policy = tm.uniform_policy(MDP)
    inside = definitions._tv_distance(policy, np.array(compact.witness["boundary_inside"]))
    outside = definitions._tv_distance(policy, np.array(compact.witness["boundary_outside"]))
    assert inside < 0.1 <= outside <= inside + 1e-9


@dataclass(frozen=True)
class NaNAtPi(Neighbourhood):
    """A TV ball of radius 1/10 whose slack is NaN at pi itself."""

    def slack(self, context, candidate):
        distance = float(divergences.total_variation(context.policy, candidate).max())
        return math.nan if distance == 0 else 0.1 - distance


@dataclass(frozen=True)
class NaNOnSwap(Neighbourhood):
    """Slack 1/2 where every row or no row differs from pi, NaN in between."""

    def slack(self, context, candidate):
        changed = np.any(np.asarray(candidate) != np.asarray(context.policy), axis=1)
        return 0.5 if changed.all() or not changed.any() else math.nan


def test_nan_at_pi_leaves_the_ball_undecided():
    report = proofs_check.check_neighbourhood(NaNAtPi(), MDP)
    assert report["definition_3_2_contains_policy"].inconclusive
    ball = report["definition_3_2_closed_ball"]
    assert ball.inconclusive and ball.reason == "pi undecided", ball
    assert abs(ball.margin - 0.1) <= 1e-9


def test_nan_after_every_swap_leaves_monotonicity_undecided():
    monotone = proofs_check.check_neighbourhood(NaNOnSwap(), MDP)[
        "lemma_3_5_monotone_neighbourhood"
    ]
    assert monotone.inconclusive and monotone.reason == "NaN slack after 64 swaps", monotone
    assert math.isnan(monotone.margin) and monotone.worst_state is None


def test_nan_slacks_are_counted():
    # NaNSlack is NaN at chi-distance >= 0.05: the bisections toward the 32 candidates that far
    # stop there, and so do the samples drawn that far inside the ball (radius 1: none outside)
    policy = tm.uniform_policy(MDP)
    far = sum(
        definitions._tv_distance(policy, c) >= 0.05 for c in definitions.random_policies(MDP, 32, 0)
    )
    rng = np.random.default_rng(1)
    drawn = 0
    for candidate in definitions.random_policies(MDP, 16, 2):
        distance = definitions._tv_distance(policy, candidate)
        point = definitions._mix(policy, candidate, min(1.0, rng.uniform(0, 1) / distance))
        drawn += definitions._tv_distance(policy, point) >= 0.05
    report = proofs_check.check_neighbourhood(NaNSlack(), MDP)
    for name in ("definition_3_2_closed_ball", "definition_3_2_compact"):
        assert report[name].reason == f"NaN slack at {far + drawn} sampled points", report[name]


# ---------------------------------------------------------------- check_sampling in full
@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float"])
def test_positive_sampling_verdict_in_full(exact):
    mdp = EXACT_MDP if exact else TWO_STATES
    report = proofs_check.check_sampling(UniformSampling(), mdp)
    assert report.title == "sampling: UniformSampling()" and report.passed
    positive = report["sampling_positive"]
    assert positive.margin == Fraction(1, 2) and positive.worst_state == 0, positive
    assert isinstance(positive.margin, Fraction) is exact and positive.exact is exact
    if not exact:
        assert (positive.tolerance.value, positive.tolerance.reason) == (0, "beta read as computed")
    smallest = "1/2" if exact else "0.5"
    assert positive.detail == (
        f"beta_pi[s] > 0 for every s on 8 sampled policies (smallest {smallest} at state 0)"
    )
    first = definitions.random_policies(mdp, 8, 0)[0]
    assert positive.witness["policy"] == verdicts_array(first) and positive.witness["state"] == 0
    continuity = report["sampling_continuity"]
    assert continuity.passed and "along 4 sampled segments" in continuity.detail


def verdicts_array(policy):
    return proofs_check.verdicts.array_text(policy)


def test_a_refused_zero_is_read_from_the_message_and_its_policy_shown():
    mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [1, 0]], 0.5, [1, 0])
    report = proofs_check.check_sampling(VisitationSampling(), mdp)
    positive = report["sampling_positive"]
    assert positive.detail == (
        "beta_pi[1] = 0 <= 0 at sampled policy 3: state 1 is never sampled there (the sampling "
        "distribution must be positive)"
    )
    policies = definitions.random_policies(mdp, 8, 0)
    assert positive.witness["policy"] == verdicts_array(policies[3]) == [[1.0, 0.0], [0.0, 1.0]]
    # the zero read from the message joins the float betas as a float (a float MDP)
    assert isinstance(positive.margin, float) and positive.margin == 0, positive
    # a refused beta has no value: segments through such policies are NaN, not jumps
    continuity = report["sampling_continuity"]
    assert continuity.inconclusive and continuity.reason.startswith(
        "NaN or infinite values along 2 of 4 segments (first: segment 2)"
    ), continuity


@dataclass(frozen=True)
class BrokenSampling(Sampling):
    """Refuses every policy, not for a zero."""

    def weights(self, context):
        raise tm.InvalidParameterError("broken piece")


def test_a_sampling_piece_that_raises_otherwise_is_undecided():
    positive = proofs_check.check_sampling(BrokenSampling(), TWO_STATES, samples=2)[
        "sampling_positive"
    ]
    assert positive.inconclusive and positive.reason == (
        "the sampling piece raised at sampled policy 0: broken piece; the sampling piece raised "
        "at sampled policy 1: broken piece"
    ), positive
    assert math.isnan(positive.margin) and positive.worst_state is None
    first = definitions.random_policies(TWO_STATES, 2, 0)[0]
    assert positive.witness["policy"] == verdicts_array(first)  # no smallest: the first policy


def test_nan_beta_entries_are_counted():
    positive = proofs_check.check_sampling(NaNSampling(), TWO_STATES)["sampling_positive"]
    assert positive.inconclusive and positive.reason == "beta is NaN at 8 entries", positive
    assert positive.margin == 1.0 and positive.worst_state == 1  # the smallest finite beta


# ---------------------------------------------------------------- check_drift_distribution
def test_independent_nu_in_full():
    report = proofs_check.check_drift_distribution(
        SameAsSampling(), drifts.SquaredEuclidean(), TWO_STATES
    )
    assert report.title == "drift distribution: SameAsSampling()"
    independent = report["drift_distribution_independent"]
    assert (independent.outcome, independent.margin, independent.detail) == (
        "passed", 0, "nu does not depend on pibar (as the proofs assume)"
    )  # fmt: skip
    assert independent.exact and independent.witness["observed_change"] == 0.0
    continuity = report["drift_distribution_continuity"]
    assert continuity.passed and continuity.detail.startswith(
        "drift_pi(pibar) = sum_s nu[s] D_pi(pibar|s) in pibar is continuous along 4 sampled "
        "segments"
    ), continuity
    assert continuity.witness["largest_jump_of_nu"] == 0.0


def test_hidden_dependence_is_measured():
    candidates = definitions.random_policies(TWO_STATES, 4, 0, interior=True)
    observed = [c[:, 0] / c[:, 0].sum() for c in candidates]
    change = max(float(np.max(np.abs(w - observed[0]))) for w in observed)
    verdict = proofs_check.check_drift_distribution(
        HiddenDependence(), drifts.SquaredEuclidean(), TWO_STATES
    )["drift_distribution_independent"]
    assert verdict.failed and abs(verdict.margin + change) <= 1e-15, verdict
    assert verdict.detail == (
        f"nu changes by {proofs_check.verdicts.number_text(change)} between sampled candidates "
        "although it declares depends_on_candidate=False: Lemma 3.5 and Thm 3.6's proofs treat "
        "it as fixed"
    )


@dataclass(frozen=True)
class DeclaredDependent(DriftDistribution):
    """Declares a dependence on pibar but is uniform."""

    depends_on_candidate = True

    def weights(self, context, candidate, state_drift=None):
        return np.array([0.5, 0.5])


def test_a_declared_dependence_fails_by_one():
    verdict = proofs_check.check_drift_distribution(
        DeclaredDependent(), drifts.SquaredEuclidean(), TWO_STATES
    )["drift_distribution_independent"]
    assert verdict.failed and verdict.margin == -1 and verdict.witness["observed_change"] == 0.0
    assert verdict.detail == (
        "nu depends on pibar (declared): Lemma 3.5 and Thm 3.6's proofs treat it as fixed"
    )


def test_drift_distribution_segments_start_at_pi():
    policy = np.array([[0.3, 0.7], [0.5, 0.5]])
    report = proofs_check.check_drift_distribution(
        SwitchingNu(), drifts.SquaredEuclidean(), TWO_STATES, policy, samples=3
    )
    verdict = report["drift_distribution_continuity"]
    candidates = definitions.random_policies(TWO_STATES, 3, 0, interior=True)
    assert np.array_equal(verdict.witness["start"], policy)
    assert np.array_equal(verdict.witness["end"], candidates[verdict.witness["segment"]])
    assert verdict.witness["arguments"]["samples"] == 3


@dataclass(frozen=True)
class OutsideAlong(Neighbourhood):
    """Everything except the segment pi + s (toward - pi), 0 < s <= 1 (slack -1 there, 1
    elsewhere): no bisection toward another candidate meets it; a point drawn inside the ball
    toward ``toward`` does."""

    toward: tuple
    depth: float = 1.0

    def slack(self, context, candidate):
        policy = np.asarray(context.policy, dtype=float)
        direction = np.array(self.toward) - policy
        offset = np.asarray(candidate, dtype=float) - policy
        s = float(np.sum(direction * offset) / np.sum(direction * direction))
        along = 0 < s <= 1 + 1e-12 and np.allclose(offset, s * direction, rtol=0, atol=1e-12)
        return -self.depth if along else 1.0


def test_points_drawn_inside_the_ball_find_what_the_bisections_miss():
    # the in-ball samples are drawn toward random_policies(mdp, samples, seed + 2), scaled by
    # u * radius / distance with u ~ U(0, 1) from default_rng(seed + 1); the first is `toward`
    policy = tm.uniform_policy(MDP)
    toward = definitions.random_policies(MDP, 16, 2)[0]
    distance = definitions._tv_distance(policy, toward)
    u = np.random.default_rng(1).uniform(0, 1)
    point = definitions._mix(policy, toward, min(1.0, u * 1.0 / distance))
    expected = definitions._tv_distance(policy, point)
    neighbourhood = OutsideAlong(tuple(map(tuple, toward)))
    ball = proofs_check.check_neighbourhood(neighbourhood, MDP)["definition_3_2_closed_ball"]
    assert ball.passed and ball.margin == expected < 1, ball
    assert np.array_equal(ball.witness["nearest_outside"], point)


def test_a_sampled_policy_equal_to_pi_is_skipped():
    # random_policies(mdp, 16, 2)[3] is deterministic: (action 1, action 1), pi itself here
    policy = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    assert np.array_equal(definitions.random_policies(MDP, 16, 2)[3], policy)
    report = proofs_check.check_neighbourhood(TV_BALL, MDP, policy)
    assert report.passed and not report.inconclusive(), report
    assert abs(report["definition_3_2_closed_ball"].margin - 0.1) <= 1e-9


@dataclass(frozen=True)
class BallWithoutSegment(Neighbourhood):
    """The TV ball of radius 1/2 without the segment of OutsideAlong."""

    toward: tuple

    def slack(self, context, candidate):
        ball = float(StateBall("tv", Fraction(1, 2)).slack(context, candidate))
        return min(ball, OutsideAlong(self.toward).slack(context, candidate))


def test_in_ball_samples_are_scaled_to_the_radius_the_bisections_found():
    # pi is the deterministic sampled policy 3 (skipped: distance 0, no draw); the segment
    # toward sampled policy 5 is outside. The bisections alone find the radius of the plain
    # ball (r ~ 1/2); the draw toward policy 5 lands at chi-distance min(d, u r) < r
    policy = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    sampled = definitions.random_policies(MDP, 16, 2)
    assert np.array_equal(sampled[3], policy)
    plain = proofs_check.check_neighbourhood(StateBall("tv", Fraction(1, 2)), MDP, policy)
    radius = plain["definition_3_2_closed_ball"].margin
    assert abs(radius - 0.5) <= 1e-9
    rng = np.random.default_rng(1)
    for k, candidate in enumerate(sampled):
        distance = definitions._tv_distance(policy, candidate)
        if distance == 0:
            continue
        u = rng.uniform(0, 1)
        if k == 5:
            point = definitions._mix(policy, candidate, min(1.0, u * radius / distance))
            break
    expected = definitions._tv_distance(policy, point)
    assert expected < radius
    neighbourhood = BallWithoutSegment(tuple(map(tuple, sampled[5])))
    ball = proofs_check.check_neighbourhood(neighbourhood, MDP, policy)[
        "definition_3_2_closed_ball"
    ]
    assert ball.passed and ball.margin == expected, (ball, expected)
    assert np.array_equal(ball.witness["nearest_outside"], point)


def test_a_drawn_point_outside_by_rounding_only_is_inside():
    # slack -1e-12 on the segment: within the rounding allowance, not outside
    toward = tuple(map(tuple, definitions.random_policies(MDP, 16, 2)[0]))
    ball = proofs_check.check_neighbourhood(OutsideAlong(toward, 1e-12), MDP)[
        "definition_3_2_closed_ball"
    ]
    assert ball.passed and ball.margin == 1.0 and ball.witness["nearest_outside"] is None
    deeper = proofs_check.check_neighbourhood(OutsideAlong(toward, 2e-12), MDP)[
        "definition_3_2_closed_ball"
    ]
    assert deeper.margin < 1.0


@dataclass(frozen=True)
class SteppedSlack(Neighbourhood):
    """The TV ball of radius 1/10 with slack +height/2 inside and -height/2 outside: the
    slack jumps by exactly ``height`` across the sphere."""

    height: float

    def slack(self, context, candidate):
        distance = float(divergences.total_variation(context.policy, candidate).max())
        return self.height / 2 if distance <= 0.1 else -self.height / 2


def test_the_jump_across_a_boundary_is_inside_minus_outside_slack():
    compact = proofs_check.check_neighbourhood(SteppedSlack(1.0), MDP)["definition_3_2_compact"]
    assert compact.inconclusive and compact.reason.startswith(
        "the slack jumps by up to 1 across 32 of the boundaries found"
    ), compact
    assert compact.margin == 0.5  # the smallest inside slack
    # a jump of exactly 1e-6 (2 x 5e-7, exact in binary) is within the allowance
    limit = proofs_check.check_neighbourhood(SteppedSlack(1e-6), MDP)["definition_3_2_compact"]
    assert limit.passed and limit.margin == 5e-7, limit


@dataclass(frozen=True)
class AllOrNothingBy(Neighbourhood):
    """AllOrNothing whose swaps leave N by ``depth`` only."""

    depth: float

    def slack(self, context, candidate):
        changed = np.any(np.asarray(candidate) != np.asarray(context.policy), axis=1)
        return 1 / 7 if changed.all() or not changed.any() else -self.depth


def test_a_swap_outside_by_rounding_only_keeps_monotonicity():
    within = proofs_check.check_neighbourhood(AllOrNothingBy(1e-12), MDP)
    monotone = within["lemma_3_5_monotone_neighbourhood"]
    assert monotone.passed and monotone.margin == -1e-12, monotone
    beyond = proofs_check.check_neighbourhood(AllOrNothingBy(2e-12), MDP)
    assert beyond["lemma_3_5_monotone_neighbourhood"].failed
    assert beyond["lemma_3_5_monotone_neighbourhood"].detail.startswith("64 swaps")


def test_every_sampling_witness_replays():
    report = proofs_check.check_sampling(UniformSampling(), TWO_STATES)
    for verdict in report.verdicts:
        assert verdict.witness["arguments"]["samples"] == 8
        assert_replays(verdict)


def test_the_jump_of_nu_is_measured_on_the_first_two_segments():
    # seed 1: candidates 0 and 1 have pibar[0, 0] < 1/2 like pi, candidate 2 has 0.64: only
    # segment 2 crosses the switch of SwitchingNu; nu's own jump is read on segments 0 and 1
    policy = np.array([[0.3, 0.7], [0.5, 0.5]])
    candidates = definitions.random_policies(TWO_STATES, 3, 1, interior=True)
    assert [c[0, 0] > 0.5 for c in candidates] == [False, False, True]
    verdict = proofs_check.check_drift_distribution(
        SwitchingNu(), drifts.SquaredEuclidean(), TWO_STATES, policy, samples=3, seed=1
    )["drift_distribution_continuity"]
    assert verdict.failed and verdict.witness["segment"] == 2, verdict
    assert ", output 0 (limit" in verdict.detail  # the weighted drift is one output
    assert verdict.witness["largest_jump_of_nu"] == 0.0


def test_no_candidates_nothing_changes():
    report = proofs_check.check_drift_distribution(
        SameAsSampling(), drifts.SquaredEuclidean(), TWO_STATES, samples=0
    )
    independent = report["drift_distribution_independent"]
    assert independent.passed and independent.margin == 0, independent
    assert independent.witness["observed_change"] == 0.0
    assert independent.witness["largest_jump_of_nu"] == 0.0


def test_drift_distribution_on_an_exact_mdp_and_its_witnesses_replay():
    exact = proofs_check.check_drift_distribution(
        SameAsSampling(), drifts.SquaredEuclidean(), EXACT_MDP
    )
    floats = proofs_check.check_drift_distribution(SameAsSampling(), drifts.SquaredEuclidean(), MDP)
    for a, b in zip(exact.verdicts, floats.verdicts, strict=True):
        assert (a.name, a.outcome, a.margin) == (b.name, b.outcome, b.margin)
        assert_replays(a)


@dataclass(frozen=True)
class BarelyChangingNu(DriftDistribution):
    """Weights (1e-12, 1) where pibar[0, 0] > 1/2, else (0, 1): a change of exactly 1e-12."""

    def weights(self, context, candidate, state_drift=None):
        return np.array([1e-12 if candidate[0, 0] > 0.5 else 0.0, 1.0])


def test_a_change_of_nu_within_rounding_is_no_dependence():
    candidates = definitions.random_policies(TWO_STATES, 4, 0, interior=True)
    assert candidates[0][0, 0] < 0.5 < candidates[1][0, 0]  # nu changes by exactly 1e-12
    verdict = proofs_check.check_drift_distribution(
        BarelyChangingNu(), drifts.SquaredEuclidean(), TWO_STATES
    )["drift_distribution_independent"]
    assert verdict.witness["observed_change"] == 1e-12
    assert (verdict.outcome, verdict.margin, verdict.detail) == (
        "passed",
        0,
        "nu does not depend on pibar (as the proofs assume)",
    )
