"""Regression (issue 11): dense input was copied about twice on the way to a result, so a
dense MDP with S = 12,000, A = 2 (P is 2.3 GB) needed more than 4 GB to evaluate one policy.

Now ``FiniteMDP(..., copy=False)`` adopts a float64 array (made read-only) instead of copying
it, and a dense evaluation from ``IN_PLACE_STATES`` states on factorises I - gamma P_pi in place
(LAPACK on the Fortran view) and certifies with products from P and pi: one S x S array. Peaks
are measured with tracemalloc (numpy reports its allocations to it) at a small size.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import evaluation


def _peak(function):
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def dense():
    rng = np.random.default_rng(0)
    states, actions = 400, 2
    return rng.dirichlet(np.ones(states), size=(states, actions)), rng.uniform(
        size=(states, actions)
    )


def test_copy_false_adopts_the_array(dense):
    transitions, rewards = dense
    mine = transitions.copy()
    mdp, peak = _peak(lambda: tm.FiniteMDP(mine, rewards, 0.9, copy=False))
    assert np.shares_memory(np.asarray(mdp.transitions), mine)
    assert not mine.flags.writeable  # adopted: read-only from now on
    assert peak < 0.2 * mine.nbytes
    copied, peak = _peak(lambda: tm.FiniteMDP(transitions, rewards, 0.9))
    assert not np.shares_memory(np.asarray(copied.transitions), transitions)
    assert transitions.flags.writeable and peak >= transitions.nbytes


def test_copy_false_still_validates(dense):
    transitions, rewards = dense
    bad = transitions.copy()
    bad[0, 0, 0] += 0.5
    with pytest.raises(tm.InvalidMDPError, match="sums to"):
        tm.FiniteMDP(bad, rewards, 0.9, copy=False)
    assert bad.flags.writeable  # refused: left as it was
    with pytest.raises(tm.InvalidParameterError, match="copy"):
        tm.FiniteMDP(transitions, rewards, 0.9, copy="no")


def test_dense_evaluation_holds_one_state_by_state_array(dense, monkeypatch):
    transitions, rewards = dense
    mdp = tm.FiniteMDP(transitions, rewards, 0.9)
    policy = tm.uniform_policy(mdp)
    square = mdp.num_states**2 * 8
    monkeypatch.setattr(evaluation, "IN_PLACE_STATES", 10**9)
    reference, two_arrays = _peak(lambda: tm.evaluate(mdp, policy))
    monkeypatch.setattr(evaluation, "IN_PLACE_STATES", 100)
    result, one_array = _peak(lambda: tm.evaluate(mdp, policy))
    assert one_array < 1.3 * square < two_arrays
    assert result.converged and result.error_bound <= 1e-9
    assert np.max(np.abs(result.values - reference.values)) <= (
        result.error_bound + reference.error_bound
    )
    assert np.abs(result.visitation - reference.visitation).sum() <= (
        result.visitation_error_bound + reference.visitation_error_bound
    )
