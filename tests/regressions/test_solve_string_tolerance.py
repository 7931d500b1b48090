"""Regression: ``solve(float_mdp, tolerance="1/1000")`` crashed with a numpy UFuncTypeError.

What broke: ``solve`` validated ``tolerance`` with ``positive_number`` (which reads strings such
as "1/1000" exactly) but threw the parsed value away; exact MDPs converted the string again with
``Fraction`` while float MDPs kept the *string* and failed at the first comparison
``error_bound > tolerance``. Fixed in ``optimal.solve`` (the parsed value is used; float mode
turns it into a float).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import tabular_mirror as tm

TRANSITIONS = [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]]
REWARDS = [[5, 10], [-1, 2]]


@pytest.mark.parametrize("method", ["policy_iteration", "value_iteration"])
@pytest.mark.parametrize("exact", [False, True], ids=["float", "exact"])
def test_string_tolerance(method, exact):
    mdp = tm.FiniteMDP(TRANSITIONS, REWARDS, "9/10")
    mdp = mdp if exact else mdp.to_float()
    result = tm.solve(mdp, method, tolerance="1/1000")
    assert result.converged, (result.status, result.message)
    assert result.error_bound <= Fraction(1, 1000)
    np.testing.assert_allclose(np.array(result.values, dtype=float), [1825 / 43, 1550 / 43])
