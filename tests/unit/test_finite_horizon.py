"""Backward induction, finite-horizon evaluation and the time-expanded MDP.

Oracles: Puterman's inventory example (1994, 4.6.1; QuantEcon's test values, exact), brute
force over every deterministic time-dependent policy on small MDPs (exact), and the
discounted solver on the time-expanded MDP.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

import mdps
import proofs_check
import tabular_mirror as tm
from tabular_mirror import instances
from tabular_mirror.errors import InvalidParameterError, InvalidPolicyError

F = Fraction

INVENTORY = tm.FiniteMDP.from_state_action_pairs(
    [0, 0, 0, 0, 1, 1, 1, 2, 2, 3],
    [0, 1, 2, 3, 0, 1, 2, 0, 1, 0],
    [
        [1, 0, 0, 0], ["3/4", "1/4", 0, 0], ["1/4", "1/2", "1/4", 0], [0, "1/4", "1/2", "1/4"],
        ["3/4", "1/4", 0, 0], ["1/4", "1/2", "1/4", 0], [0, "1/4", "1/2", "1/4"],
        ["1/4", "1/2", "1/4", 0], [0, "1/4", "1/2", "1/4"], [0, "1/4", "1/2", "1/4"],
    ],
    [0, -1, -2, -5, 5, 0, -3, 6, -1, 5],
    1,
)  # fmt: skip
INVENTORY_VALUES = [
    [F(67, 16), F(129, 16), F(194, 16), F(227, 16)],
    [F(2), F(25, 4), F(10), F(21, 2)],
    [F(0), F(5), F(6), F(5)],
    [F(0)] * 4,
]


def test_puterman_inventory_exactly():
    result = tm.backward_induction(INVENTORY, 3)
    assert result.values.tolist() == INVENTORY_VALUES
    assert result.actions.tolist() == [[3, 0, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0]]
    assert result.error_bound == 0 and result.converged and result.exact
    assert result.expected_return == sum(INVENTORY_VALUES[0]) / 4


def test_float_backward_induction_is_certified():
    result = tm.backward_induction(INVENTORY.to_float(), 3)
    error = np.abs(result.values - np.array(INVENTORY_VALUES, float)).max()
    assert 0 < result.error_bound < 1e-12 and error <= result.error_bound
    assert result.actions.tolist() == [[3, 0, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0]]


def _brute_force(mdp: tm.FiniteMDP, horizon: int, terminal: list) -> np.ndarray:
    """max over every deterministic time-dependent policy of its values V_0 (exact)."""
    feasible = [np.flatnonzero(row) for row in mdp.action_mask]
    best = None
    for choices in itertools.product(itertools.product(*feasible), repeat=horizon):
        rules = np.stack([tm.deterministic_policy(mdp, np.array(c)) for c in choices])
        values = tm.evaluate_finite_horizon(mdp, rules, terminal_values=terminal).values[0]
        best = values if best is None else np.maximum(best, values)
    return best


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("discount", ["1", "1/2"])
def test_backward_induction_is_the_best_time_dependent_policy(seed, discount):
    mdp = mdps.exact_garnet(3, 2, 2, seed=seed, discount="1/2").with_discount(discount)
    terminal = [F(seed), F(-1), F(1, 3)]
    result = tm.backward_induction(mdp, 3, terminal)
    assert list(result.values[0]) == list(_brute_force(mdp, 3, terminal))
    assert list(result.values[3]) == terminal


def test_infeasible_actions_are_never_chosen():
    mask = np.array([[True, False], [False, True], [True, True]])
    mdp = tm.FiniteMDP(
        mdps.exact_garnet(3, 2, 2, seed=0, discount="1/2").transitions,
        [[0, 100], [100, 0], [1, 2]],
        1,
        action_mask=mask,
        exact=True,
    )
    result = tm.backward_induction(mdp, 4)
    assert mask[np.arange(3), result.actions].all()
    # neutral q_values at infeasible pairs: the time's own value
    assert all(result.q_values[t, 0, 1] == result.values[t, 0] for t in range(4))


def test_evaluation_of_stationary_and_time_dependent_policies():
    uniform = tm.uniform_policy(INVENTORY)
    stationary = tm.evaluate_finite_horizon(INVENTORY, uniform, 3)
    repeated = tm.evaluate_finite_horizon(INVENTORY, np.stack([uniform] * 3))
    assert stationary.values.tolist() == repeated.values.tolist()
    assert stationary.method == "evaluation"
    optimal = tm.backward_induction(INVENTORY, 3)
    assert np.all(optimal.values >= stationary.values)
    with pytest.raises(InvalidPolicyError, match="has 3 decision rules but horizon = 2"):
        tm.evaluate_finite_horizon(INVENTORY, np.stack([uniform] * 3), 2)
    with pytest.raises(InvalidParameterError, match="needs a horizon"):
        tm.evaluate_finite_horizon(INVENTORY, uniform)
    with pytest.raises(InvalidPolicyError, match="infeasible"):
        tm.evaluate_finite_horizon(INVENTORY, np.full((4, 4), F(1, 4)), 2)


@pytest.mark.parametrize("discount", ["1", "9/10"])
def test_the_time_expanded_mdp_scales_every_value_by_a_positive_weight(discount):
    mdp = INVENTORY.with_discount(discount)
    horizon, terminal = 3, [F(1), F(0), F(-2), F(3)]
    expanded = tm.time_expanded(mdp, horizon, terminal)
    assert expanded.discount < 1
    optimum = tm.backward_induction(mdp, horizon, terminal)
    solved = tm.solve(expanded)
    gamma, expanded_gamma = F(discount), expanded.discount
    for t in range(horizon + 1):
        weight = (gamma / expanded_gamma) ** t
        block = solved.values[t * 4 : (t + 1) * 4]
        assert list(block) == [weight * v for v in optimum.values[t]]
    assert solved.expected_return == optimum.expected_return
    # the stationary optimal policy of the expansion is the time-dependent optimal policy
    assert solved.actions[: horizon * 4].reshape(horizon, 4).tolist() == optimum.actions.tolist()


def test_mirror_learning_claims_hold_on_the_time_expanded_mdp():
    expanded = tm.time_expanded(INVENTORY, 3).to_float()
    report = proofs_check.check_fundamental_theorem(
        expanded, instances.ppo(), tm.uniform_policy(expanded), 8
    )
    per_step = [v for v in report.verdicts if v.name.startswith(("lemma", "inequality"))]
    assert per_step and all(v.passed for v in per_step), report.summary()
    exact = tm.time_expanded(INVENTORY, 3)
    gpi = proofs_check.check_fundamental_theorem(
        exact, instances.gpi(), tm.uniform_policy(exact), 6
    )
    assert gpi.passed, gpi.summary()


def test_undiscounted_mdps_are_refused_by_the_discounted_methods():
    with pytest.raises(tm.InvalidMDPError, match=r"use tabular_mirror\.backward_induction"):
        tm.solve(INVENTORY)
    with pytest.raises(tm.InvalidMDPError, match="discount = 1"):
        tm.evaluate(INVENTORY, tm.uniform_policy(INVENTORY))
    with pytest.raises(tm.InvalidMDPError, match="discount = 1"):
        tm.mirror_learning(INVENTORY, instances.gpi(), tm.uniform_policy(INVENTORY), 3)
    with pytest.raises(InvalidParameterError, match="horizon"):
        tm.backward_induction(INVENTORY, -1)
