"""tabular_mirror.batch against the per-MDP path, member by member, within certified bounds.

Oracles: the per-MDP engine (``tm.evaluate``, ``tm.solve``, ``tm.mirror_step``,
``tm.inexact_step``, ``tm.mirror_learning``) on ``batch.mdp(b)``, and exact rational
evaluation of the same member (``claims.exact_member``) for the certificates themselves.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import replace

import numpy as np
import pytest

import mdps
import tabular_mirror as tm
from tabular_mirror import batch as tb
from tabular_mirror.batch.claims import exact_member
from tabular_mirror.specs import make_algorithm

SIZE = 24


@pytest.fixture(scope="module")
def batch():
    return mdps.garnet_batch(SIZE, 4, 3, 2, seed=7)


@pytest.fixture(scope="module")
def policies(batch):
    return tb.random_policies(batch, 3)


# ---------------------------------------------------------------------------- the model
def test_members_round_trip(batch):
    again = tb.MDPBatch.from_mdps([batch.mdp(b) for b in range(batch.size)])
    assert np.array_equal(again.transitions, batch.transitions)
    assert np.array_equal(again.rewards, batch.rewards)
    assert np.array_equal(again.discount, batch.discount)
    assert batch.take([3, 1]).mdp(1) == batch.mdp(1)
    assert batch.member_provenance(5)["index"] == 5
    restored = pickle.loads(pickle.dumps(batch))
    assert np.array_equal(restored.transitions, batch.transitions)
    assert restored.provenance == batch.provenance


def _bad(**changes):
    good = mdps.garnet_batch(3, 2, 2, 1, seed=0)
    arrays = {
        "transitions": np.array(good.transitions),
        "rewards": np.array(good.rewards),
        "discount": np.array(good.discount),
        "initial": np.array(good.initial),
    }
    for name, edit in changes.items():
        edit(arrays[name])
    return arrays


def _set(index, value):
    def edit(array):
        array[index] = value

    return edit


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (_bad(transitions=_set((1, 0, 1), [0.5, 0.48])), r"transitions\[1, 0, 1, :\] sums to 0.98"),
        (_bad(transitions=_set((2, 1, 0), [1.5, -0.5])), r"transitions\[2, 1, 0, 0\]|>= 0"),
        (_bad(rewards=_set((0, 1, 1), np.nan)), r"rewards\[0, 1, 1\] is nan"),
        (_bad(discount=_set(2, 1.0)), r"discount\[2\] = 1.0"),
        (_bad(initial=_set((1, 0), 0.7)), r"initial\[1, :\] sums to 1.2"),
    ],
    ids=["row-sum", "negative", "nan-reward", "discount", "initial"],
)
def test_invalid_batches_name_the_member(arrays, message):
    with pytest.raises(tm.InvalidMDPError, match=message):
        tb.MDPBatch(**arrays)


def test_policies_are_checked(batch):
    bad = tb.uniform_policies(batch)
    bad[4, 2] = [0.5, 0.5, 0.5]
    with pytest.raises(tm.InvalidPolicyError, match=r"policy\[4, 2, :\] sums to 1.5"):
        tb.evaluate_batch(batch, bad)


def test_make_batch_is_reproducible_and_records_provenance():
    first = mdps.make_batch("garnet:S=4,A=2,b=2", 10, seed=3, discount=0.95)
    second = mdps.make_batch("garnet:S=4,A=2,b=2", 10, seed=3, discount=0.95)
    assert np.array_equal(first.transitions, second.transitions)
    assert first.provenance == {"spec": "garnet:S=4,A=2,b=2", "seed": 3, "size": 10}
    assert np.all(first.discount == 0.95)
    assert np.all((first.transitions > 0).sum(axis=3) == 2)
    chain = mdps.make_batch("riverswim:n=4", 3)
    assert chain.mdp(2) == mdps.make("riverswim:n=4").to_float()
    exact = mdps.make_batch("random-exact:S=3,A=2", 4, seed=1)
    assert exact.size == 4 and not np.array_equal(exact.rewards[0], exact.rewards[1])
    with pytest.raises(tm.InvalidParameterError, match="seed"):
        mdps.make_batch("garnet:S=4,A=2,b=2,seed=1", 3)
    with pytest.raises(tm.InvalidParameterError, match="no parameter"):
        mdps.make_batch("garnet:S=4,A=2,b=2,colour=3", 3)


# ---------------------------------------------------------------------------- evaluation
def test_evaluation_agrees_with_the_per_mdp_path(batch, policies):
    result = tb.evaluate_batch(batch, policies)
    assert result.converged.all()
    for b in range(batch.size):
        single = tm.evaluate(batch.mdp(b), policies[b])
        allowed = single.error_bound + result.error_bound[b]
        assert np.abs(single.values - result.values[b]).max() <= allowed
        assert abs(single.expected_return - result.expected_return[b]) <= allowed
        assert np.abs(single.advantages - result.advantages[b]).max() <= 2 * allowed
        visitation = single.visitation_error_bound + result.visitation_error_bound[b]
        assert np.abs(single.visitation - result.visitation[b]).sum() <= visitation


def test_evaluation_bounds_hold_against_exact_arithmetic(batch, policies):
    result = tb.evaluate_batch(batch, policies)
    for b in (0, 7):
        mdp = exact_member(batch, b)
        policy = tm.float_to_fraction_array(policies[b])
        policy = policy / np.asarray(policy.sum(axis=1), dtype=object)[:, None]
        exact = tm.evaluate(mdp, policy)
        error = np.abs(np.asarray(exact.values, dtype=float) - result.values[b]).max()
        assert error <= result.error_bound[b] + 1e-15  # rows renormalised: ~1e-16 apart
        mass = np.abs(np.asarray(exact.visitation, dtype=float) - result.visitation[b]).sum()
        assert mass <= result.visitation_error_bound[b] + 1e-14


def test_policy_iteration_agrees_with_the_per_mdp_solver(batch):
    optimum = tb.solve_batch(batch)
    assert optimum.converged.all()
    for b in range(batch.size):
        single = tm.solve(batch.mdp(b), method="policy_iteration")
        allowed = single.error_bound + optimum.error_bound[b] + 1e-12
        assert np.abs(single.values - optimum.values[b]).max() <= allowed


# ---------------------------------------------------------------------------- steps
SPECS = [
    "gpi",
    "pmd:step=1",
    "ppo:epsilon=0.2",
    "ppo_kl:tau=1",
    "ppo_kl:tau=0.5,reverse=true",
    "trpo:delta=0.01",
    "paper:drift=squared_l2,neighbourhood=drift_ball,radius=0.001",
    "paper:drift=squared_tv,neighbourhood=drift_ball,radius=0.001",
    "paper:drift=forward_kl,neighbourhood=kl_ball",
    "paper:drift=squared_l2,neighbourhood=kl_ball",
]

#: Families whose argmax is unique (strictly concave objective): the policies must agree too.
UNIQUE = ("pmd", "ppo_kl", "trpo", "paper")


@pytest.mark.parametrize("spec", SPECS, ids=SPECS)
def test_steps_agree_with_the_per_mdp_path(batch, policies, spec):
    algorithm = make_algorithm(spec)
    step = tb.mirror_step_batch(batch, spec, policies)
    assert step.certified.all(), (step.kind, step.bound)
    for b in range(0, batch.size, 3):
        single = tm.mirror_step(batch.mdp(b), algorithm, policies[b])
        assert single.converged, single.message
        allowed = float(single.certificate.bound) + step.bound[b] + 1e-12
        assert abs(float(single.objective) - step.objective[b]) <= allowed
        if spec.startswith(UNIQUE):
            assert np.abs(single.policy - step.policy[b]).max() <= 1e-6
        else:  # the same tie rule on the same rows: the same maximiser
            assert np.abs(single.policy - step.policy[b]).max() <= 1e-12
        assert np.abs(single.mirror_values - step.mirror_values[b]).max() <= 1e-6


def test_inexact_steps_agree_with_the_per_mdp_path(batch, policies):
    algorithm = make_algorithm("ppo:epsilon=0.2")
    for parametrisation in ("softmax", "projected"):
        step = tb.inexact_step_batch(
            batch, algorithm, policies, 3, learning_rate=2.0, parametrisation=parametrisation
        )
        assert set(step.kind) == {"inexact"} and not step.certified.any()
        for b in range(0, batch.size, 5):
            single = tm.inexact_step(
                batch.mdp(b), algorithm, policies[b], 3, learning_rate=2.0,
                parametrisation=parametrisation,
            )  # fmt: skip
            assert np.abs(single.policy - step.policy[b]).max() <= 1e-12
            assert abs(float(single.certificate.bound) - step.bound[b]) <= 1e-9


def test_unsupported_pieces_are_refused_before_running(batch, policies):
    with pytest.raises(tm.InvalidParameterError, match="batched engine cannot run"):
        tb.mirror_step_batch(batch, "trl", policies)
    with pytest.raises(tm.InvalidParameterError, match="batched engine cannot run"):
        tb.mirror_learning_batch(batch, "trl", policies, 3)


def test_reverse_kl_needs_an_interior_policy(batch):
    policy = tb.uniform_policies(batch)
    policy[2, 1] = [1.0, 0.0, 0.0]
    with pytest.raises(tm.InvalidParameterError, match=r"policy\[2, 1, 1\] = 0"):
        tb.mirror_step_batch(batch, "pmd:step=1", policy)


# ---------------------------------------------------------------------------- runs
@pytest.mark.parametrize("spec", ["gpi", "pmd:step=1", "ppo:epsilon=0.2"], ids=str)
def test_runs_agree_with_the_per_mdp_path(batch, policies, spec):
    trace = tb.mirror_learning_batch(batch, spec, policies, 8)
    algorithm = make_algorithm(spec)
    for b in range(0, batch.size, 4):
        single = tm.mirror_learning(batch.mdp(b), algorithm, policies[b], 8)
        taken = int(trace.iterations_run[b])
        if trace.stop_reason[b] == "fixed_point":  # the per-MDP run stays at the fixed point
            assert single.iterations >= taken
        else:
            assert single.iterations == taken
        for n in range(taken + 1):
            allowed = 1e-8 * max(1.0, np.abs(single.values[n]).max())
            assert np.abs(single.values[n] - trace.values[n, b]).max() <= allowed
        assert np.isnan(trace.values[taken + 1 :, b]).all()


def test_claims_pass_on_the_exact_instances(batch, policies):
    for spec in ("gpi", "pmd:step=1", "trpo:delta=0.05"):
        claims = tb.check_batch(tb.mirror_learning_batch(batch, spec, policies, 10))
        for name in ("lemma_3_5", "lemma_3_3", "inequality_13"):
            assert set(claims.outcome[name]) == {"passed"}, (spec, name)
        assert "failed" not in set(claims.outcome["convergence"])


@pytest.fixture(scope="module")
def gpi_trace(batch, policies):
    return tb.mirror_learning_batch(batch, "gpi", policies, 6)


def test_negative_control_lemma_3_3_fails_with_the_planted_margin(gpi_trace):
    values = np.array(gpi_trace.values)
    b, s = 5, 2
    slack = values[1, b, s] - values[0, b, s]
    values[1, b, s] -= slack + 0.25  # V_1(s) = V_0(s) - 0.25 at one state
    claims = tb.check_batch(replace(gpi_trace, values=values))
    assert claims.outcome["lemma_3_3"][b] == "failed"
    assert claims.margin["lemma_3_3"][b] == pytest.approx(-0.25, abs=1e-12)
    assert (claims.worst_iteration["lemma_3_3"][b], claims.worst_state["lemma_3_3"][b]) == (0, s)
    others = np.delete(np.arange(gpi_trace.size), b)
    assert set(claims.outcome["lemma_3_3"][others]) == {"passed"}
    witness = json.loads(claims.witnesses()[b])
    assert witness["batch_claim"] in ("lemma_3_5", "lemma_3_3")
    assert set(witness) >= {"mdp", "policy0", "algorithm", "iteration", "options", "claim"}
    assert witness["algorithm"] == "gpi" and witness["mdp"]["provenance"]["index"] == b


def test_uncertified_violation_is_inconclusive_and_nan_never_fails(gpi_trace):
    values = np.array(gpi_trace.values)
    values[1, 3, 0] = values[0, 3, 0] - 1.0
    certified = np.array(gpi_trace.certified)
    certified[0, 3] = False
    bounds = np.array(gpi_trace.bounds)
    bounds[0, 3] = np.nan  # no valid gap bound
    claims = tb.check_batch(replace(gpi_trace, values=values, certified=certified, bounds=bounds))
    assert claims.outcome["lemma_3_3"][3] == "inconclusive"
    values = np.array(gpi_trace.values)
    values[1, 4, 1] = np.nan
    claims = tb.check_batch(replace(gpi_trace, values=values))
    assert claims.outcome["lemma_3_3"][4] == "inconclusive"


def test_uncertified_step_with_a_bound_fails_only_beyond_it(gpi_trace):
    values = np.array(gpi_trace.values)
    certified = np.array(gpi_trace.certified)
    bounds = np.array(gpi_trace.bounds)
    b = 6
    certified[0, b] = False
    bounds[0, b] = 0.1 * gpi_trace.sampling_min[0, b] * (1 - gpi_trace.batch.discount[b])
    for drop, expected in ((0.05, "inconclusive"), (0.2, "failed")):
        planted = np.array(values)
        planted[1, b, 0] = planted[0, b, 0] - drop
        claims = tb.check_batch(replace(gpi_trace, values=planted, certified=certified,
                                        bounds=bounds))  # fmt: skip
        assert claims.outcome["lemma_3_3"][b] == expected, drop


def test_inexact_violations_are_decided(batch, policies):
    trace = tb.mirror_learning_batch(
        batch, "ppo:epsilon=0.2", policies, 3, inexact={"steps": 2, "learning_rate": 1.0}
    )
    values = np.array(trace.values)
    values[1, 0, 0] = values[0, 0, 0] - 0.01
    claims = tb.check_batch(replace(trace, values=values))
    assert claims.outcome["lemma_3_3"][0] == "failed"


def test_exact_ppo_stalls_are_decided_and_replay_on_the_per_mdp_path():
    stalls = mdps.garnet_batch(60, 5, 3, 2, seed=1)
    start = tb.random_policies(stalls, 2)
    trace = tb.mirror_learning_batch(stalls, "ppo:epsilon=0.2", start, 20)
    claims = tb.check_batch(trace)
    failed = np.flatnonzero(claims.outcome["convergence"] == "failed")
    assert failed.size, "the generator no longer produces PPO boundary stalls"
    assert all(claims.stall_confirmed[b] is True for b in failed)
    assert set(claims.outcome["convergence"][~claims.stalled]) <= {"passed", "inconclusive"}
    witness = json.loads(claims.witnesses()[failed[0]])
    assert witness["batch_claim"] == "convergence" and witness["algorithm"] == "ppo:epsilon=0.2"
    assert witness["claim"] == "theorem_3_6_3_return_convergence"
    mdp = tm.FiniteMDP(
        witness["mdp"]["transitions"], witness["mdp"]["rewards"], witness["mdp"]["discount"],
        witness["mdp"]["initial"], exact=False,
    )  # fmt: skip
    single = tm.mirror_learning(mdp, make_algorithm(witness["algorithm"]), witness["policy0"], 20)
    assert single.stop_reason == "iterations"  # the per-MDP run stays at the fixed point
    assert np.abs(single.policies[-1] - trace.final_policy[failed[0]]).max() <= 1e-9
    gap = float(single.optimal_return - single.returns[-1])
    assert gap == pytest.approx(claims.final_gap[failed[0]], abs=1e-9)


def test_inexact_monotonicity_failures_replay_in_proofs_check():
    proofs_check = pytest.importorskip("proofs_check")
    if not hasattr(proofs_check, "replay"):
        pytest.skip("proofs_check.replay is not available")
    runs = mdps.garnet_batch(150, 5, 3, 2, seed=7)
    inexact = {"steps": 2, "learning_rate": 3.0, "parametrisation": "projected"}
    trace = tb.mirror_learning_batch(runs, "ppo:epsilon=0.2", tb.random_policies(runs, 2), 10,
                                     inexact=inexact)  # fmt: skip
    claims = tb.check_batch(trace)
    # decreases beyond proofs_check's (coarser) tolerance, 2 x 1e-10 x the value scale. Not
    # every such run replays: projected steps that reach the simplex boundary amplify rounding
    # differences between the batched and the per-MDP evaluation (pi = 7e-17 against pi = 0
    # moves PPO's clip region), so the runs of this seed are ones that stay identical.
    margins = np.where(claims.outcome["lemma_3_3"] == "failed", claims.margin["lemma_3_3"], 0)
    assert margins.min() < -1e-6, "large inexact PPO steps no longer decrease a value here"
    witness = claims.witness(int(np.argmin(margins)), "lemma_3_3")
    verdict = proofs_check.replay(json.loads(json.dumps(witness)))
    assert verdict.name == "lemma_3_3_monotone_values"
    assert verdict.outcome == "failed"
    assert float(verdict.margin) == pytest.approx(witness["margin"], rel=1e-6)
    assert verdict.worst_iteration == witness["iteration"]
