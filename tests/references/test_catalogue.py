"""Every value of spec/catalogue.md and the paper's optimal returns, exactly and to 1e-10.

Oracles: the catalogue's exact rationals (rational mode, compared with ==), closed forms for
the paper environments, and the rounded figures of Sutton & Barto where only those exist.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import mdps
import tabular_mirror as tm
from mdps.references import (
    REFERENCES,
    SUTTON_BARTO_OPTIMAL_ROWS,
    SUTTON_BARTO_RANDOM_VALUES,
)

FLOAT_TOLERANCE = 1e-10


def _explain(result) -> str:
    return f"status={result.status}, message={result.message}"


@pytest.mark.parametrize("reference", REFERENCES, ids=[r.name for r in REFERENCES])
def test_exact_optimal_values(reference):
    result = tm.solve(reference.mdp(exact=True), method="policy_iteration")
    assert result.converged, _explain(result)
    assert result.exact
    for state, value in reference.known_values.items():
        assert result.values[state] == value, (state, result.values[state], value)
    if reference.optimal_policy:
        assert tuple(tm.policy_actions(result.policy)) == reference.optimal_policy
        # the stated optimal policy evaluates to the stated values exactly
        policy = tm.deterministic_policy(reference.mdp(exact=True), reference.optimal_policy)
        values = tm.evaluate(reference.mdp(exact=True), policy).values
        for state, value in reference.known_values.items():
            assert values[state] == value


@pytest.mark.parametrize("reference", REFERENCES, ids=[r.name for r in REFERENCES])
def test_float_optimal_values(reference):
    result = tm.solve(reference.mdp(exact=False), method="policy_iteration")
    assert result.converged, _explain(result)
    for state, value in reference.known_values.items():
        assert abs(result.values[state] - float(value)) <= FLOAT_TOLERANCE * max(1, abs(value))
    for state, value in reference.approximate.items():
        assert result.values[state] == pytest.approx(value, abs=1e-5)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float"])
def test_sutton_barto_random_policy_values(exact):
    mdp = mdps.sutton_barto_grid(exact=exact)
    result = tm.evaluate(mdp, tm.uniform_policy(mdp))
    values = np.array(result.values, dtype=float).reshape(5, 5)
    # the book's figure is rounded to 0.1
    assert np.all(np.abs(values - np.array(SUTTON_BARTO_RANDOM_VALUES)) <= 0.05 + 1e-12)


def test_sutton_barto_optimal_rows():
    result = tm.solve(mdps.sutton_barto_grid(exact=True), method="policy_iteration")
    values = np.array(result.values, dtype=float).reshape(5, 5)
    for row, expected in SUTTON_BARTO_OPTIMAL_ROWS.items():
        assert np.all(np.abs(values[row] - np.array(expected)) <= 0.05 + 1e-12), row
    assert result.values[1] == 10 / (1 - Fraction(9, 10) ** 5) == Fraction(1000000, 40951)


def test_small_is_not_the_shifted_value_iteration_iterate():
    # MDPtoolbox's value iteration reports (40.05, 33.65) at 9/10; the exact V* differs.
    result = tm.solve(mdps.small(exact=True), method="value_iteration")
    assert abs(float(result.values[0]) - 1825 / 43) <= 1e-9
    assert abs(float(result.values[0]) - 40.05) > 1


@pytest.mark.parametrize("size", [3, 10, 50], ids=lambda s: f"S={s}")
def test_forest_sparse_equals_dense(size):
    dense = mdps.forest(size, discount=0.95)
    sparse = mdps.forest(size, discount=0.95, sparse=True)
    assert sparse.is_sparse
    assert sparse.to_dense() == dense


def test_forest_sparse_at_a_million_states_has_the_documented_structure():
    size = 10**6
    mdp = mdps.forest(size, discount="95/100", sparse=True)
    matrix = mdp.transitions
    assert matrix.nnz == 3 * size and matrix.has_sorted_indices
    assert np.array_equal(matrix.indptr[1:7], [2, 3, 5, 6, 8, 9])
    # wait from s goes to 0 (p) and min(s+1, S-1) (1-p); cut goes to 0
    assert matrix[2 * 7, 0] == pytest.approx(0.1) and matrix[2 * 7, 8] == pytest.approx(0.9)
    assert matrix[2 * (size - 1), size - 1] == pytest.approx(0.9)
    assert matrix[2 * 7 + 1, 0] == 1


def test_forest_large_sparse_cut_policy_closed_form():
    # always cut: V(0) = 0, V(s) = 1 for 0 < s < S-1, V(S-1) = r2 = 2
    size = 10**4
    mdp = mdps.forest(size, discount=0.9, sparse=True)
    cut = np.zeros((size, 2))
    cut[:, 1] = 1
    result = tm.evaluate(mdp, cut)
    assert result.converged, _explain(result)
    assert result.error_bound <= FLOAT_TOLERANCE
    expected = np.ones(size)
    expected[0], expected[-1] = 0, 2
    assert np.max(np.abs(result.values - expected)) <= result.error_bound + 1e-15


def test_riverswim_last_state_and_policy():
    result = tm.solve(mdps.riverswim(exact=True), method="policy_iteration")
    assert float(result.values[5]) == pytest.approx(5.14689, abs=1e-5)
    assert tuple(tm.policy_actions(result.policy)) == (1,) * 6


# ------------------------------------------------------------------------ the paper (§7)
@pytest.mark.parametrize(
    "kwargs", [{}, {"terminal_state": True, "discount": "999/1000"}], ids=["gamma0", "terminal"]
)
def test_paper_bandit_optimal_return_is_10(kwargs):
    result = tm.solve(mdps.paper_bandit(exact=True, **kwargs), method="policy_iteration")
    assert result.expected_return == 10
    assert tm.policy_actions(result.policy)[0] == 0


def test_paper_chain_optimal_return_closed_form():
    gamma = Fraction(999, 1000)
    mdp = mdps.paper_chain(exact=True)
    result = tm.solve(mdp, method="policy_iteration")
    assert tuple(tm.policy_actions(result.policy))[:5] == (2,) * 5  # always right
    # V*(4 - k) = -1/10 (1 - g^k) / (1 - g) + 10 g^k
    expected = [-Fraction(1, 10) * (1 - gamma**k) / (1 - gamma) + 10 * gamma**k for k in range(5)]
    assert list(result.values[:5]) == expected[::-1]
    assert result.values[5] == 0
    assert result.expected_return == sum(expected) / 5
    assert 9.7 <= float(result.expected_return) <= 9.8  # the paper's "about 9.7"
    float_result = tm.solve(mdp.to_float())
    assert abs(float_result.expected_return - float(result.expected_return)) <= FLOAT_TOLERANCE


def test_paper_grid_optimal_return_about_minus_7():
    mdp = mdps.paper_grid(exact=True)
    assert (mdp.num_states, mdp.num_actions) == (21, 4)
    result = tm.solve(mdp, method="policy_iteration")
    gamma = Fraction(999, 1000)
    # V*(s) = -(1 - g^k) / (1 - g) for a cell k moves from the goal (no cell is better off
    # entering the bomb); distances of the 19 non-terminal cells in row-major order
    distances = [4, 3, 2, 1, 5, 6, 7, 8, 9, 10, 7, 8, 9, 10, 11, 9, 10, 11, 12]
    non_terminal = [s for s in range(21) if s not in (4, 16)]
    expected = [-(1 - gamma**k) / (1 - gamma) for k in distances]
    assert [result.values[s] for s in non_terminal] == expected
    assert result.values[4] == result.values[16] == 0
    assert -7.5 <= float(result.expected_return) <= -7.4  # the paper's "about -7"
    float_result = tm.solve(mdp.to_float())
    assert abs(float_result.expected_return - float(result.expected_return)) <= FLOAT_TOLERANCE


@pytest.mark.parametrize(
    "name", ["paper-bandit", "paper-chain", "paper-grid"], ids=["bandit", "chain", "grid"]
)
def test_paper_environments_terminal_states_absorb_with_zero_reward(name):
    mdp = mdps.make(f"{name}:exact=true")
    transitions = mdp.transitions
    loops = [
        s
        for s in range(mdp.num_states)
        if all(transitions[s, a, s] == 1 for a in range(mdp.num_actions))
    ]
    for s in loops:
        if name != "paper-bandit":
            assert all(r == 0 for r in mdp.rewards[s])
            assert mdp.initial[s] == 0
