"""proofs_check.strategies: every generated object is valid, parameters take values or
strategies, and shrinking reaches the small degenerate cases (one state, deterministic rows)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import proofs_check
import tabular_mirror as tm
from proofs_check import strategies
from proofs_check.strategies import distributions, mdps, mdps_and_policies, policies


def test_exports():
    names = ["discounts", "distributions", "mdps", "mdps_and_policies", "policies"]
    assert sorted(proofs_check.strategies.__all__) == names
    assert set(names) <= set(proofs_check.__all__)
    assert all(getattr(proofs_check, name) is getattr(strategies, name) for name in names)


@given(
    mdps_and_policies(
        exact=st.booleans(),
        sparse=st.booleans(),
        initial=st.sampled_from(["uniform", "positive", "any"]),
        support=st.none() | st.integers(1, 3),
    )
)
def test_generated_mdps_and_policies_are_valid(pair):
    mdp, policy = pair
    assert 1 <= mdp.num_states <= 5 and 1 <= mdp.num_actions <= 4
    assert 0 <= mdp.discount < 1
    tm.check_policy(mdp, policy)
    if mdp.is_exact:
        assert not mdp.is_sparse
        assert all(isinstance(v, Fraction) for v in mdp.transitions.ravel())
        assert all(sum(row) == 1 for row in mdp.transitions.reshape(-1, mdp.num_states))
        assert all(isinstance(v, Fraction) for v in policy.ravel())


@given(mdps(num_states=3, num_actions=2, support=1, exact=True, discount="3/4"))
def test_fixed_values_and_deterministic_support(mdp):
    assert (mdp.num_states, mdp.num_actions, mdp.discount) == (3, 2, Fraction(3, 4))
    assert all(sorted(row) == [0, 0, 1] for row in mdp.transitions.reshape(-1, 3))


@given(mdps(reward_range=(0, 1), exact=st.booleans()))
def test_reward_range(mdp):
    assert all(0 <= r <= 1 for r in mdp.rewards.ravel())


@given(mdps(discount=0.9, exact=True))
def test_float_discount_is_read_by_its_decimal_repr_in_exact_mode(mdp):
    assert mdp.discount == Fraction(9, 10)


@given(st.data())
def test_interior_and_face_policies(data):
    mdp = data.draw(mdps(num_actions=st.integers(2, 4)))
    interior = data.draw(policies(mdp, interior=True))
    face = data.draw(policies(mdp, interior=False))
    assert np.all(interior > 0)
    assert np.all((face == 0).any(axis=1))
    tm.check_policy(mdp, interior)
    tm.check_policy(mdp, face)


@given(distributions(st.integers(1, 6), positive=True, exact=True))
def test_positive_exact_distribution(vector):
    assert sum(vector) == 1 and all(v > 0 for v in vector)


def smallest(strategy, condition=lambda value: True):
    """The shrunk example (hypothesis.find) with a small generation budget."""
    return find(strategy, condition, settings=settings(max_examples=20, database=None))


def test_exact_and_sparse_together_are_an_error():
    with pytest.raises(InvalidArgument, match="cannot be sparse"):
        smallest(mdps(exact=True, sparse=True))


@pytest.mark.parametrize("exact", [False, True], ids=["float", "exact"])
def test_shrinks_to_the_smallest_mdp(exact):
    mdp = smallest(mdps(exact=exact))
    assert (mdp.num_states, mdp.num_actions) == (1, 1)
    assert mdp.discount == 0.5 and mdp.rewards[0, 0] == 0


def test_shrinks_to_deterministic_transitions_and_actions():
    mdp = smallest(mdps(exact=True, num_states=2, num_actions=2))
    assert all(row.tolist() == [1, 0] for row in mdp.transitions.reshape(-1, 2))
    assert smallest(policies(mdp)).tolist() == [[1, 0], [1, 0]]


def test_shrinks_rewards_to_round_numbers():
    mdp = smallest(mdps(num_states=1, num_actions=1), lambda mdp: mdp.rewards[0, 0] > 0.5)
    assert mdp.rewards.tolist() == [[1.0]]
