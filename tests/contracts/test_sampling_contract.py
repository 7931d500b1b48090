"""Sampling distributions beta_pi: positive, sum to 1, shape (S,); bad ones raise; an algorithm
missing a piece raises. Local builders stand in for ``proofs_check.strategies``."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import drifts, instances
from tabular_mirror import sampling as sm
from tabular_mirror.algorithm import MirrorAlgorithm, make_context
from tabular_mirror.drift_distributions import SameAsSampling
from tabular_mirror.errors import InvalidParameterError
from tabular_mirror.neighbourhoods import Everything


def random_mdp(seed: int, num_states: int = 4, num_actions: int = 3, exact: bool = False):
    """Rows and d with integer weights over their sum: exact Fractions or their floats."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 10, size=(num_states, num_actions, num_states))
    transitions = [
        [[Fraction(int(c), int(row.sum())) for c in row] for row in block] for block in counts
    ]
    weights = rng.integers(1, 10, size=num_states)
    initial = [Fraction(int(w), int(weights.sum())) for w in weights]
    rewards = [[Fraction(int(v), 4) for v in row] for row in rng.integers(-8, 9, (num_states, 3))]
    mdp = tm.FiniteMDP(transitions, rewards, "9/10", initial)
    return mdp if exact else mdp.to_float()


SAMPLINGS = {
    "uniform": sm.UniformSampling(),
    "initial": sm.InitialSampling(),
    "visitation": sm.VisitationSampling(),
    "fixed_float": sm.FixedSampling((0.1, 0.2, 0.3, 0.4)),
    "fixed_fraction": sm.FixedSampling((Fraction(1, 8), Fraction(1, 8), Fraction(1, 4), "1/2")),
}


@pytest.mark.parametrize("exact", [False, True], ids=["float", "exact"])
@pytest.mark.parametrize("name", list(SAMPLINGS), ids=list(SAMPLINGS))
@pytest.mark.parametrize("seed", [0, 1], ids=["seed0", "seed1"])
def test_weights_positive_and_sum_to_one(name, exact, seed):
    mdp = random_mdp(seed, exact=exact)
    sampling = SAMPLINGS[name]
    if exact and name == "fixed_float":
        # 0.1 + 0.2 + 0.3 + 0.4 is not exactly 1 as binary fractions: refused, not rounded
        with pytest.raises(InvalidParameterError, match="sums to"):
            tm.mirror_step(mdp, tm.instances.gpi(sampling), tm.uniform_policy(mdp))
        return
    policy = tm.uniform_policy(mdp)
    context = make_context(mdp, MirrorAlgorithm.with_defaults(sampling=sampling), policy)
    weights = sampling.weights(context)
    assert weights.shape == (mdp.num_states,), f"{sampling!r}: shape {weights.shape}"
    assert all(w > 0 for w in weights), f"{sampling!r}: {weights}"
    if exact:
        assert all(isinstance(w, Fraction) for w in weights), f"{sampling!r}: {weights}"
        assert sum(weights) == 1, f"{sampling!r}: sums to {sum(weights)}"
    else:
        assert abs(float(np.sum(weights)) - 1) <= 1e-12, f"{sampling!r}: {weights}"


def test_visitation_follows_the_policy():
    mdp = random_mdp(3)
    algorithm = MirrorAlgorithm.with_defaults(sampling=sm.VisitationSampling())
    for seed in range(3):
        policy = tm.random_policy(mdp, seed)
        weights = make_context(mdp, algorithm, policy).sampling_weights
        np.testing.assert_allclose(
            weights, tm.evaluate(mdp, policy).normalized_visitation, rtol=1e-12
        )


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: sm.FixedSampling((0.5, 0.5, 0.0)), r"\[2\] = 0"),
        (lambda: sm.FixedSampling((0.5, 0.4)), "sums to"),
        (lambda: sm.FixedSampling((0.5, 0.6, -0.1)), r"\[2\]"),
        (lambda: sm.FixedSampling(("1/2", "1/3")), "sums to"),
        (lambda: sm.FixedSampling(((0.5, 0.5),)), "not a sequence of numbers"),
        (lambda: sm.FixedSampling((np.nan, 1.0)), "(?i)nan"),
        (lambda: sm.check_distribution([0.2, 0.8], "beta", 3), "shape"),
        (lambda: sm.FixedSampling(("1/2", "abc")), "not a sequence of numbers"),
    ],
    ids=[
        "zero",
        "not_summing_to_1",
        "negative",
        "exact_not_summing",
        "2d",
        "nan",
        "size",
        "not_a_number",
    ],
)
def test_bad_sampling_raises(build, needle):
    with pytest.raises(InvalidParameterError, match=needle):
        build()


def test_zero_allowed_only_on_request():
    sampling = sm.FixedSampling((0.5, 0.5, 0.0), allow_zero=True)
    assert sampling.allow_zero


def test_wrong_size_for_the_mdp_raises_at_the_step():
    mdp = random_mdp(0)
    algorithm = instances.gpi(sm.FixedSampling((0.5, 0.5)))
    with pytest.raises(InvalidParameterError, match="shape"):
        tm.mirror_step(mdp, algorithm, tm.uniform_policy(mdp))


def test_initial_sampling_with_a_zero_raises():
    mdp = tm.FiniteMDP(
        np.full((3, 2, 3), 1 / 3), np.arange(6.0).reshape(3, 2), 0.5, [0.5, 0.5, 0.0]
    )
    with pytest.raises(InvalidParameterError, match="positive"):
        tm.mirror_step(mdp, instances.gpi(sm.InitialSampling()), tm.uniform_policy(mdp))


@pytest.mark.parametrize(
    "missing", ["drift", "drift_distribution", "neighbourhood", "sampling"], ids=str
)
def test_algorithm_missing_a_piece_raises(missing):
    pieces = {
        "drift": drifts.ZeroDrift(),
        "drift_distribution": SameAsSampling(),
        "neighbourhood": Everything(),
        "sampling": sm.UniformSampling(),
    }
    pieces[missing] = None
    with pytest.raises(InvalidParameterError, match=missing):
        MirrorAlgorithm(**pieces, name="incomplete")


def test_algorithm_with_a_wrong_piece_raises():
    with pytest.raises(InvalidParameterError, match="is not a Sampling"):
        MirrorAlgorithm(drifts.ZeroDrift(), SameAsSampling(), Everything(), "uniform")


def test_step_rejects_what_is_not_an_algorithm_and_unknown_choices():
    mdp = random_mdp(0)
    with pytest.raises(InvalidParameterError, match="MirrorAlgorithm"):
        tm.mirror_step(mdp, "gpi", tm.uniform_policy(mdp))
    with pytest.raises(InvalidParameterError, match="closest"):
        tm.mirror_step(mdp, instances.gpi(), tm.uniform_policy(mdp), choice="best")
