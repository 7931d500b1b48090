"""A user solver's answer that is not a policy (NaN, wrong shape) is the project's error naming
the solver, not a run that goes on from NaN.

Review finding: a solver returning one NaN entry gave a trace with NaN returns whose
evaluations said "converged" with error bound NaN (the small dense evaluation compared
``bound > tolerance``, which is False for NaN); the run went on for every iteration.
"""

from __future__ import annotations

import numpy as np
import pytest

import tabular_mirror as tm
from mdps.paper import paper_chain
from tabular_mirror import instances
from tabular_mirror.errors import InvalidParameterError

MDP = paper_chain(discount="9/10")


def nan_solver(algorithm, context):
    out = np.full(context.policy.shape, 1.0 / context.policy.shape[1])
    out[0, 0] = np.nan
    return out


def short_solver(algorithm, context):
    return context.policy[:-1]


@pytest.mark.parametrize(
    ("solver", "message"),
    [
        (nan_solver, r"solver nan_solver returned policy\[0, 0\] = nan: not a probability"),
        (short_solver, r"solver short_solver returned an array of shape \(5, 3\), expected"),
    ],
)
def test_a_solver_answer_that_is_not_a_policy_is_refused(solver, message):
    with pytest.raises(InvalidParameterError, match=message):
        tm.mirror_learning(MDP, instances.gpi(), tm.uniform_policy(MDP), 3, solver=solver)
    with pytest.raises(InvalidParameterError, match=message):
        tm.mirror_step(MDP, instances.gpi(), tm.uniform_policy(MDP), solver=solver)


def test_an_answer_slightly_off_the_simplex_is_an_uncertified_step_not_an_error():
    def off(algorithm, context):
        return context.policy * (1 + 1e-6)

    step = tm.mirror_step(MDP, instances.gpi(), tm.uniform_policy(MDP), solver=off)
    assert not step.converged and "off the simplex" in step.message


def test_an_unvalidated_nan_policy_is_never_a_converged_evaluation():
    # the small dense path certified NaN (status "converged", error bound NaN)
    policy = tm.uniform_policy(MDP)
    policy[0, 0] = np.nan
    try:
        result = tm.evaluate(MDP, policy, validate=False)
    except tm.TabularMirrorError:
        return
    assert not result.converged
