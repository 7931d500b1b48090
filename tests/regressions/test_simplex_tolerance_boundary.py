"""Row sums at the edge of a tolerance are decided by |sum - 1| <= tol to the last bit.

A fast path once compared the row sums with ``1 - tol`` and ``1 + tol``: a row summing to
exactly fl(1 - 1e-10), which is 1.00000008e-10 from 1, passed check_policy's fast path although
the general check refuses it, and a user solver's row summing to fl(1 + 1e-9) passed the step's
re-verification. Both now test sum - 1 (exact near 1).
"""

from __future__ import annotations

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror.errors import InvalidPolicyError

MDP = tm.FiniteMDP([[[1.0], [1.0]]], [[0.0, 1.0]], 0.5)  # one state, two actions


@pytest.mark.parametrize(
    "first",
    [1 - 1e-10, 1 + 1e-10, 1 - 0.99e-10, 1 + 0.99e-10, 1 - 2e-10, 1 + 2e-10,
     np.nextafter(1 - 1e-10, 2), np.nextafter(1 + 1e-10, 0)],
)  # fmt: skip
def test_the_fast_path_decides_as_the_general_check(first):
    array = np.array([[first, 0.0]])
    inside = abs(first - 1.0) <= 1e-10
    for given in (array, array.tolist()):  # the fast path, then the general one
        if inside:
            assert tm.check_policy(MDP, given)[0, 0] == first
        else:
            with pytest.raises(InvalidPolicyError, match="sum"):
                tm.check_policy(MDP, given)


@pytest.mark.parametrize(
    ("first", "on_the_simplex"), [(1 + 1e-9, False), (1 - 1e-9, True), (1 + 0.9e-9, True)]
)
def test_the_step_reverification_uses_the_same_test(first, on_the_simplex):
    assert (abs(first - 1.0) <= 1e-9) is on_the_simplex  # fl(1 + 1e-9) is 1.00000008e-9 away

    def solver(algorithm, context):
        return np.array([[first, 0.0]])

    step = tm.mirror_step(MDP, tm.instances.gpi(), [[0.5, 0.5]], solver=solver)
    assert ("a row is off the simplex" in step.message) is not on_the_simplex
