"""Regression: ragged exact input was reported as an exactness problem.

What broke: ``np.array(ragged, dtype=object)`` builds an array of lists, and each list reached
``to_fraction``, so ``FiniteMDP([[["1/2", "1/2"], [1]]], ...)`` raised ExactnessError ("of type
list is not a rational") instead of InvalidMDPError, and a ragged exact policy raised
ExactnessError instead of InvalidPolicyError. Fixed in ``_exact.fraction_array`` (a sequence
entry is a shape error, which the model and ``check_policy`` report as their own errors).
"""

from __future__ import annotations

import pytest

import tabular_mirror as tm
from tabular_mirror.errors import InvalidMDPError, InvalidPolicyError


def test_ragged_exact_transitions_are_an_invalid_mdp():
    with pytest.raises(InvalidMDPError, match=r"transitions\[0, 0\] is a sequence.*ragged"):
        tm.FiniteMDP([[["1/2", "1/2"], [1]]], [[0, 0]], "1/2")


def test_ragged_exact_policy_is_an_invalid_policy():
    mdp = tm.FiniteMDP([[["1/2", "1/2"], [1, 0]], [[0, 1], [0, 1]]], [[0, 0], [0, 0]], "1/2")
    with pytest.raises(InvalidPolicyError, match=r"ragged"):
        tm.check_policy(mdp, [["1/2", "1/2"], [1]])
