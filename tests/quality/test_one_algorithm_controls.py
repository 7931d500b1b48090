"""Negative controls of "one algorithm made every step" (Theorem 3.6 applies) and of the
check that a trace's schedule record belongs to the algorithm it is checked with.

Mutation survivors of ``proofs_check/fundamental.py::one_algorithm,_verify_schedule`` (8 of
33): a record-less run judged with a scheduled algorithm, a schedule with no valid value, the
row every step is compared with, and the edges of the record checks.
"""

from __future__ import annotations

import pytest

import proofs_check
import tabular_mirror as tm
from proofs_check.fundamental import one_algorithm
from proofs_check.lemmas import RunInfo
from tabular_mirror import instances
from tabular_mirror.errors import InvalidParameterError
from tabular_mirror.schedules import FunctionSchedule, geometric

MDP = tm.FiniteMDP(
    [[[0.5, 0.5], [0, 1], [0.9, 0.1]], [[0.8, 0.2], [0.1, 0.9], [0.5, 0.5]]],
    [[5, 10, 3], [-1, 2, 0]],
    0.9,
)
PI0 = tm.uniform_policy(MDP)


def plain(iterations: int) -> tm.Trace:
    return tm.mirror_learning(MDP, instances.pmd(0.1), PI0, iterations, tol=0.0)


def test_one_algorithm_is_the_empty_reason():
    assert one_algorithm(plain(3)) == ""
    one_step = tm.mirror_learning(MDP, instances.pmd(geometric(1, 2)), PI0, 1, tol=0.0)
    assert one_algorithm(one_step) == ""  # one step: one algorithm, whatever the schedule
    constant = tm.mirror_learning(
        MDP, instances.pmd(FunctionSchedule(lambda n: 0.5, "half")), PI0, 3, tol=0.0
    )
    assert one_algorithm(constant) == ""


def test_a_change_is_named_against_step_0():
    steps = FunctionSchedule(lambda n: 2.0 if n == 0 else 1.0, "2 then 1")
    trace = tm.mirror_learning(MDP, instances.pmd(steps), PI0, 4, tol=0.0)
    reason = one_algorithm(trace)
    assert reason.startswith("not applicable: the algorithm changed across iterations")
    assert "is 0.5 at step 0 and 1.0 at step 1" in reason  # the factor is 1 / step


def test_without_a_record_the_known_algorithm_s_schedules_decide():
    run = RunInfo(plain(3), instances.pmd(geometric(1, 2)))
    assert one_algorithm(run).startswith("not applicable: the algorithm changed")
    broken = FunctionSchedule(lambda n: [1.0, 1.0][n], "two values")
    reason = one_algorithm(RunInfo(plain(3), instances.pmd(broken)))
    assert reason.startswith("the algorithm's schedules have no valid value at a step")
    assert "cannot be the run's algorithm" in reason  # undecided, not "not applicable"


def test_a_record_less_trace_is_checked_with_a_scheduled_algorithm_only_without_steps():
    scheduled = instances.pmd(geometric("1/10", 2))
    proofs_check.check_trace(plain(0), algorithm=scheduled)  # nothing recorded, nothing run
    with pytest.raises(InvalidParameterError, match="records no schedule"):
        proofs_check.check_trace(plain(1), algorithm=scheduled)


def test_a_record_of_other_parameters_is_refused_by_name():
    trace = tm.mirror_learning(MDP, instances.pmd(geometric("1/10", 2)), PI0, 2, tol=0.0)
    other = instances.trpo(geometric("1/100", 2))
    with pytest.raises(
        InvalidParameterError,
        match=r"records the schedules of drift\.factor, but the algorithm schedules neighbourhood",
    ):
        proofs_check.check_trace(trace, algorithm=other)


# ---------------------------------------------------------------------------- later parts
@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parts") / "run"
    algorithm = instances.pmd(geometric("1/10", 2))
    tm.run_in_parts(MDP, algorithm, PI0, 6, folder, part_size=3, tol=0.0)
    return (
        algorithm,
        tm.load_trace(folder / "part-000000.npz"),
        tm.load_trace(folder / "part-000001.npz"),
    )


def test_a_later_part_starts_at_its_iteration_and_uses_its_algorithms(parts):
    algorithm, first, second = parts
    assert RunInfo(first, algorithm).start == 0
    assert RunInfo(plain(2), instances.pmd(0.1)).start == 0  # no record: from step 0
    run = RunInfo(second, algorithm)
    assert run.start == 3
    for n in range(3):  # step n of the part is step 3 + n of the run
        assert run.algorithm_at(n).drift.factor == algorithm.at(3 + n).drift.factor


def test_a_later_part_s_witness_is_shown_not_replayed(parts):
    algorithm, first, second = parts
    assert RunInfo(second, algorithm).witness(1)["replayable"] is False
    replayable = RunInfo(first, algorithm).witness(1)  # a scheduled run from pi_0: replayed
    assert "replayable" not in replayable and "call" in replayable


def test_no_diagnosis_where_the_schedule_has_no_value():
    broken = instances.pmd(FunctionSchedule(lambda n: [1.0, 1.0][n], "two values"))
    run = RunInfo(plain(3), broken)
    assert run.algorithm_at(2) is None
    assert run.diagnosis(2, ("drift",)) == ()
    assert RunInfo(plain(3), None).diagnosis(0, ("drift",)) == ()


def test_xiao_s_verdict_is_in_a_report_exactly_when_the_run_is_scheduled():
    from dataclasses import replace

    from proofs_check.classic import XIAO_10

    assert XIAO_10 not in proofs_check.check_trace(plain(3)).names()
    scheduled = tm.mirror_learning(MDP, instances.pmd(geometric("1/10", 2)), PI0, 3, tol=0.0)
    assert XIAO_10 in proofs_check.check_trace(scheduled).names()
    # the record alone makes it a scheduled run (the algorithm unknown: Xiao undecided)
    anonymous = replace(scheduled, provenance=None)
    verdict = proofs_check.check_trace(anonymous, verify=False)[XIAO_10]
    assert verdict.inconclusive and "not known" in verdict.reason
