"""Regression: the LinearPenalty negative control, marked ``rational``, returned floats for an
exact MDP: its default coefficient 1.0 (and float weights) multiplied the Fraction differences,
so proofs_check.check_drift decided its exact claims in floats (found when the zero-gradient
check started using exact quotients for rational drifts). Float parameters now enter exact
arithmetic at their exact binary values, as for PPOClip and scaled drifts."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import proofs_check
import tabular_mirror as tm
from tabular_mirror import drifts
from tabular_mirror.algorithm import Context

MDP = tm.FiniteMDP([[["1/2", "1/2"], [1, 0]]] * 2, [[1, -1], [2, "1/2"]], "1/2")


@pytest.mark.parametrize(
    "drift",
    [drifts.LinearPenalty(), drifts.LinearPenalty(0.5, (0.25, 1.5))],
    ids=["default", "float_weights"],
)
def test_linear_penalty_is_exact_on_exact_input(drift):
    policy = np.array([[Fraction(1, 2)] * 2] * 2, dtype=object)
    candidate = np.array([[Fraction(9, 10), Fraction(1, 10)], [Fraction(1, 4), Fraction(3, 4)]])
    values = drift.value(Context(MDP, policy, tm.evaluate(MDP, policy)), candidate)
    assert all(isinstance(v, Fraction) for v in values), [type(v) for v in values]
    weights = drift.weights or (0, 1)
    expected = [
        Fraction(drift.coefficient)
        * sum(Fraction(w) * (c - p) for w, c, p in zip(weights, row, policy[s], strict=True))
        for s, row in enumerate(candidate)
    ]
    assert list(values) == expected


def test_linear_penalty_fails_definition_3_1_exactly():
    report = proofs_check.check_drift(drifts.LinearPenalty(), MDP)
    for name in ("definition_3_1_nonnegative", "definition_3_1_zero_gradient"):
        assert report[name].failed and report[name].exact, report[name]
    assert report["definition_3_1_zero_gradient"].margin == -1  # w_1 - w_0 = 1
