"""Every MDPtoolbox and QuantEcon input form imports, and the messages say what was received.

The forms are written by hand first (so CI without the toolboxes still tests every import
path), then taken from the toolboxes' own examples when they are installed (importorskip).
Oracle: the MDPtoolbox "small" MDP (catalogue) and the toolboxes' own solvers.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

import mdps
import tabular_mirror as tm
from tabular_mirror.errors import InvalidMDPError, InvalidParameterError

F = Fraction

#: MDPtoolbox's small(): P (A, S, S), R (S, A).
P = np.array([[[0.5, 0.5], [0.8, 0.2]], [[0.0, 1.0], [0.1, 0.9]]])
R = np.array([[5.0, 10.0], [-1.0, 2.0]])
#: The same rewards per transition: R[a][s, s'] = R[s, a] for every s'.
R_TRANSITION = np.array([[[5.0, 5.0], [-1.0, -1.0]], [[10.0, 10.0], [2.0, 2.0]]])


def _object_array(matrices: list) -> np.ndarray:
    out = np.empty(len(matrices), dtype=object)
    for k, matrix in enumerate(matrices):
        out[k] = matrix
    return out


SPARSE_P = [sp.csr_matrix(m) for m in P]
FORMS_P = {
    "array": P,
    "nested_lists": P.tolist(),
    "list_dense": list(P),
    "tuple_dense": tuple(P),
    "list_sparse": SPARSE_P,
    "object_array_dense": _object_array(list(P)),
    "object_array_sparse": _object_array(SPARSE_P),
}
FORMS_R = {
    "state_action": R,
    "per_transition_array": R_TRANSITION,
    "list_dense": list(R_TRANSITION),
    "list_sparse": [sp.csr_matrix(m) for m in R_TRANSITION],
    "object_array_dense": _object_array(list(R_TRANSITION)),
    "object_array_sparse": _object_array([sp.csr_matrix(m) for m in R_TRANSITION]),
}


@pytest.mark.parametrize("p_form", FORMS_P)
@pytest.mark.parametrize("r_form", FORMS_R)
def test_every_pymdptoolbox_form_gives_the_small_mdp(p_form, r_form):
    mdp = mdps.from_mdptoolbox(FORMS_P[p_form], FORMS_R[r_form], 0.9)
    assert mdp.to_dense() == mdps.small()
    assert mdp.is_sparse == ("sparse" in p_form)


def test_state_rewards_and_matlab_layout():
    state_rewards = mdps.from_mdptoolbox(P, [1.0, 2.0], 0.9)
    assert state_rewards.rewards.tolist() == [[1, 1], [2, 2]]
    matlab = mdps.from_mdptoolbox(P.transpose(1, 2, 0), R, 0.9, layout="matlab")
    assert matlab == mdps.small()
    per_transition = mdps.from_mdptoolbox(
        P.transpose(1, 2, 0), R_TRANSITION.transpose(1, 2, 0), 0.9, layout="matlab"
    )
    assert per_transition == mdps.small()


def test_exact_object_arrays_of_matrices():
    exact_p = [
        np.array([[F(1, 2), F(1, 2)], [F(4, 5), F(1, 5)]], dtype=object),
        np.array([[0, 1], [F(1, 10), F(9, 10)]], dtype=object),
    ]
    mdp = mdps.from_mdptoolbox(_object_array(exact_p), [[5, 10], [-1, 2]], "9/10")
    assert mdp.is_exact and mdp == mdps.small(exact=True)


def test_discount_one_for_the_finite_horizon_and_average_reward():
    mdp = mdps.from_mdptoolbox(P, R, 1)
    assert tm.average_reward(mdp).converged


@pytest.mark.parametrize(
    ("p_value", "r_value", "message"),
    [
        pytest.param(
            SPARSE_P,
            [sp.csr_matrix(np.ones((2, 2)))] * 3,
            r"R is a list of 3 scipy.sparse matrices of shape \(2, 2\), but P has A = 2",
            id="reward_matrices_count",
        ),
        pytest.param(
            P,
            np.ones((2, 3)),
            r"R is an array of shape \(2, 3\), expected \(S, A\) = \(2, 2\)",
            id="reward_shape",
        ),
        pytest.param(
            np.ones((3, 2, 2)) / 2,
            np.ones((3, 2)),
            r"it looks like \(A, S\): pass its transpose",
            id="reward_transposed",
        ),
        pytest.param(
            P, [1.0, 2.0, 3.0], r"a vector of rewards needs S = 2 entries", id="state_rewards"
        ),
        pytest.param(
            [sp.csr_matrix(np.eye(2)), sp.csr_matrix(np.eye(3))],
            R,
            r"P is a list of 2 scipy.sparse matrices of shape \(2, 2\) and \(3, 3\)",
            id="ragged_matrices",
        ),
        pytest.param(
            np.ones((2, 2)),
            R,
            r"P is an array of shape \(2, 2\): expected an \(A, S, S\)",
            id="p2d",
        ),
        pytest.param(
            P, np.ones((2, 2, 3)), r"expected per-transition rewards of shape \(2, 2, 2\)", id="r3d"
        ),
    ],
)
def test_messages_describe_what_was_received(p_value, r_value, message):
    with pytest.raises(InvalidMDPError, match=message):
        mdps.from_mdptoolbox(p_value, r_value, 0.9)


def test_matlab_layout_refuses_a_list_of_matrices():
    with pytest.raises(InvalidParameterError, match="python layout"):
        mdps.from_mdptoolbox(SPARSE_P, R, 0.9, layout="matlab")


def test_export_refuses_infeasible_actions():
    masked = tm.FiniteMDP(np.array(P).transpose(1, 0, 2), [[5, 10], [-1, -np.inf]], 0.9)
    with pytest.raises(InvalidParameterError, match="MDPtoolbox cannot represent"):
        mdps.to_mdptoolbox(masked)


# ---------------------------------------------------------------------------- QuantEcon forms
QE_R = [[5, 10], [-1, -np.inf]]
QE_Q = [[[0.5, 0.5], [0, 1]], [[0, 1], [0.5, 0.5]]]


@pytest.mark.parametrize(
    "form",
    ["product", "pairs_dense", "pairs_sparse", "pairs_lil", "pairs_shuffled"],
)
def test_quantecon_forms_by_hand(form):
    if form == "product":
        mdp = mdps.from_quantecon(QE_R, QE_Q, 0.95)
    elif form == "pairs_shuffled":
        mdp = mdps.from_quantecon(
            [-1, 5, 10], [[0, 1], [0.5, 0.5], [0, 1]], 0.95, [1, 0, 0], [0, 0, 1]
        )
    else:
        table = [[0.5, 0.5], [0, 1], [0, 1]]
        matrix = {
            "pairs_dense": table,
            "pairs_sparse": sp.csr_matrix(table),
            "pairs_lil": sp.lil_matrix(table),
        }[form]
        mdp = mdps.from_quantecon([5, 10, -1], matrix, 0.95, [0, 0, 1], [0, 1, 0])
    result = tm.solve(mdp)
    # QuantEcon's test: v* = ((5 - 5.5 beta) / ((1 - 0.5 beta)(1 - beta)), -1 / (1 - beta))
    beta = 0.95
    expected = [(5 - 5.5 * beta) / ((1 - 0.5 * beta) * (1 - beta)), -1 / (1 - beta)]
    assert np.abs(result.values - expected).max() <= result.error_bound + 1e-12
    assert result.actions.tolist() == [0, 0]


def test_quantecon_pair_form_needs_both_indices():
    with pytest.raises(InvalidParameterError, match="s_indices and a_indices come together"):
        mdps.from_quantecon([1, 2], [[1, 0], [0, 1]], 0.9, [0, 1])
    with pytest.raises(InvalidMDPError, match="needs s_indices and a_indices"):
        mdps.from_quantecon([1, 2], [[1, 0], [0, 1]], 0.9)


# ---------------------------------------------------------------------------- the toolboxes
def test_pymdptoolbox_examples_import_and_agree():
    mdptoolbox = pytest.importorskip("mdptoolbox")
    import mdptoolbox.example as example

    for P_value, R_value in (example.small(), example.forest(), example.rand(9, 3)):
        mdp = mdps.from_mdptoolbox(P_value, R_value, 0.9)
        solver = mdptoolbox.mdp.PolicyIteration(P_value, R_value, 0.9)
        solver.run()
        result = tm.solve(mdp)
        assert np.abs(np.array(solver.V) - result.values).max() < 1e-8
    # rand(is_sparse=True) gives lists of sparse matrices for both P and R
    P_value, R_value = example.rand(12, 3, is_sparse=True)
    mdp = mdps.from_mdptoolbox(P_value, R_value, 0.9)
    assert mdp.is_sparse
    solver = mdptoolbox.mdp.PolicyIteration(P_value, R_value, 0.9)
    solver.run()
    assert np.abs(np.array(solver.V) - tm.solve(mdp).values).max() < 1e-8


def test_pymdptoolbox_finite_horizon_and_relative_value_iteration_agree():
    mdptoolbox = pytest.importorskip("mdptoolbox")
    import mdptoolbox.example as example

    P_value, R_value = example.forest()
    horizon = mdptoolbox.mdp.FiniteHorizon(P_value, R_value, 0.9, 5)
    horizon.run()
    mdp = mdps.from_mdptoolbox(P_value, R_value, 0.9)
    ours = tm.backward_induction(mdp, 5)
    # pymdptoolbox's V has shape (S, N + 1), column n the value with N - n steps to go
    assert np.abs(np.array(horizon.V).T - ours.values).max() < 1e-12
    assert (np.array(horizon.policy).T == ours.actions).all()
    P_value, R_value = example.small()
    relative = mdptoolbox.mdp.RelativeValueIteration(P_value, R_value, epsilon=1e-8)
    relative.run()
    gain = tm.average_reward(mdps.from_mdptoolbox(P_value, R_value, 1)).gain
    assert abs(relative.average_reward - 35 / 9) < 1e-6 and np.allclose(gain, 35 / 9)


def test_quantecon_objects_import_and_agree():
    pytest.importorskip("quantecon")
    from quantecon.markov import DiscreteDP, backward_induction, random_discrete_dp

    for sa_pair, sparse in ((False, False), (True, False), (True, True)):
        ddp = random_discrete_dp(
            15, 3, beta=0.95, k=4, sa_pair=sa_pair, sparse=sparse, random_state=1
        )
        mdp = mdps.from_quantecon(ddp)
        theirs = ddp.solve("policy_iteration")
        ours = tm.solve(mdp)
        assert np.abs(theirs.v - ours.values).max() < 1e-9
        assert (theirs.sigma == ours.actions).all()
    ddp = DiscreteDP(QE_R, QE_Q, 0.95)
    assert mdps.from_quantecon(ddp) == mdps.from_quantecon(QE_R, QE_Q, 0.95)
    # QuantEcon's finite-horizon test (Puterman 1994, 4.6.1), beta = 1
    s_indices = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3]
    a_indices = [0, 1, 2, 3, 0, 1, 2, 0, 1, 0]
    rewards = [0.0, -1.0, -2.0, -5.0, 5.0, 0.0, -3.0, 6.0, -1.0, 5.0]
    table = [
        [1, 0, 0, 0], [0.75, 0.25, 0, 0], [0.25, 0.5, 0.25, 0], [0, 0.25, 0.5, 0.25],
        [0.75, 0.25, 0, 0], [0.25, 0.5, 0.25, 0], [0, 0.25, 0.5, 0.25],
        [0.25, 0.5, 0.25, 0], [0, 0.25, 0.5, 0.25], [0, 0.25, 0.5, 0.25],
    ]  # fmt: skip
    with pytest.warns(UserWarning):
        ddp = DiscreteDP(rewards, table, 1, s_indices, a_indices)
    values, sigmas = backward_induction(ddp, 3)
    ours = tm.backward_induction(mdps.from_quantecon(ddp), 3)
    assert np.abs(values - ours.values).max() < 1e-12 and (sigmas == ours.actions).all()


# ---------------------------------------------------------------------------- gymnasium
def test_gymnasium_exact_import_keeps_the_discount_exact():
    gymnasium = pytest.importorskip("gymnasium")
    env = gymnasium.make("FrozenLake-v1")
    exact = mdps.from_gymnasium(env, discount="99/100", exact=True)
    assert exact.is_exact and exact.discount == F(99, 100)
    assert F(1, 3) in set(exact.transitions.ravel())
    floating = mdps.from_gymnasium(env, discount="99/100")
    assert floating.discount == 0.99
    assert floating.to_exact(limit_denominator=1000) == exact
    with pytest.raises(InvalidParameterError, match="drop sparse=True"):
        mdps.from_gymnasium(env, exact=True, sparse=True)


def test_a_float_mdp_remembers_an_exactly_given_discount():
    mdp = tm.FiniteMDP([[[1.0, 0.0]], [[0.5, 0.5]]], [[1.0], [0.0]], "99/100", exact=False)
    assert mdp.discount == 0.99 and mdp.to_exact().discount == F(99, 100)
    assert mdp.to_sparse().to_dense().to_exact().discount == F(99, 100)
    import pickle

    assert pickle.loads(pickle.dumps(mdp)).to_exact().discount == F(99, 100)
    binary = tm.FiniteMDP([[[1.0, 0.0]], [[0.5, 0.5]]], [[1.0], [0.0]], 0.99)
    assert binary.to_exact().discount == F(0.99)  # a float discount is its binary value
