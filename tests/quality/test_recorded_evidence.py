"""What a trace records is what the checks use: the certified evaluation errors it carries set
the float allowances, its provenance (algorithm, choice, solver) is rebuilt for the diagnosis
and the witnesses, and a trace that is not evidence about its MDP (NaN, a row off the simplex,
values or returns that are not the policies' own) is refused before any verdict. Mutation
testing (docs/mutation.md) found each assertion missing.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from planting import (
    ALGORITHM,
    DELTA,
    base_allowance,
    exact_trace,
    float_trace,
    per_step_checks,
    set_entry,
)

import proofs_check
import tabular_mirror as tm
from proofs_check import fundamental
from proofs_check._common import evaluation_error, recorded_error
from proofs_check.counterexamples import total_variation_algorithm, tv_solver
from proofs_check.drift_bounds import drift_bound_9
from proofs_check.fundamental import verify_trace
from tabular_mirror.results import Certificate
from tabular_mirror.traces import Provenance

BOUNDS = np.array([1e-9, 2e-9, 5e-9, 4e-9, 1e-9])  # one per policy of the 4-step run


def _recorded(trace, bounds=BOUNDS):
    return replace(trace, evaluation_error_bounds=bounds)


# ---------------------------------------------------------------------------- errors
def test_recorded_error():
    trace = float_trace()
    default = evaluation_error(trace.mdp)
    assert recorded_error(trace, 0, 1) == default  # nothing recorded: the default's error
    recorded = _recorded(trace)
    assert recorded_error(recorded, 0, 1) == 2e-9
    assert recorded_error(recorded, 1, 2) == 5e-9
    assert recorded_error(recorded) == default
    assert recorded_error(_recorded(exact_trace(), np.zeros(5, dtype=object)), 1) == 0.0


@pytest.mark.parametrize("check", per_step_checks(), ids=lambda f: f.__name__)
def test_per_step_allowances_use_the_recorded_errors(check):
    certified = Certificate("duality_gap", 0.0, 1e-9, True, "p")
    trace = replace(float_trace(), certificates=(certified,) * 4)
    scale = 100.0  # max |r| = 10, gamma = 9/10
    assert check(trace).tolerance.value == pytest.approx(base_allowance(trace.mdp), rel=1e-9)
    n = check(trace).worst_iteration
    # step n is decided with the errors of V_n and V_{n+1}: only the latter is large
    bounds = np.full(5, 1e-9)
    bounds[n + 1] = 9e-9
    verdict = check(_recorded(trace, bounds))
    assert verdict.worst_iteration == n
    assert verdict.tolerance.value == pytest.approx(2 * 9e-9 + 1e-12 * scale, rel=1e-9)
    bounds = np.full(5, 1e-9)
    bounds[n] = 7e-9
    assert check(_recorded(trace, bounds)).tolerance.value == pytest.approx(
        2 * 7e-9 + 1e-12 * scale, rel=1e-9
    )


def test_total_and_convergence_allowances_use_the_recorded_errors():
    certified = Certificate("duality_gap", 0.0, 1e-9, True, "p")
    trace = _recorded(replace(float_trace(), certificates=(certified,) * 4))
    steps = [2 * max(BOUNDS[n], BOUNDS[n + 1]) + 1e-10 for n in range(4)]
    assert drift_bound_9(trace).tolerance.value == pytest.approx(sum(steps), rel=1e-9)
    convergence = fundamental._convergence_tolerance(trace)
    assert convergence.value == pytest.approx(1e-8 / 0.1 + 2 * 5e-9 + 1e-10, rel=1e-9)
    # every recorded V counts, the last one too
    last = fundamental._convergence_tolerance(_recorded(trace, np.array([1, 2, 3, 4, 9]) * 1e-9))
    assert last.value == pytest.approx(1e-8 / 0.1 + 2 * 9e-9 + 1e-10, rel=1e-9)


# ---------------------------------------------------------------------------- provenance
def test_check_trace_rebuilds_the_recorded_algorithm():
    trace = exact_trace()
    planted = replace(trace, objectives=set_entry(trace.objectives, 1, 0 * DELTA))
    recorded = replace(planted, provenance=Provenance(repr(ALGORITHM), "closest", None, False))
    report = proofs_check.check_trace(recorded, verify=False)
    verdict = report["theorem_3_6_2_value_convergence"]
    assert verdict.failed and verdict.diagnosis  # diagnosed: the algorithm was rebuilt
    assert verdict.witness["arguments"]["algorithm"]["algorithm"] == repr(ALGORITHM)
    assert report.title == "L2 x2 (4 iterations)"
    anonymous = proofs_check.check_trace(planted, verify=False)
    assert anonymous["theorem_3_6_2_value_convergence"].diagnosis == ()


def test_a_recorded_solver_is_rebuilt_or_named():
    stall = tm.FiniteMDP([[[1], [1]]], [[0, 1]], 0.5)
    algorithm = total_variation_algorithm()
    trace = tm.mirror_learning(stall, algorithm, tm.deterministic_policy(stall, [0]), 2,
                               solver=tv_solver)  # fmt: skip
    solver = "proofs_check.counterexamples:tv_solver"
    recorded = replace(trace, provenance=Provenance(repr(algorithm), "closest", solver, False))
    decided = proofs_check.check_trace(recorded)["theorem_3_6_2_value_convergence"]
    assert decided.failed and "decided exactly" in decided.detail  # lifted with the solver
    foreign = replace(recorded, provenance=Provenance(repr(algorithm), "closest", "<mine>", False))
    report = proofs_check.check_trace(foreign)
    assert report.title.endswith("; its solver <mine> cannot be rebuilt")
    assert report["theorem_3_6_2_value_convergence"].inconclusive  # cannot lift: undecided
    broken = replace(recorded, provenance=Provenance("Nothing()", "closest", solver, False))
    title = proofs_check.check_trace(broken).title
    assert title.endswith(
        "; its algorithm cannot be rebuilt (no diagnosis, witnesses not replayable)"
    )
    # the algorithm given, the options from the record (its solver lifts the fixed point)
    half = proofs_check.check_trace(recorded, algorithm=algorithm)
    assert half["theorem_3_6_2_value_convergence"].failed
    # the options given, the algorithm from the record
    plain = replace(recorded, provenance=Provenance(repr(algorithm), "vertex", None, True))
    other = proofs_check.check_trace(plain, options={"solver": tv_solver})
    assert other["theorem_3_6_2_value_convergence"].failed
    arguments = proofs_check.check_trace(plain)["theorem_3_6_2_value_convergence"].witness[
        "arguments"
    ]
    assert arguments["choice"] == "vertex" and arguments["strict"] is True
    # a record without an algorithm: nothing to rebuild, no failure to diagnose
    bare = replace(recorded, provenance=Provenance(None, "closest", None, False))
    assert proofs_check.check_trace(bare)["theorem_3_6_2_value_convergence"].diagnosis == ()
    # what the caller passes wins over the record
    given = proofs_check.check_trace(foreign, algorithm=algorithm, options={"solver": tv_solver})
    assert (
        given["theorem_3_6_2_value_convergence"].failed
        and given.title == "TV penalty (2 iterations)"
    )


# ---------------------------------------------------------------------------- verification
def test_a_trace_that_is_evidence_passes_verification():
    verify_trace(exact_trace())
    verify_trace(float_trace())
    # within the certified errors of both evaluations
    trace = float_trace()
    nudged = set_entry(trace.values, (2, 0), trace.values[2][0] + 5e-9)
    verify_trace(replace(trace, values=nudged))


@pytest.mark.parametrize(
    "field", ["values", "returns", "max_advantages", "drifts", "state_drifts", "drift_weights",
              "sampling", "mirror_values", "improvement_bounds", "objectives"],
)  # fmt: skip
def test_a_nan_anywhere_is_refused(field):
    trace = float_trace()
    array = getattr(trace, field)
    index = (1,) + (0,) * (array.ndim - 1)
    planted = replace(trace, **{field: set_entry(array, index, float("nan"))})
    with pytest.raises(tm.InvalidParameterError, match=rf"trace.{field}\[1(, 0)?\] is NaN"):
        verify_trace(planted)


def test_a_trace_that_is_not_evidence_is_refused():
    with pytest.raises(tm.InvalidParameterError, match=r"is not a tabular_mirror\.Trace"):
        verify_trace("trace")
    trace = float_trace()
    off = set_entry(trace.policies, (3, 0), np.array([0.7, 0.7]))
    with pytest.raises(tm.InvalidParameterError, match=r"trace.policies\[3\] is not a policy"):
        verify_trace(replace(trace, policies=off))
    far = set_entry(trace.values, (2, 1), trace.values[2][1] + 1e-6)
    with pytest.raises(tm.InvalidParameterError, match=r"trace.values\[2\] differs .* by 1e-06"):
        verify_trace(replace(trace, values=far))
    returns = set_entry(trace.returns, 4, trace.returns[4] + 1e-6)
    with pytest.raises(tm.InvalidParameterError, match=r"trace.returns\[4\]"):
        verify_trace(replace(trace, returns=returns))
    exact = exact_trace()
    tiny = set_entry(exact.values, (0, 0), exact.values[0][0] + DELTA / 10**12)
    with pytest.raises(tm.InvalidParameterError, match=r"trace.values\[0\] differs"):
        verify_trace(replace(exact, values=tiny))
    with pytest.raises(tm.InvalidParameterError, match=r"trace.values\[0\] differs"):
        proofs_check.check_trace(replace(exact, values=tiny))
    assert proofs_check.check_trace(replace(exact, values=tiny), verify=False).names()


@pytest.fixture
def fresh_error(monkeypatch):
    """Fresh evaluations certify an error of 1e-9 (planted); the trace records 0."""
    real = tm.evaluate

    def evaluate(mdp, policy, **options):
        return replace(real(mdp, policy, **options), error_bound=1e-9)

    monkeypatch.setattr(tm, "evaluate", evaluate)
    return _recorded(float_trace(), np.zeros(5))


@pytest.mark.parametrize(("nudge", "accepted"), [(1.05e-9, True), (1.15e-9, False)], ids=str)
def test_verification_allows_both_errors_and_rounding(fresh_error, nudge, accepted):
    # allowed: recorded 0 + fresh 1e-9 + 1e-12 x value scale 100 = 1.1e-9
    trace = fresh_error
    nudged = replace(trace, values=set_entry(trace.values, (1, 0), trace.values[1][0] + nudge))
    if accepted:
        verify_trace(nudged)
    else:
        with pytest.raises(tm.InvalidParameterError, match=r"allowed 1\.1e-09"):
            verify_trace(nudged)
