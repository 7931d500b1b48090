"""Regressions from the review of the whole tree (each test names what was wrong)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import instances
from tabular_mirror.drifts import Drift
from tabular_mirror.results import Certificate


def small_float_mdp() -> tm.FiniteMDP:
    rng = np.random.default_rng(0)
    return tm.FiniteMDP(rng.dirichlet(np.ones(3), size=(3, 2)), rng.uniform(size=(3, 2)), 0.9)


def test_a_custom_solvers_own_certificate_is_rechecked():
    # was: a solver returning (pi_old, Certificate(bound=1e6, certified=True)) came back
    # status "converged" with the 1e6 bound shown
    mdp = small_float_mdp()
    policy = tm.uniform_policy(mdp)

    def liar(algorithm, context):
        return context.policy, Certificate("duality_gap", 1e6, 1e-9, True, "claims")

    step = tm.mirror_step(mdp, instances.gpi(), policy, solver=liar)
    assert not step.certificate.certified and step.status == "not_certified"


def test_a_user_drift_is_not_assumed_convex():
    # was: Drift.convex defaulted to True, so a user's subclass got Frank-Wolfe gaps treated as
    # global bounds on a non-convex objective
    class Barrier(Drift):
        def value(self, context, candidate):
            distance = ((candidate - context.policy) ** 2).sum(axis=1)
            return 50 * distance * np.exp(-10 * distance)

    assert Barrier.convex is False
    algorithm = tm.MirrorAlgorithm.with_defaults(Barrier())
    step = tm.mirror_step(small_float_mdp(), algorithm, tm.uniform_policy(small_float_mdp()))
    assert step.certificate.kind == "local" and not step.converged


def test_an_evaluation_of_another_policy_is_rejected():
    # was: mirror_step(evaluation=<another policy's>) certified the argmax of the wrong objective
    mdp = small_float_mdp()
    other = tm.evaluate(mdp, tm.random_policy(mdp, 1))
    with pytest.raises(tm.InvalidParameterError, match="evaluation"):
        tm.mirror_step(mdp, instances.ppo(), tm.uniform_policy(mdp), evaluation=other)


def test_mirror_learning_tolerance_is_validated_and_kept_in_the_runs_arithmetic():
    # was: tol="abc" crashed with a numpy error; a float tol on an exact run was stored as a
    # float and came back from save/load as a different Fraction
    mdp = tm.FiniteMDP([[["1/2", "1/2"], [0, 1]], [[1, 0], [0, 1]]], [[0, 1], [1, 0]], "1/2")
    with pytest.raises(tm.InvalidParameterError, match="tol"):
        tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 2, tol="abc")
    trace = tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 2, tol=0.5)
    assert trace.tolerance == Fraction(1, 2) and isinstance(trace.tolerance, Fraction)


def test_complex_input_is_rejected_not_truncated():
    # was: np.array(..., dtype=float) dropped imaginary parts with only a ComplexWarning
    with pytest.raises(tm.InvalidMDPError, match="complex"):
        tm.FiniteMDP([[[1 + 1j]]], [[0.0]], 0.5)
    mdp = tm.FiniteMDP([[[1.0], [1.0]]], [[0.0, 1.0]], 0.5)
    with pytest.raises(tm.InvalidPolicyError, match="complex"):
        tm.check_policy(mdp, [[0.5 + 0j, 0.5 + 1j]])


def test_to_exact_failure_says_how_to_convert():
    mdp = tm.FiniteMDP([[[0.8, 0.2], [0.3, 0.7]], [[0.1, 0.9], [0.6, 0.4]]], [[0, 1], [1, 0]], 0.9)
    with pytest.raises(tm.InvalidMDPError, match="limit_denominator"):
        mdp.to_exact()
    assert mdp.to_exact(limit_denominator=10).is_exact
