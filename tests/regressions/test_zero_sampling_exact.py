"""Regression: an exact MDP with a zero in the sampling distribution (used by the
counterexample search) crashed with ZeroDivisionError: Fraction(0, 0) in nu/beta; the float
path gave NaN warnings. Now 0/0 = 0 (a state neither sampled nor charged is free) and
nu/0 = inf (charged but never sampled: it stays)."""

from fractions import Fraction

import numpy as np

import tabular_mirror as tm
from tabular_mirror.drift_distributions import FixedDrift, SameAsSampling
from tabular_mirror.drifts import SquaredEuclidean, ZeroDrift
from tabular_mirror.neighbourhoods import Everything
from tabular_mirror.sampling import FixedSampling


def small_exact_mdp():
    return tm.FiniteMDP(
        [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
    )


def test_exact_gpi_with_an_unsampled_state_is_exact():
    mdp = small_exact_mdp()
    algorithm = tm.MirrorAlgorithm(
        ZeroDrift(), SameAsSampling(), Everything(), FixedSampling((1, 0), allow_zero=True)
    )
    step = tm.mirror_step(mdp, algorithm, tm.uniform_policy(mdp))
    assert all(isinstance(v, Fraction) for v in step.policy.ravel())
    assert step.converged, step.message


def test_an_unsampled_state_that_pays_drift_stays():
    mdp = small_exact_mdp()
    policy = tm.uniform_policy(mdp)
    algorithm = tm.MirrorAlgorithm(
        SquaredEuclidean(),
        FixedDrift(("1/2", "1/2")),
        Everything(),
        FixedSampling((1, 0), allow_zero=True),
    )
    step = tm.mirror_step(mdp, algorithm, policy)
    assert np.array_equal(step.policy[1], policy[1])
    assert step.mirror_values[1] == step.evaluation.values[1]
