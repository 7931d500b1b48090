"""Regression: FixedSampling with exact strings crashed in float mode; malformed entries raised
TypeError instead of InvalidParameterError.

What broke: ``FixedSampling(("1/4", "3/4"))`` validated fine (entries read as Fractions) but
``weights`` on a float MDP did ``np.array(distribution, dtype=float)`` and raised a bare
ValueError; ``FixedSampling(((0.5, 0.5),))`` raised TypeError from ``Fraction``.
"""

from __future__ import annotations

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import instances
from tabular_mirror.errors import InvalidParameterError
from tabular_mirror.sampling import FixedSampling


def test_string_entries_work_in_float_mode():
    mdp = tm.FiniteMDP(np.full((2, 2, 2), 0.5), [[1.0, 0.0], [0.0, 1.0]], 0.5)
    step = tm.mirror_step(mdp, instances.gpi(FixedSampling(("1/4", "3/4"))), [[0.5, 0.5]] * 2)
    np.testing.assert_array_equal(step.sampling, [0.25, 0.75])


def test_malformed_entries_raise_invalid_parameter():
    with pytest.raises(InvalidParameterError, match="not a sequence of numbers"):
        FixedSampling(((0.5, 0.5),))
