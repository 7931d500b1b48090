"""Theorem 3.6(2)-(4) on a finite run: passed when the optimum is reached (within the stated
tolerance), failed at a certified fixed point that is not optimal (decided exactly, also when
a float run's fixed point lifts to rationals), inconclusive otherwise with the observed rate.
Each control plants one quantity and checks the verdict, its margin, place and reason; the
helpers (rate, fixed points, tolerance, optimum lookup) are checked on their own. Mutation
testing (docs/mutation.md) found each assertion missing.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from planting import (
    ALGORITHM,
    MDP,
    base_allowance,
    exact_trace,
    float_trace,
    set_entry,
    value_scale,
    with_certificate,
)

import proofs_check
import tabular_mirror as tm
from proofs_check import fundamental
from proofs_check.counterexamples import total_variation_algorithm, tv_solver
from proofs_check.fundamental import fixed_points
from proofs_check.lemmas import RunInfo
from proofs_check.verdicts import EXACT, Tolerance
from tabular_mirror.results import Certificate

CONVERGENCE = (fundamental.value_convergence, fundamental.return_convergence,
               fundamental.limit_optimal)  # fmt: skip

#: One state, two actions (rewards 0 and 1), gamma = 1/2: V* = 2, eta(action 0) = 0.
STALL = tm.FiniteMDP([[[1], [1]]], [[0, 1]], "1/2")


def _stalled_float_trace():
    mdp = STALL.to_float()
    return tm.mirror_learning(
        mdp, total_variation_algorithm(), tm.deterministic_policy(mdp, [0]), 3, solver=tv_solver
    )


def _fixed_at(trace, k, objective=None, bound=None):
    """Plant 'staying at pi_k attains the certified maximum' at step k."""
    zero = Fraction(0) if trace.exact else 0.0
    certificate = replace(trace.certificates[k], bound=zero if bound is None else bound)
    planted = with_certificate(trace, k, certificate)
    value = zero if objective is None else objective
    return replace(planted, objectives=set_entry(trace.objectives, k, value))


# ---------------------------------------------------------------------------- helpers
@pytest.mark.parametrize(
    ("gaps", "text"),
    [
        ([1.0], "no rate (no steps or no initial gap)"),
        ([0.0, 0.0], "no rate (no steps or no initial gap)"),
        ([-1.0, 0.5], "no rate (no steps or no initial gap)"),
        ([1.0, 0.0], "gap 0 after 1 iterations"),
        ([1.0, 0.5, -0.25], "gap 0 after 2 iterations"),
        ([4.0, 2.0, 1.0], "observed rate (gap_n/gap_0)^(1/n) = 0.5"),
        ([2.0, 0.5], "observed rate (gap_n/gap_0)^(1/n) = 0.25"),
    ],
    ids=["no-steps", "no-gap", "negative-gap", "closed", "overshoot", "halving", "one-step"],
)
def test_rate(gaps, text):
    assert fundamental._rate(gaps) == text


def test_convergence_tolerance():
    assert fundamental._convergence_tolerance(exact_trace()) == EXACT
    trace = float_trace()
    assert trace.tolerance == pytest.approx(1e-8)
    tolerance = fundamental._convergence_tolerance(trace)
    scale = value_scale(trace.mdp)
    expected = 1e-8 / (1 - 0.9) + 2 * 1e-10 * scale + 1e-12 * scale
    assert tolerance.value == pytest.approx(expected, rel=1e-9)
    assert tolerance.reason == (
        "run's stopping tolerance on max A / (1 - gamma) + 2 x certified evaluation error"
    )
    untold = fundamental._convergence_tolerance(replace(trace, tolerance=None))
    assert untold.value == pytest.approx(base_allowance(trace.mdp), rel=1e-9)
    user = fundamental._convergence_tolerance(trace, 0.5)
    assert user == Tolerance(0.5, "user", 0.5)


def test_fixed_points():
    trace = exact_trace()
    assert fixed_points(RunInfo(trace)) == (None, "")
    assert fixed_points(RunInfo(_fixed_at(trace, 2))) == (2, "exact")
    # a gap bound that does not close the objective: not a fixed point (0 + 1/10 > 0)
    loose = _fixed_at(trace, 1, bound=Fraction(1, 10))
    assert fixed_points(RunInfo(loose)) == (None, "")
    # a positive objective below 1 is an improvement, not a fixed point
    small = _fixed_at(trace, 1, objective=Fraction(1, 2))
    assert fixed_points(RunInfo(small)) == (None, "")
    # an uncertified step before the fixed point is skipped, not the end of the search
    skipped = with_certificate(
        _fixed_at(trace, 2), 0, Certificate("local", None, 0, False, "planted")
    )
    assert fixed_points(RunInfo(skipped)) == (2, "exact")
    # exact arithmetic has no rounding floor: a tiny positive objective is an improvement
    tiny = _fixed_at(trace, 1, objective=Fraction(1, 10**11))
    assert fixed_points(RunInfo(tiny)) == (None, "")
    # certified but without a bound: nothing is known
    no_bound = with_certificate(_fixed_at(trace, 1), 1, Certificate("exact", None, 0, True, "p"))
    assert fixed_points(RunInfo(no_bound)) == (None, "")


def test_float_fixed_points_up_to_rounding():
    trace = float_trace()
    floor = 1e-12 * value_scale(trace.mdp)
    at_floor = _fixed_at(trace, 1, objective=floor / 2, bound=floor / 2)
    assert fixed_points(RunInfo(at_floor)) == (1, "numerical")
    above = _fixed_at(trace, 1, objective=floor, bound=floor / 10)
    assert fixed_points(RunInfo(above)) == (None, "")
    two = _fixed_at(_fixed_at(trace, 1), 3)
    assert fixed_points(RunInfo(two)) == (1, "numerical")  # the first one
    # with the algorithm, pi_1 lifts to rationals but its exact step improves: still numerical
    assert fixed_points(RunInfo(two, ALGORITHM)) == (1, "numerical")


def test_a_float_fixed_point_is_decided_exactly_when_it_lifts():
    trace = _stalled_float_trace()
    algorithm = total_variation_algorithm()
    lifted = RunInfo(trace, algorithm, {"solver": tv_solver, "choice": "closest"})
    assert fixed_points(lifted) == (0, "exact")
    report = proofs_check.check_trace(trace, algorithm=algorithm, options={"solver": tv_solver})
    verdict = report["theorem_3_6_2_value_convergence"]
    assert verdict.failed and verdict.margin == -2.0 and verdict.worst_iteration == 0
    assert "decided exactly" in verdict.detail
    assert [v.name for v in verdict.violated_hypotheses()] == ["hypothesis_definition_3_1"]
    # without the solver the exact step cannot be taken (no exact TV solver); without the
    # algorithm nothing can be lifted: a fixed point up to rounding, undecided
    for run in (RunInfo(trace, algorithm), RunInfo(trace)):
        assert fixed_points(run) == (0, "numerical")
        undecided = fundamental.value_convergence(run)
        assert undecided.inconclusive and undecided.margin == pytest.approx(-2.0)
        assert undecided.reason.startswith(
            "pi_0 is a fixed point up to rounding (the step finds no improvement beyond 1e-12 "
            "x the value scale) with V* gap 2,"
        )


# ---------------------------------------------------------------------------- verdicts
def test_a_fixed_point_at_the_optimum_is_no_failure():
    trace = exact_trace()
    optimal = trace.optimal_values
    done = replace(
        _fixed_at(trace, 2),
        values=set_entry(set_entry(trace.values, 2, optimal), -1, optimal),
    )
    verdict = fundamental.value_convergence(done)
    assert verdict.passed and verdict.margin == 0 and verdict.worst_iteration == 4
    assert verdict.name == "theorem_3_6_2_value_convergence"
    assert "V* reached" in verdict.detail


def test_a_fixed_point_half_a_unit_from_the_optimum_fails_by_that():
    trace = exact_trace()
    near = trace.optimal_values - np.array([Fraction(1, 2), Fraction(0)], dtype=object)
    planted = replace(_fixed_at(trace, 3), values=set_entry(trace.values, 3, near))
    verdict = fundamental.value_convergence(planted)
    assert verdict.failed and verdict.margin == Fraction(-1, 2) and verdict.worst_iteration == 3
    diagnosed = fundamental.value_convergence(RunInfo(planted, ALGORITHM))
    assert diagnosed.failed and diagnosed.diagnosis[0].worst_iteration == 3  # at pi_3
    assert verdict.tolerance == EXACT


def test_reached_within_the_float_tolerance_passes_with_its_margin():
    trace = float_trace()
    tolerance = fundamental._convergence_tolerance(trace)
    short = trace.optimal_values - np.array([tolerance.value / 4, 0.0])
    verdict = fundamental.value_convergence(
        replace(trace, values=set_entry(trace.values, -1, short))
    )
    assert verdict.passed
    assert verdict.margin == pytest.approx(tolerance.value * 3 / 4, rel=1e-6)


def test_an_unfinished_run_is_inconclusive_with_its_gap():
    trace = exact_trace()
    for check, name in zip(
        CONVERGENCE,
        ("theorem_3_6_2_value_convergence", "theorem_3_6_3_return_convergence",
         "theorem_3_6_4_convergence_to_optimal_policy"),
        strict=True,
    ):  # fmt: skip
        verdict = check(trace)
        assert verdict.inconclusive and verdict.name == name
        assert verdict.reason.startswith("a finite run decides a limit only when it reaches")
        assert verdict.worst_iteration == 4
    gap = max(trace.optimal_values - trace.values[-1])
    assert fundamental.value_convergence(trace).margin == -gap
    assert fundamental.return_convergence(trace).margin == trace.returns[-1] - trace.optimal_return


def test_the_optimum_given_or_recorded_is_the_one_used():
    trace = exact_trace()
    last = trace.values[-1]
    # told that the last values are optimal: reached
    assert fundamental.value_convergence(trace, optimal_values=last).passed
    assert fundamental.value_convergence(replace(trace, optimal_values=last)).passed
    # nothing recorded: computed
    unknown = replace(trace, optimal_values=None, optimal_return=None)
    assert (
        fundamental.value_convergence(unknown).margin == fundamental.value_convergence(trace).margin
    )
    assert (
        fundamental.return_convergence(unknown).margin
        == fundamental.return_convergence(trace).margin
    )
    assert fundamental.return_convergence(trace, optimal_return=trace.returns[-1]).passed
    recorded = replace(trace, optimal_return=trace.returns[-1])
    assert fundamental.return_convergence(recorded).passed
    # check_trace uses what the trace records
    report = proofs_check.check_trace(
        replace(trace, optimal_values=last, optimal_return=trace.returns[-1])
    )
    assert report["theorem_3_6_2_value_convergence"].passed
    assert report["theorem_3_6_3_return_convergence"].passed


def _limit_gap(trace, index):
    """max(max(A_n, 0), non-optimal mass of pi_n x smallest action gap), recomputed."""
    q_star = tm.q_from_values(trace.mdp, trace.optimal_values)
    action_gaps = trace.optimal_values[:, None] - q_star
    suboptimal = action_gaps > 0
    smallest = min(g for g, m in zip(action_gaps.flat, suboptimal.flat, strict=True) if m)
    mass = max(sum(p for p, m in zip(row, mask, strict=True) if m)
               for row, mask in zip(trace.policies[index], suboptimal, strict=True))  # fmt: skip
    return max(max(trace.max_advantages[index], 0), mass * smallest), mass, smallest


def test_limit_optimal_follows_advantage_and_non_optimal_mass():
    trace = exact_trace()
    gap, _, _ = _limit_gap(trace, -1)
    verdict = fundamental.limit_optimal(trace)
    assert verdict.inconclusive and verdict.margin == -gap
    # with no advantage left, only the mass on non-optimal actions (in value units) remains
    flat = replace(trace, max_advantages=np.array([Fraction(0)] * 5, dtype=object))
    gap, mass, smallest = _limit_gap(flat, -1)
    assert mass > 0 and smallest != 1 and gap == mass * smallest
    assert fundamental.limit_optimal(flat).margin == -gap
    assert f"-> {float(mass):.3g}" in fundamental.limit_optimal(flat).detail


def test_limit_optimal_from_a_zero_return():
    # eta(pi_0) = 0 exactly: the checks' zero is built from it
    trace = tm.mirror_learning(STALL, tm.instances.gpi(), tm.deterministic_policy(STALL, [0]), 2)
    assert trace.returns[0] == 0
    verdict = fundamental.limit_optimal(trace)
    assert verdict.passed and verdict.margin == 0


def test_check_trace_title_and_diagnosis():
    trace = exact_trace()
    assert proofs_check.check_trace(trace).title == "L2 x2 (4 iterations)"
    one = tm.mirror_learning(MDP, ALGORITHM, tm.uniform_policy(MDP), 1)
    assert proofs_check.check_trace(one).title == "L2 x2 (1 iteration)"
    planted = _fixed_at(trace, 1)
    report = proofs_check.check_trace(planted, algorithm=ALGORITHM)
    assert report["theorem_3_6_2_value_convergence"].failed
    assert report["theorem_3_6_2_value_convergence"].diagnosis
    quiet = proofs_check.check_trace(planted, algorithm=ALGORITHM, diagnose_failures=False)
    assert quiet["theorem_3_6_2_value_convergence"].diagnosis == ()


def test_check_fundamental_theorem_diagnoses_by_default():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = proofs_check.check_fundamental_theorem(
            STALL, total_variation_algorithm(), tm.deterministic_policy(STALL, [0]), 2,
            solver=tv_solver,
        )  # fmt: skip
    verdict = report["theorem_3_6_2_value_convergence"]
    assert verdict.failed and verdict.margin == -2
    assert [v.name for v in verdict.violated_hypotheses()] == ["hypothesis_definition_3_1"]
    assert report.title == "TV penalty (2 iterations)"


def test_per_step_claim_names():
    trace = exact_trace()
    assert fundamental.inequality_13(trace).name == "theorem_3_6_1_inequality_13"
    verdict = fundamental.return_inequality(trace)
    assert verdict.name == "theorem_3_6_1_return_monotone" and verdict.worst_state is None
    assert verdict.passed
    gains = [trace.returns[n + 1] - trace.returns[n] - trace.improvement_bounds[n]
             for n in range(4)]  # fmt: skip
    assert verdict.margin == min(gains)


#: Dyadic probabilities and discount: every float is a binary fraction and rows sum to exactly 1,
#: so the float MDP lifts to rationals exactly.
DYADIC = tm.FiniteMDP(
    [[[0.5, 0.5], [0, 1]], [[0.75, 0.25], [0.125, 0.875]]], [[1, 2], [-1, 0.5]], 0.75
)


def test_an_exact_lift_that_improves_is_not_a_fixed_point():
    trace = tm.mirror_learning(DYADIC, ALGORITHM, tm.uniform_policy(DYADIC), 3)
    planted = _fixed_at(trace, 0)  # pi_0 claimed a fixed point; its exact step gains 2105/85264
    lifted = tm.mirror_step(DYADIC.to_exact(), ALGORITHM, tm.uniform_policy(DYADIC.to_exact()))
    assert 0 < lifted.objective < 1 and lifted.certificate.certified
    assert fundamental._exact_fixed_point(RunInfo(planted, ALGORITHM), 0) is False
    assert fundamental._exact_fixed_point(RunInfo(planted), 0) is False
    verdict = fundamental.value_convergence(RunInfo(planted, ALGORITHM))
    assert verdict.inconclusive and "fixed point up to rounding" in verdict.reason
    # an MDP whose floats do not lift (0.8 + 0.2 is not exactly 1 in binary) is not lifted
    assert (
        fundamental._exact_fixed_point(RunInfo(_fixed_at(float_trace(), 0), ALGORITHM), 0) is False
    )


def test_limit_optimal_counts_actions_non_optimal_beyond_the_tolerance():
    # exact: the action gap is exactly 1 (Q* = (1, 2)); pi_0 puts all its mass on it
    start = tm.mirror_learning(STALL, tm.instances.gpi(), tm.deterministic_policy(STALL, [0]), 0)
    flat = replace(start, max_advantages=np.array([Fraction(0)], dtype=object))
    verdict = fundamental.limit_optimal(flat)
    assert verdict.inconclusive and verdict.margin == -1
    # float: an action 1e-11 short of optimal is within the tolerance (4e-10), not non-optimal
    near = tm.FiniteMDP([[[1.0], [1.0], [1.0]]], [[1.0, 1.0 - 1e-11, 0.0]], 0.5)
    uniform = tm.mirror_learning(near, tm.instances.gpi(), tm.uniform_policy(near), 0)
    flat = replace(uniform, max_advantages=np.array([0.0]))
    verdict = fundamental.limit_optimal(flat)
    assert verdict.inconclusive and verdict.margin == pytest.approx(-1 / 3, rel=1e-6)
    assert "mass on non-optimal actions 0.333 -> 0.333" in verdict.detail
