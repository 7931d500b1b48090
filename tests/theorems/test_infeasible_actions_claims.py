"""The paper's claims on MDPs with infeasible actions: every per-step claim and convergence,
checked by ``proofs_check.check_trace`` on random MDPs whose states allow different actions.

Each state's policy lives on the face of its feasible actions; the theory applies unchanged on
the product of those faces (a smaller simplex per state), so every claim must pass (float
runs) or pass exactly (exact GPI), and no iterate may put mass on an infeasible action.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import proofs_check
import tabular_mirror as tm
from tabular_mirror import instances


@st.composite
def masked_problems(draw, exact: bool = False):
    """(MDP with a random action mask, policy uniform on the feasible faces)."""
    num_states = draw(st.integers(1, 4))
    num_actions = draw(st.integers(2, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    mask = rng.random((num_states, num_actions)) < 0.6
    mask[np.arange(num_states), rng.integers(num_actions, size=num_states)] = True
    if exact:
        counts = rng.integers(0, 4, size=(num_states, num_actions, num_states))
        counts[..., 0] += counts.sum(axis=2) == 0
        transitions = [[[f"{c}/{row.sum()}" for c in row] for row in block] for block in counts]
        rewards = [[f"{int(v)}/2" for v in row] for row in rng.integers(-4, 5, mask.shape)]
        mdp = tm.FiniteMDP(transitions, rewards, "3/4", action_mask=mask)
    else:
        transitions = rng.dirichlet(np.full(num_states, 0.5), size=(num_states, num_actions))
        mdp = tm.FiniteMDP(transitions, rng.normal(size=mask.shape), 0.9, action_mask=mask)
    return mdp


ALGORITHMS = {
    "gpi": instances.gpi(),
    "ppo": instances.ppo(),
    "pmd": instances.pmd(1),
    "trpo": instances.trpo(0.05),
}


@settings(max_examples=15, deadline=None)
@given(masked_problems(), st.sampled_from(sorted(ALGORITHMS)))
def test_every_claim_holds_on_the_feasible_faces(mdp, name):
    trace = tm.mirror_learning(mdp, ALGORITHMS[name], tm.uniform_policy(mdp), 8)
    for policy in trace.policies:
        assert np.all(np.asarray(policy)[~mdp.action_mask] == 0)
    report = proofs_check.check_trace(trace)
    failed = [v for v in report.verdicts if v.failed]
    assert not failed, report.summary()


@settings(max_examples=10, deadline=None)
@given(masked_problems(exact=True))
def test_exact_gpi_reaches_the_optimum_on_the_feasible_faces(mdp):
    trace = tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 20)
    assert trace.stop_reason == "optimal"
    assert list(trace.values[-1]) == list(tm.solve(mdp).values)
    report = proofs_check.check_trace(trace)
    assert report.passed, report.summary()
