"""Regression: the default float tie tolerance 0.0 picked the wrong greedy action on Fractions.

What broke: ``_maximisers`` computed ``row_max - tie_tolerance`` unconditionally. With the
default ``tie_tolerance = 0.0`` (a float), ``Fraction - 0.0`` is a *float*: the row maximum was
rounded to a double, so an exact value that beats another by less than the rounding error
compared as a tie, and the smallest-index rule chose the smaller action. Exact policy iteration
could then stop at a suboptimal policy or cycle. Fixed in ``policies._maximisers``: a zero
tolerance is never subtracted, so exact comparisons stay exact.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import tabular_mirror as tm

F = Fraction

#: action 1 beats action 0 by 10^-20, far below the resolution of a double near 1/3
VALUES = np.array([[F(1, 3), F(1, 3) + F(1, 10**20)]], dtype=object)


@pytest.mark.parametrize("tie_tolerance", [0.0, 0, F(0)], ids=["float_zero", "int_zero", "frac"])
def test_exact_greedy_action_is_the_true_argmax(tie_tolerance):
    assert float(VALUES[0, 0]) == float(VALUES[0, 1])  # indistinguishable as doubles
    np.testing.assert_array_equal(tm.greedy_actions(VALUES, tie_tolerance), [1])
    assert tm.greedy_policy(VALUES, tie_tolerance).tolist() == [[0, 1]]
    assert tm.greedy_policy(VALUES, tie_tolerance, split_ties=True).tolist() == [[0, 1]]


def test_default_tolerance_keeps_only_true_maximisers():
    np.testing.assert_array_equal(tm.greedy_actions(VALUES, keep=np.array([0])), [1])


def test_exact_policy_iteration_finds_a_gap_below_double_resolution():
    # one state; action 1 is better by 10^-20: exact PI must choose it
    mdp = tm.FiniteMDP([[[1], [1]]], [[F(1, 3), F(1, 3) + F(1, 10**20)]], "1/2")
    result = tm.solve(mdp, method="policy_iteration")
    assert result.converged, (result.status, result.message)
    assert result.policy.tolist() == [[0, 1]]
    assert result.values[0] == 2 * (F(1, 3) + F(1, 10**20))
