"""Benchmark problems (private builders until ``mdps`` exports its generators)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from tabular_mirror import FiniteMDP


def forest(num_states: int, discount: float = 0.9, p: float = 0.1) -> FiniteMDP:
    """MDPtoolbox forest(S, r1=4, r2=2, p) with CSR (S*2, S) transitions."""
    states = np.arange(num_states)
    older = np.minimum(states + 1, num_states - 1)
    rows = np.concatenate([2 * states, 2 * states, 2 * states + 1])
    cols = np.concatenate([np.zeros(num_states, int), older, np.zeros(num_states, int)])
    data = np.concatenate([np.full(num_states, p), np.full(num_states, 1 - p), np.ones(num_states)])
    transitions = sp.csr_matrix((data, (rows, cols)), shape=(2 * num_states, num_states))
    rewards = np.zeros((num_states, 2))
    rewards[-1, 0] = 4.0
    rewards[1:-1, 1] = 1.0
    rewards[-1, 1] = 2.0
    return FiniteMDP(transitions, rewards, discount)


def garnet(
    num_states: int, num_actions: int, branching: int, discount: float, seed: int = 0
) -> FiniteMDP:
    """Sparse Garnet: b distinct successors per (s, a), Dirichlet(1) weights, U[0,1] rewards."""
    rng = np.random.default_rng(seed)
    rows = num_states * num_actions
    keys = rng.random((rows, num_states)) if num_states <= 64 else None
    if keys is not None:
        columns = np.argpartition(keys, branching - 1, axis=1)[:, :branching]
    else:  # rejection: redraw rows with duplicates (rare for b << S)
        columns = rng.integers(0, num_states, size=(rows, branching))
        while True:
            ordered = np.sort(columns, axis=1)
            bad = (np.diff(ordered, axis=1) == 0).any(axis=1)
            if not bad.any():
                break
            columns[bad] = rng.integers(0, num_states, size=(int(bad.sum()), branching))
    columns = np.sort(columns, axis=1)
    weights = rng.exponential(size=(rows, branching))
    weights /= weights.sum(axis=1, keepdims=True)
    transitions = sp.csr_matrix(
        (weights.ravel(), columns.ravel(), np.arange(0, rows * branching + 1, branching)),
        shape=(rows, num_states),
    )
    rewards = rng.random((num_states, num_actions))
    return FiniteMDP(transitions, rewards, discount)


def dense_mdp(num_states: int, num_actions: int, discount: float, seed: int = 0) -> FiniteMDP:
    """Dense (S, A, S) transitions with Dirichlet(1) rows, U[0,1] rewards."""
    rng = np.random.default_rng(seed)
    transitions = rng.exponential(size=(num_states, num_actions, num_states))
    transitions /= transitions.sum(axis=2, keepdims=True)
    return FiniteMDP(transitions, rng.random((num_states, num_actions)), discount)


def exact_mdp(
    num_states: int,
    num_actions: int,
    branching: int,
    denominator: int,
    discount: str,
    seed: int = 0,
) -> FiniteMDP:
    """Exact MDP: ``branching`` successors with probabilities k/denominator, rewards k/10."""
    rng = np.random.default_rng(seed)
    rows = num_states * num_actions
    keys = rng.random((rows, num_states))
    columns = np.argpartition(keys, branching - 1, axis=1)[:, :branching]
    cuts = np.sort(
        np.array(
            [
                rng.choice(np.arange(1, denominator), branching - 1, replace=False)
                for _ in range(rows)
            ]
        ),
        axis=1,
    )
    parts = np.diff(
        np.concatenate([np.zeros((rows, 1), int), cuts, np.full((rows, 1), denominator)], axis=1),
        axis=1,
    )
    fractions = [Fraction(0), *(Fraction(k, denominator) for k in range(1, denominator + 1))]
    transitions = np.full((rows, num_states), fractions[0], dtype=object)
    for row in range(rows):
        for column, part in zip(columns[row], parts[row], strict=True):
            transitions[row, column] = fractions[part]
    rewards = np.array([Fraction(int(k), 10) for k in rng.integers(0, 11, rows)], dtype=object)
    return FiniteMDP(
        transitions.reshape(num_states, num_actions, num_states),
        rewards.reshape(num_states, num_actions),
        discount,
    )
