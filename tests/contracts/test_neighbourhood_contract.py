"""Definition 3.2 on every neighbourhood: pi is inside, slack sign = membership, a small ball
around pi is inside, and bad parameters raise InvalidParameterError with a useful message.

Local builders stand in for ``proofs_check.strategies`` (not committed when this was written).
"""

from __future__ import annotations

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import divergences, drifts
from tabular_mirror import neighbourhoods as nb
from tabular_mirror.algorithm import MirrorAlgorithm, make_context
from tabular_mirror.errors import InvalidParameterError


def random_mdp(seed: int, num_states: int = 4, num_actions: int = 3) -> tm.FiniteMDP:
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.ones(num_states), size=(num_states, num_actions))
    return tm.FiniteMDP(transitions, rng.normal(size=(num_states, num_actions)), 0.9)


def interior_policy(rng, num_states, num_actions):
    return rng.dirichlet(np.full(num_actions, 2.0), size=num_states) * 0.9 + 0.1 / num_actions


def _tv(p, q):
    return divergences.total_variation(p, q)


def _l2(p, q):
    return np.sqrt(divergences.squared_euclidean(p, q))


def _uniform_mean(values):
    return float(np.mean(values))


# name -> (neighbourhood, independent membership test(context, candidate) -> bool)
NEIGHBOURHOODS = {
    "everything": (nb.Everything(), lambda c, q: True),
    "state_tv": (nb.StateBall("tv", 0.1), lambda c, q: _tv(c.policy, q).max() <= 0.1),
    "state_l2": (nb.StateBall("l2", 0.1), lambda c, q: _l2(c.policy, q).max() <= 0.1),
    "state_kl": (
        nb.StateBall("kl", 0.02),
        lambda c, q: divergences.kl(c.policy, q).max() <= 0.02,
    ),
    "average_kl_uniform": (
        nb.AverageBall("kl", 0.02),
        lambda c, q: _uniform_mean(divergences.kl(c.policy, q)) <= 0.02,
    ),
    "average_kl_visitation": (
        nb.AverageBall("kl", 0.02, "visitation"),
        lambda c, q: (
            float(np.dot(c.evaluation.normalized_visitation, divergences.kl(c.policy, q))) <= 0.02
        ),
    ),
    "average_l2_fixed": (
        nb.AverageBall("l2", 0.01, (0.1, 0.2, 0.3, 0.4)),
        lambda c, q: (
            float(np.dot([0.1, 0.2, 0.3, 0.4], divergences.squared_euclidean(c.policy, q))) <= 0.01
        ),
    ),
    "average_tv": (
        nb.AverageBall("tv", 0.05),
        lambda c, q: _uniform_mean(_tv(c.policy, q)) <= 0.05,
    ),
    "drift_ball_squared_tv": (
        nb.drift_ball(drifts.SquaredTV(), 0.01),
        lambda c, q: _uniform_mean(_tv(c.policy, q) ** 2) <= 0.01,
    ),
    "drift_ball_forward_kl": (
        nb.drift_ball(drifts.ForwardKL(), 0.02),
        lambda c, q: _uniform_mean(divergences.kl(c.policy, q)) <= 0.02,
    ),
    "ratio_box": (
        nb.RatioBox(0.2),
        lambda c, q: np.abs(q / c.policy - 1).max() <= 0.2,
    ),
    "intersection": (
        nb.intersection(nb.StateBall("tv", 0.1), nb.AverageBall("kl", 0.02)),
        lambda c, q: (
            _tv(c.policy, q).max() <= 0.1 and _uniform_mean(divergences.kl(c.policy, q)) <= 0.02
        ),
    ),
}
NAMES = list(NEIGHBOURHOODS)


@pytest.fixture(params=(0, 1, 2), ids=lambda s: f"seed{s}")
def setting(request):
    rng = np.random.default_rng(200 + request.param)
    mdp = random_mdp(request.param)
    policy = interior_policy(rng, mdp.num_states, mdp.num_actions)
    return rng, mdp, policy


def _context(mdp, neighbourhood, policy):
    algorithm = MirrorAlgorithm.with_defaults(neighbourhood=neighbourhood)
    return make_context(mdp, algorithm, policy)


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_pi_is_inside(name, setting):
    _, mdp, policy = setting
    neighbourhood, _ = NEIGHBOURHOODS[name]
    context = _context(mdp, neighbourhood, policy)
    slack = neighbourhood.slack(context, policy)
    assert slack >= 0, f"{neighbourhood!r}: slack at pi is {slack}"
    assert neighbourhood.contains(context, policy)


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_slack_sign_agrees_with_membership(name, setting):
    rng, mdp, policy = setting
    neighbourhood, member = NEIGHBOURHOODS[name]
    context = _context(mdp, neighbourhood, policy)
    inside = outside = 0
    for scale in (0.01, 0.03, 0.1, 0.3, 1.0):
        for _ in range(10):
            target = rng.dirichlet(np.ones(mdp.num_actions), size=mdp.num_states)
            candidate = policy + scale * (target - policy)
            slack = neighbourhood.slack(context, candidate)
            expected = bool(member(context, candidate))
            assert (slack >= 0) == expected, (
                f"{neighbourhood!r}: slack {slack} but independent membership {expected}"
            )
            assert neighbourhood.contains(context, candidate) == expected
            inside += expected
            outside += not expected
    assert inside > 0, f"{neighbourhood!r}: no sampled candidate inside"
    if name != "everything":
        assert outside > 0, f"{neighbourhood!r}: no sampled candidate outside"


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_contains_a_small_ball_around_pi(name, setting):
    rng, mdp, policy = setting
    neighbourhood, _ = NEIGHBOURHOODS[name]
    context = _context(mdp, neighbourhood, policy)
    zeta = 1e-4  # a chi-ball of this radius (max-norm over entries) must be inside
    for _ in range(50):
        direction = rng.normal(size=policy.shape)
        direction -= direction.mean(axis=1, keepdims=True)
        direction *= zeta / np.abs(direction).max()
        slack = neighbourhood.slack(context, policy + direction)
        assert slack >= 0, f"{neighbourhood!r}: pi + v with |v|_max = {zeta} has slack {slack}"


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: nb.StateBall("tv", 0), "radius"),
        (lambda: nb.StateBall("kl", -0.1), "radius"),
        (lambda: nb.AverageBall("kl", 0), "radius"),
        (lambda: nb.RatioBox(0), "epsilon"),
        (lambda: nb.RatioBox(-0.2), "epsilon"),
        (lambda: nb.StateBall("js", 0.1), "divergence"),
        (lambda: nb.AverageBall("hellinger", 0.1), "divergence"),
        (lambda: nb.AverageBall("kl", 0.1, "everywhere"), "weighting"),
        (lambda: nb.drift_ball(drifts.SquaredTV(), 0), "radius"),
        (lambda: tm.instances.trpo(0), "delta"),
        (lambda: tm.instances.trpo(-0.01), "delta"),
        (lambda: tm.instances.ppo(0), "epsilon"),
        (lambda: drifts.PPOClip(-0.2), "epsilon"),
        (lambda: drifts.scaled(drifts.SquaredTV(), -1), "factor"),
        (lambda: drifts.scaled(drifts.SquaredTV(), 0), "factor"),
        (lambda: tm.instances.pmd(0), "step"),
        (lambda: tm.instances.ppo_kl(-1), "tau"),
        (lambda: tm.instances.paper_experiment("hellinger", "kl_ball"), "drift"),
        (lambda: tm.instances.paper_experiment("zero", "box"), "neighbourhood"),
    ],
    ids=[
        "state_radius_zero",
        "state_radius_negative",
        "average_radius_zero",
        "ratio_epsilon_zero",
        "ratio_epsilon_negative",
        "unknown_state_divergence",
        "unknown_average_divergence",
        "unknown_weighting",
        "drift_ball_radius_zero",
        "trpo_delta_zero",
        "trpo_delta_negative",
        "ppo_epsilon_zero",
        "ppo_clip_epsilon_negative",
        "scale_negative",
        "scale_zero",
        "pmd_step_zero",
        "ppo_kl_tau_negative",
        "paper_unknown_drift",
        "paper_unknown_neighbourhood",
    ],
)
def test_bad_parameters_raise(build, needle):
    with pytest.raises(InvalidParameterError, match=needle) as raised:
        build()
    assert str(raised.value), "empty message"


def test_unknown_divergence_lists_the_valid_ones():
    with pytest.raises(InvalidParameterError) as raised:
        nb.StateBall("js", 0.1)
    message = str(raised.value)
    assert all(name in message for name in nb.BALL_DIVERGENCES), message
