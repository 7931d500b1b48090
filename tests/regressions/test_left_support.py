"""A run whose own step leaves the drift's domain ends with its trace (stop_reason
"left_support"), instead of raising and losing every step taken.

Found with growing PMD steps (schedules): in 60 random 3x3 MDPs, pmd(geometric(1, 2)) for 30
iterations raised InvalidParameterError ("policy[s, a] = 0, but the drift ... needs pi > 0") in
5 runs: exp(eta_k A) underflows to an exact 0 before the stopping tolerance is reached (the
pitfall of known_rates.md, section 5), the next KL step is undefined, and the trace was lost.
"""

from __future__ import annotations

import numpy as np
import pytest

import proofs_check
import tabular_mirror as tm
from tabular_mirror import instances, schedules
from tabular_mirror.errors import InvalidParameterError


def underflowing_run() -> tuple[tm.FiniteMDP, tm.Trace]:
    rng = np.random.default_rng(1)
    mdp = tm.FiniteMDP(rng.dirichlet(np.ones(3), size=(3, 3)), rng.random((3, 3)), 0.9)
    algorithm = instances.pmd(schedules.geometric(1.0, 2.0))
    return mdp, tm.mirror_learning(mdp, algorithm, tm.uniform_policy(mdp), 30)


def test_the_run_ends_with_its_trace():
    _, trace = underflowing_run()
    assert trace.stop_reason == "left_support"
    assert 1 <= trace.iterations < 30
    last = trace.policies[-1]
    assert (last == 0).any()  # the step that left the support is kept
    assert (trace.policies[:-1] > 0).all()
    report = proofs_check.check_trace(trace)
    assert report.outcome != "failed", report.render(None)
    assert report["lemma_3_3_monotone_values"].passed


def test_run_in_parts_ends_the_same_way(tmp_path):
    mdp, trace = underflowing_run()
    summary = tm.run_in_parts(
        mdp, instances.pmd(schedules.geometric(1.0, 2.0)), tm.uniform_policy(mdp), 30,
        tmp_path / "run", part_size=4,
    )  # fmt: skip
    assert summary.stop_reason == "left_support"
    assert summary.iterations == trace.iterations


def test_the_trace_file_round_trips(tmp_path):
    _, trace = underflowing_run()
    loaded = tm.load_trace(tm.save_trace(trace, tmp_path / "run.npz"))
    assert loaded.stop_reason == "left_support"
    assert loaded == trace


def test_a_zero_in_pi_0_is_still_the_users_error():
    mdp, _ = underflowing_run()
    policy = np.array([[1.0, 0.0, 0.0]] * 3)
    with pytest.raises(InvalidParameterError, match="needs pi > 0"):
        tm.mirror_learning(mdp, instances.pmd(1.0), policy, 3)
