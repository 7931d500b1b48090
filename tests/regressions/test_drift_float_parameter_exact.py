"""Regression: a float drift parameter turned exact drift values into floats.

What broke: ``PPOClip()`` (default epsilon = 0.2, a float) and ``scaled(drift, 0.5)`` computed
``policy * (1 + 0.2)`` on Fraction arrays, so D_pi(pibar | s) came back as floats for an exact
MDP although the drifts are marked ``rational``. Fixed in ``drifts._in_mode``: a float parameter
enters exact arithmetic as the exact value of the double.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import drifts
from tabular_mirror.algorithm import Context


@pytest.mark.parametrize(
    "drift",
    [drifts.PPOClip(), drifts.scaled(drifts.SquaredTV(), 0.5)],
    ids=["ppo_clip_default_epsilon", "scaled_by_float"],
)
def test_float_parameter_keeps_exact_values_exact(drift):
    mdp = tm.FiniteMDP([[["1/2", "1/2"], [1, 0]]] * 2, [[1, -1], [2, "1/2"]], "1/2")
    policy = np.array([[Fraction(1, 2)] * 2] * 2, dtype=object)
    candidate = np.array([[Fraction(9, 10), Fraction(1, 10)], [Fraction(1, 4), Fraction(3, 4)]])
    context = Context(mdp, policy, tm.evaluate(mdp, policy))
    values = drift.value(context, candidate)
    assert all(isinstance(v, Fraction) for v in values), [type(v) for v in values]
    assert any(v > 0 for v in values)
