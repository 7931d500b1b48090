"""Negative controls: every run-level check fails on evidence built to violate it by a known
amount, with that margin, at that iteration and state; passes at the boundary; and is
inconclusive exactly where its evidence cannot decide (uncertified steps, NaN, finite runs).

Exact controls start from a real exact run (squared L2 x2, uniform nu = beta = d, N = Pi) and
overwrite one recorded quantity so that one slack is exactly -1/7; every other slack of a valid
run is >= 0, so the margin must be exactly -1/7 at the chosen place. Float controls place the
violation just inside and just outside the allowance the tolerance documents
(proofs_check._common.step_tolerance): 2 x 1e-10 x value scale + 1e-12 x value scale, plus the
step's gap / beta_min (x 1/(1 - gamma) for the propagated claims).
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from planting import ALGORITHM, DELTA, MDP

import proofs_check
import tabular_mirror as tm
from proofs_check import fundamental, lemmas, verdicts
from proofs_check.drift_bounds import drift_bound_8, drift_bound_9
from proofs_check.verdicts import Report, Tolerance, Verdict, decide
from tabular_mirror.results import Certificate


@pytest.fixture(scope="module")
def exact_trace():
    trace = tm.mirror_learning(MDP, ALGORITHM, tm.uniform_policy(MDP), 4)
    assert trace.exact and trace.iterations == 4 and trace.all_certified
    return trace


@pytest.fixture(scope="module")
def float_trace():
    mdp = MDP.to_float()
    trace = tm.mirror_learning(mdp, ALGORITHM, tm.uniform_policy(mdp), 4)
    assert not trace.exact and trace.iterations == 4 and trace.all_certified
    return trace


def _set(array, index, value):
    """A copy of a (possibly object) array with one entry replaced."""
    out = array.copy()
    out[index] = value
    return out


def assert_failed_at(verdict, margin, iteration, state):
    assert verdict.failed, verdict
    assert verdict.margin == margin, verdict
    assert (verdict.worst_iteration, verdict.worst_state) == (iteration, state), verdict


# ---------------------------------------------------------------------------- exact controls
@pytest.mark.parametrize(("n", "s"), [(0, 1), (2, 0), (3, 1)])
def test_lemma_3_5_fails_by_the_planted_amount(exact_trace, n, s):
    trace = exact_trace
    planted = _set(trace.mirror_values, (n, s), trace.values[n][s] - DELTA)
    verdict = lemmas.lemma_3_5_on_trace(replace(trace, mirror_values=planted))
    assert_failed_at(verdict, -DELTA, n, s)
    assert verdict.exact


def test_lemma_3_5_passes_at_the_boundary(exact_trace):
    trace = exact_trace
    planted = _set(trace.mirror_values, (1, 1), trace.values[1][1])
    verdict = lemmas.lemma_3_5_on_trace(replace(trace, mirror_values=planted))
    assert verdict.passed and verdict.margin == 0


@pytest.mark.parametrize("s", [0, 1])
def test_lemma_3_3_fails_by_the_planted_amount(exact_trace, s):
    trace = exact_trace
    last = trace.iterations  # V_n of the last policy: only the last step's slack changes
    planted = _set(trace.values, (last, s), trace.values[last - 1][s] - DELTA)
    verdict = lemmas.lemma_3_3_on_trace(replace(trace, values=planted))
    assert_failed_at(verdict, -DELTA, last - 1, s)


@pytest.mark.parametrize(("n", "s"), [(0, 0), (1, 1), (3, 0)])
def test_inequality_13_fails_by_the_planted_amount(exact_trace, n, s):
    trace = exact_trace
    # nu = beta, so the bound is D itself: make D = gain + 1/7
    gain = trace.values[n + 1][s] - trace.values[n][s]
    planted = _set(trace.state_drifts, (n, s), gain + DELTA)
    verdict = fundamental.inequality_13(replace(trace, state_drifts=planted))
    assert_failed_at(verdict, -DELTA, n, s)


@pytest.mark.parametrize("n", [0, 2])
def test_return_inequality_fails_by_the_planted_amount(exact_trace, n):
    trace = exact_trace
    step_gain = trace.returns[n + 1] - trace.returns[n]
    planted = _set(trace.improvement_bounds, n, step_gain + DELTA)
    verdict = fundamental.return_inequality(replace(trace, improvement_bounds=planted))
    assert_failed_at(verdict, -DELTA, n, None)


@pytest.mark.parametrize("n", [0, 3])
def test_drift_bound_8_fails_by_the_planted_amount(exact_trace, n):
    trace = exact_trace  # d and beta uniform: U_beta = 1
    planted = _set(trace.drifts, n, trace.returns[n + 1] - trace.returns[n] + DELTA)
    verdict = drift_bound_8(replace(trace, drifts=planted))
    assert_failed_at(verdict, -DELTA, n, None)


def test_drift_bound_9_fails_by_the_planted_amount(exact_trace):
    trace = exact_trace
    others = sum(trace.drifts[1:], Fraction(0))
    total = trace.optimal_return - trace.returns[0] + DELTA
    planted = _set(trace.drifts, 0, total - others)
    verdict = drift_bound_9(replace(trace, drifts=planted))
    assert_failed_at(verdict, -DELTA, trace.iterations - 1, None)


def test_drift_bounds_do_not_apply_when_d_has_a_zero(exact_trace):
    mdp = tm.FiniteMDP(MDP.transitions, MDP.rewards, MDP.discount, ["1", "0"])
    trace = tm.mirror_learning(mdp, ALGORITHM, tm.uniform_policy(mdp), 2)
    for verdict in (drift_bound_8(trace), drift_bound_9(trace)):
        assert verdict.inconclusive and verdict.reason.startswith("not applicable"), verdict


@pytest.mark.parametrize("k", [0, 2])
def test_a_certified_fixed_point_fails_convergence_at_it(exact_trace, k):
    trace = exact_trace
    # staying at pi_k attains the certified maximum: objective 0, exact certificate, bound 0
    planted = replace(trace, objectives=_set(trace.objectives, k, Fraction(0)))
    gap = max(trace.optimal_values - trace.values[k])
    assert gap > 0
    verdict = fundamental.value_convergence(planted)
    assert_failed_at(verdict, -gap, k, None)
    eta_gap = trace.optimal_return - trace.returns[k]
    assert_failed_at(fundamental.return_convergence(planted), -eta_gap, k, None)
    assert fundamental.limit_optimal(planted).failed


def test_a_positive_objective_is_not_a_fixed_point(exact_trace):
    # the unmodified run: every step gains, V* is not reached in 4 steps: undecided, not PASS
    for check in (
        fundamental.value_convergence,
        fundamental.return_convergence,
        fundamental.limit_optimal,
    ):
        verdict = check(exact_trace)
        assert verdict.inconclusive and "observed rate" in verdict.reason, verdict


def test_an_uncertified_fixed_point_is_not_a_failure(exact_trace):
    trace = exact_trace
    certificates = list(trace.certificates)
    certificates[1] = Certificate("local", None, 0, False, "planted: no certificate")
    planted = replace(
        trace,
        objectives=_set(trace.objectives, 1, Fraction(0)),
        certificates=tuple(certificates),
    )
    assert fundamental.value_convergence(planted).inconclusive


def test_reached_passes_only_within_the_tolerance(exact_trace):
    trace = exact_trace
    done = replace(trace, values=_set(trace.values, -1, trace.optimal_values))
    verdict = fundamental.value_convergence(done)
    assert verdict.passed and verdict.margin == 0
    # 1/7 short of V* at one state: not reached (exact tolerance 0), and not a fixed point
    short = _set(trace.values, -1, trace.optimal_values - np.array([0, DELTA], dtype=object))
    assert fundamental.value_convergence(replace(trace, values=short)).inconclusive


# ---------------------------------------------------------------------------- float bands
def _scale(mdp):
    rewards = np.abs(np.asarray(mdp.rewards, dtype=float)).max()
    return max(1.0, rewards / (1 - float(mdp.discount)))


def _base(mdp, trace=None, n=None):
    """2 x the evaluation error + rounding: the trace's recorded errors of V_n and V_{n+1}
    when given, else a default evaluation's (1e-10 x the value scale)."""
    if trace is None:
        error = 1e-10 * _scale(mdp)
    else:
        error = max(
            float(trace.evaluation_error_bounds[n]), float(trace.evaluation_error_bounds[n + 1])
        )
    return 2 * error + 1e-12 * _scale(mdp)


def _with_step(trace, n, certificate, slack):
    """Lemma 3.5 at step n made to have the given slack at state 0, with this certificate."""
    certificates = list(trace.certificates)
    certificates[n] = certificate
    planted = _set(trace.mirror_values, (n, 0), trace.values[n][0] + slack)
    return replace(trace, mirror_values=planted, certificates=tuple(certificates))


@pytest.mark.parametrize(
    ("factor", "outcome"), [(0.999, "passed"), (1.001, "failed")], ids=["inside", "outside"]
)
def test_certified_gap_is_the_allowance(float_trace, factor, outcome):
    trace = float_trace
    gap = 1e-6
    allowance = _base(trace.mdp, trace, 1) + gap / 0.5  # beta uniform: beta_min = 1/2
    certificate = Certificate("duality_gap", gap, 2e-6, True, "planted")
    verdict = lemmas.lemma_3_5_on_trace(_with_step(trace, 1, certificate, -factor * allowance))
    assert verdict.outcome == outcome, verdict
    assert verdict.worst_iteration == 1 and verdict.worst_state == 0
    assert verdict.tolerance.value == pytest.approx(allowance, rel=1e-12)


@pytest.mark.parametrize(
    ("fraction", "outcome"),
    [(0.5, "passed"), (1.5, "inconclusive"), (1.001, "failed")],
    ids=["within-evaluation-error", "within-gap-allowance", "beyond-gap-allowance"],
)
def test_uncertified_step_with_a_bound(float_trace, fraction, outcome):
    trace = float_trace
    base, gap = _base(trace.mdp, trace, 2), 1e-3
    certificate = Certificate("frank_wolfe_gap", gap, 1e-9, False, "planted: above tolerance")
    if outcome == "passed":
        slack = -fraction * base
    elif outcome == "inconclusive":
        slack = -(base + fraction * gap)  # between base and base + gap / beta_min = base + 2 gap
    else:
        slack = -fraction * (base + gap / 0.5)
    verdict = lemmas.lemma_3_5_on_trace(_with_step(trace, 2, certificate, slack))
    assert verdict.outcome == outcome, verdict
    if outcome == "inconclusive":
        assert "not certified" in verdict.reason or "not certified" in str(verdict.tolerance)


def test_uncertified_step_without_a_bound_never_fails(float_trace):
    certificate = Certificate("local", None, 1e-9, False, "planted: SLSQP local point")
    verdict = lemmas.lemma_3_5_on_trace(_with_step(float_trace, 0, certificate, -100.0))
    assert verdict.inconclusive and verdict.margin == pytest.approx(-100.0)
    assert math.isinf(verdict.tolerance.fail_threshold)


def test_an_inexact_step_is_decided_on_its_iterates(float_trace):
    trace = float_trace
    certificate = Certificate("inexact", 0.3, None, False, "planted: 2 gradient steps")
    verdict = lemmas.lemma_3_5_on_trace(
        _with_step(trace, 0, certificate, -2 * _base(trace.mdp, trace, 0))
    )
    assert verdict.failed and verdict.worst_iteration == 0


def test_a_nan_never_fails_a_claim(float_trace):
    trace = float_trace
    nan = replace(trace, mirror_values=_set(trace.mirror_values, (1, 1), float("nan")))
    verdict = lemmas.lemma_3_5_on_trace(nan)
    assert verdict.inconclusive and "NaN" in verdict.reason
    assert (verdict.worst_iteration, verdict.worst_state) != (
        1,
        1,
    ) or verdict.margin != verdict.margin
    # a decided violation elsewhere still fails
    both = replace(nan, mirror_values=_set(nan.mirror_values, (2, 0), trace.values[2][0] - 1.0))
    failed = lemmas.lemma_3_5_on_trace(both)
    assert failed.failed and failed.margin == pytest.approx(-1.0)
    assert (failed.worst_iteration, failed.worst_state) == (2, 0)


@pytest.mark.parametrize("propagated", [True, False])
def test_propagated_claims_get_the_1_over_1_minus_gamma_factor(float_trace, propagated):
    trace = float_trace
    gap = 1e-6
    certificate = Certificate("duality_gap", gap, 2e-6, True, "planted")
    tolerance = proofs_check._common.step_tolerance(
        trace.mdp, certificate, trace.sampling[0], propagate=propagated
    )
    factor = 10.0 if propagated else 1.0  # gamma = 9/10
    assert tolerance.value == pytest.approx(_base(trace.mdp) + gap / 0.5 * factor, rel=1e-12)


# ---------------------------------------------------------------------------- overrides
def test_a_user_tolerance_sets_passing_not_failing(float_trace):
    trace = float_trace
    certificate = Certificate("local", None, 1e-9, False, "planted")
    planted = _with_step(trace, 1, certificate, -1e-3)
    loose = proofs_check.check_trace(planted, tolerance=1e-2, verify=False)[
        "lemma_3_5_mirror_operator"
    ]
    assert loose.passed and loose.tolerance.reason == "user"
    tight = proofs_check.check_trace(planted, tolerance=1e-6, verify=False)[
        "lemma_3_5_mirror_operator"
    ]
    assert tight.inconclusive  # never a failure on an uncertified step, whatever the user says
    certified = _with_step(trace, 1, Certificate("duality_gap", 0.0, 1e-9, True, "p"), -1e-3)
    strict = proofs_check.check_trace(certified, tolerance=1e-6, verify=False)[
        "lemma_3_5_mirror_operator"
    ]
    assert strict.failed and strict.margin == pytest.approx(-1e-3)


def test_the_tolerance_override_is_ignored_for_exact_traces(exact_trace):
    planted = _set(exact_trace.mirror_values, (0, 1), exact_trace.values[0][1] - DELTA)
    report = proofs_check.check_trace(
        replace(exact_trace, mirror_values=planted), tolerance=1.0, verify=False
    )
    assert report["lemma_3_5_mirror_operator"].failed


# ---------------------------------------------------------------------------- Lemma 3.3
def test_lemma_3_3_implication_decides_both_ways(monkeypatch):
    mdp = MDP
    policy = tm.uniform_policy(mdp)
    better = tm.greedy_policy(tm.evaluate(mdp, policy).q_values)  # the hypothesis holds
    verdict = proofs_check.lemma_3_3(mdp, policy, better)
    assert verdict.passed and verdict.exact  # policy improvement: hypothesis and conclusion
    # a worse policy: the conclusion fails, but so does the hypothesis, so the lemma says
    # nothing (vacuous: decided, not failed)
    worse = tm.greedy_policy(-tm.evaluate(mdp, policy).q_values)
    vacuous = proofs_check.lemma_3_3(mdp, policy, worse)
    assert vacuous.passed and vacuous.margin == math.inf and "vacuous" in vacuous.detail
    # a penalty only weakens the hypothesis: the conclusion still decides
    penalised = proofs_check.lemma_3_3(mdp, policy, better, [Fraction(100), Fraction(0)])
    assert penalised.passed and penalised.margin == verdict.margin
    with pytest.raises(tm.InvalidParameterError, match="negative"):
        proofs_check.lemma_3_3(mdp, policy, better, [Fraction(-1), Fraction(0)])
    # planted evidence: the hypothesis holds but V_new < V_old by 1/7 at state 1 -> failed
    real = tm.evaluate

    def fake(model, candidate, **options):
        result = real(model, candidate, **options)
        if np.array_equal(np.asarray(candidate), np.asarray(better)):
            old = real(model, policy).values
            values = np.array([old[0], old[1] - DELTA], dtype=object)
            return replace(result, values=values)
        return result

    monkeypatch.setattr(tm, "evaluate", fake)
    failed = proofs_check.lemma_3_3(mdp, policy, better)
    assert failed.failed and failed.margin == -DELTA and failed.worst_state == 1


# ---------------------------------------------------------------------------- decide / report
def test_decide_places_the_margin():
    grid = np.array([[1, 2, 3], [4, -5, 6]], dtype=float)
    verdict = decide("x", grid, 0, "d", iterations=[7, 9])
    assert verdict.failed and verdict.margin == -5
    assert (verdict.worst_iteration, verdict.worst_state) == (9, 1)
    assert decide("x", [], 0, "d").inconclusive
    band = Tolerance(1.0, "pass within 1", 2.0)
    assert decide("x", [-0.5], band, "d").passed
    assert decide("x", [-1.5], band, "d").inconclusive
    assert decide("x", [-2.5], band, "d").failed


def test_report_outcomes():
    passed = Verdict("a", "passed", 1, None, None, None, 0, "")
    failed = Verdict("b", "failed", -1, None, None, None, 0, "")
    open_ = Verdict("c", "inconclusive", 0, None, None, None, 0, "", reason="r")
    assert Report((passed, open_)).outcome == "passed"
    assert Report((passed, failed, open_)).outcome == "failed"
    assert Report((open_,)).outcome == "inconclusive"
    assert Report(()).outcome == "inconclusive"
    assert not Report((passed, open_)).complete and Report((passed,)).complete
    assert Report((passed, open_)).summary() == (
        "PASSED (1 passed, 0 failed, 1 inconclusive of 2 claims)"
    )
    with pytest.raises(tm.InvalidParameterError, match="without a reason"):
        Verdict("c", "inconclusive", 0, None, None, None, 0, "")
    with pytest.raises(tm.InvalidParameterError, match="outcome"):
        Verdict("c", True, 0, None, None, None, 0, "")
    assert verdicts.combine("z", [passed, open_, failed], "d").failed
    assert verdicts.combine("z", [passed, open_], "d").inconclusive


# ---------------------------------------------------------------------------- witnesses
def test_witnesses_are_parsed_not_evaluated(tmp_path):
    from proofs_check.witness import rebuild_algorithm

    with pytest.raises(tm.InvalidParameterError):
        rebuild_algorithm({"algorithm": "__import__('os').system('true')"})
    with pytest.raises(tm.InvalidParameterError, match="only call proofs_check"):
        proofs_check.replay({"call": "os:system", "arguments": {}, "claim": "x"})


def test_witness_round_trip_through_json(tmp_path, exact_trace):
    report = proofs_check.check_step(MDP, ALGORITHM, tm.uniform_policy(MDP))
    verdict = report["lemma_3_5_mirror_operator"]
    path = proofs_check.save_witness(verdict.witness, tmp_path / "w.json")
    loaded = proofs_check.load_witness(path)
    again = proofs_check.replay(loaded)
    assert again.outcome == verdict.outcome and again.margin == verdict.margin
    assert loaded["expected"]["outcome"] == verdict.outcome


def test_check_trace_refuses_a_trace_that_is_not_evidence(exact_trace):
    edited = _set(exact_trace.values, (2, 1), exact_trace.values[2][1] + DELTA)
    with pytest.raises(tm.InvalidParameterError, match=r"trace.values\[2\] differs"):
        proofs_check.check_trace(replace(exact_trace, values=edited))
    returns = _set(exact_trace.returns, 1, exact_trace.returns[1] - DELTA)
    with pytest.raises(tm.InvalidParameterError, match=r"trace.returns\[1\]"):
        proofs_check.check_trace(replace(exact_trace, returns=returns))


def test_staying_must_be_allowed_for_a_fixed_point(exact_trace):
    from dataclasses import dataclass

    from tabular_mirror.neighbourhoods import Neighbourhood

    @dataclass(frozen=True)
    class AwayFromPi(Neighbourhood):
        """Excludes its own centre (violates Def. 3.2): staying is not an update."""

        def slack(self, context, candidate):
            return abs(candidate - context.policy).sum() - Fraction(1, 10)

    planted = replace(exact_trace, objectives=_set(exact_trace.objectives, 1, Fraction(0)))
    assert fundamental.value_convergence(planted).failed  # Def. 3.2 assumed without the pieces
    algorithm = replace(ALGORITHM, neighbourhood=AwayFromPi())
    run = lemmas.RunInfo(planted, algorithm)
    assert not fundamental.value_convergence(run).failed


def test_decisions_use_the_evaluation_errors_the_trace_recorded(float_trace):
    trace = float_trace
    assert trace.evaluation_error_bounds is not None and len(trace.evaluation_error_bounds) == 5
    # a planted error bound of 1e-3 on V_2 widens steps 1 and 2, not step 0 or 3
    bounds = _set(trace.evaluation_error_bounds, 2, 1e-3)
    planted = _with_step(replace(trace, evaluation_error_bounds=bounds), 1, trace.certificates[1],
                         -1e-3)  # fmt: skip
    verdict = lemmas.lemma_3_5_on_trace(planted)
    assert verdict.passed, verdict  # within 2 x 1e-3
    at_zero = _with_step(replace(trace, evaluation_error_bounds=bounds), 0,
                         trace.certificates[0], -1e-3)  # fmt: skip
    assert lemmas.lemma_3_5_on_trace(at_zero).failed
