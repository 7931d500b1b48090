"""Issue 11: bad input raised foreign exceptions or was accepted silently.

Each case says what broke before the fix; every one must now raise the project's own error,
with a message naming the argument and what is allowed.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import mdps
import tabular_mirror as tm
from tabular_mirror.errors import (
    ExactnessError,
    InvalidMDPError,
    InvalidParameterError,
    InvalidPolicyError,
)

HALF = np.full((2, 2, 2), 0.5)
ZERO_REWARDS = np.zeros((2, 2))


def _small() -> tm.FiniteMDP:
    return mdps.make("small")


CASES = [
    # numpy's UFuncTypeError escaped: the tolerance was never checked
    ("row_tolerance_text", lambda: tm.FiniteMDP(HALF, ZERO_REWARDS, 0.9, row_tolerance="tight"),
     InvalidParameterError, "row_tolerance = 'tight'"),
    # NaN tolerance accepted rows summing to 2 (every comparison with NaN is False)
    ("row_tolerance_nan",
     lambda: tm.FiniteMDP(np.ones((2, 2, 2)), ZERO_REWARDS, 0.9, row_tolerance=float("nan")),
     InvalidParameterError, "row_tolerance = nan"),
    ("row_tolerance_negative", lambda: tm.FiniteMDP(HALF, ZERO_REWARDS, 0.9, row_tolerance=-1),
     InvalidParameterError, ">= 0"),
    # scipy's ValueError (index 5 exceeds matrix dimension) escaped
    ("sparse_index_out_of_range",
     lambda: tm.FiniteMDP(
         sp.csr_matrix((np.ones(4), np.array([0, 5, 1, 1]), np.arange(5)), shape=(4, 2)),
         ZERO_REWARDS, 0.9),
     InvalidMDPError, "column 5"),
    # the imaginary part was dropped with a ComplexWarning and the MDP accepted
    ("sparse_complex_transitions",
     lambda: tm.FiniteMDP(sp.csr_matrix(np.repeat(np.eye(2), 2, axis=0) * (1 + 1j)),
                          ZERO_REWARDS, 0.9),
     InvalidMDPError, "complex"),
    ("sparse_complex_rewards",
     lambda: tm.FiniteMDP(HALF, sp.csr_matrix(np.ones((4, 2)) * 1j), 0.9),
     InvalidMDPError, "complex"),
    # a complex numpy discount was truncated to its real part
    ("complex_discount", lambda: tm.FiniteMDP(HALF, ZERO_REWARDS, np.complex128(0.5)),
     InvalidMDPError, "discount"),
    # numpy's ValueError / TypeError from default_rng escaped
    ("random_policy_negative_seed", lambda: tm.random_policy(_small(), -1),
     InvalidParameterError, "rng = -1"),
    ("random_policy_text_seed", lambda: tm.random_policy(_small(), "x"),
     InvalidParameterError, "rng = 'x'"),
    ("random_policy_float_seed", lambda: tm.random_policy(_small(), 1.5),
     InvalidParameterError, "rng = 1.5"),
    # Fraction.limit_denominator's ValueError / ZeroDivisionError / TypeError escaped
    ("to_exact_zero", lambda: _small().to_exact(limit_denominator=0),
     InvalidParameterError, "limit_denominator = 0"),
    ("to_exact_negative", lambda: _small().to_exact(limit_denominator=-1),
     InvalidParameterError, "limit_denominator = -1"),
    ("to_exact_nan", lambda: _small().to_exact(limit_denominator=float("nan")),
     InvalidParameterError, "limit_denominator = nan"),
    ("to_exact_text", lambda: _small().to_exact(limit_denominator="abc"),
     InvalidParameterError, "limit_denominator = 'abc'"),
    # numpy's inhomogeneous-shape ValueError escaped
    ("deterministic_policy_ragged", lambda: tm.deterministic_policy(_small(), [[0.2], 0]),
     InvalidPolicyError, "actions"),
    # ZeroDivisionError and IndexError from the builder
    ("paper_chain_length_0", lambda: mdps.make("paper-chain:length=0"),
     InvalidParameterError, "length = 0"),
    ("paper_chain_length_negative", lambda: mdps.make("paper-chain:length=-1"),
     InvalidParameterError, "length = -1"),
    # TypeError: 'int' object is not iterable
    ("bandit_means_scalar", lambda: mdps.make("bandit:means=0"),
     InvalidParameterError, "means = 0"),
    ("paper_grid_layout_scalar", lambda: mdps.make("paper-grid:layout=0"),
     InvalidParameterError, "layout = 0"),
    ("random_exact_reward_range_scalar",
     lambda: mdps.make("random-exact:S=3,A=2,seed=0,reward_range=0"),
     InvalidParameterError, "reward_range = 0"),
    # any text was read as True for a flag
    ("flag_maybe", lambda: mdps.make("small:exact=maybe"), InvalidParameterError,
     "exact = 'maybe'"),
    ("count_decimal", lambda: mdps.make("forest:S=10.5"), InvalidParameterError, "S = 10.5"),
    # a 14.6 TiB dense allocation was attempted when sparse was requested neither way
    ("forest_dense_too_large", lambda: mdps.make("forest:S=1000000,sparse=false"),
     InvalidParameterError, "sparse=true"),
    ("exact_forest_too_large", lambda: mdps.make("forest:S=100000,exact=true"),
     InvalidParameterError, "GiB"),
    ("random_dense_too_large", lambda: mdps.make("random-dense:S=100000,A=2,seed=0"),
     InvalidParameterError, "GiB"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [pytest.param(call, error, fragment, id=name) for name, call, error, fragment in CASES],
)
def test_bad_input_raises_the_projects_error(call, error, fragment):
    with pytest.raises(error) as raised:
        call()
    assert fragment in str(raised.value)


def test_large_catalogue_entries_are_sparse_by_default():
    # `forest:S=1000000` tried to allocate 14.6 TiB although the README says the forest is
    # built sparse; small entries stay dense (the README's doctests show them dense)
    assert mdps.make("forest:S=1000000").is_sparse
    assert mdps.make("garnet:S=5000,A=4,b=3,seed=0").is_sparse
    assert not mdps.make("forest:S=1000").is_sparse
    assert not mdps.make("garnet:S=50,A=4,b=3,seed=0").is_sparse


def test_dense_copy_of_a_huge_sparse_mdp_is_refused_before_allocating():
    mdp = mdps.make("forest:S=1000000")
    with pytest.raises(InvalidMDPError, match=r"TiB.*sparse"):
        mdp.to_dense()
    with pytest.raises(InvalidMDPError, match="TiB"):
        mdp.to_exact()


def test_exact_flag_must_be_a_bool():
    with pytest.raises(InvalidParameterError, match="exact = 'yes'"):
        tm.FiniteMDP(HALF, ZERO_REWARDS, 0.9, exact="yes")
    with pytest.raises(ExactnessError):
        mdps.make("forest:S=10,exact=true,sparse=true")


def test_with_discount_shares_the_transitions():
    # with_discount / with_initial copied P (a dense S = 12,000 MDP needs 2.3 GB per copy)
    mdp = mdps.make("garnet:S=40,A=3,b=4,seed=0")
    cheaper = mdp.with_discount(0.5)
    assert cheaper.transitions is mdp.transitions and cheaper.rewards is mdp.rewards
    assert cheaper.discount == 0.5 and mdp.discount == 0.9
    moved = mdp.with_initial(np.eye(40)[3])
    assert moved.transitions is mdp.transitions and moved.initial[3] == 1
    assert cheaper == tm.FiniteMDP(mdp.transitions, mdp.rewards, 0.5)
    with pytest.raises(InvalidMDPError, match="discount"):
        mdp.with_discount(1.5)  # 1 is valid since issue 13 (the undiscounted criteria)
    with pytest.raises(InvalidMDPError, match="initial"):
        mdp.with_initial(np.ones(40))
    with pytest.raises(ExactnessError):
        mdps.make("small:exact=true").with_discount(0.5)
