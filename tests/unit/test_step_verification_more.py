"""More of mirror_step's re-verification, pinned (mutation survivors of
``tabular_mirror/step.py::mirror_step,_verify`` after the per-state solver and the schedules
landed): the refusals of an undiscounted MDP and of a scheduled algorithm, the staying
objective of a user drift (evaluated at pi, not assumed 0), and the mirror values
Q-expectation - (nu/beta) D of the returned policy, with nu = beta and with nu != beta.
"""

from __future__ import annotations

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import drifts, instances
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.drift_distributions import FixedDrift, SameAsSampling
from tabular_mirror.neighbourhoods import Everything
from tabular_mirror.sampling import UniformSampling
from tabular_mirror.schedules import geometric

MDP = tm.FiniteMDP(
    [[[0.5, 0.5], [0, 1], [0.9, 0.1]], [[0.8, 0.2], [0.1, 0.9], [0.5, 0.5]]],
    [[5, 10, 3], [-1, 2, 0]],
    0.9,
)
PI = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])


def test_an_undiscounted_mdp_is_refused_by_name():
    undiscounted = tm.FiniteMDP(MDP.transitions, MDP.rewards, 1)
    with pytest.raises(tm.InvalidMDPError, match="mirror_step needs gamma < 1"):
        tm.mirror_step(undiscounted, instances.gpi(), PI)


def test_a_scheduled_algorithm_is_refused():
    with pytest.raises(tm.InvalidParameterError, match=r"algorithm\.at\(n\)"):
        tm.mirror_step(MDP, instances.pmd(geometric(1, 2)), PI)


def test_a_user_drift_s_value_at_pi_enters_the_staying_objective():
    # an (invalid) user drift worth 1 everywhere, pi itself as the answer: the objective of
    # staying is sum beta <pi, A> - 1, the answer's too, so nothing is "below staying"
    constant = drifts.CallableDrift(lambda p, q: np.ones(len(p)), name="one", is_drift=False)
    algorithm = instances.custom(constant)

    def stay(algorithm, context):
        return context.policy.copy()

    step = tm.mirror_step(MDP, algorithm, PI, solver=stay)
    assert "below staying" not in step.message, step.message
    assert step.objective == pytest.approx(-1.0, abs=1e-12)


def mirror_values_by_hand(step) -> np.ndarray:
    expected_q = (step.policy * step.evaluation.q_values).sum(axis=1)
    return expected_q - step.drift_weights / step.sampling * step.state_drift


@pytest.mark.parametrize(
    "algorithm",
    [
        instances.pmd(0.5),  # nu = beta (the same array)
        MirrorAlgorithm(  # nu != beta
            drifts.scaled(drifts.SquaredEuclidean(), 3.0),
            FixedDrift([0.9, 0.1]),
            Everything(),
            UniformSampling(),
            "L2 with a fixed nu",
        ),
        MirrorAlgorithm(
            drifts.scaled(drifts.SquaredEuclidean(), 3.0),
            SameAsSampling(),
            Everything(),
            UniformSampling(),
            "L2, nu = beta",
        ),
    ],
    ids=["pmd", "fixed-nu", "l2-same"],
)
def test_the_mirror_values_are_q_expectation_minus_the_weighted_drift(algorithm):
    step = tm.mirror_step(MDP, algorithm, PI)
    assert np.all(step.state_drift > 0)  # the drift is paid: the test sees its sign
    np.testing.assert_allclose(step.mirror_values, mirror_values_by_hand(step), rtol=0, atol=1e-12)
