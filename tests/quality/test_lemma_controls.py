"""proofs_check.lemmas beyond the margins: what a run's verdict carries (witness, diagnosis,
allowance), the user's tolerance override, a run with no steps, Lemma 3.3's implication in each
of its four branches, and check_step on planted steps. Mutation testing (docs/mutation.md)
found each assertion missing.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from planting import (
    ALGORITHM,
    DELTA,
    MDP,
    base_allowance,
    exact_trace,
    float_trace,
    per_step_checks,
    set_entry,
    with_certificate,
)

import proofs_check
import tabular_mirror as tm
from proofs_check import lemmas
from proofs_check.diagnosis import CONVERGENCE, STEP
from proofs_check.drift_bounds import drift_bound_9
from proofs_check.lemmas import RunInfo, user_tolerance
from proofs_check.verdicts import EXACT, Tolerance, Verdict, array_text
from proofs_check.witness import encode
from tabular_mirror.results import Certificate

STEP_NAMES = [
    "hypothesis_exact_argmax",
    "hypothesis_sampling_positive",
    "hypothesis_nu_independent",
    "hypothesis_definition_3_1",
]


# ---------------------------------------------------------------------------- witnesses
def test_a_witness_without_the_algorithm_shows_the_policies():
    trace = exact_trace()
    run = RunInfo(trace)
    witness = run.witness(1, extra=np.array([1, 2]))
    assert witness["replayable"] is False and witness["algorithm_name"] == "L2 x2"
    assert witness["policy0"] == array_text(trace.policies[0])
    assert witness["policy"] == array_text(trace.policies[1])
    assert witness["new_policy"] == array_text(trace.policies[2])
    assert witness["iteration"] == 1 and witness["extra"] == [1, 2]
    assert witness["discount"] == "9/10" and witness["exact"] is True
    last = run.witness(trace.iterations)
    assert last["policy"] == array_text(trace.policies[-1]) and "new_policy" not in last
    nowhere = run.witness(None)
    assert "policy" not in nowhere and "iteration" not in nowhere


def test_a_witness_with_the_algorithm_replays_the_run():
    trace = exact_trace()
    run = RunInfo(trace, ALGORITHM, {"choice": "vertex", "solver": None}, tolerance=1e-3)
    witness = run.witness(2)
    assert witness["call"] == "proofs_check.fundamental:check_fundamental_theorem"
    arguments = witness["arguments"]
    assert set(arguments) == {"mdp", "algorithm", "policy0", "iterations", "choice", "tolerance"}
    assert arguments["iterations"] == 4 and arguments["choice"] == "vertex"
    assert arguments["tolerance"] == 1e-3
    assert arguments["policy0"] == encode(trace.policies[0])
    assert arguments["algorithm"]["algorithm"] == repr(ALGORITHM)
    assert witness["iteration"] == 2 and witness["policy"] == array_text(trace.policies[2])
    assert "tolerance" not in RunInfo(trace, ALGORITHM).witness(0)["arguments"]


# ---------------------------------------------------------------------------- diagnosis
def test_the_diagnosis_is_taken_at_pi_n_with_the_recorded_step():
    trace = exact_trace()
    unsampled = replace(
        trace,
        sampling=set_entry(trace.sampling, 0, np.array([Fraction(0), Fraction(1)], dtype=object)),
    )
    run = RunInfo(unsampled, ALGORITHM)
    diagnosis = run.diagnosis(0, STEP)
    assert [v.name for v in diagnosis] == STEP_NAMES
    assert all(v.worst_iteration == 0 for v in diagnosis)
    sampling = diagnosis[1]
    assert sampling.failed and sampling.worst_state == 0  # the recorded beta, not a new one
    assert run.diagnosis(0, STEP) is diagnosis  # cached
    at_end = run.diagnosis(trace.iterations, STEP)  # pi_n after the last step: no step
    assert [v.name for v in at_end] == STEP_NAMES[1:]
    assert [v.name for v in run.diagnosis(1, ("nu",))] == ["hypothesis_nu_independent"]
    assert RunInfo(trace).diagnosis(0, STEP) == ()
    assert run.diagnosis(None, STEP) == ()
    quiet = RunInfo(trace, ALGORITHM, diagnose_failures=False)
    assert quiet.diagnosis(0, STEP) == ()


def test_finish_diagnoses_failures_only():
    run = RunInfo(exact_trace(), ALGORITHM)
    failed = Verdict("claim", "failed", -1, 0, 1, None, 0, "d")
    finished = run.finish(failed)
    assert [v.name for v in finished.diagnosis] == STEP_NAMES
    assert finished.witness["expected"]["outcome"] == "failed"
    assert finished.witness["iteration"] == 1
    convergence = run.finish(failed, CONVERGENCE)
    assert len(convergence.diagnosis) == 4  # N = Pi: no neighbourhood check
    assert convergence.diagnosis[-1].name == "hypothesis_definition_3_1"
    passed = run.finish(Verdict("claim", "passed", 1, 0, 1, None, 0, "d"))
    assert passed.diagnosis == () and passed.witness["expected"]["outcome"] == "passed"


# ---------------------------------------------------------------------------- overrides
def test_user_tolerance():
    band = Tolerance(1e-6, "r", 1e-3)
    assert user_tolerance(band, None) is band
    assert user_tolerance(0.5, 0.1) == Tolerance(0.1, "user", 0.5)
    assert user_tolerance(None, 0.1) == Tolerance(0.1, "user", 0.1)
    assert user_tolerance(EXACT, 0.1) == Tolerance(0.1, "user", 0.1)
    assert user_tolerance(band, 1e-2) == Tolerance(1e-2, "user", 1e-2)
    assert user_tolerance(band, 1e-4) == Tolerance(1e-4, "user", 1e-3)
    never = user_tolerance(Tolerance(0, "r", math.inf), 1.0)
    assert never.value == 1.0 and math.isinf(never.fail_threshold)


@pytest.mark.parametrize("check", per_step_checks(), ids=lambda f: f.__name__)
def test_every_per_step_claim_takes_the_user_override(check):
    trace = float_trace()
    certificate = Certificate("local", None, 1e-9, False, "planted")
    planted = with_certificate(trace, 1, certificate)
    gain = trace.returns[2] - trace.returns[1]
    planted = replace(
        planted,
        mirror_values=set_entry(trace.mirror_values, (1, 0), trace.values[1][0] - 1e-3),
        values=set_entry(trace.values, (2, 0), trace.values[1][0] - 1e-3),
        improvement_bounds=set_entry(trace.improvement_bounds, 1, gain + 1e-3),
        drifts=set_entry(trace.drifts, 1, gain + 1e-3),  # U_beta = 1
    )
    loose = check(RunInfo(planted, tolerance=1e2))
    assert loose.passed and loose.tolerance.reason == "user", loose
    assert check(RunInfo(planted)).inconclusive


def test_drift_bound_9_takes_the_user_override():
    trace = float_trace()
    planted = with_certificate(trace, 1, Certificate("local", None, 1e-9, False, "p"))
    planted = replace(planted, drifts=set_entry(trace.drifts, 1, 100.0))
    assert drift_bound_9(RunInfo(planted)).inconclusive
    loose = drift_bound_9(RunInfo(planted, tolerance=1e3))
    assert loose.passed and loose.tolerance.reason == "user"


def test_a_run_with_no_steps_decides_no_step_claim():
    trace = tm.mirror_learning(MDP, ALGORITHM, tm.uniform_policy(MDP), 0)
    report = proofs_check.check_trace(trace)
    for name in (
        "lemma_3_5_mirror_operator", "lemma_3_3_monotone_values", "theorem_3_6_1_inequality_13",
        "theorem_3_6_1_return_monotone", "drift_bound_8_step", "drift_bound_9_total",
    ):  # fmt: skip
        verdict = report[name]
        assert verdict.inconclusive, verdict
        assert verdict.reason == "the run took no steps: nothing to check", verdict
        assert verdict.margin is None


@pytest.mark.parametrize(("check", "factor"), [(lemmas.lemma_3_5_on_trace, 1.0),
                                               (lemmas.lemma_3_3_on_trace, 10.0)],
                         ids=["lemma_3_5", "lemma_3_3"])  # fmt: skip
def test_only_propagated_claims_multiply_the_gap(check, factor):
    trace = float_trace()
    gap = 1e-6
    certified = Certificate("duality_gap", gap, 2e-6, True, "p")
    planted = replace(trace, certificates=(certified,) * trace.iterations)
    verdict = check(planted)
    expected = base_allowance(trace.mdp) + gap / 0.5 * factor
    assert verdict.tolerance.value == pytest.approx(expected, rel=1e-12)
    assert verdict.name == check(trace).name
    assert check(trace).name in ("lemma_3_5_mirror_operator", "lemma_3_3_monotone_values")


# ---------------------------------------------------------------------------- Lemma 3.3
#: S = 2, A = 3 (not square, so the sums are taken over the right axis).
WIDE = tm.FiniteMDP(
    [[[1, 0], [0, 1], ["1/2", "1/2"]], [[0, 1], [1, 0], [1, 0]]],
    [[0, 1, "1/3"], [2, 0, 1]],
    "1/2",
)


def _improving_pair(mdp):
    policy = tm.uniform_policy(mdp)
    better = tm.greedy_policy(tm.evaluate(mdp, policy).q_values)
    return policy, better


def _premise(mdp, policy, new_policy):
    old = tm.evaluate(mdp, policy)
    expected_q = (np.asarray(new_policy) * old.q_values).sum(axis=1)
    return expected_q - old.values


@pytest.fixture
def worse_values(monkeypatch):
    """Plant V_new = V_old - 1/7 at state 1 for the greedy policy (the conclusion fails)."""

    def plant(mdp, policy, better):
        real = tm.evaluate

        def fake(model, candidate, **options):
            result = real(model, candidate, **options)
            if np.array_equal(np.asarray(candidate), np.asarray(better)):
                old = real(model, policy).values
                drop = DELTA if model.is_exact else float(DELTA)
                return replace(result, values=np.array([old[0], old[1] - drop], dtype=old.dtype))
            return result

        monkeypatch.setattr(tm, "evaluate", fake)

    return plant


def test_lemma_3_3_passes_on_policy_improvement_with_its_margin():
    policy, better = _improving_pair(WIDE)
    verdict = proofs_check.lemma_3_3(WIDE, policy, better)
    gain = tm.evaluate(WIDE, better).values - tm.evaluate(WIDE, policy).values
    assert verdict.passed and verdict.margin == min(gain) and verdict.exact
    assert verdict.name == "lemma_3_3_implication"
    arguments = verdict.witness["arguments"]
    assert set(arguments) == {"mdp", "policy", "new_policy", "penalty"}
    assert arguments["penalty"] == {"array": ["0", "0"], "exact": True}
    replayed = proofs_check.replay(verdict.witness)
    assert replayed.passed and replayed.margin == verdict.margin


def test_lemma_3_3_penalties_are_checked():
    policy, better = _improving_pair(WIDE)
    penalty = [Fraction(1, 7), Fraction(0)]
    verdict = proofs_check.lemma_3_3(WIDE, policy, better, penalty)
    assert verdict.passed
    assert verdict.witness["arguments"]["penalty"] == {"array": ["1/7", "0"], "exact": True}
    floats = proofs_check.lemma_3_3(WIDE.to_float(), policy, better, [0.125, 0.0])
    assert floats.witness["arguments"]["penalty"] == {"array": [0.125, 0.0], "exact": False}
    with pytest.raises(tm.InvalidParameterError, match=r"penalty has shape \(3,\)"):
        proofs_check.lemma_3_3(WIDE, policy, better, [0, 0, 0])
    with pytest.raises(tm.InvalidParameterError, match="negative"):
        proofs_check.lemma_3_3(WIDE, policy, better, [Fraction(-1, 10**9), 0])


def test_lemma_3_3_fails_when_the_hypothesis_holds_and_the_conclusion_does_not(worse_values):
    policy, better = _improving_pair(WIDE)
    slack = _premise(WIDE, policy, better)
    assert min(slack) > 0
    worse_values(WIDE, policy, better)
    failed = proofs_check.lemma_3_3(WIDE, policy, better)
    assert failed.failed and failed.margin == -DELTA and failed.worst_state == 1
    assert failed.name == "lemma_3_3_implication"
    # the penalty exactly uses up the hypothesis's slack: still held (margin 0), still a failure
    tight = proofs_check.lemma_3_3(WIDE, policy, better, list(slack))
    assert tight.failed and tight.margin == -DELTA


def test_lemma_3_3_is_vacuous_when_the_hypothesis_fails(worse_values):
    policy, better = _improving_pair(WIDE)
    slack = _premise(WIDE, policy, better)
    worse_values(WIDE, policy, better)
    penalty = [slack[0] + Fraction(1, 5), Fraction(0)]  # hypothesis fails by 1/5 at state 0
    vacuous = proofs_check.lemma_3_3(WIDE, policy, better, penalty)
    assert vacuous.passed and vacuous.margin == math.inf and vacuous.worst_state == 0
    assert vacuous.name == "lemma_3_3_implication" and "vacuous" in vacuous.detail


def test_lemma_3_3_is_undecided_when_the_float_evidence_cannot_decide(worse_values):
    mdp = WIDE.to_float()
    policy, better = _improving_pair(mdp)
    worse_values(mdp, policy, better)
    undecided = proofs_check.lemma_3_3(mdp, policy, better, [float("nan"), 0.0])
    assert undecided.inconclusive and undecided.name == "lemma_3_3_implication"
    assert undecided.reason.startswith(
        "the float evidence decides neither the hypothesis nor the conclusion (hypothesis margin"
    )
    assert undecided.margin == pytest.approx(-float(DELTA))
    scale = 1 / (1 - 0.5) * 2  # max |r| = 2, gamma = 1/2
    assert undecided.tolerance.value == pytest.approx(4 * 1e-10 * scale + 1e-12 * scale)
    assert undecided.tolerance.reason == ("certified evaluation errors of both policies + rounding")


# ---------------------------------------------------------------------------- check_step
def _step(mdp=MDP):
    return tm.mirror_step(mdp, ALGORITHM, tm.uniform_policy(mdp))


def test_check_step_decides_a_given_step():
    step = _step()
    old = step.evaluation.values
    planted = replace(step, mirror_values=set_entry(step.mirror_values, 1, old[1] - DELTA))
    report = proofs_check.check_step(MDP, ALGORITHM, tm.uniform_policy(MDP), planted)
    assert report.names() == (
        "lemma_3_5_mirror_operator", "lemma_3_3_monotone_values", "theorem_3_6_1_inequality_13",
    )  # fmt: skip
    lemma = report["lemma_3_5_mirror_operator"]
    assert lemma.failed and lemma.margin == -DELTA and lemma.worst_state == 1
    assert [v.name for v in lemma.diagnosis] == STEP_NAMES
    for name in ("lemma_3_3_monotone_values", "theorem_3_6_1_inequality_13"):
        assert report[name].passed and report[name].diagnosis == ()
    gain = tm.evaluate(MDP, step.policy).values - old
    assert report["lemma_3_3_monotone_values"].margin == min(gain)
    quiet = proofs_check.check_step(
        MDP, ALGORITHM, tm.uniform_policy(MDP), planted, diagnose_failures=False
    )
    assert quiet["lemma_3_5_mirror_operator"].failed
    assert quiet["lemma_3_5_mirror_operator"].diagnosis == ()


def test_check_step_inequality_13_and_its_allowances():
    step = _step()
    gain = tm.evaluate(MDP, step.policy).values - step.evaluation.values
    drift = set_entry(step.state_drift, 0, gain[0] + DELTA)  # nu = beta: the bound is D
    report = proofs_check.check_step(
        MDP, ALGORITHM, tm.uniform_policy(MDP), replace(step, state_drift=drift)
    )
    assert report["theorem_3_6_1_inequality_13"].failed
    assert report["theorem_3_6_1_inequality_13"].margin == -DELTA
    mdp = MDP.to_float()
    certified = replace(_step(mdp), certificate=Certificate("duality_gap", 1e-6, 2e-6, True, "p"))
    floats = proofs_check.check_step(mdp, ALGORITHM, tm.uniform_policy(mdp), certified)
    base = base_allowance(mdp)
    assert floats["lemma_3_5_mirror_operator"].tolerance.value == pytest.approx(base + 2e-6)
    assert floats["lemma_3_3_monotone_values"].tolerance.value == pytest.approx(base + 2e-5)


def test_check_step_accepts_a_step_on_the_simplex_within_the_step_tolerance():
    mdp = MDP.to_float()
    step = _step(mdp)
    nudged = replace(step, policy=step.policy * (1 + 5e-10))  # _verify accepts 1e-9
    report = proofs_check.check_step(mdp, ALGORITHM, tm.uniform_policy(mdp), nudged)
    assert report.passed


def test_subtract_and_pair_tolerance():
    exact = lemmas._subtract(
        np.array([Fraction(1, 2)], dtype=object), np.array([Fraction(1, 3)], dtype=object)
    )
    assert exact.dtype == object and exact[0] == Fraction(1, 6)
    mixed = lemmas._subtract(np.array([Fraction(1, 2)], dtype=object), np.array([0.25]))
    assert mixed.dtype == float and mixed[0] == 0.25
    assert lemmas._pair_tolerance(MDP) == EXACT
