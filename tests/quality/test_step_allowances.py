"""proofs_check._common: the allowance of every kind of step, exactly as documented.

step_tolerance gives a claim about one step its pass and fail allowances: 2 x the certified
evaluation error + rounding, plus the step's gap / beta_min (x 1/(1 - gamma) when propagated)
for a certified step; a fail allowance only for an uncertified step with a valid gap bound;
never a failure without one; nothing for a step inexact by design. Each case below is one
branch, with its value (exact where the MDP is exact) and its reason. Mutation testing
(docs/mutation.md) found each assertion missing.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import tabular_mirror as tm
from proofs_check import _common
from proofs_check._common import (
    as_float,
    evaluation_error,
    optimum,
    ratio_times,
    run_tolerance,
    step_tolerance,
    value_scale,
)
from proofs_check.verdicts import EXACT, Tolerance
from tabular_mirror.results import Certificate

#: gamma = 1/2 and max |r| = 3: value scale 3 / (1 - 1/2) = 6, factor 1/(1 - gamma) = 2.
EXACT_MDP = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 3], [-1, 2]], "1/2")
FLOAT_MDP = EXACT_MDP.to_float()
SCALE = 6.0
BASE = 2 * 1e-10 * SCALE + 1e-12 * SCALE
REASON = "2 x certified evaluation error + rounding"
HALF = np.array([0.5, 0.5])
QUARTER = np.array([0.25, 0.75])  # beta_min = 1/4
EXACT_QUARTER = np.array([Fraction(1, 4), Fraction(3, 4)], dtype=object)


def certificate(kind="duality_gap", bound=1e-6, certified=True):
    return Certificate(kind, bound, 1e-9, certified, "planted")


def assert_tolerance(tolerance, value, reason, fail=None):
    assert isinstance(tolerance, Tolerance), tolerance
    assert tolerance.value == pytest.approx(value, rel=1e-12, abs=0), tolerance
    assert tolerance.reason == reason, tolerance.reason
    expected_fail = value if fail is None else fail
    assert tolerance.fail_threshold == pytest.approx(expected_fail, rel=1e-12, abs=0), tolerance


def test_value_scale_and_evaluation_error():
    assert value_scale(EXACT_MDP) == SCALE and value_scale(FLOAT_MDP) == SCALE
    small = tm.FiniteMDP([[[1]]], [[0.25]], 0.5)  # 0.25 / (1 - 1/2) = 0.5 < 1
    assert value_scale(small) == 1.0
    assert value_scale(tm.FiniteMDP([[[1]]], [[0.0]], 0.5)) == 1.0
    assert evaluation_error(EXACT_MDP) == 0.0
    assert evaluation_error(FLOAT_MDP) == pytest.approx(1e-10 * SCALE, rel=1e-12)
    assert _common.EVALUATION_RELATIVE == 1e-10 and _common.ROUNDING_RELATIVE == 1e-12
    undiscounted = tm.FiniteMDP([[[1]]], [[1]], 1)
    with pytest.raises(tm.InvalidMDPError, match="proofs_check needs gamma < 1"):
        value_scale(undiscounted)


# ---------------------------------------------------------------------------- float steps
def test_no_certificate():
    assert step_tolerance(EXACT_MDP, None, None) == EXACT
    assert not isinstance(step_tolerance(EXACT_MDP, None, None), Tolerance)
    assert_tolerance(step_tolerance(FLOAT_MDP, None, None), BASE, REASON)


@pytest.mark.parametrize(("propagate", "factor"), [(True, 2.0), (False, 1.0)], ids=str)
def test_a_certified_step_adds_its_gap_over_beta_min(propagate, factor):
    gap = 1e-6
    tolerance = step_tolerance(FLOAT_MDP, certificate(bound=gap), QUARTER, propagate=propagate)
    text = " + step gap / beta_min" + (" / (1 - gamma)" if propagate else "") + " (certified)"
    assert_tolerance(tolerance, BASE + gap / 0.25 * factor, REASON + text)


def test_a_certified_step_with_gap_zero_is_still_a_float_allowance():
    tolerance = step_tolerance(FLOAT_MDP, certificate(bound=0.0), HALF)
    text = " + step gap / beta_min / (1 - gamma) (certified)"
    assert_tolerance(tolerance, BASE, REASON + text)


@pytest.mark.parametrize("sampling", [np.array([0.0, 1.0]), None, np.array([])],
                         ids=["zero", "none", "empty"])  # fmt: skip
def test_a_certified_gap_gives_nothing_when_beta_has_a_zero(sampling):
    tolerance = step_tolerance(FLOAT_MDP, certificate(bound=1e-6), sampling)
    assert_tolerance(
        tolerance, BASE, REASON + "; beta has a zero, so the step's gap gives no allowance"
    )


@pytest.mark.parametrize("bound", [None, float("nan"), -1e-6], ids=["none", "nan", "negative"])
def test_a_certified_step_without_a_valid_bound_gets_the_evaluation_error_only(bound):
    tolerance = step_tolerance(FLOAT_MDP, certificate(bound=bound), HALF)
    assert_tolerance(tolerance, BASE, REASON)


@pytest.mark.parametrize("certified", [True, False])
def test_an_inexact_step_is_decided_on_its_iterates(certified):
    inexact = certificate("inexact", 0.3, certified)
    reason = REASON + "; an inexact step by design (the algorithm itself), decided on its iterates"
    assert_tolerance(step_tolerance(FLOAT_MDP, inexact, HALF), BASE, reason)


@pytest.mark.parametrize("bound", [None, float("nan"), -1.0], ids=["none", "nan", "negative"])
def test_an_uncertified_step_without_a_bound_is_never_refuted(bound):
    tolerance = step_tolerance(FLOAT_MDP, certificate("local", bound, False), HALF)
    reason = REASON + (
        "; the step is not certified as the argmax and has no valid gap bound, so a violation "
        "cannot be told from a solver artefact"
    )
    assert_tolerance(tolerance, BASE, reason, math.inf)


@pytest.mark.parametrize(
    ("bound", "propagate", "factor"),
    [(1e-3, True, 2.0), (1e-3, False, 1.0), (0.0, True, 2.0)],
    ids=["propagated", "not-propagated", "gap-zero"],
)
def test_an_uncertified_step_with_a_bound_fails_only_beyond_it(bound, propagate, factor):
    uncertified = certificate("frank_wolfe_gap", bound, False)
    tolerance = step_tolerance(FLOAT_MDP, uncertified, QUARTER, propagate=propagate)
    gap_text = " + step gap / beta_min" + (" / (1 - gamma)" if propagate else "")
    reason = REASON + (
        f"; the step is not certified: a violation beyond the allowance for its gap bound "
        f"{bound:.3g}{gap_text} fails, a smaller one is undecided"
    )
    assert_tolerance(tolerance, BASE, reason, BASE + bound / 0.25 * factor)


# ---------------------------------------------------------------------------- exact steps
def test_exact_steps():
    exact_bound0 = Certificate("exact", Fraction(0), 0, True, "exact")
    assert step_tolerance(EXACT_MDP, exact_bound0, EXACT_QUARTER) == EXACT
    assert not isinstance(step_tolerance(EXACT_MDP, exact_bound0, EXACT_QUARTER), Tolerance)
    gap = Certificate("exact", Fraction(1, 100), 0, True, "planted")
    tolerance = step_tolerance(EXACT_MDP, gap, EXACT_QUARTER)
    assert tolerance.value == Fraction(1, 100) / Fraction(1, 4) * 2 == Fraction(2, 25)
    assert type(tolerance.value) is Fraction
    assert tolerance.reason == ("exact arithmetic + step gap / beta_min / (1 - gamma) (certified)")
    flat = step_tolerance(EXACT_MDP, gap, EXACT_QUARTER, propagate=False)
    assert flat.value == Fraction(1, 25)
    local = step_tolerance(EXACT_MDP, Certificate("local", None, 0, False, "p"), EXACT_QUARTER)
    assert local.value == 0 and math.isinf(local.fail_threshold)
    assert local.reason.startswith("exact arithmetic; the step is not certified as the argmax")


# ---------------------------------------------------------------------------- a whole run
def test_run_tolerance():
    assert run_tolerance(EXACT_MDP, [], []) == EXACT
    assert_tolerance(run_tolerance(FLOAT_MDP, [], []), BASE, REASON)
    exact = Certificate("exact", Fraction(0), 0, True, "exact")
    assert run_tolerance(EXACT_MDP, [exact, exact], [EXACT_QUARTER] * 2) == EXACT
    # one uncertified exact step: the run can pass exactly but never fails
    local = Certificate("local", None, 0, False, "p")
    mixed = run_tolerance(EXACT_MDP, [exact, local, exact], [EXACT_QUARTER] * 3)
    assert mixed.value == 0 and math.isinf(mixed.fail_threshold)
    assert mixed.reason.startswith("exact arithmetic; the step is not certified as the argmax")
    # an exact step with a zero in beta has a Tolerance of 0 with fail 0: the exact one wins
    zero_beta = np.array([Fraction(0), Fraction(1)], dtype=object)
    gap = Certificate("exact", Fraction(1, 10), 0, True, "p")
    ties = run_tolerance(EXACT_MDP, [exact, gap], [EXACT_QUARTER, zero_beta])
    assert (ties.value, ties.reason, ties.fail_threshold) == (0, "exact", 0)
    # float: the widest pass allowance and the widest fail allowance are taken separately
    wide = certificate(bound=1e-4)
    never = certificate("local", None, False)
    run = run_tolerance(FLOAT_MDP, [never, wide], [HALF, HALF])
    assert run.value == pytest.approx(BASE + 1e-4 / 0.5 * 2, rel=1e-12)
    assert math.isinf(run.fail_threshold)
    assert run.reason == step_tolerance(FLOAT_MDP, never, HALF).reason
    alone = run_tolerance(FLOAT_MDP, [wide], [HALF])
    assert alone.reason == step_tolerance(FLOAT_MDP, wide, HALF).reason
    assert alone.fail_threshold == alone.value


# ---------------------------------------------------------------------------- ratio_times
def test_ratio_times_exact():
    weights = [Fraction(1, 2), Fraction(0), Fraction(1, 3), Fraction(1), Fraction(1, 2)]
    sampling = [Fraction(1, 4), Fraction(1, 2), Fraction(1, 3), Fraction(1, 2), Fraction(0)]
    values = [Fraction(1, 5), Fraction(7), Fraction(0), Fraction(1, 3), Fraction(0)]
    out = ratio_times(weights, sampling, values)
    assert out.dtype == object and all(type(x) is Fraction for x in out)
    assert list(out) == [Fraction(2, 5), 0, 0, Fraction(2, 3), 0]
    one = ratio_times([Fraction(1, 2)], [Fraction(1, 4)], [Fraction(1)])
    assert list(one) == [2]


def test_ratio_times_float():
    out = ratio_times([0.5, 0.0, 0.5, 0.25], [0.25, 0.5, 0.0, 0.5], [3.0, 2.0, 1.0, 0.0])
    assert out.dtype == float
    assert list(out) == [6.0, 0.0, math.inf, 0.0]


def test_optimum_and_as_float():
    values, expected_return, q_star = optimum(EXACT_MDP)
    result = tm.solve(EXACT_MDP, method="policy_iteration")
    assert list(values) == list(result.values) and expected_return == result.expected_return
    assert (q_star == tm.q_from_values(EXACT_MDP, result.values)).all()
    assert math.isnan(as_float(None)) and as_float(Fraction(1, 4)) == 0.25
