"""Regression: garbage parameters raised bare TypeErrors or numpy errors (or were accepted).

Found in the review of the first session: ``evaluate(max_iterations="a")``,
``solve(sweeps="3")``, ``inexact_solver(learning_rate="a")``, ``mirror_step(tolerance="a")``;
``FixedDrift`` and ``AverageBall`` weights checked only when a step ran; ``q_from_values``,
``greedy_policy`` and ``uniform_policy`` without shape or type checks; a user drift returning
the wrong shape. Each now raises the project's own error naming the parameter.
"""

from __future__ import annotations

import numpy as np
import pytest

import mdps
import tabular_mirror as tm
from tabular_mirror import drift_distributions as dd
from tabular_mirror import drifts, instances, operators
from tabular_mirror import neighbourhoods as nb
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.errors import InvalidMDPError, InvalidParameterError
from tabular_mirror.sampling import UniformSampling

MDP = mdps.garnet(5, 2, 2, seed=0)
POLICY = tm.uniform_policy(MDP)

CASES = {
    "evaluate max_iterations str": (
        lambda: tm.evaluate(MDP, POLICY, max_iterations="a"),
        "max_iterations",
    ),
    "evaluate max_iterations -1": (lambda: tm.evaluate(MDP, POLICY, max_iterations=-1), ">= 0"),
    "evaluate tolerance str": (lambda: tm.evaluate(MDP, POLICY, tolerance="x"), "tolerance"),
    "evaluate tolerance negative": (lambda: tm.evaluate(MDP, POLICY, tolerance=-1), ">= 0"),
    "evaluate visitation_tolerance nan": (
        lambda: tm.evaluate(MDP, POLICY, visitation_tolerance=float("nan")),
        "visitation_tolerance",
    ),
    "solve sweeps str": (lambda: tm.solve(MDP, sweeps="3"), "sweeps"),
    "solve max_iterations fraction": (lambda: tm.solve(MDP, max_iterations=2.5), "integer"),
    "inexact learning_rate str": (
        lambda: tm.inexact_solver(3, learning_rate="a"),
        "learning_rate",
    ),
    "inexact steps float": (lambda: tm.inexact_solver(1.5), "steps"),
    "mirror_step tolerance str": (
        lambda: tm.mirror_step(MDP, instances.pmd(1.0), POLICY, tolerance="a"),
        "tolerance",
    ),
    "mirror_learning iterations str": (
        lambda: tm.mirror_learning(MDP, instances.pmd(1.0), POLICY, iterations="5"),
        "iterations",
    ),
    "mirror_learning iterations bool": (
        lambda: tm.mirror_learning(MDP, instances.pmd(1.0), POLICY, iterations=True),
        "iterations",
    ),
    "FixedDrift not summing to 1": (lambda: dd.FixedDrift((0.5, 0.6)), "sums to"),
    "FixedDrift not numbers": (lambda: dd.FixedDrift(("a",)), "not a sequence of numbers"),
    "AverageBall negative weight": (
        lambda: nb.AverageBall("kl", 0.1, (0.2, -0.1, 0.9)),
        r"weighting\[1\]",
    ),
    "AverageBall scalar weighting": (lambda: nb.AverageBall("kl", 0.1, 3), "weighting"),
    "q_from_values wrong length": (
        lambda: operators.q_from_values(MDP, np.ones(4)),
        r"values has shape \(4,\)",
    ),
    "q_from_values nan": (lambda: operators.q_from_values(MDP, [1, 2, 3, 4, np.nan]), "NaN"),
    "q_from_values ragged": (lambda: operators.q_from_values(MDP, [[1, 2], [3]]), "values"),
    "greedy_policy ragged": (lambda: tm.greedy_policy([[1, 2], [3]]), "q_values"),
    "greedy_policy 1-d": (lambda: tm.greedy_policy(np.ones(3)), r"expected \(S, A\)"),
    "greedy_policy nan": (lambda: tm.greedy_policy(np.array([[np.nan, 1.0]])), "NaN"),
    "greedy_policy keep shape": (
        lambda: tm.greedy_policy(np.ones((3, 2)), keep=np.zeros(2, dtype=int)),
        "keep",
    ),
    "random_policy concentration": (
        lambda: tm.random_policy(MDP, 0, concentration="a"),
        "concentration",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_parameter_names_itself(case):
    call, needle = CASES[case]
    with pytest.raises(InvalidParameterError, match=needle):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: tm.evaluate("mdp", POLICY),
        lambda: tm.solve(None),
        lambda: tm.uniform_policy(None),
        lambda: tm.mirror_step(3, instances.gpi(), POLICY),
        lambda: tm.mirror_learning([], instances.gpi(), POLICY, 1),
        lambda: operators.q_from_values({}, np.ones(5)),
    ],
    ids=["evaluate", "solve", "uniform_policy", "mirror_step", "mirror_learning", "q_values"],
)
def test_something_else_than_an_mdp_is_rejected(call):
    with pytest.raises(InvalidMDPError, match=r"expected a tabular_mirror\.FiniteMDP"):
        call()


def test_integral_floats_are_counts():
    assert tm.solve(MDP, max_iterations=1e3).converged
    assert tm.evaluate(MDP, POLICY, max_iterations=100.0).converged


def test_public_operators_check_the_policy():
    with pytest.raises(tm.errors.InvalidPolicyError, match="sums to"):
        operators.bellman_operator(MDP, np.ones((5, 2)), np.ones(5))
    with pytest.raises(tm.errors.InvalidPolicyError, match="shape"):
        operators.policy_transitions(MDP, [[1, 0]])


@pytest.mark.parametrize(
    ("function", "needle"),
    [
        (lambda policy, candidate: np.zeros(3), r"shape \(3,\)"),
        (lambda policy, candidate: np.zeros((5, 2)), r"shape \(5, 2\)"),
        (lambda policy, candidate: np.full(5, np.nan), "NaN"),
    ],
    ids=["short", "matrix", "nan"],
)
def test_user_drift_with_a_bad_output_is_named(function, needle):
    drift = drifts.CallableDrift(function, name="mine")
    algorithm = MirrorAlgorithm(drift, dd.SameAsSampling(), nb.Everything(), UniformSampling())
    with pytest.raises(InvalidParameterError, match=needle):
        tm.mirror_step(MDP, algorithm, POLICY)


# ---- what the validation must keep accepting (found by the review of the validation change)


def test_numpy_and_decimal_scalars_are_numbers():
    from decimal import Decimal
    from fractions import Fraction

    exact = mdps.exact_garnet(4, 2, 2, seed=0)
    policy = tm.uniform_policy(exact)
    for tolerance in (np.float32(1e-9), np.array(1e-9), Decimal("1e-9"), np.int64(0)):
        step = tm.mirror_step(exact, instances.ppo(), policy, tolerance=tolerance)
        assert step.converged and isinstance(step.certificate.tolerance, Fraction)
    assert tm.evaluate(MDP, POLICY, tolerance=np.float32(1e-6), max_iterations=np.int64(5))


def test_fixed_distributions_of_numpy_floats_and_mixed_entries():
    assert dd.FixedDrift(np.full(4, 0.25, np.float32)).distribution == (0.25,) * 4
    ball = nb.AverageBall("tv", 0.1, weighting=np.full(4, 0.25, np.float32))
    assert ball.weighting == (0.25,) * 4
    mixed = dd.FixedDrift(["1/2", "1/4", 0.125, 0.125, 0])
    algorithm = MirrorAlgorithm(
        drifts.SquaredEuclidean(), mixed, nb.Everything(), UniformSampling()
    )
    assert tm.mirror_step(MDP, algorithm, POLICY).converged
    exact = MDP.to_exact(limit_denominator=1000)
    step = tm.mirror_step(exact, algorithm, tm.uniform_policy(exact))
    assert step.converged and step.policy.dtype == object


def test_minus_infinity_masks_an_action_in_greedy():
    q_values = np.array([[1.0, -np.inf], [-np.inf, 0.0], [-np.inf, -np.inf]])
    np.testing.assert_array_equal(tm.greedy_policy(q_values), [[1, 0], [0, 1], [1, 0]])
    with pytest.raises(InvalidParameterError, match=r"\+inf"):
        tm.greedy_policy(np.array([[np.inf, 0.0]]))


def test_zero_iterations_certify_the_guess_or_fall_back():
    result = tm.evaluate(MDP, POLICY, max_iterations=0, method="krylov")
    assert result.converged and result.method in ("krylov", "sparse_direct")
