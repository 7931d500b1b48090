"""Regressions of issue 13: inputs the classic toolboxes accept that tabular-mirror refused.

Each test builds the input the issue reported, by hand (no toolbox needed).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import scipy.sparse as sp

import mdps
import tabular_mirror as tm


def _rand_sparse(num_states: int, num_actions: int, seed: int = 0) -> tuple[list, list]:
    """pymdptoolbox's rand(S, A, is_sparse=True) form: lists of A sparse (S, S) matrices."""
    rng = np.random.default_rng(seed)
    transitions, rewards = [], []
    for _ in range(num_actions):
        dense = rng.random((num_states, num_states)) * (rng.random((num_states, num_states)) < 0.5)
        dense[np.arange(num_states), rng.integers(num_states, size=num_states)] += 1
        transitions.append(sp.csr_matrix(dense / dense.sum(axis=1, keepdims=True)))
        rewards.append(sp.csr_matrix((dense > 0) * rng.normal(size=dense.shape)))
    return transitions, rewards


def test_rewards_as_a_list_of_sparse_matrices():
    # broke: "R has shape (2,), expected (S,) = (9,)", a message that misread the input
    transitions, rewards = _rand_sparse(9, 2)
    mdp = mdps.from_mdptoolbox(transitions, rewards, 0.9)
    expected = np.stack(
        [
            np.asarray(p.multiply(r).sum(axis=1)).ravel()
            for p, r in zip(transitions, rewards, strict=True)
        ],
        axis=1,
    )
    assert mdp.is_sparse and np.allclose(mdp.rewards, expected)


def test_transitions_as_a_one_dimensional_object_array():
    # broke: "P has shape (2,), expected 3 axes"
    transitions, rewards = _rand_sparse(9, 2)
    holder = np.empty(2, dtype=object)
    holder[0], holder[1] = transitions
    assert mdps.from_mdptoolbox(holder, rewards, 0.9) == mdps.from_mdptoolbox(
        transitions, rewards, 0.9
    )


def test_minus_infinity_rewards_are_infeasible_actions():
    # broke: rewards[1, 1] = -inf was rejected ("expected a finite number")
    mdp = tm.FiniteMDP([[[0.5, 0.5], [0, 1]], [[0, 1], [0.5, 0.5]]], [[5, 10], [-1, -np.inf]], 0.95)
    assert mdp.action_mask.tolist() == [[True, True], [True, False]]


def test_gymnasium_discount_stays_exact():
    # broke: from_gymnasium(env, discount="99/100").to_exact() had the binary 0.99 as discount
    import pytest

    gymnasium = pytest.importorskip("gymnasium")
    env = gymnasium.make("FrozenLake-v1")
    mdp = mdps.from_gymnasium(env, discount="99/100")
    assert mdp.to_exact(limit_denominator=1000).discount == Fraction(99, 100)


def test_discount_one_is_a_model_for_the_undiscounted_criteria():
    # broke: discount 1 was rejected, so finite-horizon and average-reward problems could not
    # be stated at all
    mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [2, 0]], 1, exact=True)
    assert tm.backward_induction(mdp, 2).values[0].tolist() == [3, 4]
    assert tm.average_reward(mdp).gain.tolist() == [2, 2]
