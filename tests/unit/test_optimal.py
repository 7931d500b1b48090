"""solve: closed forms, the four methods exact and float, honest statuses, history records,
the LP occupancy measure, summaries and the policy-iteration iteration bound.

Oracles: closed forms first (MDPtoolbox's "small" MDP, gamma = 0, one action), exact V* next.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tabular_mirror as tm
from proofs_check.strategies import mdps
from tabular_mirror.errors import InvalidParameterError, NotConvergedError
from tabular_mirror.optimal import METHODS

F = Fraction

SMALL = tm.FiniteMDP(
    [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
)
SMALL_VALUES = [F(1825, 43), F(1550, 43)]

#: A chain where policy iteration from "stay" needs two improvements: s0 -> s1 -> s2 pays 10.
CHAIN = tm.FiniteMDP(
    [
        [[1, 0, 0], [0, 1, 0]],
        [[0, 1, 0], [0, 0, 1]],
        [[0, 0, 1], [0, 0, 1]],
    ],
    [[F(1, 10), 0], [F(1, 10), 0], [1, 1]],
    "9/10",
)


def describe(result) -> str:
    return (
        f"status={result.status!r} message={result.message!r} method={result.method!r} "
        f"iterations={result.iterations} error_bound={result.error_bound}"
    )


def as_float(array) -> np.ndarray:
    return np.array(array, dtype=float)


# ------------------------------------------------------------------ closed forms


@pytest.mark.parametrize("method", METHODS)
def test_small_mdp_exact(method):
    result = tm.solve(SMALL, method)
    assert result.converged and result.status == "converged", describe(result)
    assert result.values.tolist() == SMALL_VALUES
    assert result.policy.tolist() == [[0, 1], [1, 0]]
    assert result.residual == 0 and result.error_bound == 0
    assert result.exact and result.method == method
    assert result.message == tm.results.MESSAGES[("converged", "exact")]


@pytest.mark.parametrize("method", METHODS)
def test_small_mdp_float_within_bound(method):
    result = tm.solve(SMALL.to_float(), method)
    assert result.converged, describe(result)
    error = np.abs(result.values - as_float(SMALL_VALUES)).max()
    assert error <= result.error_bound + 1e-12, (error, describe(result))  # + data rounding
    assert result.policy.tolist() == [[0, 1], [1, 0]]


@pytest.mark.parametrize("method", METHODS)
def test_zero_discount_is_the_best_immediate_reward(method):
    mdp = tm.FiniteMDP([[["1/2", "1/2"]] * 3] * 2, [[1, 3, 2], ["-1/2", "-1/4", -1]], "0")
    result = tm.solve(mdp, method)
    assert result.converged, describe(result)
    assert result.values.tolist() == [3, F(-1, 4)]
    assert result.policy.tolist() == [[0, 1, 0], [0, 1, 0]]


@pytest.mark.parametrize("method", METHODS)
def test_one_action_is_its_own_evaluation(method):
    mdp = tm.FiniteMDP([[[0, 1]], [["1/2", "1/2"]]], [[1], [2]], "1/2")
    result = tm.solve(mdp, method)
    assert result.values.tolist() == tm.evaluate(mdp, [[1], [1]]).values.tolist()


@pytest.mark.parametrize("method", METHODS)
def test_chain_exact(method):
    result = tm.solve(CHAIN, method)
    # go right twice, then 1 per step forever: V = [0.81 * 10, 0.9 * 10, 10]
    assert result.values.tolist() == [F(81, 10), 9, 10], describe(result)


# ------------------------------------------------------------------ honest statuses


@pytest.mark.parametrize("exact", [False, True], ids=["float", "exact"])
@pytest.mark.parametrize("method", ["value_iteration", "modified_policy_iteration"])
def test_one_iteration_is_max_iterations(method, exact):
    mdp = SMALL if exact else SMALL.to_float()
    result = tm.solve(mdp, method, max_iterations=1)
    assert not result.converged and result.status == "max_iterations", describe(result)
    assert result.iterations == 1
    assert result.message == tm.results.MESSAGES[("max_iterations", "iterations")]
    with pytest.raises(NotConvergedError, match="max_iterations") as raised:
        result.raise_for_status()
    assert raised.value.result is result
    # still a valid answer: values are the exact evaluation of the returned policy
    evaluation = tm.evaluate(mdp, result.policy)
    assert np.all(result.values == evaluation.values)


def test_policy_iteration_cut_short_is_max_iterations():
    result = tm.solve(CHAIN, "policy_iteration", max_iterations=1)
    assert result.status == "max_iterations" and not result.converged, describe(result)
    with pytest.raises(NotConvergedError):
        result.raise_for_status()
    assert tm.solve(CHAIN, "policy_iteration", max_iterations=2).converged  # needs exactly 2


def test_unreachable_tolerance_is_not_certified():
    result = tm.solve(SMALL.to_float(), "policy_iteration", tolerance=1e-300)
    assert result.status == "not_certified" and not result.converged, describe(result)
    assert result.message == tm.results.MESSAGES[("not_certified", "bound")]
    assert result.error_bound > 1e-300


def test_value_iteration_exact_with_loose_tolerance_reports_its_bound():
    result = tm.solve(SMALL, "value_iteration", tolerance="1/10")
    assert result.converged, describe(result)
    assert result.error_bound <= F(1, 10)
    assert result.iterate is not None and result.iterate_residual is not None
    # the optimal policy is found early, so the reported values are exactly V*
    assert result.values.tolist() == SMALL_VALUES


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"method": "simplex"}, r"unknown method 'simplex'.*'value_iteration'", id="m"),
        pytest.param({"sweeps": 0}, r"sweeps = 0 must be an integer >= 1", id="sweeps"),
        pytest.param({"sweeps": "3"}, r"sweeps = '3' must be an integer", id="sweeps_str"),
        pytest.param({"sweeps": 2.5}, r"sweeps = 2.5 must be an integer", id="sweeps_frac"),
        pytest.param(
            {"max_iterations": 0}, r"max_iterations = 0 must be an integer >= 1", id="max_iter"
        ),
        pytest.param({"max_iterations": None, "sweeps": True}, r"sweeps = True", id="sweeps_bool"),
        pytest.param({"tolerance": -1.0}, r"tolerance = -1.0 must be >= 0", id="tolerance"),
    ],
)
def test_invalid_parameters(options, message):
    with pytest.raises(InvalidParameterError, match=message):
        tm.solve(SMALL, **options)


# ------------------------------------------------------------------ history


def test_policy_iteration_history():
    result = tm.solve(CHAIN, "policy_iteration", history=True)
    history = result.history
    assert len(history) == result.iterations + 1, describe(result)  # record 0: initial policy
    assert [record.iteration for record in history] == list(range(len(history)))
    returns = [record.expected_return for record in history]
    assert returns == sorted(returns)  # policy iteration improves monotonically
    assert history[-1].changed_states == 0 and history[0].changed_states > 0
    assert history[-1].residual == result.residual == 0
    assert tm.solve(CHAIN, "policy_iteration").history is None


@pytest.mark.parametrize("method", ["value_iteration", "modified_policy_iteration"])
def test_value_iteration_history_contracts(method):
    result = tm.solve(SMALL, method, history=True)
    history = result.history
    assert len(history) == result.iterations, describe(result)
    assert [record.iteration for record in history] == list(range(1, len(history) + 1))
    gamma = SMALL.discount
    for before, after in itertools.pairwise(history):
        # ||T* V_k+1 - V_k+1|| <= gamma ||T* V_k - V_k||, exactly
        assert after.residual <= gamma * before.residual, (before, after)


# ------------------------------------------------------------------ LP occupancy measure


def check_flow(mdp: tm.FiniteMDP, occupancy: np.ndarray, weights, tolerance) -> None:
    """sum_a x[s', a] = w[s'] + gamma sum_{s, a} P[s, a, s'] x[s, a] and x >= 0."""
    inflow = np.asarray(mdp.transition_matrix).T @ occupancy.ravel()
    gap = occupancy.sum(axis=1) - (weights + mdp.discount * inflow)
    assert all(abs(g) <= tolerance for g in gap), gap
    assert all(x >= -tolerance for x in occupancy.ravel()), occupancy


@pytest.mark.parametrize("exact", [False, True], ids=["float", "exact"])
@pytest.mark.parametrize(
    "initial",
    [None, ["1/4", "3/4"], [1, 0]],
    ids=["uniform", "positive", "zero_weight_gives_uniform"],
)
def test_lp_occupancy_measure(exact, initial):
    mdp = SMALL if initial is None else SMALL.with_initial(initial)
    mdp = mdp if exact else mdp.to_float()
    result = tm.solve(mdp, "linear_programming")
    assert result.converged, describe(result)
    occupancy = result.occupancy
    weights = mdp.initial if initial != [1, 0] else np.full(2, F(1, 2) if exact else 0.5)
    tolerance = 0 if exact else 1e-7
    total = occupancy.sum()
    mass = 1 / (1 - mdp.discount)  # times the weights' mass, which is 1
    assert abs(total - mass) <= tolerance, (total, mass)
    check_flow(mdp, occupancy, weights, tolerance)
    if exact:  # x[s, a] = rho_w[s] pi*[s, a]: zero off the optimal actions
        assert all(occupancy[result.policy == 0] == 0)
    # strong duality: r . x = w . V*
    assert abs((occupancy * mdp.rewards).sum() - (weights * result.values).sum()) <= 1e3 * (
        tolerance
    )


@given(mdps(exact=True, discount=st.sampled_from(["1/2", "0", "3/4"])))
def test_lp_occupancy_flow_on_generated_exact_mdps(mdp):
    result = tm.solve(mdp, "linear_programming")
    assert result.converged, describe(result)
    weights = mdp.initial
    assert result.occupancy.sum() == 1 / (1 - mdp.discount)
    check_flow(mdp, result.occupancy, weights, 0)


# ------------------------------------------------------------------ summaries


@pytest.mark.parametrize("method", METHODS)
def test_summary_renders(method):
    result = tm.solve(SMALL.to_float(), method, history=True)
    text = result.summary()
    for name in ("values", "policy", "status", "message", "error_bound", "iterations", "method"):
        assert name in text, text
    assert method in text and "converged" in text
    assert repr(result).startswith(f"SolveResult(method={method!r}")


# ------------------------------------------------------------------ PI iteration bound


def policy_iteration_bound(mdp: tm.FiniteMDP) -> int:
    """(|S||A| - |S|)(ceil(H) + 1), H = ln(1/(1-gamma))/(1-gamma) (Scherrer 2016)."""
    gamma = float(mdp.discount)
    horizon = math.log(1 / (1 - gamma)) / (1 - gamma)
    return (mdp.num_states * mdp.num_actions - mdp.num_states) * (math.ceil(horizon) + 1)


@given(mdps(exact=st.booleans(), reward_range=(0, 1)))
def test_policy_iteration_terminates_within_the_bound(mdp):
    result = tm.solve(mdp, "policy_iteration")
    assert result.converged, describe(result)
    assert result.iterations <= policy_iteration_bound(mdp), (result.iterations, describe(result))


@pytest.mark.parametrize("seed", range(3), ids=lambda seed: f"seed{seed}")
def test_policy_iteration_bound_from_a_random_start(seed):
    rng = np.random.default_rng(seed)
    num_states, num_actions = 8, 4
    transitions = rng.dirichlet(np.ones(num_states) * 0.3, size=(num_states, num_actions))
    mdp = tm.FiniteMDP(transitions, rng.uniform(size=(num_states, num_actions)), 0.95)
    start = tm.deterministic_policy(mdp, rng.integers(0, num_actions, num_states))
    result = tm.solve(mdp, "policy_iteration", initial_policy=start)
    assert result.converged, describe(result)
    assert result.iterations <= policy_iteration_bound(mdp)
