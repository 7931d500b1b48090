"""The compiled kernels compute what their numpy twins compute.

``tabular_mirror._kernels`` holds per-row versions of small-array solvers, compiled by
numba; the step uses them when numba imports. Each is compared here with its numpy twin on
random rows that reach every branch: zeros in pi, integer advantages (ties), coefficients 0,
1/2, 1 and 2, several epsilons; and the same function, not compiled (plain Python), gives the
same numbers, so the algorithm is checked even where numba is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import _kernels as kernels
from tabular_mirror import evaluation
from tabular_mirror._steps import separable


def random_rows(seed: int):
    rng = np.random.default_rng(seed)
    num_states, num_actions = int(rng.integers(1, 7)), int(rng.integers(1, 6))
    policy = rng.dirichlet(np.ones(num_actions), size=num_states)
    if seed % 3 == 0:  # zeros in pi
        policy[rng.random(policy.shape) < 0.3] = 0.0
        empty = policy.sum(axis=1) == 0
        policy[empty] = 1.0
        policy /= policy.sum(axis=1, keepdims=True)
    advantages = rng.normal(size=policy.shape)
    if seed % 4 == 0:  # ties
        advantages = np.round(2 * advantages) / 2
    coefficient = rng.choice([0.0, 0.5, 1.0, 2.0], size=num_states)
    epsilon = float(rng.choice([0.05, 0.2, 0.5]))
    return policy, advantages, coefficient, epsilon


@pytest.mark.parametrize("seed", range(300))
def test_ppo_rows_kernel_is_its_numpy_twin(seed):
    policy, advantages, coefficient, epsilon = random_rows(seed)
    expected_rows, expected_gaps = separable._ppo_rows_numpy(
        policy, advantages, coefficient, epsilon
    )
    plain_rows, plain_gaps = kernels.ppo_rows(policy, advantages, coefficient, epsilon)
    assert np.abs(plain_rows - expected_rows).max() <= 1e-14
    assert np.abs(plain_gaps - expected_gaps).max() <= 1e-14
    rows, gaps = separable._ppo_rows_small(policy, advantages, coefficient, epsilon)
    assert np.abs(rows - expected_rows).max() <= 1e-14
    assert np.abs(gaps - expected_gaps).max() <= 1e-14


def test_the_kernel_is_compiled_when_numba_imports():
    pytest.importorskip("numba")
    compiled = kernels.compiled("ppo_rows")
    assert compiled is not None and compiled.py_func is kernels.ppo_rows
    policy, advantages, coefficient, epsilon = random_rows(1)
    rows, _ = compiled(policy, advantages, coefficient, epsilon)
    assert np.allclose(rows.sum(axis=1), 1.0) and rows.min() >= 0


def interior_rows(seed: int):
    rng = np.random.default_rng(seed)
    num_states, num_actions = int(rng.integers(1, 7)), int(rng.integers(1, 6))
    policy = rng.dirichlet(np.ones(num_actions) * rng.choice([0.2, 1.0, 5.0]), size=num_states)
    policy = np.maximum(policy, 1e-12)
    policy /= policy.sum(axis=1, keepdims=True)
    advantages = rng.normal(size=policy.shape) * rng.choice([1e-3, 1.0, 1e3])
    if seed % 4 == 0:  # ties at the best action
        advantages = np.round(advantages)
    coefficient = rng.choice([1e-6, 0.01, 1.0, 100.0], size=num_states)
    return policy, advantages, coefficient


@pytest.mark.parametrize("seed", range(200))
def test_forward_kl_kernel_is_its_numpy_twin(seed):
    policy, advantages, coefficient = interior_rows(seed)
    expected = separable._forward_kl_interior_numpy(policy, advantages, coefficient, 200)
    assert expected is not None
    size = max(1.0, float(np.abs(advantages).max()), float(coefficient.max()))
    for rows, gaps, usable in (
        kernels.forward_kl_rows(
            policy, advantages, coefficient, 200, separable.NEWTON_STOP, separable.SMALLEST
        ),
        (*separable._forward_kl_interior(policy, advantages, coefficient, 200), True),
    ):
        assert usable
        assert np.abs(rows - expected[0]).max() <= 1e-12
        assert np.all(gaps <= 1e-13 * size) and np.all(expected[1] <= 1e-13 * size)


def test_forward_kl_kernel_flags_an_underflowed_start():
    policy = np.array([[1e-300, 1.0 - 1e-300]])
    advantages = np.array([[1.0, 0.0]])
    *_, usable = kernels.forward_kl_rows(
        policy, advantages, np.array([1e-199]), 200, 1e-9, separable.SMALLEST
    )
    assert not usable
    assert separable._forward_kl_interior(policy, advantages, np.array([1e-199]), 200) is None


@pytest.mark.parametrize("seed", range(200))
def test_reverse_kl_kernel_is_its_numpy_twin(seed):
    policy, advantages, coefficient = interior_rows(seed)
    expected_rows, expected_gaps = separable._reverse_kl_interior_numpy(
        policy, advantages, coefficient
    )
    size = max(1.0, float(np.abs(advantages).max()))
    for rows, gaps in (
        kernels.reverse_kl_rows(policy, advantages, coefficient),
        separable._reverse_kl_interior(policy, advantages, coefficient),
    ):
        assert np.abs(rows - expected_rows).max() <= 1e-12
        assert np.abs(gaps - expected_gaps).max() <= 1e-12 * size


def small_mdp(seed: int):
    rng = np.random.default_rng(seed)
    num_states, num_actions = int(rng.integers(1, 9)), int(rng.integers(1, 5))
    discount = float(rng.choice([0.0, 0.5, 0.9, 0.99, 0.999]))
    transitions = rng.dirichlet(np.ones(num_states) * 0.5, size=(num_states, num_actions))
    rewards = rng.normal(size=(num_states, num_actions)) * rng.choice([1e-3, 1.0, 1e4])
    mdp = tm.FiniteMDP(transitions, rewards, discount)
    return mdp, tm.random_policy(mdp, seed)


@pytest.mark.parametrize("seed", range(150))
def test_small_evaluation_kernel_is_its_numpy_twin(seed):
    """Values, visitation and Q within the certified bounds, bounds of the same size, the same
    residual scale and ||r_pi||: the kernel (compiled, and as plain Python) against numpy."""
    mdp, policy = small_mdp(seed)
    small = evaluation._small_operators(mdp)
    arguments = (policy, small.stacked, small.initial, small.discount, small.mass, small.factor)
    expected = evaluation._small_solve_numpy(*arguments)
    candidates = [kernels.small_evaluation(*arguments, plain=True)]
    compiled = kernels.compiled("small_evaluation")
    if compiled is not None:
        candidates.append(compiled(*arguments))
    for values, visitation, q_values, bound, visitation_bound, residual, largest in candidates:
        assert residual * (1 - small.discount) <= bound
        assert np.abs(values - expected[0]).max() <= bound + expected[3]
        assert np.abs(visitation - expected[1]).sum() <= visitation_bound + expected[4]
        assert np.abs(q_values - expected[2]).max() <= 2 * (bound + expected[3]) + 1e-15
        assert 0.25 <= bound / expected[3] <= 4 and 0.25 <= visitation_bound / expected[4] <= 4
        assert largest == pytest.approx(expected[6], rel=1e-12, abs=1e-300)


def test_the_public_evaluation_uses_the_kernel_and_certifies_against_exact():
    pytest.importorskip("numba")
    exact = tm.FiniteMDP(
        [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
    )
    result = tm.evaluate(exact.to_float(), [[0.0, 1.0], [1.0, 0.0]])
    assert result.converged and result.method == "dense"
    assert np.abs(result.values - [1825 / 43, 1550 / 43]).max() <= result.error_bound + 1e-13
    assert kernels.compiled("small_evaluation") is not None
