"""FiniteMDP: validation (type and message of every invalid input), immutability, sparse storage,
reward reduction and the explicit conversions.

Oracles: hand-written tiny MDPs whose expected rewards and conversions are known in closed form.
"""

from __future__ import annotations

import copy
import pickle
import re
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import tabular_mirror as tm
from proofs_check.strategies import mdps
from tabular_mirror.errors import ExactnessError, InvalidMDPError

F = Fraction

# P[0, 0] = (1/2, 1/2), P[0, 1] = (1, 0), P[1, 0] = (0, 1), P[1, 1] = (1/4, 3/4)
TRANSITIONS = np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [0.25, 0.75]]])
REWARDS = np.array([[1.0, 0.0], [-1.0, 2.0]])
EXACT_TRANSITIONS = [[["1/2", "1/2"], [1, 0]], [[0, 1], ["1/4", "3/4"]]]
EXACT_REWARDS = [[1, 0], [-1, 2]]


def with_entry(array: np.ndarray, index: tuple, value: object) -> np.ndarray:
    out = np.array(array, dtype=object if isinstance(value, Fraction | str) else float)
    out[index] = value
    return out


def replaced_row(index: tuple, row: list) -> np.ndarray:
    out = TRANSITIONS.copy()
    out[index] = row
    return out


# ------------------------------------------------------------------ invalid inputs


INVALID_FLOAT = [
    pytest.param(
        dict(transitions=TRANSITIONS[0]), r"transitions has ndim 2 \(shape \(2, 2\)\)", id="ndim"
    ),
    pytest.param(
        dict(transitions=TRANSITIONS[:, :, :1]),
        r"transitions has shape \(2, 2, 1\).*1 next states.*2 states",
        id="shape_next_states",
    ),
    pytest.param(
        dict(transitions=[[[0.5, 0.5], [1.0]]]),
        r"transitions could not be read",
        id="ragged",
    ),
    pytest.param(
        dict(transitions=with_entry(TRANSITIONS, (1, 0, 1), np.nan)),
        r"transitions\[1, 0, 1\] is nan",
        id="nan",
    ),
    pytest.param(
        dict(transitions=with_entry(TRANSITIONS, (0, 1, 0), np.inf)),
        r"transitions\[0, 1, 0\] is inf",
        id="inf",
    ),
    pytest.param(
        dict(transitions=replaced_row((1, 1), [-0.25, 1.25])),
        r"transitions\[1, 1, 0\] = -0.25 is negative",
        id="negative_probability",
    ),
    pytest.param(
        dict(transitions=replaced_row((1, 1), [0.25, 0.7])),
        r"transitions\[1, 1, :\] sums to 0.95, expected 1 \(tolerance 1e-10\)",
        id="row_sum",
    ),
    pytest.param(
        dict(transitions=replaced_row((0, 1), [0.5, 0.5 + 1e-9])),
        r"transitions\[0, 1, :\] sums to 1.000000001",
        id="row_sum_just_outside_tolerance",
    ),
    pytest.param(
        dict(transitions=np.zeros((0, 0, 0)), rewards=np.zeros((0, 0))),
        r"no states \(S = 0\)",
        id="empty_states",
    ),
    pytest.param(
        dict(transitions=np.zeros((2, 0, 2)), rewards=np.zeros((2, 0))),
        r"no actions \(A = 0\)",
        id="empty_actions",
    ),
    pytest.param(dict(rewards=np.zeros((2, 3))), r"rewards has shape \(2, 3\)", id="rewards_shape"),
    pytest.param(
        dict(rewards=with_entry(REWARDS, (1, 0), np.nan)), r"rewards\[1, 0\] is nan", id="r_nan"
    ),
    pytest.param(
        dict(rewards=with_entry(REWARDS, (0, 1), np.inf)), r"rewards\[0, 1\] is inf", id="r_inf"
    ),
    pytest.param(
        dict(rewards=with_entry(with_entry(REWARDS, (0, 1), -np.inf), (0, 0), -np.inf)),
        r"state 0 has no feasible action",
        id="r_all_minus_inf",
    ),
    pytest.param(dict(discount=1.01), r"discount = 1.01 is outside \[0, 1\]", id="discount_one"),
    pytest.param(dict(discount=1.5), r"discount = 1.5 is outside", id="discount_above"),
    pytest.param(dict(discount=-0.1), r"discount = -0.1 is outside", id="discount_negative"),
    pytest.param(dict(discount=float("nan")), r"discount = nan is not finite", id="discount_nan"),
    pytest.param(dict(discount=np.inf), r"discount = inf is not finite", id="discount_inf"),
    pytest.param(dict(discount=None), r"discount = None is not a number", id="discount_none"),
    pytest.param(dict(initial=[1.0]), r"initial has shape \(1,\), expected", id="initial_shape"),
    pytest.param(dict(initial=[[0.5, 0.5]]), r"initial has shape \(1, 2\)", id="initial_shape_2d"),
    pytest.param(
        dict(initial=[1.5, -0.5]), r"initial\[1\] = -0.5 is negative", id="initial_negative"
    ),
    pytest.param(dict(initial=[0.5, 0.6]), r"initial sums to 1.1", id="initial_sum"),
    pytest.param(dict(initial=[0.5, np.nan]), r"initial\[1\] is nan", id="initial_nan"),
]


@pytest.mark.parametrize(("changes", "message"), INVALID_FLOAT)
def test_invalid_float_input_is_rejected_with_its_index(changes, message):
    arguments = dict(transitions=TRANSITIONS, rewards=REWARDS, discount=0.5) | changes
    with pytest.raises(InvalidMDPError, match=message):
        tm.FiniteMDP(**arguments)


def test_row_sum_within_tolerance_is_accepted_and_not_normalised():
    transitions = replaced_row((0, 1), [0.5, 0.5 + 1e-12])
    mdp = tm.FiniteMDP(transitions, REWARDS, 0.5)
    assert mdp.transitions[0, 1, 1] == 0.5 + 1e-12


def test_row_tolerance_is_configurable():
    transitions = replaced_row((0, 1), [0.5, 0.5 + 1e-9])
    tm.FiniteMDP(transitions, REWARDS, 0.5, row_tolerance=1e-8)
    with pytest.raises(InvalidMDPError, match=r"tolerance 1e-12"):
        tm.FiniteMDP(replaced_row((0, 1), [0.5, 0.5 + 1e-11]), REWARDS, 0.5, row_tolerance=1e-12)


def exact_with(index: tuple, value: object) -> list:
    array = np.array(EXACT_TRANSITIONS, dtype=object)
    array[index] = value
    return array.tolist()


INVALID_EXACT = [
    pytest.param(
        dict(transitions=exact_with((0, 0, 1), "1/3")),
        InvalidMDPError,
        r"transitions\[0, 0, :\] sums to 5/6, expected exactly 1",
        id="row_sum",
    ),
    pytest.param(
        # off by 10^-30: any tolerance would accept it, exact mode must not
        dict(transitions=exact_with((1, 1, 1), F(3, 4) + F(1, 10**30))),
        InvalidMDPError,
        r"transitions\[1, 1, :\] sums to 10{29}1/10{30}, expected exactly 1",
        id="row_sum_off_by_1e-30",
    ),
    pytest.param(
        dict(transitions=exact_with((1, 0, 0), "-1/2")),
        InvalidMDPError,
        r"transitions\[1, 0, 0\] = -1/2 is negative",
        id="negative_probability",
    ),
    pytest.param(
        dict(transitions=[[["1/2", "1/2"], [1]]], rewards=[[0, 0]]),
        InvalidMDPError,
        r"transitions",
        id="ragged",
    ),
    pytest.param(
        dict(transitions=exact_with((1, 1, 0), 0.25)),
        ExactnessError,
        r"transitions\[1, 1, 0\] = 0.25 is a float",
        id="float_in_transitions",
    ),
    pytest.param(
        dict(rewards=[[1, 0], [0.5, 2]]),
        ExactnessError,
        r"rewards\[1, 0\] = 0.5 is a float",
        id="float_in_rewards",
    ),
    pytest.param(
        dict(rewards=np.array(REWARDS)),
        ExactnessError,
        r"rewards is a float array",
        id="float_rewards_array",
    ),
    pytest.param(dict(discount=0.5), ExactnessError, r"discount = 0.5 is a float", id="discount"),
    pytest.param(
        dict(initial=[0.5, "1/2"]), ExactnessError, r"initial\[0\] = 0.5 is a float", id="initial"
    ),
    pytest.param(
        dict(discount="11/10"), InvalidMDPError, r"discount = 11/10 is outside", id="gamma_one"
    ),
    pytest.param(
        dict(discount="-1/10"), InvalidMDPError, r"discount = -1/10 is outside", id="gamma_neg"
    ),
    pytest.param(
        dict(initial=["1/2", "2/3"]), InvalidMDPError, r"initial sums to 7/6", id="initial_sum"
    ),
    pytest.param(
        dict(initial=["3/2", "-1/2"]),
        InvalidMDPError,
        r"initial\[1\] = -1/2 is negative",
        id="initial_negative",
    ),
]


@pytest.mark.parametrize(("changes", "error", "message"), INVALID_EXACT)
def test_invalid_exact_input_is_rejected_with_its_index(changes, error, message):
    arguments = dict(transitions=EXACT_TRANSITIONS, rewards=EXACT_REWARDS, discount="1/2")
    with pytest.raises(error, match=message):
        tm.FiniteMDP(**(arguments | changes))


def test_a_string_discount_makes_float_arrays_an_exactness_error():
    with pytest.raises(ExactnessError, match="transitions is a float array"):
        tm.FiniteMDP(TRANSITIONS, REWARDS, "9/10")


def test_exact_true_with_float_arrays_is_an_exactness_error():
    with pytest.raises(ExactnessError, match="float_to_fraction_array"):
        tm.FiniteMDP(TRANSITIONS, REWARDS, 0.5, exact=True)


def sparse_with(index: int, value: float) -> sp.csr_matrix:
    matrix = sp.csr_matrix(TRANSITIONS.reshape(4, 2))
    matrix.data[index] = value
    return matrix


INVALID_SPARSE = [
    pytest.param(
        sp.csr_matrix(np.full((3, 2), 0.5)),
        InvalidMDPError,
        r"sparse transitions has shape \(3, 2\).*multiple of the number of columns \(2\)",
        id="shape",
    ),
    pytest.param(sp.csr_matrix((0, 2)), InvalidMDPError, r"no actions \(A = 0\)", id="no_actions"),
    pytest.param(sp.csr_matrix((4, 0)), InvalidMDPError, r"no states \(S = 0\)", id="no_states"),
    pytest.param(
        sparse_with(4, -0.25),  # stored entry 4 is P[1, 1, 0] = 1/4
        InvalidMDPError,
        r"transitions\[1, 1, 0\] = -0.25 is negative",
        id="negative_entry",
    ),
    pytest.param(
        sparse_with(2, np.nan), InvalidMDPError, r"transitions\[0, 1, 0\] is nan", id="nan"
    ),
    pytest.param(
        sparse_with(0, 0.4),
        InvalidMDPError,
        r"transitions\[0, 0, :\] sums to 0.9, expected 1",
        id="row_sum",
    ),
]


@pytest.mark.parametrize(("matrix", "error", "message"), INVALID_SPARSE)
def test_invalid_sparse_transitions_are_rejected(matrix, error, message):
    with pytest.raises(error, match=message):
        tm.FiniteMDP(matrix, REWARDS, 0.5)


def test_sparse_transitions_cannot_be_exact():
    with pytest.raises(ExactnessError, match=r"scipy\.sparse"):
        tm.FiniteMDP(sp.csr_matrix(TRANSITIONS.reshape(4, 2)), REWARDS, "1/2")


def test_sparse_rewards_of_the_wrong_shape_are_rejected():
    with pytest.raises(InvalidMDPError, match=r"sparse rewards has shape \(2, 2\)"):
        tm.FiniteMDP(sp.csr_matrix(TRANSITIONS.reshape(4, 2)), sp.csr_matrix(REWARDS), 0.5)


def test_errors_are_value_errors():
    assert issubclass(InvalidMDPError, ValueError)
    assert issubclass(ExactnessError, ValueError)


# ------------------------------------------------------------------ immutability


@pytest.mark.parametrize("name", ["transitions", "rewards", "initial"])
@pytest.mark.parametrize("exact", [False, True], ids=["float", "exact"])
def test_arrays_are_read_only(name, exact):
    mdp = tm.FiniteMDP(TRANSITIONS, REWARDS, 0.5)
    mdp = mdp.to_exact() if exact else mdp
    array = getattr(mdp, name)
    with pytest.raises(ValueError, match="read-only"):
        array[(0,) * array.ndim] = 0


def test_sparse_arrays_are_read_only():
    mdp = tm.FiniteMDP(sp.csr_matrix(TRANSITIONS.reshape(4, 2)), REWARDS, 0.5)
    with pytest.raises(ValueError, match="read-only"):
        mdp.transitions.data[0] = 0.0


@pytest.mark.parametrize("name", ["discount", "transitions", "num_states", "_rewards"])
def test_attributes_cannot_be_set(name):
    mdp = tm.FiniteMDP(TRANSITIONS, REWARDS, 0.5)
    with pytest.raises(AttributeError):
        setattr(mdp, name, 0)


def test_input_arrays_are_copied_not_aliased():
    transitions, rewards, initial = TRANSITIONS.copy(), REWARDS.copy(), np.array([0.25, 0.75])
    mdp = tm.FiniteMDP(transitions, rewards, 0.5, initial)
    transitions[0, 0] = [1.0, 0.0]
    rewards[0, 0] = 99.0
    initial[:] = [1.0, 0.0]
    assert mdp.transitions[0, 0, 0] == 0.5
    assert mdp.rewards[0, 0] == 1.0
    assert mdp.initial[0] == 0.25
    assert transitions.flags.writeable and rewards.flags.writeable


def test_mdps_are_unhashable_and_compare_by_value():
    first = tm.FiniteMDP(TRANSITIONS, REWARDS, 0.5)
    assert first == tm.FiniteMDP(TRANSITIONS.copy(), REWARDS.copy(), 0.5)
    assert first != first.with_discount(0.25)
    assert first != first.to_exact()  # different arithmetic modes
    with pytest.raises(TypeError):
        hash(first)


# ------------------------------------------------------------------ sparse storage


def test_sparse_stays_sparse():
    matrix = sp.csr_matrix(TRANSITIONS.reshape(4, 2))
    mdp = tm.FiniteMDP(matrix, REWARDS, 0.5)
    assert mdp.is_sparse and sp.issparse(mdp.transitions)
    assert mdp.transition_matrix is mdp.transitions
    assert mdp.transitions.nnz == 6  # the two zeros are not stored
    for derived in (mdp.with_discount(0.9), mdp.with_initial([1.0, 0.0]), mdp.to_sparse()):
        assert derived.is_sparse, derived
    evaluation = tm.evaluate(mdp, tm.uniform_policy(mdp))
    assert evaluation.converged, (evaluation.status, evaluation.message)
    assert sp.issparse(tm.policy_transitions(mdp, tm.uniform_policy(mdp)))


def test_sparse_input_of_other_formats_is_accepted():
    coo = sp.coo_matrix(TRANSITIONS.reshape(4, 2))
    assert tm.FiniteMDP(coo, REWARDS, 0.5) == tm.FiniteMDP(TRANSITIONS, REWARDS, 0.5).to_sparse()


def test_sparse_duplicates_are_summed():
    # P[0, 0] given as 0.25 + 0.25 at column 0
    rows = [0, 0, 0, 1, 2, 3, 3]
    columns = [0, 0, 1, 0, 1, 0, 1]
    data = [0.25, 0.25, 0.5, 1.0, 1.0, 0.25, 0.75]
    matrix = sp.coo_matrix((data, (rows, columns)), shape=(4, 2))
    mdp = tm.FiniteMDP(matrix, REWARDS, 0.5)
    assert mdp == tm.FiniteMDP(TRANSITIONS, REWARDS, 0.5)


# ------------------------------------------------------------------ reward reduction

#: r(s, a, s') chosen so that r[s, a] = sum_s' P[s, a, s'] r(s, a, s') is easy by hand.
PER_TRANSITION = np.array([[[2.0, 4.0], [1.0, 7.0]], [[5.0, -1.0], [4.0, 8.0]]])
EXPECTED = np.array([[3.0, 1.0], [-1.0, 7.0]])


def test_per_transition_rewards_are_reduced_dense():
    mdp = tm.FiniteMDP(TRANSITIONS, PER_TRANSITION, 0.5)
    np.testing.assert_array_equal(mdp.rewards, EXPECTED)
    assert mdp.rewards.shape == (2, 2)


def test_per_transition_rewards_are_reduced_exact():
    mdp = tm.FiniteMDP(EXACT_TRANSITIONS, PER_TRANSITION.astype(int).tolist(), "1/2")
    assert mdp.rewards.tolist() == [[F(3), F(1)], [F(-1), F(7)]]
    assert all(isinstance(v, Fraction) for v in mdp.rewards.ravel())


def test_per_transition_rewards_are_reduced_with_sparse_transitions():
    mdp = tm.FiniteMDP(sp.csr_matrix(TRANSITIONS.reshape(4, 2)), PER_TRANSITION, 0.5)
    np.testing.assert_array_equal(mdp.rewards, EXPECTED)
    assert isinstance(mdp.rewards, np.ndarray) and not mdp.rewards.flags.writeable


@pytest.mark.parametrize(
    "transitions",
    [TRANSITIONS, sp.csr_matrix(TRANSITIONS.reshape(4, 2))],
    ids=["dense_transitions", "sparse_transitions"],
)
def test_sparse_per_transition_rewards_are_reduced(transitions):
    rewards = sp.csr_matrix(PER_TRANSITION.reshape(4, 2))
    mdp = tm.FiniteMDP(transitions, rewards, 0.5)
    np.testing.assert_array_equal(mdp.rewards, EXPECTED)
    assert isinstance(mdp.rewards, np.ndarray)


def test_per_transition_reward_where_probability_is_zero_does_not_count():
    rewards = PER_TRANSITION.copy()
    rewards[0, 1, 1] = 1e6  # P[0, 1, 1] = 0
    assert tm.FiniteMDP(TRANSITIONS, rewards, 0.5).rewards[0, 1] == 1.0


# ------------------------------------------------------------------ modes and conversions


def test_mode_detection():
    assert not tm.FiniteMDP(TRANSITIONS, REWARDS, 0.5).is_exact
    assert tm.FiniteMDP(EXACT_TRANSITIONS, EXACT_REWARDS, "1/2").is_exact
    # integers only: float unless asked
    integer = tm.FiniteMDP([[[1]]], [[3]], 0)
    assert not integer.is_exact
    assert tm.FiniteMDP([[[1]]], [[3]], 0, exact=True).is_exact
    assert tm.FiniteMDP([[[1]]], [[3]], F(1, 2)).is_exact


def test_exact_defaults_are_fractions():
    mdp = tm.FiniteMDP(EXACT_TRANSITIONS, EXACT_REWARDS, "9/10")
    assert mdp.discount == F(9, 10) and isinstance(mdp.discount, Fraction)
    assert mdp.initial.tolist() == [F(1, 2), F(1, 2)]
    assert mdp.transitions.dtype == object
    assert all(isinstance(v, Fraction) for v in mdp.transitions.ravel())


def test_float_to_exact_to_float_round_trip():
    mdp = tm.FiniteMDP(TRANSITIONS, REWARDS, 0.5, [0.25, 0.75])  # dyadic: exact binary values
    exact = mdp.to_exact()
    assert exact.is_exact
    assert exact.transitions[1, 1].tolist() == [F(1, 4), F(3, 4)]
    assert exact.discount == F(1, 2)
    assert exact.to_float() == mdp
    assert exact.to_exact() is exact and mdp.to_float() is mdp


def test_to_exact_uses_the_exact_binary_value_of_each_float():
    thirds = np.full((3, 1, 3), 1 / 3)
    mdp = tm.FiniteMDP(thirds, np.full((3, 1), 0.1), 0.9)
    # the binary values of 1/3 do not sum to exactly 1: refused, never renormalised
    with pytest.raises(InvalidMDPError, match=r"expected exactly 1"):
        mdp.to_exact()


def test_to_exact_with_limit_denominator():
    thirds = np.full((3, 1, 3), 1 / 3)
    mdp = tm.FiniteMDP(thirds, np.full((3, 1), 0.1), 0.9)
    exact = mdp.to_exact(limit_denominator=100)
    assert exact.transitions[0, 0].tolist() == [F(1, 3)] * 3
    assert exact.rewards[0, 0] == F(1, 10)
    assert exact.discount == F(9, 10)
    assert exact.initial.tolist() == [F(1, 3)] * 3


def test_to_exact_of_a_sparse_mdp_is_dense():
    mdp = tm.FiniteMDP(sp.csr_matrix(TRANSITIONS.reshape(4, 2)), REWARDS, 0.5)
    exact = mdp.to_exact()
    assert exact.is_exact and not exact.is_sparse
    assert exact.to_float() == mdp.to_dense()


def test_dense_sparse_round_trip():
    mdp = tm.FiniteMDP(TRANSITIONS, REWARDS, 0.5, [0.25, 0.75])
    sparse = mdp.to_sparse()
    assert sparse.is_sparse and sparse == mdp
    assert not sparse.to_dense().is_sparse
    np.testing.assert_array_equal(sparse.to_dense().transitions, TRANSITIONS)
    assert mdp.to_dense() is mdp and sparse.to_sparse() is sparse


def test_exact_mdp_cannot_be_made_sparse():
    with pytest.raises(ExactnessError, match="to_float"):
        tm.FiniteMDP(EXACT_TRANSITIONS, EXACT_REWARDS, "1/2").to_sparse()


@given(mdps(exact=True))
def test_exact_to_float_to_exact_round_trip(mdp):
    # denominators of the strategy are small, so limit_denominator recovers every entry
    assert mdp.to_float().to_exact(limit_denominator=1000) == mdp


@given(mdps(sparse=st.booleans()))
def test_to_sparse_to_dense_round_trip(mdp):
    assert mdp.to_sparse().to_dense() == mdp.to_dense()
    assert mdp.to_sparse().is_sparse and not mdp.to_dense().is_sparse


def test_with_discount_and_with_initial_revalidate():
    mdp = tm.FiniteMDP(TRANSITIONS, REWARDS, 0.5)
    assert mdp.with_discount(0.25).discount == 0.25
    with pytest.raises(InvalidMDPError, match=r"discount = 1\.5 is outside"):
        mdp.with_discount(1.5)
    with pytest.raises(InvalidMDPError, match=re.escape("initial sums to 0.5")):
        mdp.with_initial([0.25, 0.25])


def test_repr_names_sizes_mode_and_storage():
    text = repr(tm.FiniteMDP(TRANSITIONS, REWARDS, 0.5).to_sparse())
    assert text == "FiniteMDP(num_states=2, num_actions=2, discount=0.5, float, sparse)"


@pytest.mark.parametrize("kind", ["dense", "sparse", "exact"])
def test_pickle_and_deepcopy_round_trip(kind):
    import mdps as catalogue

    mdp = {
        "dense": catalogue.garnet(6, 2, 3, seed=1),
        "sparse": catalogue.garnet(6, 2, 3, seed=1, sparse=True),
        "exact": catalogue.exact_garnet(5, 2, 2, seed=1),
    }[kind]
    for twin in (pickle.loads(pickle.dumps(mdp)), copy.deepcopy(mdp)):
        assert twin == mdp and twin.is_exact == mdp.is_exact and twin.is_sparse == mdp.is_sparse
        arrays = [twin.rewards, twin.initial]
        arrays += [twin.transitions.data] if twin.is_sparse else [twin.transitions]
        assert not any(array.flags.writeable for array in arrays)
        with pytest.raises(AttributeError, match="immutable"):
            twin.discount = 0.5
