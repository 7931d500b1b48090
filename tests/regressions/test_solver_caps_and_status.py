"""Issue 11: iterative methods ran without end, and statuses contradicted their evidence."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import mdps
import tabular_mirror as tm
from tabular_mirror import _linalg, instances
from tabular_mirror.errors import InvalidMDPError, InvalidParameterError


@pytest.mark.parametrize("method", ["value_iteration", "modified_policy_iteration"])
def test_value_iteration_near_discount_one_stops_at_the_default_cap(method):
    # at gamma = 0.999999 the stopping rule needs 3.8e7 iterations: VI ran for minutes (5e13
    # iterations at 1 - 1e-12) and printed nothing; now the default cap says so
    mdp = mdps.make("small").with_discount(0.999999)
    result = tm.solve(mdp, method=method)
    assert (result.converged, result.status) == (False, "max_iterations"), result.message
    assert "default iteration cap" in result.message
    assert result.iterations == (100_000 if method == "value_iteration" else 5_000)


def test_exact_value_iteration_at_999_1000_stops_at_its_cap():
    # exact VI at 999/1000 did not finish (the Fractions grow with every iteration)
    mdp = mdps.make("small:exact=true").with_discount("999/1000")
    result = tm.solve(mdp, method="value_iteration")
    assert (result.status, result.iterations) == ("max_iterations", 1_000), result.message


def test_an_explicit_cap_is_not_called_the_default():
    result = tm.solve(mdps.make("small").with_discount(0.99), "value_iteration", max_iterations=3)
    assert result.status == "max_iterations"
    assert result.message == tm.results.message_for("max_iterations", "iterations")


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        # sweeps=1e300 was accepted and modified policy iteration ran forever
        pytest.param(
            lambda m: tm.solve(m, "modified_policy_iteration", sweeps=1e300),
            "sweeps = 1e+300",
            id="sweeps",
        ),
        # inexact_step(steps=1e300) likewise
        pytest.param(
            lambda m: tm.inexact_step(m, instances.pmd(1), tm.uniform_policy(m), steps=1e300),
            "steps = 1e+300",
            id="inexact_steps",
        ),
        pytest.param(
            lambda m: tm.solve(m, "value_iteration", max_iterations=10**12),
            "max_iterations = 1000000000000",
            id="max_iterations",
        ),
        pytest.param(
            lambda m: tm.mirror_learning(m, instances.gpi(), tm.uniform_policy(m), 1e300),
            "iterations = 1e+300",
            id="mirror_learning_iterations",
        ),
        pytest.param(
            lambda m: tm.solve(m, "linear_programming", time_limit=0), "time_limit", id="time"
        ),
    ],
)
def test_absurd_counts_are_refused(call, fragment):
    with pytest.raises(InvalidParameterError, match="must be") as raised:
        call(mdps.make("small"))
    assert fragment in str(raised.value)


def test_linear_programming_reports_its_time_limit():
    # the LP on a sparse Garnet with S = 30,000 ran for 14 minutes with no limit; a limit that
    # cannot be met gives a not-converged result that says which limit stopped it
    mdp = mdps.make("garnet:S=400,A=4,b=5,seed=0,sparse=true")
    result = tm.solve(mdp, "linear_programming", time_limit=1e-6)
    assert (result.converged, result.status) == (False, "max_iterations")
    assert "time limit" in result.message.lower()


def test_linear_programming_reports_its_iteration_cap():
    mdp = mdps.make("garnet:S=50,A=4,b=5,seed=0")
    result = tm.solve(mdp, "linear_programming", max_iterations=1)
    assert (result.converged, result.status) == (False, "max_iterations"), result.message


def test_a_solve_is_certified_on_its_values_not_on_the_visitation():
    # `solve forest:S=100000,discount=0.96,sparse=true` reported not_certified while printing a
    # 3.3e-12 bound: the visitation's bound decided the solve's status
    mdp = mdps.make("forest:S=100000,discount=0.96,sparse=true")
    result = tm.solve(mdp)
    assert (result.converged, result.status) == (True, "converged"), result.message
    assert result.error_bound <= 1e-10 * 4 / (1 - 0.96)
    evaluation = result.evaluation
    assert evaluation.values_certified
    # the visitation keeps its own bound and its own verdict
    assert evaluation.visitation_error_bound >= 0
    if not evaluation.visitation_certified:
        assert evaluation.status == "not_certified"
        assert "visitation" in evaluation.message


def test_a_step_failing_re_verification_has_an_uncertified_certificate():
    # PPO-KL (forward) from a policy with 1e-300 entries: status not_certified but the
    # certificate said certified=True, so trace.all_certified was True for a run that stopped
    mdp = mdps.make("small")
    policy = np.array([[1 - 1e-300, 1e-300], [1e-300, 1 - 1e-300]])
    with np.errstate(all="ignore"):
        step = tm.mirror_step(mdp, instances.ppo_kl(0.5), policy)
    assert step.status == "not_certified"
    assert step.certificate.certified is False
    assert "re-verification" in step.certificate.detail
    with np.errstate(all="ignore"):
        trace = tm.mirror_learning(mdp, instances.ppo_kl(0.5), policy, 3, strict=True)
    assert trace.stop_reason == "not_certified"
    assert not trace.all_certified


def test_overflowing_float_evaluation_names_the_discount(monkeypatch):
    # evaluate at discount 1 - 2^-53 said "values contains NaN or inf" instead of naming the
    # discount; the solve's overflow is now reported as a property of the discount
    mdp = tm.FiniteMDP(np.ones((1, 1, 1)), [[1.0]], 1 - 2**-53)
    original = _linalg.solve_dense

    def overflowing(*args, **kwargs):
        solution = original(*args, **kwargs)
        return dataclasses.replace(solution, values=np.full_like(solution.values, np.inf))

    monkeypatch.setattr(_linalg, "solve_dense", overflowing)
    with pytest.raises(InvalidMDPError, match=r"discount = 0\.9999999999999999"):
        tm.evaluate(mdp, [[1.0]])
