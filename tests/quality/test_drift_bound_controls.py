"""Inequalities (8)-(9): U_beta = min_s d/beta (states with beta = 0 skipped), applicability
(d > 0), the optimum used by (9) and (9)'s allowance (the sum of the steps' allowances).
Mutation testing (docs/mutation.md) found each assertion missing.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from planting import ALGORITHM, DELTA, MDP, exact_trace, float_trace, set_entry, with_certificate

import tabular_mirror as tm
from proofs_check._common import step_tolerance
from proofs_check.drift_bounds import NOT_APPLICABLE, drift_bound_8, drift_bound_9, u_beta
from proofs_check.verdicts import EXACT, Tolerance
from tabular_mirror.results import Certificate

F = Fraction


@pytest.mark.parametrize(
    ("initial", "sampling", "expected"),
    [
        ([F(1, 4), F(3, 4)], [F(1, 2), F(1, 2)], F(1, 2)),
        ([F(1, 2), F(1, 2)], [F(1), F(0)], F(1, 2)),  # beta = 0: the state is skipped
        ([F(1)], [F(1)], F(1)),
        ([F(1, 2), F(1, 2)], [F(0), F(0)], math.inf),
        ([F(1, 4), F(3, 4)], [[F(1, 2), F(1, 2)], [F(1, 8), F(7, 8)]], F(1, 2)),  # rows of beta
    ],
    ids=["two-states", "zero-beta", "one-state", "no-beta", "rows"],
)
def test_u_beta_exact(initial, sampling, expected):
    value = u_beta(np.array(initial, dtype=object), sampling)
    assert value == expected
    if expected != math.inf:
        assert type(value) is Fraction


def test_u_beta_float():
    assert u_beta(np.array([0.25, 0.75]), [0.5, 0.5]) == 0.5
    assert u_beta(np.array([0.5, 0.5]), [[0.5, 0.5], [1.0, 0.0]]) == 0.5


def test_the_bounds_apply_only_when_d_has_no_zero():
    three = tm.FiniteMDP(
        [[[1, 0, 0], [0, 1, 0]], [[0, 1, 0], [0, 0, 1]], [[0, 0, 1], [1, 0, 0]]],
        [[0, 1], [1, 0], [0, 2]],
        "1/2",
        ["1/2", "1/2", "0"],
    )
    trace = tm.mirror_learning(three, ALGORITHM, tm.uniform_policy(three), 2)
    for verdict in (drift_bound_8(trace), drift_bound_9(trace)):
        assert verdict.inconclusive and verdict.reason == NOT_APPLICABLE
    one = tm.FiniteMDP([[[1], [1]]], [[0, 1]], "1/2")  # d = (1): applicable, U_beta = 1
    trace = tm.mirror_learning(one, ALGORITHM, tm.uniform_policy(one), 2)
    assert drift_bound_8(trace).passed and drift_bound_9(trace).passed


def test_names_and_places():
    trace = exact_trace()
    step = drift_bound_8(trace)
    assert step.name == "drift_bound_8_step" and step.worst_state is None
    total = drift_bound_9(trace)
    assert total.name == "drift_bound_9_total" and total.worst_iteration == 3
    assert total.worst_state is None and total.tolerance == EXACT and total.exact
    total_drift = sum(trace.drifts[1:], trace.drifts[0])
    assert total.margin == trace.optimal_return - trace.returns[0] - total_drift


def test_drift_bound_9_uses_the_optimum_given_recorded_or_computed():
    trace = exact_trace()
    total = sum(trace.drifts[1:], trace.drifts[0])
    planted = trace.returns[0] + total - DELTA  # an "optimum" that (9) misses by 1/7
    given = drift_bound_9(trace, planted)
    assert given.failed and given.margin == -DELTA
    assert drift_bound_9(replace(trace, optimal_return=planted)).margin == -DELTA
    unknown = drift_bound_9(replace(trace, optimal_values=None, optimal_return=None))
    assert unknown.margin == drift_bound_9(trace).margin


def test_drift_bound_9_allowance_is_the_sum_of_the_steps():
    trace = float_trace()
    total = drift_bound_9(trace)
    pairs = zip(trace.certificates, trace.sampling, strict=True)
    steps = [step_tolerance(trace.mdp, c, b) for c, b in pairs]
    assert total.tolerance.value == pytest.approx(sum(t.value for t in steps), rel=1e-12)
    assert total.tolerance.fail_threshold == pytest.approx(sum(t.value for t in steps))
    assert total.tolerance.reason == "the sum of the 4 steps' allowances (telescoping (8))"
    # an exact run with one uncertified step: passes exactly, can never fail
    local = with_certificate(exact_trace(), 1, Certificate("local", None, 0, False, "planted"))
    mixed = drift_bound_9(local)
    assert isinstance(mixed.tolerance, Tolerance)
    assert mixed.tolerance.value == 0 and math.isinf(mixed.tolerance.fail_threshold)
    overdrawn = replace(local, drifts=set_entry(local.drifts, 0, local.drifts[0] + 100))
    assert drift_bound_9(overdrawn).inconclusive


def test_one_step_is_enough_for_9():
    one = tm.mirror_learning(MDP, ALGORITHM, tm.uniform_policy(MDP), 1)
    verdict = drift_bound_9(one)
    assert verdict.passed and verdict.worst_iteration == 0
    assert verdict.margin == one.optimal_return - one.returns[0] - one.drifts[0]
    none = tm.mirror_learning(MDP, ALGORITHM, tm.uniform_policy(MDP), 0)
    assert drift_bound_9(none).reason == "the run took no steps: nothing to check"
    assert drift_bound_8(none).reason == "the run took no steps: nothing to check"


def test_drift_bound_8_margin_is_exact():
    trace = exact_trace()
    verdict = drift_bound_8(trace)
    slacks = [trace.returns[n + 1] - trace.returns[n] - trace.drifts[n] for n in range(4)]
    assert verdict.passed and verdict.margin == min(slacks)
    assert verdict.worst_iteration == slacks.index(min(slacks))
    assert MDP.is_exact
