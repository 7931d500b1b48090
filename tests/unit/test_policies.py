"""Policy helpers: uniform, deterministic, greedy (the tie rule), random, policy_actions and
check_policy (error types and messages naming the index)."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given

import tabular_mirror as tm
from proofs_check.strategies import mdps, mdps_and_policies
from tabular_mirror.errors import ExactnessError, InvalidParameterError, InvalidPolicyError

F = Fraction

FLOAT_MDP = tm.FiniteMDP(np.full((2, 3, 2), 0.5), np.zeros((2, 3)), 0.5)
EXACT_MDP = FLOAT_MDP.to_exact()


def is_exact_array(array: np.ndarray) -> bool:
    return array.dtype == object and all(isinstance(v, Fraction) for v in array.ravel())


# ------------------------------------------------------------------ constructors


@pytest.mark.parametrize("mdp", [FLOAT_MDP, EXACT_MDP], ids=["float", "exact"])
def test_uniform_policy(mdp):
    policy = tm.uniform_policy(mdp)
    assert policy.shape == (2, 3)
    assert all(v == F(1, 3) for v in policy.ravel()) if mdp.is_exact else np.allclose(policy, 1 / 3)
    assert is_exact_array(policy) == mdp.is_exact
    tm.check_policy(mdp, policy)


@pytest.mark.parametrize("mdp", [FLOAT_MDP, EXACT_MDP], ids=["float", "exact"])
def test_deterministic_policy(mdp):
    policy = tm.deterministic_policy(mdp, [2, 0])
    assert policy.tolist() == [[0, 0, 1], [1, 0, 0]]
    assert is_exact_array(policy) == mdp.is_exact
    np.testing.assert_array_equal(tm.policy_actions(policy), [2, 0])


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        pytest.param([0, 3], r"actions\[1\] = 3 is not an action, expected 0..2", id="too_large"),
        pytest.param([-1, 0], r"actions\[0\] = -1 is not an action", id="negative"),
        pytest.param([0], r"actions has shape \(1,\)", id="wrong_length"),
        pytest.param([0.0, 1.0], r"dtype float64, expected S = 2 integer", id="float_actions"),
    ],
)
def test_deterministic_policy_rejects_bad_actions(actions, message):
    with pytest.raises(InvalidPolicyError, match=message):
        tm.deterministic_policy(FLOAT_MDP, actions)


def test_policy_actions_is_the_row_argmax_smallest_index_first():
    policy = np.array([[0.2, 0.5, 0.3], [0.4, 0.2, 0.4]])
    np.testing.assert_array_equal(tm.policy_actions(policy), [1, 0])


# ------------------------------------------------------------------ greedy and its tie rule

GREEDY_CASES = [
    pytest.param([[1.0, 3.0, 2.0]], {}, [1], id="unique_max"),
    pytest.param([[2.0, 1.0, 2.0]], {}, [0], id="tie_smallest_index"),
    pytest.param([[2.0, 1.0, 2.0]], {"keep": [2]}, [2], id="tie_keep_current"),
    pytest.param([[2.0, 1.0, 3.0]], {"keep": [0]}, [2], id="keep_not_a_maximiser"),
    pytest.param([[2.0, 1.0, 2.0 + 1e-13]], {}, [2], id="no_tolerance_strict"),
    pytest.param([[2.0, 1.0, 2.0 + 1e-13]], {"tie_tolerance": 1e-12}, [0], id="tolerance_ties"),
    pytest.param(
        [[2.0, 1.0, 2.0 + 1e-13]], {"tie_tolerance": 1e-12, "keep": [2]}, [2], id="tol_keep"
    ),
    pytest.param([[5.0, 5.0], [0.0, -1.0]], {"keep": [1, 1]}, [1, 0], id="keep_per_state"),
]


@pytest.mark.parametrize(("values", "options", "expected"), GREEDY_CASES)
def test_greedy_actions_tie_rule(values, options, expected):
    options = {k: np.array(v) if k == "keep" else v for k, v in options.items()}
    np.testing.assert_array_equal(tm.greedy_actions(np.array(values), **options), expected)


@pytest.mark.parametrize(("values", "options", "expected"), GREEDY_CASES)
def test_greedy_actions_tie_rule_exact(values, options, expected):
    exact_values = np.array([[F(v).limit_denominator(10**14) for v in row] for row in values])
    exact_values = exact_values.astype(object)
    options = {k: np.array(v) if k == "keep" else v for k, v in options.items()}
    np.testing.assert_array_equal(tm.greedy_actions(exact_values, **options), expected)


def test_exact_ties_are_exact():
    # 1/3 + 1/6 == 1/2 exactly; in floats 1/3 + 1/6 is 0.5 too, but 0.1 + 0.2 != 0.3
    values = np.array([[F(1, 10) + F(2, 10), F(3, 10)], [F(1, 2), F(1, 3) + F(1, 6)]], dtype=object)
    np.testing.assert_array_equal(tm.greedy_actions(values), [0, 0])
    np.testing.assert_array_equal(tm.greedy_actions(values, keep=np.array([1, 1])), [1, 1])


def test_greedy_policy_one_hot_in_the_mode_of_its_input():
    exact = tm.greedy_policy(np.array([[F(1), F(2)], [F(3), F(3)]], dtype=object))
    assert exact.tolist() == [[0, 1], [1, 0]] and is_exact_array(exact)
    floats = tm.greedy_policy(np.array([[1.0, 2.0], [3.0, 3.0]]))
    assert floats.dtype == float and floats.tolist() == [[0, 1], [1, 0]]


@pytest.mark.parametrize("exact", [False, True], ids=["float", "exact"])
def test_greedy_policy_split_ties(exact):
    values = [[2, 1, 2], [0, 0, 0], [1, 0, 0]]
    array = np.array([[F(v) for v in row] for row in values], dtype=object) if exact else values
    policy = tm.greedy_policy(np.array(array, dtype=object if exact else float), split_ties=True)
    expected = [[F(1, 2), 0, F(1, 2)], [F(1, 3)] * 3, [1, 0, 0]]
    if exact:
        assert policy.tolist() == expected and is_exact_array(policy)
    else:
        np.testing.assert_allclose(policy, np.array(expected, dtype=float), rtol=0, atol=1e-15)


def test_greedy_rejects_negative_tolerance():
    with pytest.raises(InvalidParameterError, match=r"tie_tolerance = -1 must be >= 0"):
        tm.greedy_actions(np.zeros((1, 2)), -1)


# ------------------------------------------------------------------ random policies


def test_random_policy_float_is_reproducible_and_valid():
    first = tm.random_policy(FLOAT_MDP, 7)
    np.testing.assert_array_equal(first, tm.random_policy(FLOAT_MDP, 7))
    assert first.dtype == float and first.shape == (2, 3)
    tm.check_policy(FLOAT_MDP, first)


@pytest.mark.parametrize("max_denominator", [1, 6, 20], ids=["q1", "q6", "q20"])
def test_random_policy_exact_rows_sum_to_one_exactly(max_denominator):
    policy = tm.random_policy(EXACT_MDP, 3, max_denominator=max_denominator)
    assert is_exact_array(policy)
    assert all(sum(row) == 1 for row in policy)
    assert all(max_denominator % v.denominator == 0 for v in policy.ravel())
    tm.check_policy(EXACT_MDP, policy)


def test_random_policy_one_action():
    mdp = tm.FiniteMDP([[[1]]], [[0]], "1/2")
    assert tm.random_policy(mdp, 0).tolist() == [[1]]


def test_random_policy_rejects_bad_concentration():
    with pytest.raises(InvalidParameterError, match=r"concentration = 0 must be > 0"):
        tm.random_policy(FLOAT_MDP, 0, concentration=0)


@given(mdps(exact=True))
def test_random_policy_is_valid_on_generated_exact_mdps(mdp):
    tm.check_policy(mdp, tm.random_policy(mdp, 0))


# ------------------------------------------------------------------ check_policy

CHECK_CASES = [
    pytest.param(
        FLOAT_MDP,
        [[0.5, 0.5]] * 2,
        InvalidPolicyError,
        r"policy has shape \(2, 2\), expected \(S, A\) = \(2, 3\)",
        id="float_shape",
    ),
    pytest.param(
        FLOAT_MDP,
        [[1, 0, 0], [0.5, 0.6, -0.1]],
        InvalidPolicyError,
        r"policy\[1, 2\] = -0.1 is negative",
        id="float_negative",
    ),
    pytest.param(
        FLOAT_MDP,
        [[1, 0, 0], [0.5, 0.4, 0.0]],
        InvalidPolicyError,
        r"policy\[1, :\] sums to 0.9, expected 1 \(tolerance 1e-10\)",
        id="float_row_sum",
    ),
    pytest.param(
        FLOAT_MDP,
        [[1, 0, 0], [np.nan, 1, 0]],
        InvalidPolicyError,
        r"policy\[1, 0\] is nan",
        id="float_nan",
    ),
    pytest.param(
        FLOAT_MDP,
        [[1, 0, 0], [np.inf, 1, 0]],
        InvalidPolicyError,
        r"policy\[1, 0\] is inf",
        id="float_inf",
    ),
    pytest.param(
        FLOAT_MDP, "abc", InvalidPolicyError, r"policy could not be read", id="float_unreadable"
    ),
    pytest.param(
        EXACT_MDP,
        [[1, 0, 0], ["1/2", 0.5, 0]],
        ExactnessError,
        r"policy\[1, 1\] = 0.5 is a float.*policies must be exact too",
        id="exact_float_entry",
    ),
    pytest.param(
        EXACT_MDP,
        np.full((2, 3), 1 / 3),
        ExactnessError,
        r"policy is a float array",
        id="exact_float_array",
    ),
    pytest.param(
        EXACT_MDP,
        [[1, 0, 0], ["1/3", "1/3", "1/4"]],
        InvalidPolicyError,
        r"policy\[1, :\] sums to 11/12, expected exactly 1",
        id="exact_row_sum",
    ),
    pytest.param(
        EXACT_MDP,
        [[1, 0, 0], [F(1, 3), F(1, 3), F(1, 3) + F(1, 10**40)]],
        InvalidPolicyError,
        r"policy\[1, :\] sums to .*, expected exactly 1",
        id="exact_row_sum_off_by_1e-40",
    ),
    pytest.param(
        EXACT_MDP,
        [[1, 0, 0], ["3/2", "-1/2", 0]],
        InvalidPolicyError,
        r"policy\[1, 1\] = -1/2 is negative",
        id="exact_negative",
    ),
    pytest.param(
        EXACT_MDP,
        [[1, 0, 0]],
        InvalidPolicyError,
        r"policy has shape \(1, 3\)",
        id="exact_shape",
    ),
]


@pytest.mark.parametrize(("mdp", "policy", "error", "message"), CHECK_CASES)
def test_check_policy_rejects(mdp, policy, error, message):
    with pytest.raises(error, match=message):
        tm.check_policy(mdp, policy)


def test_check_policy_uses_the_given_name():
    with pytest.raises(InvalidPolicyError, match=re.escape("candidate[0, :] sums to 2")):
        tm.check_policy(FLOAT_MDP, [[1, 1, 0], [1, 0, 0]], name="candidate")


def test_check_policy_does_not_normalise():
    policy = np.array([[0.5, 0.5 + 1e-12, 0.0], [1.0, 0.0, 0.0]])
    checked = tm.check_policy(FLOAT_MDP, policy)
    np.testing.assert_array_equal(checked, policy)


def test_check_policy_converts_exact_inputs_to_fractions():
    checked = tm.check_policy(EXACT_MDP, [[1, 0, 0], ["1/3", "1/3", F(1, 3)]])
    assert is_exact_array(checked)
    assert checked[1].tolist() == [F(1, 3)] * 3


@given(mdps_and_policies())
def test_generated_policies_pass_check_policy(pair):
    mdp, policy = pair
    np.testing.assert_array_equal(tm.check_policy(mdp, policy), policy)
