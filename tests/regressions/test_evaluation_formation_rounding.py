"""The certified bound of a float evaluation covers the rounding of forming r_pi and P_pi.

r_pi[s] = sum_a pi[s, a] r[s, a] computed in floating point is off by up to
gamma_A sum_a pi |r|, however small the sum itself is. Rewards of size 1e12 chosen so that
pi . r nearly cancels made V_pi about 0 with a true error of 4e-5, while every path reported
``converged`` with a bound of 1e-22 or 0 (found by a review; the bound only covered the
solve). The bound now adds the formation terms (``_linalg.formation_bounds``): it covers the
error, and such an evaluation is honestly ``not_certified`` at the default relative tolerance.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror.batch import MDPBatch, evaluate_batch


def cancelling(num_states: int, seed: int, num_actions: int = 3, discount: float = 0.9):
    """An MDP and a policy whose r_pi cancels to about 0 in every state (rewards ~1e12)."""
    rng = np.random.default_rng(seed)
    policy = dyadic(rng, (num_states,), num_actions)  # rows sum to exactly 1: an exact twin
    rewards = rng.normal(size=(num_states, num_actions)) * 1e12
    rewards[:, -1] = -(policy[:, :-1] * rewards[:, :-1]).sum(axis=1) / policy[:, -1]
    transitions = dyadic(rng, (num_states, num_actions), num_states)
    initial = dyadic(rng, (), num_states)
    return tm.FiniteMDP(transitions, rewards, discount, initial), policy


def dyadic(rng, shape, size: int) -> np.ndarray:
    """Random distributions over ``size`` outcomes in multiples of 1/256, all > 0."""
    counts = 1 + rng.multinomial(256 - size, np.ones(size) / size, size=shape)
    return counts / 256.0


def true_values(mdp: tm.FiniteMDP, policy: np.ndarray) -> np.ndarray:
    exact_policy = np.array([[Fraction(float(p)) for p in row] for row in policy], dtype=object)
    return tm.evaluate(mdp.to_exact(), exact_policy).values


def error(values: np.ndarray, truth: np.ndarray) -> float:
    return float(max(abs(Fraction(float(v)) - t) for v, t in zip(values, truth, strict=True)))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("num_states", [1, 5, 70])  # the small path, and the general one
def test_the_bound_covers_the_rounding_of_r_pi(num_states, seed):
    mdp, policy = cancelling(num_states, seed)
    result = tm.evaluate(mdp, policy)
    truth = true_values(mdp, policy)
    assert error(result.values, truth) <= result.error_bound
    # a bound of that size is not within the default tolerance (relative to ||r_pi||, ~0)
    assert result.status == "not_certified" and not result.values_certified


def test_the_batched_bound_covers_it_too():
    pairs = [cancelling(4, seed) for seed in range(6)]
    batch = MDPBatch.from_mdps([mdp for mdp, _ in pairs])
    result = evaluate_batch(batch, np.stack([policy for _, policy in pairs]))
    for b, (mdp, policy) in enumerate(pairs):
        assert error(result.values[b], true_values(mdp, policy)) <= result.error_bound[b]
        assert not result.converged[b]


def test_an_ordinary_evaluation_stays_certified_and_tight():
    """The formation terms are of the size of the rounding (a few ulps of sum pi |r| / (1 -
    gamma)): ordinary rewards keep their certificate, with a bound near machine precision."""
    mdp, policy = cancelling(5, 0)
    rewards = np.random.default_rng(1).normal(size=(5, 3))
    ordinary = tm.FiniteMDP(mdp.transitions, rewards, 0.9, mdp.initial)
    result = tm.evaluate(ordinary, policy)
    assert result.converged and result.error_bound < 1e-13
    assert error(result.values, true_values(ordinary, policy)) <= result.error_bound
