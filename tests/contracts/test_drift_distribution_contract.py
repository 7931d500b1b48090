"""Drift distributions nu: (S,) distributions; ``depends_on_candidate`` tells the truth; bad
fixed distributions raise. Local builders stand in for ``proofs_check.strategies``."""

from __future__ import annotations

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import drift_distributions as dd
from tabular_mirror import drifts
from tabular_mirror.algorithm import MirrorAlgorithm, make_context, state_drift
from tabular_mirror.errors import InvalidParameterError
from tabular_mirror.sampling import UniformSampling, VisitationSampling


def random_mdp(seed: int, num_states: int = 4, num_actions: int = 3) -> tm.FiniteMDP:
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.ones(num_states), size=(num_states, num_actions))
    return tm.FiniteMDP(transitions, rng.normal(size=(num_states, num_actions)), 0.9)


DISTRIBUTIONS = {
    "same_as_sampling": dd.SameAsSampling(),
    "fixed": dd.FixedDrift((0.25, 0.25, 0.5, 0.0)),
    "old_visitation": dd.OldVisitation(),
    "candidate_visitation": dd.CandidateVisitation(),
    "max_drift_state": dd.MaxDriftState(),
}
NAMES = list(DISTRIBUTIONS)


@pytest.mark.parametrize("sampling", [UniformSampling(), VisitationSampling()], ids=str)
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_weights_are_a_distribution(name, sampling):
    mdp = random_mdp(0)
    rng = np.random.default_rng(1)
    nu = DISTRIBUTIONS[name]
    algorithm = MirrorAlgorithm(drifts.SquaredEuclidean(), nu, tm_everything(), sampling)
    policy = tm.random_policy(mdp, rng)
    context = make_context(mdp, algorithm, policy)
    for _ in range(5):
        candidate = tm.random_policy(mdp, rng)
        values, weights = state_drift(algorithm, context, candidate)
        assert weights.shape == (mdp.num_states,), f"{nu!r}: shape {weights.shape}"
        assert np.all(weights >= 0), f"{nu!r}: {weights}"
        assert abs(float(np.sum(weights)) - 1) <= 1e-12, f"{nu!r}: sums to {np.sum(weights)}"
        assert values.shape == (mdp.num_states,)


def tm_everything():
    from tabular_mirror.neighbourhoods import Everything

    return Everything()


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_depends_on_candidate_flag_is_truthful(name):
    mdp = random_mdp(2)
    rng = np.random.default_rng(3)
    nu = DISTRIBUTIONS[name]
    algorithm = MirrorAlgorithm(drifts.SquaredEuclidean(), nu, tm_everything(), UniformSampling())
    context = make_context(mdp, algorithm, tm.random_policy(mdp, rng))
    weights = [
        np.asarray(state_drift(algorithm, context, tm.random_policy(mdp, rng))[1], dtype=float)
        for _ in range(10)
    ]
    varies = any(not np.allclose(w, weights[0], rtol=0, atol=1e-14) for w in weights)
    assert varies == nu.depends_on_candidate, (
        f"{nu!r}: depends_on_candidate={nu.depends_on_candidate} but weights vary: {varies}"
    )


def test_max_drift_state_is_the_argmax_lowest_index_on_ties():
    mdp = random_mdp(0)
    algorithm = MirrorAlgorithm(
        drifts.SquaredEuclidean(), dd.MaxDriftState(), tm_everything(), UniformSampling()
    )
    policy = tm.uniform_policy(mdp)
    context = make_context(mdp, algorithm, policy)
    candidate = policy.copy()
    candidate[1] = [1.0, 0.0, 0.0]
    candidate[3] = [0.0, 0.0, 1.0]  # same drift as state 1: the tie goes to state 1
    _, weights = state_drift(algorithm, context, candidate)
    np.testing.assert_array_equal(weights, [0, 1, 0, 0])


@pytest.mark.parametrize(
    ("distribution", "needle"),
    [((0.5, 0.6, 0.0, -0.1), r"\[3\]"), ((0.5, 0.4, 0.0, 0.0), "sums to"), ((1.0,), "shape")],
    ids=["negative", "not_summing_to_1", "wrong_size"],
)
def test_bad_fixed_distribution_raises(distribution, needle):
    # a negative entry or a wrong total is caught when nu is built; a wrong size (S is only
    # known then) when it meets the MDP
    mdp = random_mdp(0)
    with pytest.raises(InvalidParameterError, match=needle):
        algorithm = MirrorAlgorithm(
            drifts.SquaredEuclidean(),
            dd.FixedDrift(distribution),
            tm_everything(),
            UniformSampling(),
        )
        tm.mirror_step(mdp, algorithm, tm.uniform_policy(mdp))


@pytest.mark.parametrize("distribution", [(0.5, 0.6), (0.5, -0.1, 0.6), ("a", "b"), 3], ids=str)
def test_bad_fixed_distribution_raises_at_construction(distribution):
    with pytest.raises(InvalidParameterError, match="drift distribution"):
        dd.FixedDrift(distribution)
