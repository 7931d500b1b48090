"""Regression: the trust-region (TRL) step returned NaN rows once a state's policy became nearly
deterministic: the per-state KL-ball solver computed mu - A_a as (max A + offset) - A_a, and an
offset below the rounding of max A cancelled to 0 (division by zero, then 0/0). Found by the
engine test suite with a fixed coefficient C = 1 on a random 3-state, 2-action MDP."""

import warnings

import numpy as np

import tabular_mirror as tm
from tabular_mirror import instances


def test_trl_stays_finite_and_improves_near_a_deterministic_policy():
    rng = np.random.default_rng(8)
    mdp = tm.FiniteMDP(rng.dirichlet(np.ones(3), size=(3, 2)), rng.uniform(size=(3, 2)), 0.5)
    policy = rng.dirichlet(np.ones(2), 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        trace = tm.mirror_learning(mdp, instances.trl(1.0), policy, 8, optimum=False)
    assert np.all(np.isfinite(trace.policies)), trace.policies
    assert np.all(np.diff(trace.returns) >= -1e-12), trace.returns
    assert trace.all_certified, [c.detail for c in trace.certificates]
