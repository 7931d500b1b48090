"""Average reward: gain and bias by policy iteration, LP and relative value iteration.

Oracles: closed forms (MDPtoolbox's "small": gain 35/9; a multichain MDP with gains (1, 2, 2)
and bias (0, -7, 0) by hand), the Blackwell limit (the exact gain of the discount-optimal policy
at gamma = 1 - 10^-5 is the optimal gain on small MDPs: an independent algorithm), and the
three methods against each other.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import mdps
import tabular_mirror as tm
from tabular_mirror.average_reward import AVERAGE_REWARD_METHODS
from tabular_mirror.errors import InvalidParameterError

F = Fraction

SMALL = tm.FiniteMDP(
    [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], 1
)
#: s0 -> absorbing s0 (reward 1); s1 chooses stay (0) or a one-off -5 into s2; s2 absorbing (2).
MULTICHAIN = tm.FiniteMDP(
    [[[1, 0, 0], [1, 0, 0]], [[0, 1, 0], [0, 0, 1]], [[0, 0, 1], [0, 0, 1]]],
    [[1, 1], [0, -5], [2, 2]],
    1,
    exact=True,
)


@pytest.mark.parametrize("method", AVERAGE_REWARD_METHODS)
def test_small_has_gain_35_ninths(method):
    result = tm.average_reward(SMALL, method)
    assert result.gain.tolist() == [F(35, 9)] * 2
    assert result.actions.tolist() == [1, 0] and result.unichain
    if method != "relative_value_iteration":
        assert result.error_bound == 0 and result.status == "converged"
    floating = tm.average_reward(SMALL.to_float(), method)
    assert floating.converged, floating.message
    assert np.abs(floating.gain - 35 / 9).max() <= floating.error_bound + 1e-12


@pytest.mark.parametrize("method", ["policy_iteration", "linear_programming"])
def test_multichain_gain_and_bias_by_hand(method):
    result = tm.average_reward(MULTICHAIN, method)
    assert result.gain.tolist() == [1, 2, 2]
    assert result.bias.tolist() == [0, -7, 0]  # bias of s1: -5 once, then gain 2 from s2
    assert result.actions.tolist()[1] == 1 and len(result.recurrent_classes) == 2
    assert result.error_bound == 0 and result.converged
    floating = tm.average_reward(MULTICHAIN.to_float(), method)
    # a float bound cannot certify different gains: honest not_certified, same policy
    assert (
        floating.status == "not_certified" and floating.actions.tolist() == result.actions.tolist()
    )
    assert floating.error_bound >= 1  # the spread of the gains


def test_evaluation_of_a_policy_gain_and_bias():
    gain, bias, classes = tm.evaluate_average_reward(SMALL, [[0, 1], [1, 0]])
    assert gain.tolist() == [F(35, 9)] * 2
    # g + h = r + P h and the stationary distribution (4/9, 5/9) weights h to 0
    assert bias[0] * F(4, 9) + bias[1] * F(5, 9) == 0
    assert gain[0] + bias[0] == 10 + bias[1]
    assert [c.tolist() for c in classes] == [[0, 1]]


@pytest.mark.parametrize("seed", range(12))
def test_policy_iteration_and_lp_match_the_blackwell_limit(seed):
    # deterministic transitions make multichain policies common
    base = mdps.exact_garnet(4, 3, 1 + seed % 2, seed=seed, discount="1/2")
    mdp = base.with_discount(1)
    result = tm.average_reward(mdp)
    discounted = tm.solve(base.with_discount(F(99999, 100000)))
    blackwell, _, _ = tm.evaluate_average_reward(mdp, discounted.policy)
    assert result.gain.tolist() == blackwell.tolist()
    assert tm.average_reward(mdp, "linear_programming").gain.tolist() == blackwell.tolist()
    assert result.converged and result.error_bound == 0


def test_relative_value_iteration_stops_on_its_span_bound():
    mdp = mdps.garnet(20, 3, 4, seed=0, discount=0.5).with_discount(1)
    result = tm.average_reward(mdp, "relative_value_iteration", tolerance=1e-9)
    exact_gain = tm.average_reward(mdp).gain
    assert result.converged and result.iterate is not None
    assert np.abs(result.gain - exact_gain).max() <= result.error_bound + 1e-12
    assert result.error_bound <= 1e-9 + 1e-12


def test_relative_value_iteration_on_a_periodic_chain_needs_damping():
    periodic = tm.FiniteMDP([[[0, 1]], [[1, 0]]], [[1], [0]], 1)  # gain 1/2, period 2
    undamped = tm.average_reward(periodic, "relative_value_iteration", max_iterations=50)
    assert undamped.status == "max_iterations" and not undamped.converged
    damped = tm.average_reward(periodic, "relative_value_iteration", damping=0.5)
    assert damped.converged and np.allclose(damped.gain, 0.5)


def test_infeasible_actions_and_starting_points():
    masked = tm.FiniteMDP(
        [[[1, 0], [0, 1]], [[1, 0], [0, 1]]], [[0, 100], [1, -np.inf]], 1, exact=False
    )
    for method in AVERAGE_REWARD_METHODS:
        result = tm.average_reward(masked, method, damping=0.5)
        assert result.actions.tolist() == [1, 0] and np.allclose(result.gain, 50.5)
    started = tm.average_reward(SMALL, initial_policy=[1, 0])
    assert started.iterations == 0
    with pytest.raises(InvalidParameterError, match="initial_values is relative value"):
        tm.average_reward(SMALL, initial_values=[0, 0])
    with pytest.raises(InvalidParameterError, match="damping"):
        tm.average_reward(SMALL, "relative_value_iteration", damping=1)
    with pytest.raises(InvalidParameterError, match="unknown method"):
        tm.average_reward(SMALL, "value_iteration")
