"""solve's options from the classic toolboxes: starting values, action vectors, the LP method,
the action vector of the result, and the warning of exact value iteration that will be slow.
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest

import mdps
import tabular_mirror as tm
from tabular_mirror.errors import InvalidParameterError, InvalidPolicyError, SlowComputationWarning
from tabular_mirror.optimal import LP_METHODS

F = Fraction
SMALL = mdps.small(exact=True)  # gamma = 9/10, V* = (1825/43, 1550/43), policy (1, 0)


@pytest.mark.parametrize("method", ["value_iteration", "modified_policy_iteration"])
def test_starting_values_are_used(method):
    mdp = mdps.garnet(30, 3, 4, seed=2, discount=0.95)
    optimum = tm.solve(mdp)
    cold = tm.solve(mdp, method=method)
    warm = tm.solve(mdp, method=method, initial_values=optimum.values)
    assert warm.converged and cold.converged
    assert warm.iterations < cold.iterations
    assert np.abs(warm.values - optimum.values).max() <= warm.error_bound + optimum.error_bound


def test_exact_starting_values_must_be_exact_and_of_the_right_shape():
    result = tm.solve(SMALL, method="value_iteration", initial_values=["1825/43", "1550/43"])
    assert result.iterations == 1 and list(result.values) == [F(1825, 43), F(1550, 43)]
    with pytest.raises(InvalidParameterError, match=r"values has shape \(3,\)"):
        tm.solve(SMALL, method="value_iteration", initial_values=[0, 0, 0])
    with pytest.raises(InvalidParameterError, match="initial_values is for value iteration"):
        tm.solve(SMALL, initial_values=[0, 0])


def test_initial_policy_as_an_action_vector_and_results_as_action_vectors():
    result = tm.solve(SMALL, initial_policy=[1, 0])
    assert result.iterations == 0 and result.actions.tolist() == [1, 0]
    assert result.actions.dtype.kind == "i"
    same = tm.solve(SMALL, initial_policy=np.array([1, 0]))
    assert same.policy.tolist() == tm.deterministic_policy(SMALL, [1, 0]).tolist()
    with pytest.raises(InvalidPolicyError, match=r"actions\[0\] = 5 is not an action"):
        tm.solve(SMALL, initial_policy=[5, 0])


@pytest.mark.parametrize("lp_method", LP_METHODS)
def test_every_lp_method_solves_exactly_after_the_clean_up(lp_method):
    result = tm.solve(SMALL, method="linear_programming", lp_method=lp_method)
    assert list(result.values) == [F(1825, 43), F(1550, 43)] and result.error_bound == 0
    floating = tm.solve(
        mdps.garnet(40, 3, 5, seed=0, discount=0.9), "linear_programming", lp_method=lp_method
    )
    assert floating.converged and floating.occupancy.sum() == pytest.approx(10.0)


def test_lp_warm_start_from_an_optimal_policy_skips_highs():
    warm = tm.solve(SMALL, method="linear_programming", initial_policy=[1, 0])
    assert warm.iterations == 0 and warm.converged and warm.method == "linear_programming"
    assert sum(warm.occupancy.ravel()) == 10  # 1 / (1 - gamma), exact
    with pytest.raises(InvalidParameterError, match="unknown lp_method"):
        tm.solve(SMALL, method="linear_programming", lp_method="barrier")


def test_exact_value_iteration_says_when_it_will_be_slow():
    slow = mdps.small(exact=True).with_discount("99/100")
    # the warning comes after four iterations; as an error it stops the run there
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlowComputationWarning)
        with pytest.raises(SlowComputationWarning, match=r"about [\d,]+ iterations .* digits"):
            tm.solve(slow, method="value_iteration")
        with pytest.raises(SlowComputationWarning, match="method='policy_iteration'"):
            tm.solve(slow, method="modified_policy_iteration")
    # with a small cap the projected work is small: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        capped = tm.solve(slow, method="value_iteration", max_iterations=6)
    assert capped.status == "max_iterations"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quick = tm.solve(mdps.small(exact=True).with_discount("1/2"), method="value_iteration")
    assert quick.converged


def test_lp_simplex_warm_started_from_a_nearly_optimal_policy():
    pytest.importorskip("highspy")
    mdp = mdps.garnet(150, 3, 6, seed=4, discount=0.97)
    optimum = tm.solve(mdp)
    start = optimum.actions.copy()
    start[:15] = (start[:15] + 1) % 3  # 15 states off the optimum
    cold = tm.solve(mdp, "linear_programming", lp_method="simplex")
    warm = tm.solve(mdp, "linear_programming", lp_method="simplex", initial_policy=start)
    assert warm.converged and cold.converged
    assert warm.actions.tolist() == cold.actions.tolist() == optimum.actions.tolist()
    assert warm.iterations < cold.iterations
    assert np.abs(warm.occupancy - cold.occupancy).max() < 1e-8


def test_lp_warm_start_with_infeasible_actions():
    pytest.importorskip("highspy")
    base = mdps.garnet(40, 3, 4, seed=5, discount=0.9)
    mask = np.ones((40, 3), dtype=bool)
    mask[::3, 2] = False
    masked = tm.FiniteMDP(base.transitions, base.rewards, 0.9, action_mask=mask)
    optimum = tm.solve(masked)
    start = np.zeros(40, dtype=int)  # action 0 is feasible everywhere
    warm = tm.solve(masked, "linear_programming", lp_method="simplex", initial_policy=start)
    assert warm.actions.tolist() == optimum.actions.tolist()
    assert np.all(warm.occupancy[~mask] == 0)
