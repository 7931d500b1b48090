"""The per-state PPO-clip solver (:func:`tabular_mirror._steps.separable.ppo_rows`) and its
tie-sharing pieces, against independent oracles.

Oracles: bisection on tau for the water filling; scipy's linprog for the optimum of the
clipped LP; scipy's SLSQP for the L2-closest maximiser (the projection of pi onto the face of
maximisers, described by the LP's optimal value); exact Fractions for the float rows.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import linprog, minimize

from tabular_mirror._steps.separable import distribute, ppo_rows, ppo_segments, water_fill


def bisected_fill(target: np.ndarray, caps: np.ndarray, budget: float) -> np.ndarray:
    low, high = -target.max() - caps.max() - 1.0, caps.max() - target.min() + 1.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if np.clip(target + middle, 0.0, caps).sum() < budget:
            low = middle
        else:
            high = middle
    return np.clip(target + high, 0.0, caps)


@pytest.mark.parametrize("seed", range(5))
def test_water_fill_matches_bisection(seed):
    rng = np.random.default_rng(seed)
    num_states, num_actions = 400, 5
    target = rng.normal(size=(num_states, num_actions))
    caps = rng.random((num_states, num_actions)) * (rng.random((num_states, num_actions)) < 0.7)
    budget = rng.random(num_states) * caps.sum(axis=1)
    budget[:20] = caps[:20].sum(axis=1) + 1.0  # more than the room: every piece full
    budget[20:40] = 0.0
    filled = water_fill(target, caps, budget)
    assert np.all(filled >= 0) and np.all(filled <= caps)
    reachable = np.minimum(budget, caps.sum(axis=1))
    assert np.abs(filled.sum(axis=1) - reachable).max() <= 1e-12
    for state in range(40, num_states, 7):
        expected = bisected_fill(target[state], caps[state], budget[state])
        assert np.abs(filled[state] - expected).max() <= 1e-9, state


def test_closest_sharing_is_the_same_on_every_path():
    # few rows with shared ties take the gather/scatter path, many rows the all-rows path
    rng = np.random.default_rng(7)
    num_states, num_actions = 300, 4
    policy = rng.dirichlet(np.ones(num_actions), size=num_states)
    base = policy * rng.random((num_states, num_actions))
    caps = rng.random((num_states, num_actions))
    caps[:, 1:] *= rng.random((num_states, num_actions - 1)) < 0.5
    budget = 1.0 - base.sum(axis=1)
    advantages = rng.normal(size=(num_states, num_actions))
    everything = distribute(policy, base, caps, budget, advantages, "closest")
    few = np.zeros_like(caps)
    few[:, 0] = caps[:, 0]
    few[:10] = caps[:10]
    few_rows = distribute(policy, base, few, budget, advantages, "closest")
    assert np.abs(few_rows[:10] - everything[:10]).max() <= 1e-15
    assert np.array_equal(few_rows[10:, 0], np.minimum(caps[10:, 0], budget[10:]))


def clipped_optimum(policy, advantages, epsilon) -> float:
    """max_x sum_a min(x_a A_a, clip(x_a / pi_a) pi_a A_a) over the simplex, as an LP."""
    num_actions = len(policy)
    # variables (x, t): maximise sum t, t_a <= x_a A_a, t_a <= clip bounds
    objective = np.concatenate([np.zeros(num_actions), -np.ones(num_actions)])
    rows, bounds = [], []
    for a in range(num_actions):
        row = np.zeros(2 * num_actions)
        row[num_actions + a] = 1
        row[a] = -advantages[a]
        rows.append(row)
        bounds.append(0.0)
        clip = policy[a] * ((1 + epsilon) if advantages[a] > 0 else (1 - epsilon))
        row = np.zeros(2 * num_actions)
        row[num_actions + a] = 1
        rows.append(row)
        bounds.append(clip * advantages[a])
    equality = np.concatenate([np.ones(num_actions), np.zeros(num_actions)])[None]
    result = linprog(
        objective,
        A_ub=np.array(rows),
        b_ub=np.array(bounds),
        A_eq=equality,
        b_eq=[1.0],
        bounds=[(0, None)] * num_actions + [(None, None)] * num_actions,
        method="highs",
    )
    assert result.status == 0
    return -result.fun


def surrogate(x, policy, advantages, epsilon) -> float:
    ratio = x / policy
    return float(
        np.minimum(ratio * advantages, np.clip(ratio, 1 - epsilon, 1 + epsilon) * advantages)
        @ policy
    )


@pytest.mark.parametrize("seed", range(6))
def test_ppo_rows_closest_is_the_projection_onto_the_maximisers(seed):
    rng = np.random.default_rng(seed)
    num_states, num_actions, epsilon = 12, 4, 0.2
    policy = rng.dirichlet(np.ones(num_actions), size=num_states)
    advantages = rng.normal(size=(num_states, num_actions))
    advantages[:, 2] = advantages[:, 1]  # ties between pieces of different actions
    advantages -= (policy * advantages).sum(axis=1, keepdims=True)  # sum_a pi A = 0
    rows, gaps = ppo_rows(policy, advantages, np.ones(num_states), epsilon, "closest")
    assert np.all(gaps <= 1e-12)
    for state in range(num_states):
        pi, adv = policy[state], advantages[state]
        optimum = clipped_optimum(pi, adv, epsilon)
        value = surrogate(rows[state], pi, adv, epsilon)
        assert abs(value - optimum) <= 1e-10, (state, value, optimum)
        projection = closest_maximiser(pi, adv, epsilon, optimum)
        distance = np.sum((rows[state] - pi) ** 2)
        # no maximiser is closer to pi than ours (SLSQP finds the projection up to ~1e-8)
        assert distance <= np.sum((projection - pi) ** 2) + 1e-7, state


def closest_maximiser(policy, advantages, epsilon, optimum) -> np.ndarray:
    """argmin ||x - pi||^2 over the maximisers, a QP in (x, t) with linear constraints."""
    num_actions = len(policy)
    clip = policy * np.where(advantages > 0, 1 + epsilon, 1 - epsilon) * advantages

    def constraints(z):
        x, t = z[:num_actions], z[num_actions:]
        return np.concatenate([x * advantages - t, clip - t, [t.sum() - optimum + 1e-13]])

    start = np.concatenate([policy, np.minimum(policy * advantages, clip)])
    result = minimize(
        lambda z: 0.5 * np.sum((z[:num_actions] - policy) ** 2),
        start,
        jac=lambda z: np.concatenate([z[:num_actions] - policy, np.zeros(num_actions)]),
        constraints=[
            {"type": "eq", "fun": lambda z: np.array([z[:num_actions].sum() - 1.0])},
            {"type": "ineq", "fun": constraints},
        ],
        bounds=[(0.0, 1.0)] * num_actions + [(None, None)] * num_actions,
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    # near the optimum SLSQP may stop on its line search; its point must still be feasible
    assert result.success or result.status == 8, result.message
    assert constraints(result.x).min() >= -1e-9 and abs(result.x[:num_actions].sum() - 1) <= 1e-9
    return result.x[:num_actions]


def test_ppo_rows_exact_equals_float():
    rng = np.random.default_rng(3)
    num_states, num_actions = 30, 3
    numerators = rng.integers(1, 9, size=(num_states, num_actions))
    exact_policy = np.array(
        [[Fraction(int(n), int(row.sum())) for n in row] for row in numerators], dtype=object
    )
    exact_advantages = np.array(
        [[Fraction(int(v), 7) for v in row] for row in rng.integers(-9, 9, (num_states, 3))],
        dtype=object,
    )
    coefficient = np.array([Fraction(1)] * num_states, dtype=object)
    epsilon = Fraction(1, 5)
    exact_rows, exact_gaps = ppo_rows(exact_policy, exact_advantages, coefficient, epsilon)
    assert all(isinstance(v, Fraction) for v in exact_rows.flat)
    assert all(gap == 0 for gap in exact_gaps)
    assert all(sum(row) == 1 for row in exact_rows)
    float_rows, _ = ppo_rows(
        exact_policy.astype(float), exact_advantages.astype(float), np.ones(num_states), 0.2
    )
    assert np.abs(exact_rows.astype(float) - float_rows).max() <= 1e-12


def test_ppo_segments_cover_the_simplex():
    rng = np.random.default_rng(4)
    policy = rng.dirichlet(np.ones(5), size=50)
    advantages = rng.normal(size=(50, 5))
    lengths, slopes = ppo_segments(policy, advantages, np.full(50, 0.5), 0.3)
    assert lengths.shape == slopes.shape == (50, 10)
    assert np.all(lengths >= 0)
    # each action's two pieces span [0, max(1, b_a)]
    per_action = lengths[:, :5] + lengths[:, 5:]
    assert np.allclose(per_action, np.maximum(1.0, lengths[:, :5]))
    # concave per action: the first slope is the larger
    assert np.all(slopes[:, :5] >= slopes[:, 5:])
