"""check_algorithm and paper_claims_test on any algorithm: the arithmetic they choose, what
they do with an algorithm that cannot run exactly, and with one that raises (issue 14).

Before: check_algorithm(exact=True) on a float-only algorithm, and paper_claims_test with one,
crashed with an ExactnessError inside a hypothesis traceback; a user piece's own exception came
out of hypothesis as a bare ValueError with no example attached.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import proofs_check
import tabular_mirror as tm
from tabular_mirror import drifts, instances
from tabular_mirror.errors import AlgorithmError, ExactnessError, InvalidParameterError
from tabular_mirror.results import Certificate


def squared_l2(calls: list | None = None, **options):
    def value(policy, candidate):
        if calls is not None:
            calls.append(policy.shape)
        return np.sum((candidate - policy) ** 2, axis=-1)

    return drifts.CallableDrift(value, name="user squared L2", convex=True, **options)


def with_drift(drift, name):
    return replace(instances.gpi(), drift=drift, name=name)


def test_a_float_only_user_drift_runs_in_float_with_the_reason():
    report = proofs_check.check_algorithm(
        with_drift(squared_l2(), "mine"), examples=3, iterations=3
    )
    assert report.outcome == "passed", report.render(None)
    assert "run in float" in report.title and "not declared rational" in report.title
    assert not any(v.exact for v in report.verdicts if not v.inconclusive)


def test_exact_true_is_refused_before_any_example_when_the_algorithm_cannot_run_exactly():
    calls: list = []
    algorithm = with_drift(squared_l2(calls), "mine")
    with pytest.raises(ExactnessError, match=r"check_algorithm\(exact=True\): mine cannot run"):
        proofs_check.check_algorithm(algorithm, examples=3, exact=True)
    assert calls == []  # refused up front, not inside hypothesis
    with pytest.raises(ExactnessError, match=r"paper_claims_test\(exact=True\)"):
        proofs_check.paper_claims_test(algorithm, exact=True)


def test_a_drift_declared_rational_without_an_exact_solver_runs_in_float():
    algorithm = with_drift(squared_l2(rational=True), "rational but no exact solver")
    report = proofs_check.check_algorithm(algorithm, examples=2, iterations=2)
    assert "run in float" in report.title and "no exact rational solver" in report.title
    assert report.outcome != "failed", report.render(None)


def test_rational_pieces_run_exactly_by_default():
    report = proofs_check.check_algorithm(instances.ppo(), examples=2, iterations=2)
    assert "run in float" not in report.title
    assert all(v.exact for v in report.verdicts if v.passed), report.render(None)


def two_state_only_solver(algorithm, context):
    """Exact on two-state MDPs (the probe's), refuses larger exact ones: a solver whose
    exactness only shows on some generated MDPs."""
    if context.mdp.is_exact and context.mdp.num_states > 2:
        raise ExactnessError("this solver is exact on two states only")
    step = tm.mirror_step(context.mdp, algorithm, context.policy)
    return step.policy, Certificate("exact", step.certificate.bound, 0, True, "wrapped")


def test_an_exact_step_failing_on_a_generated_mdp_reruns_everything_in_float():
    report = proofs_check.check_algorithm(
        instances.gpi(), examples=15, iterations=2, solver=two_state_only_solver
    )
    assert "an exact step failed on a generated MDP (S=3" in report.title, report.title
    assert "exact on two states only" in report.title
    assert report.outcome == "passed", report.render(None)
    assert not any(v.exact for v in report.verdicts if v.passed)


def raising_drift(states_that_raise: int):
    def value(policy, candidate):
        if policy.shape[0] >= states_that_raise:
            raise ValueError("my bug")
        return np.sum((candidate - policy) ** 2, axis=-1)

    return drifts.CallableDrift(value, name="buggy", convex=True)


def test_an_algorithm_that_raises_gets_our_error_with_the_shrunk_example():
    algorithm = with_drift(raising_drift(2), "buggy")
    with pytest.raises(AlgorithmError, match=r"buggy raised ValueError: my bug") as caught:
        proofs_check.check_algorithm(algorithm, examples=20, iterations=2, max_actions=2)
    mdp, policy = caught.value.example
    assert mdp.num_states == 2  # shrunk to the smallest MDP that raises
    assert isinstance(caught.value.__cause__, ValueError)
    assert policy.shape == (2, mdp.num_actions)
    # the example replays: the same error from the algorithm itself
    with pytest.raises(ValueError, match="my bug"):
        tm.mirror_learning(mdp, algorithm, policy, 2)


def test_paper_claims_test_names_the_algorithm_that_raised():
    test = proofs_check.paper_claims_test(with_drift(raising_drift(1), "buggy"), iterations=2)
    with pytest.raises(AlgorithmError, match=r"buggy raised ValueError: my bug"):
        test()


def test_paper_claims_test_runs_a_float_only_user_drift():
    test = proofs_check.paper_claims_test(with_drift(squared_l2(), "mine"), iterations=2)
    test()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"examples": 0}, "examples = 0 must be an integer >= 1"),
        ({"iterations": 0}, "iterations = 0 must be an integer >= 1"),
        ({"max_states": 0}, "max_states = 0 must be an integer >= 1"),
        ({"max_states": 100}, "max_states = 100 must be an integer <= 12"),
        ({"max_actions": 1}, "max_actions = 1 must be an integer >= 2"),
        ({"seed": -1}, "seed = -1 must be an integer >= 0"),
        ({"exact": "yes"}, "exact = 'yes' must be True, False or None"),
        ({"choice": "bogus"}, "choice"),
        ({"bogus": 1}, "unknown keyword bogus; the run takes tol, choice, solver, strict"),
        ({"solver": 3}, "solver = 3 is not callable"),
    ],
)
def test_bad_arguments_get_our_error(options, message):
    with pytest.raises(InvalidParameterError, match=message.replace("(", r"\(")):
        proofs_check.check_algorithm(instances.gpi(), **options)


def test_a_scheduled_rational_algorithm_runs_exactly():
    # was: the exactness probe took a step with the scheduled algorithm itself, which
    # mirror_step refuses (InvalidParameterError: take the step of iteration n with .at(n))
    from tabular_mirror import schedules

    algorithm = instances.ppo(schedules.geometric("1/5", "1/2"))
    report = proofs_check.check_algorithm(algorithm, examples=3, iterations=3)
    assert "run in float" not in report.title, report.title
    assert report.outcome != "failed", report.render(None)
    assert all(v.exact for v in report.verdicts if v.passed and v.name.startswith("lemma"))


def test_the_callers_own_mistakes_are_named_at_once_not_blamed_on_the_algorithm():
    # review finding: a bad keyword became "AlgorithmError: sqL2 raised TypeError: ..." after
    # seconds of search and shrinking; a string for the algorithm raised AttributeError
    with pytest.raises(InvalidParameterError, match="is not a MirrorAlgorithm"):
        proofs_check.check_algorithm("pmd")
    with pytest.raises(InvalidParameterError, match="unknown keyword bogus"):
        proofs_check.paper_claims_test(instances.gpi(), bogus=1)


def test_a_solver_that_raises_in_the_exactness_probe_is_an_algorithm_error():
    # review finding: the probe caught only ExactnessError, so a user solver's RuntimeError
    # escaped check_algorithm and paper_claims_test as a bare traceback
    def broken(algorithm, context):
        raise RuntimeError("my solver is broken")

    for call in (
        lambda: proofs_check.check_algorithm(instances.gpi(), examples=2, solver=broken),
        lambda: proofs_check.paper_claims_test(instances.gpi(), solver=broken),
    ):
        with pytest.raises(
            AlgorithmError, match="raised RuntimeError: my solver is broken"
        ) as caught:
            call()
        assert isinstance(caught.value.__cause__, RuntimeError)
        assert caught.value.example[0].num_states == 2
