"""Trace save/load round trips (float npz, exact JSON, sparse MDPs), stop reasons,
cumulative_drift and optimality_gaps."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

import tabular_mirror as tm
from tabular_mirror import instances


def random_mdp(seed: int, num_states: int = 4, num_actions: int = 3) -> tm.FiniteMDP:
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.ones(num_states), size=(num_states, num_actions))
    return tm.FiniteMDP(transitions, rng.normal(size=(num_states, num_actions)), 0.9)


def exact_mdp() -> tm.FiniteMDP:
    return tm.FiniteMDP(
        [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
    )


def sparse_mdp() -> tm.FiniteMDP:
    dense = random_mdp(3)
    matrix = sp.csr_matrix(np.asarray(dense.transition_matrix))
    return tm.FiniteMDP(matrix, dense.rewards, 0.9)


CASES = {
    "float_ppo": lambda: (random_mdp(0), instances.ppo(), 5),
    "float_pmd": lambda: (random_mdp(1), instances.pmd(1.0), 4),
    "exact_ppo": lambda: (exact_mdp(), instances.ppo(), 4),
    "exact_gpi": lambda: (exact_mdp(), instances.gpi(), 4),
    "sparse_ppo": lambda: (sparse_mdp(), instances.ppo(), 3),
}


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_save_load_round_trip(name, tmp_path):
    mdp, algorithm, iterations = CASES[name]()
    trace = tm.mirror_learning(mdp, algorithm, tm.uniform_policy(mdp), iterations)
    path = tm.save_trace(trace, tmp_path / "trace")
    assert path.suffix == (".json" if mdp.is_exact else ".npz")
    loaded = tm.load_trace(path)
    assert loaded == trace, f"{trace!r} != {loaded!r}"
    assert loaded.mdp == mdp
    assert loaded.mdp.is_sparse == mdp.is_sparse
    if mdp.is_exact:
        assert all(isinstance(v, Fraction) for v in loaded.values.ravel())
        assert isinstance(loaded.optimal_return, Fraction)
    assert loaded.certificates == trace.certificates


def test_gpi_stops_optimal_quickly():
    trace = tm.mirror_learning(exact_mdp(), instances.gpi(), tm.uniform_policy(exact_mdp()), 50)
    assert trace.stop_reason == "optimal", repr(trace)
    assert trace.iterations <= 3
    assert trace.optimality_gaps[-1] == 0
    assert [str(v) for v in trace.values[-1]] == ["1825/43", "1550/43"]


def test_budget_exhausted_is_iterations():
    mdp = random_mdp(0)
    trace = tm.mirror_learning(mdp, instances.trpo(0.001), tm.uniform_policy(mdp), 3)
    assert trace.stop_reason == "iterations" and trace.iterations == 3, repr(trace)


def test_cumulative_drift_and_optimality_gaps():
    mdp = random_mdp(2)
    trace = tm.mirror_learning(mdp, instances.ppo_kl(1.0), tm.uniform_policy(mdp), 5)
    cumulative = trace.cumulative_drift
    assert cumulative.shape == (trace.iterations + 1,)
    assert cumulative[0] == 0
    np.testing.assert_allclose(np.diff(cumulative), trace.drifts, rtol=1e-12)
    assert np.all(np.diff(cumulative) >= 0)
    gaps = trace.optimality_gaps
    np.testing.assert_allclose(gaps, trace.optimal_return - trace.returns, rtol=1e-12)
    assert np.all(gaps >= -1e-9) and np.all(np.diff(gaps) <= 1e-9)


def test_exact_cumulative_drift_is_exact():
    mdp = exact_mdp()
    trace = tm.mirror_learning(mdp, instances.ppo(), tm.uniform_policy(mdp), 3)
    assert all(isinstance(v, Fraction) for v in trace.cumulative_drift)
    assert trace.cumulative_drift[-1] == sum(trace.drifts)


def test_without_optimum_gaps_are_none():
    mdp = random_mdp(0)
    trace = tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 2, optimum=False)
    assert trace.optimality_gaps is None
