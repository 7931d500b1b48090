"""check_trace refused a trace that mirror_learning had just made: a float step that mirror_step
accepts (entries >= -1e-12, rows summing to 1 within 1e-9, here from a user solver, certified)
failed the stricter policy check (1e-10, no negative entry) of verify_trace, so the run got an
InvalidParameterError instead of verdicts. verify_trace now accepts what the step accepts, and
still refuses what it does not."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import proofs_check
import tabular_mirror as tm
from tabular_mirror import drifts
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.drift_distributions import SameAsSampling
from tabular_mirror.neighbourhoods import Everything
from tabular_mirror.sampling import UniformSampling

MDP = tm.FiniteMDP([[[0.5, 0.5], [0, 1]], [[0.8, 0.2], [0.1, 0.9]]], [[5, 10], [-1, 2]], 0.9)
ALGORITHM = MirrorAlgorithm(drifts.scaled(drifts.SquaredEuclidean(), 2), SameAsSampling(),
                            Everything(), UniformSampling(), "L2 x2")  # fmt: skip
BEST = tm.mirror_step(MDP, ALGORITHM, tm.uniform_policy(MDP)).policy


def _run(nudge):
    def solver(algorithm, context):
        return nudge(np.array(BEST))

    return tm.mirror_learning(MDP, ALGORITHM, tm.uniform_policy(MDP), 1, solver=solver)


def _row_above(rows, amount):
    rows[0] = rows[0] * (1 + amount)
    return rows


def _negative(rows, amount):
    rows[1] = [1.0 + amount, -amount]
    return rows


@pytest.mark.parametrize(
    "nudge",
    [lambda rows: _row_above(rows, 5e-10), lambda rows: _negative(rows, 1e-12)],
    ids=["row-sum-1+5e-10", "entry--1e-12"],
)
def test_a_run_on_the_steps_simplex_is_checked(nudge):
    trace = _run(nudge)
    report = proofs_check.check_trace(trace)
    assert report.names() and not report.failed()


@pytest.mark.parametrize(
    ("nudge", "problem"),
    [
        (lambda rows: _row_above(rows, 2e-9), "sums to"),
        (lambda rows: _negative(rows, 1e-11), "negative"),
    ],
    ids=["row-sum-1+2e-9", "entry--1e-11"],
)
def test_a_policy_off_the_steps_simplex_is_still_refused(nudge, problem):
    trace = _run(lambda rows: rows)
    policies = trace.policies.copy()
    policies[1] = nudge(np.array(policies[1]))
    with pytest.raises(
        tm.InvalidParameterError, match=rf"trace.policies\[1\] is not a policy: .*{problem}"
    ):
        proofs_check.check_trace(replace(trace, policies=policies))
