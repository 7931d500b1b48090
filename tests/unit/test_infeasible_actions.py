"""Infeasible actions: the action mask through the model, policies, solvers, steps and checks.

Oracles: (1) deleting the infeasible actions when every state has the same feasible set gives
the same MDP on fewer actions, so every quantity (values, steps of every instance) must agree
entry by entry; (2) replacing an infeasible action by a copy of a feasible one leaves V*
unchanged, which checks mixed feasibility patterns; (3) QuantEcon's own example (Puterman 1994,
section 3.1) with its published values.
"""

from __future__ import annotations

import pickle
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

import mdps
import proofs_check
import tabular_mirror as tm
from proofs_check.witness import rebuild_mdp
from tabular_mirror import drifts, instances
from tabular_mirror import neighbourhoods as nb
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.errors import InvalidMDPError, InvalidParameterError, InvalidPolicyError

F = Fraction

#: Puterman (1994) section 3.1, QuantEcon's DiscreteDP example: action 1 infeasible in state 1.
PUTERMAN_R = [[5, 10], [-1, -float("inf")]]
PUTERMAN_Q = [[[0.5, 0.5], [0, 1]], [[0, 1], [0.5, 0.5]]]
#: QuantEcon's docstring: v = (-8.57142857, -20) at beta = 0.95, sigma = (0, 0).
PUTERMAN_V = [F(-60, 7), F(-20)]


def _common_pattern() -> tuple[tm.FiniteMDP, tm.FiniteMDP, list[int]]:
    """A Garnet with actions 1 and 3 infeasible everywhere, and the MDP without them."""
    base = mdps.garnet(6, 4, 3, seed=1, discount=0.9)
    mask = np.ones((6, 4), bool)
    mask[:, [1, 3]] = False
    masked = tm.FiniteMDP(base.transitions, base.rewards, 0.9, action_mask=mask)
    kept = [0, 2]
    reduced = tm.FiniteMDP(
        np.asarray(base.transitions)[:, kept], np.asarray(base.rewards)[:, kept], 0.9
    )
    return masked, reduced, kept


def _mixed_pattern(exact: bool = False) -> tuple[tm.FiniteMDP, tm.FiniteMDP]:
    """Mixed feasible sets, and the MDP where each infeasible action is a copy of action 0."""
    base = mdps.exact_garnet(5, 3, 2, seed=3, discount="9/10") if exact else None
    if base is None:
        base = mdps.garnet(5, 3, 2, seed=3, discount=0.9)
    mask = np.array(
        [[1, 1, 1], [1, 0, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=bool
    )  # action 0 always feasible
    masked = tm.FiniteMDP(base.transitions, base.rewards, base.discount, action_mask=mask)
    transitions = np.array(base.transitions)
    rewards = np.array(base.rewards)
    for s, a in np.argwhere(~mask):
        transitions[s, a] = transitions[s, 0]
        rewards[s, a] = rewards[s, 0]
    copied = tm.FiniteMDP(transitions, rewards, base.discount)
    return masked, copied


# ---------------------------------------------------------------------------- construction
def test_minus_infinity_rewards_mark_infeasible_actions():
    mdp = tm.FiniteMDP(PUTERMAN_Q, PUTERMAN_R, 0.95)
    assert mdp.has_infeasible_actions
    assert mdp.action_mask.tolist() == [[True, True], [True, False]]
    assert mdp.num_feasible_actions.tolist() == [2, 1]
    # the infeasible pair's row and reward are not stored
    assert np.asarray(mdp.transitions)[1, 1].tolist() == [0, 0] and mdp.rewards[1, 1] == 0
    assert "1 infeasible actions" in repr(mdp)


def test_explicit_mask_equals_minus_infinity_and_state_action_pairs():
    from_rewards = tm.FiniteMDP(PUTERMAN_Q, PUTERMAN_R, 0.95)
    from_mask = tm.FiniteMDP(
        PUTERMAN_Q, [[5, 10], [-1, 123]], 0.95, action_mask=[[True, True], [True, False]]
    )
    from_pairs = tm.FiniteMDP.from_state_action_pairs(
        [0, 0, 1], [0, 1, 0], [[0.5, 0.5], [0, 1], [0, 1]], [5, 10, -1], 0.95
    )
    assert from_pairs.is_sparse  # kept sparse: no row stored for the infeasible pair
    assert from_pairs.transitions.nnz == 4
    assert from_rewards == from_mask == from_pairs.to_dense()


def test_state_action_pairs_in_any_order_and_sparse_input():
    ordered = tm.FiniteMDP.from_state_action_pairs(
        [0, 0, 1], [0, 1, 0], [[0.5, 0.5], [0, 1], [0, 1]], [5, 10, -1], 0.95
    )
    shuffled = tm.FiniteMDP.from_state_action_pairs(
        [1, 0, 0], [0, 1, 0], sp.csr_matrix([[0, 1], [0, 1], [0.5, 0.5]]), [-1, 10, 5], 0.95
    )
    assert ordered == shuffled


def test_exact_state_action_pairs_and_exact_minus_infinity():
    pairs = tm.FiniteMDP.from_state_action_pairs(
        [0, 0, 1], [0, 1, 0], [["1/2", "1/2"], [0, 1], [0, 1]], [5, 10, -1], "95/100"
    )
    strings = tm.FiniteMDP(
        [[["1/2", "1/2"], [0, 1]], [[0, 1], ["1/2", "1/2"]]], [[5, 10], [-1, "-inf"]], "95/100"
    )
    assert pairs.is_exact and strings.is_exact and pairs == strings
    assert [str(v) for v in tm.solve(pairs).values] == ["-60/7", "-20"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(
            dict(rewards=[[5, 10], [-np.inf, -np.inf]]),
            r"state 1 has no feasible action",
            id="no_feasible_action",
        ),
        pytest.param(
            dict(action_mask=[[True, True], [False, False]]),
            r"state 1 has no feasible action",
            id="empty_mask_row",
        ),
        pytest.param(
            dict(rewards=[[5, -np.inf], [-1, 2]], action_mask=[[True, True], [True, True]]),
            r"rewards\[0, 1\] is -inf but action_mask\[0, 1\] is True",
            id="mask_and_rewards_disagree",
        ),
        pytest.param(
            dict(action_mask=[[True, True]]), r"action_mask has shape \(1, 2\)", id="mask_shape"
        ),
        pytest.param(
            dict(action_mask=[[0.5, 1], [1, 1]]), r"action_mask has dtype float64", id="mask_dtype"
        ),
        pytest.param(
            dict(transitions=[[[0.5, 0.5], [0, 1]], [[0, 1], [0.5, 0.6]]]),
            r"transitions\[1, 1, :\] sums to 1.1",
            id="feasible_row_still_checked",
        ),
    ],
)
def test_invalid_masks_are_rejected_with_their_place(arguments, message):
    values = dict(transitions=PUTERMAN_Q, rewards=[[5, 10], [-1, 2]], discount=0.95) | arguments
    with pytest.raises(InvalidMDPError, match=message):
        tm.FiniteMDP(**values)


def test_an_infeasible_row_may_hold_anything_finite():
    garbage = [[[0.5, 0.5], [0, 1]], [[0, 1], [7, 3]]]  # not a distribution, but infeasible
    mdp = tm.FiniteMDP(garbage, PUTERMAN_R, 0.95)
    assert mdp == tm.FiniteMDP(PUTERMAN_Q, PUTERMAN_R, 0.95)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(
            ([0, 0], [0, 1, 0], [[1, 0]] * 3, [1, 2, 3]),
            r"state_indices has 2 entries but action_indices has 3",
            id="lengths",
        ),
        pytest.param(
            ([0, 0, 1], [0, 0, 0], [[1, 0]] * 3, [1, 2, 3]),
            r"pair \(state 0, action 0\) appears 2 times",
            id="duplicate",
        ),
        pytest.param(
            ([0, 0, 2], [0, 1, 0], [[1, 0]] * 3, [1, 2, 3]),
            r"state_indices\[2\] = 2 is out of range, expected 0..1",
            id="state_range",
        ),
        pytest.param(
            ([0, -1, 1], [0, 1, 0], [[1, 0]] * 3, [1, 2, 3]),
            r"state_indices\[1\] = -1 is negative",
            id="negative",
        ),
        pytest.param(
            ([0, 0, 0], [0, 1, 2], [[1, 0]] * 3, [1, 2, 3]),
            r"state 1 has no feasible action",
            id="state_without_pair",
        ),
        pytest.param(
            ([0, 0, 1], [0, 1, 0], [[1, 0]] * 2, [1, 2, 3]),
            r"transitions has 2 rows but there are 3 state-action pairs",
            id="rows",
        ),
        pytest.param(
            ([0, 0, 1], [0, 1, 0], [[1, 0]] * 3, [1, 2]),
            r"rewards has shape \(2,\), expected \(L,\) = \(3,\)",
            id="rewards",
        ),
    ],
)
def test_state_action_pair_errors_name_what_was_received(arguments, message):
    with pytest.raises(InvalidMDPError, match=message):
        tm.FiniteMDP.from_state_action_pairs(*arguments, discount=0.5)


# ---------------------------------------------------------------------------- policies
def test_policies_live_on_the_feasible_face():
    mdp = tm.FiniteMDP(PUTERMAN_Q, PUTERMAN_R, 0.95)
    assert tm.uniform_policy(mdp).tolist() == [[0.5, 0.5], [1.0, 0.0]]
    exact = mdp.to_exact(limit_denominator=100)
    assert tm.uniform_policy(exact)[1].tolist() == [1, 0]
    for seed in range(5):
        assert tm.random_policy(mdp, seed)[1, 1] == 0
        assert tm.random_policy(exact, seed)[1, 1] == 0
        tm.check_policy(exact, tm.random_policy(exact, seed))
    with pytest.raises(InvalidPolicyError, match=r"policy\[1, 1\] = 0.5 puts mass on an infeas"):
        tm.check_policy(mdp, [[1, 0], [0.5, 0.5]])
    with pytest.raises(InvalidPolicyError, match=r"actions\[1\] = 1 is infeasible in state 1"):
        tm.deterministic_policy(mdp, [0, 1])


def test_greedy_helpers_never_choose_an_infeasible_action():
    q_values = np.array([[1.0, 1.0], [0.0, 5.0]])
    mask = np.array([[False, True], [True, False]])
    assert tm.greedy_actions(q_values, action_mask=mask).tolist() == [1, 0]
    assert tm.greedy_policy(q_values, split_ties=True, action_mask=mask).tolist() == [
        [0, 1],
        [1, 0],
    ]
    with pytest.raises(InvalidParameterError, match="action_mask has a row without"):
        tm.greedy_actions(q_values, action_mask=np.array([[True, True], [False, False]]))


# ---------------------------------------------------------------------------- evaluation
def test_evaluation_reports_neutral_values_at_infeasible_pairs():
    mdp = tm.FiniteMDP(PUTERMAN_Q, PUTERMAN_R, 0.95).to_exact(limit_denominator=100)
    result = tm.evaluate(mdp, tm.deterministic_policy(mdp, [0, 0]))
    assert list(result.values) == PUTERMAN_V
    assert result.q_values[1, 1] == result.values[1] and result.advantages[1, 1] == 0
    # row maxima are those of the feasible actions
    assert tm.bellman_optimality_operator(mdp, result.values)[1] == result.q_values[1, 0]


# ---------------------------------------------------------------------------- solvers
@pytest.mark.parametrize("method", tm.optimal.METHODS)
def test_quantecon_example_with_every_method(method):
    mdp = tm.FiniteMDP(PUTERMAN_Q, PUTERMAN_R, 0.95)
    result = tm.solve(mdp, method=method)
    assert result.converged, result.message
    assert result.actions.tolist() == [0, 0]
    assert np.abs(result.values - np.array(PUTERMAN_V, float)).max() <= result.error_bound + 1e-12


@pytest.mark.parametrize("method", tm.optimal.METHODS)
@pytest.mark.parametrize("exact", [False, True], ids=["float", "exact"])
def test_mixed_patterns_have_the_optimum_of_the_copied_actions_mdp(method, exact):
    masked, copied = _mixed_pattern(exact)
    result = tm.solve(masked, method=method)
    expected = tm.solve(copied).values
    assert result.converged, result.message
    assert masked.action_mask[np.arange(5), result.actions].all()
    assert (
        np.abs(np.asarray(result.values, float) - np.asarray(expected, float)).max()
        <= float(result.error_bound) + 1e-12
    )
    if method == "linear_programming":
        assert np.all(np.asarray(result.occupancy)[~masked.action_mask] == 0)


def test_value_iteration_starting_values_and_policy_iteration_action_vector():
    masked, _ = _mixed_pattern()
    optimum = tm.solve(masked)
    warm = tm.solve(masked, method="value_iteration", initial_values=optimum.values)
    cold = tm.solve(masked, method="value_iteration")
    assert warm.iterations < cold.iterations and warm.converged
    again = tm.solve(masked, initial_policy=optimum.actions)
    assert again.iterations == 0 and again.converged


# ---------------------------------------------------------------------------- mirror steps
ALGORITHMS = {
    "gpi": instances.gpi(),
    "ppo": instances.ppo(),
    "pmd": instances.pmd(1),
    "trpo": instances.trpo("1/100"),
    "ppo_kl_forward": instances.ppo_kl(1),
    "ppo_kl_reverse": instances.ppo_kl(1, reverse=True),
    "trl": instances.trl(),
    "l2_with_kl_ball": MirrorAlgorithm.with_defaults(
        drift=drifts.scaled(drifts.SquaredEuclidean(), 5), neighbourhood=nb.AverageBall("kl", 0.05)
    ),
    "tv_with_kl_ball": MirrorAlgorithm.with_defaults(
        drift=drifts.scaled(drifts.SquaredTV(), 5), neighbourhood=nb.AverageBall("kl", 0.05)
    ),
    "l2_state_ball": MirrorAlgorithm.with_defaults(
        drift=drifts.SquaredEuclidean(), neighbourhood=nb.StateBall("l2", 0.1)
    ),
    "squared_tv": MirrorAlgorithm.with_defaults(drift=drifts.scaled(drifts.SquaredTV(), 3)),
    "slsqp_hellinger": MirrorAlgorithm.with_defaults(drift=drifts.SquaredHellinger()),
}


@pytest.mark.parametrize("name", ALGORITHMS)
def test_a_step_on_the_face_is_the_step_without_the_infeasible_actions(name):
    masked, reduced, kept = _common_pattern()
    rng = np.random.default_rng(0)
    small = rng.dirichlet(np.ones(len(kept)), size=6)
    policy = np.zeros((6, 4))
    policy[:, kept] = small
    step = tm.mirror_step(masked, ALGORITHMS[name], policy)
    oracle = tm.mirror_step(reduced, ALGORITHMS[name], small)
    assert step.status == oracle.status, step.message
    assert np.all(step.policy[:, [1, 3]] == 0)
    assert np.abs(step.policy[:, kept] - oracle.policy).max() <= 1e-9


@pytest.mark.parametrize("name", ["gpi", "ppo", "pmd", "trpo", "squared_tv", "trl"])
def test_steps_on_mixed_faces_are_feasible_and_certified(name):
    masked, _ = _mixed_pattern()
    step = tm.mirror_step(masked, ALGORITHMS[name], tm.uniform_policy(masked))
    assert step.converged, step.message
    assert np.all(step.policy[~masked.action_mask] == 0)
    tm.check_policy(masked, step.policy)


@pytest.mark.parametrize("steps", [1, 5])
@pytest.mark.parametrize("parametrisation", ["softmax", "projected"])
def test_inexact_steps_stay_on_the_face(steps, parametrisation):
    masked, _ = _mixed_pattern()
    step = tm.inexact_step(
        masked, ALGORITHMS["pmd"], tm.uniform_policy(masked), steps, parametrisation=parametrisation
    )
    assert np.all(step.policy[~masked.action_mask] == 0)


def test_exact_rational_steps_on_faces():
    masked, _ = _mixed_pattern(exact=True)
    for name in ("gpi", "ppo", "squared_tv"):
        step = tm.mirror_step(masked, ALGORITHMS[name], tm.uniform_policy(masked))
        assert step.certificate.kind == "exact" and step.converged
        assert all(v == 0 for v in step.policy[~masked.action_mask])


def test_a_step_with_mass_on_an_infeasible_action_fails_reverification():
    masked, _ = _mixed_pattern()

    def leaky(algorithm, context):
        candidate = np.full(context.policy.shape, 1 / 3)
        return candidate

    step = tm.mirror_step(masked, ALGORITHMS["gpi"], tm.uniform_policy(masked), solver=leaky)
    assert step.status == "not_certified"
    assert "infeasible action" in step.message


def test_reverse_kl_needs_support_on_the_feasible_face_only():
    masked, _ = _mixed_pattern()
    step = tm.mirror_step(masked, ALGORITHMS["pmd"], tm.uniform_policy(masked))
    assert step.converged
    with pytest.raises(InvalidParameterError, match=r"policy\[0, 1\] = 0"):
        tm.mirror_step(masked, ALGORITHMS["pmd"], tm.deterministic_policy(masked, [0] * 5))


def test_mirror_learning_and_its_checks_on_an_mdp_with_infeasible_actions():
    masked, copied = _mixed_pattern(exact=True)
    trace = tm.mirror_learning(masked, instances.gpi(), tm.uniform_policy(masked), 10)
    assert trace.stop_reason == "optimal"
    assert list(trace.values[-1]) == list(tm.solve(copied).values)
    report = proofs_check.check_trace(trace)
    assert report.passed, report.summary()
    float_masked = masked.to_float()
    ppo = proofs_check.check_fundamental_theorem(
        float_masked, instances.ppo(), tm.uniform_policy(float_masked), 6
    )
    assert ppo.passed, ppo.summary()


def test_definition_checks_sample_on_the_face():
    masked, _ = _mixed_pattern()
    for candidate in proofs_check.definitions.random_policies(masked, 12, seed=0):
        tm.check_policy(masked, candidate)
    report = proofs_check.check_drift(drifts.ForwardKL(), masked)
    assert report.passed, report.summary()


# ---------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("exact", [False, True], ids=["float", "exact"])
def test_the_mask_survives_pickling_files_traces_and_witnesses(exact, tmp_path):
    masked, _ = _mixed_pattern(exact)
    assert pickle.loads(pickle.dumps(masked)) == masked
    assert mdps.load(mdps.save(masked, tmp_path / "mdp")) == masked
    assert rebuild_mdp(proofs_check.verdicts.mdp_witness(masked)) == masked
    trace = tm.mirror_learning(masked, instances.gpi(), tm.uniform_policy(masked), 2)
    loaded = tm.load_trace(tm.save_trace(trace, tmp_path / "trace"))
    assert loaded.mdp == masked
    if not exact:
        assert masked.to_sparse().to_dense() == masked
        assert mdps.load(mdps.save(masked.to_sparse(), tmp_path / "sparse")) == masked.to_sparse()
    else:
        assert masked.to_float().to_exact(limit_denominator=1000) == masked


def test_the_csv_table_has_no_rows_for_infeasible_pairs(tmp_path):
    masked, _ = _mixed_pattern(exact=True)
    path = mdps.to_csv(masked, tmp_path / "masked.csv")
    read = mdps.from_csv(path, discount="9/10", missing_pairs="infeasible")
    assert read == masked
    with pytest.raises(InvalidMDPError, match="sums to 0"):
        mdps.from_csv(path, discount="9/10")


def test_an_mdp_without_infeasible_actions_stores_no_mask():
    mdp = mdps.small()
    assert not mdp.has_infeasible_actions and mdp.action_mask.all()
    assert "infeasible" not in repr(mdp)


def test_the_batched_engine_refuses_infeasible_actions():
    from tabular_mirror.batch import MDPBatch

    masked, _ = _mixed_pattern()
    with pytest.raises(InvalidParameterError, match="infeasible actions"):
        MDPBatch.from_mdps([masked])
