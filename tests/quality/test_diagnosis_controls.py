"""proofs_check.diagnosis names the violated hypothesis, and only that one: each hypothesis is
checked on a piece built to violate it (beta with a zero, nu depending on pibar, a drift that
needs pi > 0 at a boundary policy, a drift with a kink at pi, N = {pi} without a ball, a
neighbourhood that is not monotone) and on one that satisfies it, with the verdict's outcome,
place, witness and text. Mutation testing (docs/mutation.md) found each assertion missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest

import tabular_mirror as tm
from proofs_check import diagnosis
from proofs_check.counterexamples import NonMonotoneShift
from proofs_check.definitions import check_drift, check_neighbourhood
from proofs_check.diagnosis import CONVERGENCE, STEP, diagnose
from proofs_check.verdicts import EXACT, worst
from tabular_mirror import drifts
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.drift_distributions import MaxDriftState, SameAsSampling
from tabular_mirror.neighbourhoods import Everything, Neighbourhood, StateBall
from tabular_mirror.results import Certificate
from tabular_mirror.sampling import FixedSampling, UniformSampling

MDP = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [1, 0]], "1/2").to_float()
INTERIOR = np.array([[0.5, 0.5], [0.25, 0.75]])
#: pi[1, 1] = 0 (a face of the simplex at state 1)
FACE = np.array([[0.5, 0.5], [1.0, 0.0]])
CERTIFIED = Certificate("duality_gap", 1e-12, 1e-9, True, "closed form")


@dataclass(frozen=True)
class OnlyPi(Neighbourhood):
    """N(pi) = {pi}: monotone, but contains no ball (violates Def. 3.2(3))."""

    def slack(self, context, candidate):
        return -float(np.abs(np.asarray(candidate, float) - np.asarray(context.policy)).max())


def algorithm(drift=None, nu=None, neighbourhood=None, sampling=None):
    return MirrorAlgorithm(
        drift or drifts.SquaredEuclidean(),
        nu or SameAsSampling(),
        neighbourhood or Everything(),
        sampling or UniformSampling(),
        "diagnosed",
    )


def names(verdicts):
    return [v.name for v in verdicts]


def test_which_hypotheses():
    assert CONVERGENCE == ("exact_argmax", "sampling", "nu", "drift", "neighbourhood")
    assert STEP == ("exact_argmax", "sampling", "nu", "drift_nonnegative",
                    "neighbourhood_monotone")  # fmt: skip
    ball = algorithm(neighbourhood=StateBall("tv", 0.1))
    every = diagnose(MDP, ball, INTERIOR, certificate=CERTIFIED)
    assert names(every) == [
        "hypothesis_exact_argmax", "hypothesis_sampling_positive", "hypothesis_nu_independent",
        "hypothesis_definition_3_1", "hypothesis_definition_3_2",
    ]  # fmt: skip
    assert all(v.passed for v in every)
    assert names(diagnose(MDP, ball, INTERIOR, certificate=None)) == names(every)[1:]
    assert names(diagnose(MDP, ball, INTERIOR, which=("sampling",))) == names(every)[1:2]
    assert names(diagnose(MDP, ball, INTERIOR, which=("nu",), certificate=CERTIFIED)) == [
        "hypothesis_nu_independent"
    ]
    assert names(diagnose(MDP, ball, INTERIOR, which=("exact_argmax",))) == []
    only_drift = diagnose(MDP, ball, INTERIOR, which=("drift",))
    assert names(only_drift) == ["hypothesis_definition_3_1"]
    assert names(diagnose(MDP, ball, INTERIOR, which=("drift_nonnegative",))) == names(only_drift)
    assert names(diagnose(MDP, ball, INTERIOR, which=("neighbourhood",))) == [
        "hypothesis_definition_3_2"
    ]
    assert names(diagnose(MDP, ball, INTERIOR, which=("neighbourhood_monotone",))) == [
        "hypothesis_definition_3_2"
    ]
    # N = Pi is never checked
    assert "hypothesis_definition_3_2" not in names(diagnose(MDP, algorithm(), INTERIOR))


@pytest.mark.parametrize(("iteration", "where"), [(0, "pi_0"), (3, "pi_3"), (None, "pi")])
def test_where_and_when(iteration, where):
    verdicts = diagnose(MDP, algorithm(), INTERIOR, iteration=iteration, certificate=CERTIFIED)
    assert all(v.worst_iteration == iteration for v in verdicts)
    assert verdicts[0].detail.startswith(f"the step from {where} is the argmax")
    assert verdicts[1].detail.startswith(f"beta_{where}[s] > 0 for every s")
    assert verdicts[3].detail.startswith(f"D at {where}: ")


# ---------------------------------------------------------------------------- the argmax
def test_the_argmax_hypothesis():
    certified, inexact, local = (
        diagnosis._argmax(CERTIFIED, "pi_2", 2),
        diagnosis._argmax(Certificate("inexact", 0.3, None, False, "2 steps"), "pi_2", 2),
        diagnosis._argmax(Certificate("local", None, 1e-9, False, "SLSQP"), "pi_2", 2),
    )
    assert certified.passed and certified.margin == 1e-12 and certified.tolerance == EXACT
    assert certified.witness == {"kind": "duality_gap", "bound": "1e-12", "certified": True,
                                 "detail": "closed form"}  # fmt: skip
    assert inexact.failed and inexact.margin == 0.3 and inexact.worst_iteration == 2
    assert "inexact by design (2 steps)" in inexact.detail
    assert local.inconclusive and local.reason == "the solver could not certify its step"
    assert local.witness["bound"] is None and local.witness["certified"] is False
    assert {v.name for v in (certified, inexact, local)} == {"hypothesis_exact_argmax"}


# ---------------------------------------------------------------------------- beta, nu
def test_beta_with_a_zero_is_named():
    zero = algorithm(sampling=FixedSampling((0.0, 1.0), allow_zero=True))
    computed = diagnose(MDP, zero, INTERIOR, iteration=1, which=("sampling",))[0]
    assert computed.failed and computed.worst_state == 0 and computed.margin == 0
    assert computed.name == "hypothesis_sampling_positive"
    assert computed.witness == {
        "sampling": ["0.0", "1.0"],
        "sampling_piece": repr(zero.sampling),
    }
    assert computed.detail.startswith("beta_pi_1[0] = 0: state 0 is never sampled")
    recorded = diagnose(MDP, algorithm(), INTERIOR, which=("sampling",),
                        sampling=np.array([0.75, 0.0]))[0]  # fmt: skip
    assert recorded.failed and recorded.worst_state == 1
    quarter = np.array([Fraction(1, 4), Fraction(3, 4)], dtype=object)
    fine = diagnose(MDP, algorithm(), INTERIOR, which=("sampling",), sampling=quarter)[0]
    assert fine.passed and fine.margin == Fraction(1, 4) and fine.worst_state == 0
    assert fine.tolerance == EXACT


def test_nu_depending_on_pibar_is_named():
    depends = diagnose(MDP, algorithm(nu=MaxDriftState()), INTERIOR, which=("nu",))[0]
    assert depends.failed and depends.margin == -1
    assert depends.witness == {"drift_distribution": "MaxDriftState()"}
    assert "depends on pibar" in depends.detail
    independent = diagnose(MDP, algorithm(), INTERIOR, which=("nu",))[0]
    assert independent.passed and independent.margin == 0
    assert independent.detail == "nu does not depend on pibar (as the proofs assume)"


# ---------------------------------------------------------------------------- the drift
def test_a_drift_that_needs_support_fails_at_a_boundary_policy():
    faces = np.array([[0.5, 0.5], [0.0, 1.0], [1.0, 0.0]])
    mdp = tm.FiniteMDP(np.full((3, 2, 3), 1 / 3), np.zeros((3, 2)), 0.5)
    verdict = diagnose(mdp, algorithm(drifts.ReverseKL()), faces, iteration=4, which=("drift",))[0]
    assert verdict.failed and verdict.worst_state == 1 and verdict.margin is None
    assert verdict.name == "hypothesis_definition_3_1" and verdict.worst_iteration == 4
    assert verdict.detail == (
        "ReverseKL() needs pi > 0 but pi_4[1, 0] = 0: it is a drift only on the interior of Pi"
    )
    assert verdict.witness["policy"] == faces.tolist()
    interior = diagnose(MDP, algorithm(drifts.ReverseKL()), INTERIOR, which=("drift",))[0]
    assert interior.passed
    # a drift that does not need support is checked on the face like anywhere else
    assert diagnose(MDP, algorithm(), FACE, which=("drift",))[0].passed


def test_the_per_step_claims_use_nonnegativity_only():
    tv = algorithm(drifts.TotalVariation())
    step = diagnose(MDP, tv, INTERIOR, which=STEP)[-1]
    assert step.passed and step.name == "hypothesis_definition_3_1"
    expected = check_drift(drifts.TotalVariation(), MDP, INTERIOR, samples=8)[
        "definition_3_1_nonnegative"
    ]
    assert step.detail == f"D at pi: definition_3_1_nonnegative: {expected.detail}"
    assert step.margin == expected.margin
    convergence = diagnose(MDP, tv, INTERIOR, which=CONVERGENCE)[-1]
    assert convergence.failed and convergence.name == "hypothesis_definition_3_1"
    # a negative drift fails nonnegativity: named as such, not as a kink
    linear = algorithm(drifts.LinearPenalty())
    negative = diagnose(MDP, linear, INTERIOR, which=STEP)[-1]
    assert negative.failed
    assert negative.detail.startswith("D at pi: definition_3_1_nonnegative: ")


def test_the_drift_check_uses_the_samples_asked_for():
    report = check_drift(drifts.SquaredEuclidean(), MDP, INTERIOR, samples=3)
    expected = worst(report.verdicts)
    verdict = diagnose(MDP, algorithm(), INTERIOR, which=("drift",), samples=3)[0]
    assert verdict.detail == f"D at pi: {expected.name}: {expected.detail}"
    default = worst(check_drift(drifts.SquaredEuclidean(), MDP, INTERIOR, samples=8).verdicts)
    verdict = diagnose(MDP, algorithm(), INTERIOR, which=("drift",))[0]
    assert verdict.detail == f"D at pi: {default.name}: {default.detail}"


def _kink_at_state_0(policy, candidate):
    """TV at state 0 (a kink: Def. 3.1(2) fails there), squared L2 elsewhere."""
    tv = 0.5 * np.abs(candidate - policy).sum(axis=1)
    l2 = ((candidate - policy) ** 2).sum(axis=1)
    return np.where(np.arange(len(policy)) == 0, tv, l2)


def test_a_kink_is_named_and_a_boundary_policy_is_pointed_out():
    tv = algorithm(drifts.TotalVariation())
    # at a vertex every feasible direction moves mass onto an action pi never takes
    vertex = np.array([[1.0, 0.0], [1.0, 0.0]])
    at_vertex = diagnose(MDP, tv, vertex, iteration=2, which=("drift",))[0]
    assert at_vertex.failed and at_vertex.worst_iteration == 2
    assert at_vertex.witness["one_sided"] is True
    s, a = at_vertex.witness["state"], at_vertex.witness["to_action"]
    assert at_vertex.detail.startswith("TotalVariation() violates Def. 3.1(2) at pi_2: ")
    assert at_vertex.detail.endswith(f" (pi_2[{s}, {a}] = 0 at state {s}: a boundary policy)")
    assert vertex[s, a] == 0
    # in the interior, or on a face whose kink is found at an interior state: no boundary
    for policy in (INTERIOR, FACE):
        verdict = diagnose(MDP, tv, policy, which=("drift",))[0]
        assert verdict.failed and not verdict.witness["one_sided"]
        assert "violates Def. 3.1(2) at pi: " in verdict.detail
        assert not verdict.detail.endswith("a boundary policy)")
    # the kink is at state 0 (interior there); the zero at state 1 is not the reason
    kink = algorithm(drifts.CallableDrift(_kink_at_state_0, name="kink"))
    elsewhere = diagnose(MDP, kink, FACE, which=("drift",))[0]
    assert elsewhere.failed and elsewhere.worst_state == 0
    assert not elsewhere.detail.endswith("a boundary policy)")


# ---------------------------------------------------------------------------- N
def test_the_neighbourhood_hypotheses():
    only = algorithm(neighbourhood=OnlyPi())
    full = diagnose(MDP, only, INTERIOR, iteration=1, which=CONVERGENCE)[-1]
    report = check_neighbourhood(OnlyPi(), MDP, INTERIOR, samples=8)
    chosen = worst(report.verdicts)
    assert full.failed and full.name == "hypothesis_definition_3_2"
    assert full.detail == f"N at pi_1: {chosen.name}: {chosen.detail}"
    assert full.worst_iteration == 1
    # the per-step claims use monotonicity only, which {pi} has
    monotone = diagnose(MDP, only, INTERIOR, which=STEP)[-1]
    assert monotone.passed and "lemma_3_5_monotone_neighbourhood" in monotone.detail
    shift = diagnose(MDP, algorithm(neighbourhood=NonMonotoneShift(0.2)), INTERIOR, which=STEP)
    assert shift[-1].failed and "lemma_3_5_monotone_neighbourhood" in shift[-1].detail
