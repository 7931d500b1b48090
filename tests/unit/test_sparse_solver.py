"""The certified sparse solver of :mod:`tabular_mirror._linalg` and the P_pi it is given.

Oracles: sparse LU (``method="sparse_direct"``) on the same system, each result within the
sum of the two certified bounds; closed forms on a cycle (a permutation P_pi, eigenvalues on
the unit circle, where stationary steps contract only at the rate gamma and GMRES must take
over); the merged (sparse-product) P_pi against the stacked one.
"""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest
import scipy.sparse as sp

import mdps
import tabular_mirror as tm
from tabular_mirror import _linalg, operators


def agree_with_sparse_lu(mdp: tm.FiniteMDP, policy: np.ndarray, **options) -> tm.EvaluationResult:
    result = tm.evaluate(mdp, policy, method="krylov", **options)
    assert result.converged and result.method == "krylov", result.message
    direct = tm.evaluate(mdp, policy, method="sparse_direct")
    gap = np.abs(result.values - direct.values).max()
    assert gap <= result.error_bound + direct.error_bound, (gap, result.error_bound)
    mass_gap = np.abs(result.visitation - direct.visitation).sum()
    assert mass_gap <= result.visitation_error_bound + direct.visitation_error_bound
    return result


def cycle(num_states: int, discount: float) -> tm.FiniteMDP:
    """Action 0 moves s -> s + 1 (mod S), action 1 stays; reward s / S for action 0."""
    states = np.arange(num_states)
    successors = np.stack([(states + 1) % num_states, states], axis=1).ravel()
    transitions = sp.csr_matrix(
        (np.ones(2 * num_states), successors, np.arange(2 * num_states + 1)),
        shape=(2 * num_states, num_states),
    )
    rewards = np.stack([states / num_states, np.zeros(num_states)], axis=1)
    return tm.FiniteMDP(transitions, rewards, discount)


def test_permutation_chain_matches_the_closed_form():
    num_states, gamma = 3000, 0.99
    mdp = cycle(num_states, gamma)
    policy = tm.deterministic_policy(mdp, np.zeros(num_states, dtype=int))
    result = agree_with_sparse_lu(mdp, policy, tolerance=1e-8)
    # V(s) = sum_t gamma^t r(s + t), r periodic: V = sum_k gamma^k r(s + k) / (1 - gamma^S)
    rewards = np.arange(num_states) / num_states
    shifts = (np.arange(num_states)[:, None] + np.arange(num_states)[None, :]) % num_states
    closed_form = (gamma ** np.arange(num_states) * rewards[shifts]).sum(axis=1)
    closed_form /= 1 - gamma**num_states
    assert np.abs(result.values - closed_form).max() <= result.error_bound + 1e-9
    # the uniform initial distribution is stationary on the cycle: rho = d / (1 - gamma)
    assert np.allclose(result.visitation, 1 / (num_states * (1 - gamma)), rtol=0, atol=1e-9)


def test_slowly_mixing_random_walk_switches_to_gmres():
    # reflecting random walk on a line: P_pi's second eigenvalue is ~ 1 - 5e-7, so stationary
    # steps contract at ~ gamma per product and need log(1e-10) / log(0.99) ~ 2300 of them
    num_states = 3000
    states = np.arange(num_states)
    neighbours = np.stack([np.maximum(states - 1, 0), np.minimum(states + 1, num_states - 1)], 1)
    transitions = sp.csr_matrix(
        (np.full(2 * num_states, 0.5), neighbours.ravel(), np.arange(0, 2 * num_states + 1, 2)),
        shape=(num_states, num_states),
    )
    mdp = tm.FiniteMDP(transitions, (states / num_states)[:, None], 0.99)
    result = agree_with_sparse_lu(mdp, np.ones((num_states, 1)), tolerance=1e-8)
    assert result.iterations < 500, result.iterations


@pytest.mark.parametrize("seed", [0, 1])
def test_garnet_policies_of_every_support(seed):
    mdp = mdps.garnet(3000, 3, 4, seed=seed, sparse=True, discount=0.99)
    rng = np.random.default_rng(seed)
    full = rng.dirichlet(np.ones(3), size=3000)
    partial = full * (rng.random((3000, 3)) < 0.6)
    partial[partial.sum(axis=1) == 0, 0] = 1.0
    partial /= partial.sum(axis=1, keepdims=True)
    deterministic = tm.deterministic_policy(mdp, rng.integers(0, 3, size=3000))
    for policy in (full, partial, deterministic):
        agree_with_sparse_lu(mdp, policy, tolerance=1e-9)


def test_a_forked_child_evaluates_in_parallel_too():
    # the parent's worker thread does not survive fork: the child must start its own
    mdp = mdps.garnet(_linalg.PARALLEL_STATE_LIMIT, 3, 4, seed=2, sparse=True, discount=0.9)
    policy = tm.uniform_policy(mdp)
    expected = tm.evaluate(mdp, policy, method="krylov").values
    with multiprocessing.get_context("fork").Pool(1) as pool:
        values = pool.apply_async(_child_values, (mdp, policy)).get(timeout=120)
    assert np.array_equal(values, expected)


def _child_values(mdp: tm.FiniteMDP, policy: np.ndarray) -> np.ndarray:
    return tm.evaluate(mdp, policy, method="krylov").values


def test_public_policy_transitions_are_canonical():
    mdp = mdps.garnet(50, 3, 4, seed=0, sparse=True)
    matrix = tm.policy_transitions(mdp, tm.uniform_policy(mdp))
    assert matrix.has_canonical_format
    # methods that tidy a matrix in place (they failed on the stacked form's shared indices)
    assert matrix.max() > 0 and (matrix > 0.3).nnz >= 0 and matrix.power(2).nnz == matrix.nnz
    assert matrix.nnz == np.count_nonzero(matrix.toarray())


def test_stacked_and_merged_policy_transitions_are_the_same_matrix():
    mdp = mdps.garnet(200, 4, 5, seed=3, sparse=True)
    policy = np.random.default_rng(3).dirichlet(np.ones(4), size=200)
    stacked = operators.solver_policy_transitions(mdp, policy)
    assert not stacked.has_canonical_format or stacked.nnz == mdp.transitions.nnz
    merged = (operators._policy_selector(mdp, policy) @ mdp.transitions).tocsr()
    assert np.abs(stacked.toarray() - merged.toarray()).max() <= 1e-15
    dense = np.einsum("sa,sat->st", policy, mdp.to_dense().transitions)
    assert np.abs(operators.policy_transitions(mdp, policy).toarray() - dense).max() <= 1e-15


def test_actions_sharing_successors_get_a_merged_policy_matrix():
    # every action of a state leads to the same two successors: stacking would store 4x
    num_states, num_actions = 100, 4
    successors = np.stack([np.arange(num_states), (np.arange(num_states) + 1) % num_states], 1)
    columns = np.repeat(successors, num_actions, axis=0).ravel()
    transitions = sp.csr_matrix(
        (np.full(columns.size, 0.5), columns, np.arange(0, columns.size + 1, 2)),
        shape=(num_states * num_actions, num_states),
    )
    mdp = tm.FiniteMDP(transitions, np.zeros((num_states, num_actions)), 0.9)
    matrix = operators.policy_transitions(mdp, tm.uniform_policy(mdp))
    assert matrix.nnz == 2 * num_states


def test_parallel_and_serial_visitation_solves_are_identical(monkeypatch):
    mdp = mdps.garnet(2500, 3, 4, seed=5, sparse=True, discount=0.95)
    policy = tm.uniform_policy(mdp)
    monkeypatch.setattr(_linalg, "_usable_cores", lambda: 2)  # also on a one-core machine
    threads = set()
    original = _linalg._krylov

    def recording(*arguments):
        threads.add(threading.current_thread().name.split("_")[0])
        return original(*arguments)

    monkeypatch.setattr(_linalg, "_krylov", recording)
    monkeypatch.setattr(_linalg, "PARALLEL_STATE_LIMIT", 0)
    parallel = tm.evaluate(mdp, policy, method="krylov")
    monkeypatch.setattr(_linalg, "PARALLEL_STATE_LIMIT", 10**12)
    serial = tm.evaluate(mdp, policy, method="krylov")
    assert np.array_equal(parallel.values, serial.values)
    assert np.array_equal(parallel.visitation, serial.visitation)
    assert parallel.iterations == serial.iterations
    assert threads == {"MainThread", "tabular-mirror"}, threads


def test_an_error_in_the_visitation_thread_reaches_the_caller(monkeypatch):
    mdp = mdps.garnet(2500, 3, 4, seed=5, sparse=True, discount=0.95)
    monkeypatch.setattr(_linalg, "PARALLEL_STATE_LIMIT", 0)
    monkeypatch.setattr(_linalg, "_usable_cores", lambda: 2)
    original = _linalg._krylov

    def failing(matrix, right_hand_side, guess, discount, transpose, *rest):
        if transpose:
            assert threading.current_thread().name.startswith("tabular-mirror")
            raise FloatingPointError("visitation failed")
        return original(matrix, right_hand_side, guess, discount, transpose, *rest)

    monkeypatch.setattr(_linalg, "_krylov", failing)
    with pytest.raises(FloatingPointError, match="visitation failed"):
        tm.evaluate(mdp, tm.uniform_policy(mdp), method="krylov")


def test_stationary_steps_stop_when_the_budget_is_spent():
    mdp = mdps.garnet(2500, 3, 4, seed=6, sparse=True, discount=0.99)
    policy = tm.uniform_policy(mdp)
    matrix = operators.policy_transitions(mdp, policy)
    rewards = operators.policy_rewards(mdp, policy)
    result = _linalg._krylov(matrix, rewards, rewards, 0.99, False, 1e-8, 3)
    assert result.iterations == 3 and result.bound > 1e-8 and not result.rounding_limited
    # 1e-12 is below the rounding floor of values ~ 50 at gamma = 0.99: reported as such
    floor = _linalg._krylov(matrix, rewards, rewards, 0.99, False, 1e-12, 3)
    assert floor.rounding_limited and floor.bound > 1e-12


def test_a_tolerance_below_rounding_ends_early_without_sparse_lu():
    # sparse LU has catastrophic fill-in here (minutes); its certificate has the same rounding
    # floor, so it must not be tried, and the iteration must not run to its budget either
    mdp = mdps.garnet(30_000, 3, 4, seed=1, sparse=True, discount=0.99)
    policy = tm.uniform_policy(mdp)
    result = tm.evaluate(mdp, policy, tolerance=1e-300, max_iterations=5000)
    assert result.method == "krylov" and result.status == "not_certified"
    assert result.iterations < 500, result.iterations
    assert 0 < result.error_bound < 1e-10
