"""Seeded generators: support sizes, stochastic rows, reproducibility, the Dirichlet(1) law."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import mdps
import tabular_mirror as tm

SIZES = [(1, 1, 1), (7, 3, 1), (7, 3, 4), (10, 2, 10), (200, 4, 5)]
SIZE_IDS = [f"S{s}-A{a}-b{b}" for s, a, b in SIZES]


def _dense(mdp: tm.FiniteMDP) -> np.ndarray:
    return mdp.to_dense().transitions


@pytest.mark.parametrize(("S", "A", "b"), SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_garnet_support_size_and_rows(S, A, b, sparse):
    mdp = mdps.garnet(S, A, b, seed=3, sparse=sparse)
    assert mdp.is_sparse == sparse
    transitions = _dense(mdp)
    assert transitions.shape == (S, A, S)
    assert np.all((transitions > 0).sum(axis=2) == b)
    assert np.max(np.abs(transitions.sum(axis=2) - 1)) <= 1e-12
    if sparse:
        assert mdp.transitions.nnz == S * A * b


@pytest.mark.parametrize(("S", "A", "b"), SIZES, ids=SIZE_IDS)
def test_garnet_sparse_and_dense_are_the_same_mdp(S, A, b):
    dense = mdps.garnet(S, A, b, seed=11)
    sparse = mdps.garnet(S, A, b, seed=11, sparse=True)
    assert sparse.to_dense() == dense


@pytest.mark.parametrize(
    "build",
    [
        lambda seed: mdps.garnet(20, 3, 4, seed=seed),
        lambda seed: mdps.garnet(20, 3, 4, seed=seed, reward_law="normal"),
        lambda seed: mdps.random_dense_mdp(8, 3, seed=seed),
        lambda seed: mdps.exact_garnet(6, 2, 3, seed=seed),
        lambda seed: mdps.random_exact_mdp(4, 2, seed=seed),
    ],
    ids=["garnet", "garnet-normal", "random-dense", "exact-garnet", "random-exact"],
)
def test_seeds_are_reproducible(build):
    assert build(5) == build(5)
    assert build(5) == build(np.random.default_rng(5))
    assert build(5) != build(6)


def test_generator_argument_is_advanced():
    generator = np.random.default_rng(0)
    assert mdps.garnet(10, 2, 3, seed=generator) != mdps.garnet(10, 2, 3, seed=generator)


def test_garnet_probabilities_follow_dirichlet_one():
    # Dirichlet(1,1,1): each coordinate is Beta(1, 2): mean 1/3, variance 1/18;
    # E[max] = (1 + 1/2 + 1/3) / 3 = 11/18. Normalised uniforms have variance ~0.040.
    b = 3
    mdp = mdps.garnet(2000, 5, b, seed=0, sparse=True)
    weights = mdp.transitions.data.reshape(-1, b)
    rows = len(weights)
    assert abs(weights.mean() - 1 / b) <= 1e-12
    first = weights[:, 0]
    assert abs(first.var() - 1 / 18) <= 5 * np.sqrt(2 / rows) * 0.07
    assert abs(weights.max(axis=1).mean() - 11 / 18) <= 5 * 0.2 / np.sqrt(rows)


def test_garnet_successors_are_uniform_over_states():
    S, A, b = 50, 40, 5
    mdp = mdps.garnet(S, A, b, seed=1, sparse=True)
    counts = np.bincount(mdp.transitions.indices, minlength=S)
    expected = S * A * b / S
    # binomial-ish counts: standard deviation about sqrt(expected)
    assert np.all(np.abs(counts - expected) <= 5 * np.sqrt(expected))
    # distinct within each row
    columns = mdp.transitions.indices.reshape(-1, b)
    assert np.all(np.diff(columns, axis=1) > 0)


@pytest.mark.parametrize("law", ["uniform", "normal"])
def test_garnet_reward_laws(law):
    rewards = mdps.garnet(500, 8, 2, seed=2, reward_law=law).rewards
    if law == "uniform":
        assert rewards.min() >= 0 and rewards.max() < 1
        assert abs(rewards.mean() - 0.5) <= 0.03
    else:
        assert abs(rewards.mean()) <= 0.06 and abs(rewards.std() - 1) <= 0.06


def test_garnet_at_scale_builds_sparse():
    mdp = mdps.garnet(100_000, 4, 5, seed=0, sparse=True)
    assert mdp.transitions.nnz == 2_000_000


def test_random_dense_mdp_rows():
    mdp = mdps.random_dense_mdp(30, 4, seed=0)
    transitions = mdp.transitions
    assert np.all(transitions > 0)
    assert np.max(np.abs(transitions.sum(axis=2) - 1)) <= 1e-12
    assert abs(transitions.mean() - 1 / 30) <= 1e-12
    # Dirichlet(1) over 30 states: a coordinate has variance (S-1) / (S^2 (S+1))
    assert transitions.var() == pytest.approx(29 / (900 * 31), rel=0.15)


@pytest.mark.parametrize(("S", "A", "b", "q"), [(5, 2, 1, 3), (5, 3, 3, 6), (6, 2, 6, 12)])
def test_exact_garnet_support_denominators_and_rows(S, A, b, q):
    mdp = mdps.exact_garnet(S, A, b, seed=4, denominator=q)
    assert mdp.is_exact
    transitions = mdp.transitions
    assert all(sum(transitions[s, a]) == 1 for s in range(S) for a in range(A))
    assert all(sum(1 for p in transitions[s, a] if p) == b for s in range(S) for a in range(A))
    assert all(q % p.denominator == 0 for p in transitions.ravel())
    assert all(isinstance(r, Fraction) and 0 <= r <= 1 for r in mdp.rewards.ravel())
    assert all(4 % r.denominator == 0 for r in mdp.rewards.ravel())


def test_exact_generators_solve_exactly():
    mdp = mdps.random_exact_mdp(4, 3, seed=9)
    assert all(p > 0 for p in mdp.transitions.ravel())
    result = tm.solve(mdp, method="policy_iteration")
    assert result.exact and result.converged
    assert tm.solve(mdp.to_float()).values == pytest.approx(np.array(result.values, float))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mdps.garnet(3, 2, 4, seed=0), "exceeds S"),
        (lambda: mdps.garnet(3, 2, 0, seed=0), "b = 0"),
        (lambda: mdps.garnet(3, 2, 2, seed=0, reward_law="cauchy"), "uniform, normal"),
        (lambda: mdps.garnet(3, 2, 2, seed=1.5), "seed"),
        (lambda: mdps.exact_garnet(5, 2, 4, seed=0, denominator=3), "denominator"),
    ],
    ids=["b>S", "b=0", "law", "seed", "denominator"],
)
def test_invalid_parameters(call, match):
    with pytest.raises(tm.InvalidParameterError, match=match):
        call()
