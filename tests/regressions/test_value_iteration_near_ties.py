"""Regression: value iteration's a-priori bound ignored the tie tolerance, and gamma = 0 with a
near tie never satisfied modified policy iteration's stopping rule.

What broke (both found by tests/theorems/test_foundation_properties.py on gamma = 0):

1. Float value iteration picks a greedy policy with ties up to ``1e-12 * scale``, but its
   a-priori bound 2 gamma ||v_n+1 - v_n|| / (1 - gamma) (Puterman 1994, Thm 6.3.1) assumes an
   exactly greedy policy. With rewards (1, 1 + 1e-13) and gamma = 0 it returned action 0 with
   ``error_bound`` ~1e-16 although V* - V = 1e-13: a violated certificate. The bound now adds
   tie / (1 - gamma).
2. The stopping threshold tolerance (1-gamma)/(2 gamma) was taken as 0 for gamma = 0 (it is
   infinite), so modified policy iteration, whose tie-tolerant greedy step leaves a nonzero
   difference under near ties, ran into its 2-iteration cap and reported "max_iterations".
   With gamma = 0 one iteration now suffices (Q = r).
Fixed in ``optimal._iterate_values``.
"""

from __future__ import annotations

import numpy as np
import pytest

import tabular_mirror as tm

NEAR_TIE = np.array([[1.0, 1.0 + 1e-13], [0.5, 0.0]])


@pytest.mark.parametrize("discount", [0.0, 0.5], ids=["gamma_0", "gamma_half"])
def test_value_iteration_bound_covers_a_near_tie(discount):
    mdp = tm.FiniteMDP(np.full((2, 2, 2), 0.5), NEAR_TIE, discount)
    optimal = tm.solve(mdp, "policy_iteration")
    result = tm.solve(mdp, "value_iteration")
    assert result.converged, (result.status, result.message)
    error = np.abs(optimal.values - result.values).max()
    assert error <= result.error_bound + optimal.error_bound, (error, result.error_bound)


@pytest.mark.parametrize("method", ["value_iteration", "modified_policy_iteration"])
def test_zero_discount_stops_after_one_iteration(method):
    mdp = tm.FiniteMDP(np.full((2, 2, 2), 0.5), NEAR_TIE, 0.0)
    result = tm.solve(mdp, method)
    assert result.converged and result.status == "converged", (result.status, result.message)
    assert result.iterations == 1
    assert np.abs(result.values - NEAR_TIE.max(axis=1)).max() <= result.error_bound
