"""Runs one step at a time, in parts on disk, and stopped by Ctrl-C (issue 11)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mdps
import tabular_mirror as tm
from tabular_mirror import _exact, instances
from tabular_mirror.errors import InvalidFileError, InvalidParameterError
from tabular_mirror.streaming import MANIFEST, load_parts, run_in_parts, trace_bytes

ARRAYS = (
    "policies", "values", "returns", "max_advantages", "drifts", "state_drifts",
    "drift_weights", "sampling", "mirror_values", "improvement_bounds", "objectives",
)  # fmt: skip


@pytest.fixture(scope="module")
def garnet():
    return mdps.make("garnet:S=6,A=3,b=2,seed=1")


def _same_run(left, right) -> None:
    for name in ARRAYS:
        assert np.array_equal(getattr(left, name), getattr(right, name)), name
    assert [c.bound for c in left.certificates] == [c.bound for c in right.certificates]
    assert (left.stop_reason, left.optimal_return) == (right.stop_reason, right.optimal_return)


def test_steps_generator_matches_mirror_learning(garnet):
    trace = tm.mirror_learning(garnet, instances.pmd(0.3), tm.uniform_policy(garnet), 12)
    steps = list(
        tm.mirror_learning_steps(garnet, instances.pmd(0.3), tm.uniform_policy(garnet), 12)
    )
    assert [s.iteration for s in steps] == list(range(1, 13))
    assert np.array_equal(np.array([s.expected_return for s in steps]), trace.returns[1:])
    assert np.array_equal(np.array([s.improvement_bound for s in steps]), trace.improvement_bounds)


@pytest.mark.parametrize("part_size", [1, 4, 1000], ids=["one", "four", "all"])
def test_parts_join_to_the_same_trace(tmp_path, garnet, part_size):
    algorithm, policy = instances.pmd(0.3), tm.uniform_policy(garnet)
    summary = run_in_parts(garnet, algorithm, policy, 30, tmp_path / "run", part_size=part_size)
    assert summary.iterations == 30
    assert summary.parts == -(-30 // part_size)
    _same_run(load_parts(tmp_path / "run"), tm.mirror_learning(garnet, algorithm, policy, 30))
    manifest = json.loads((tmp_path / "run" / MANIFEST).read_text())
    assert manifest["stop_reason"] == "iterations"
    # every part is an ordinary trace
    part = tm.load_trace(tmp_path / "run" / manifest["parts"][0])
    assert part.iterations == min(part_size, 30)


def test_exact_parts(tmp_path):
    mdp = mdps.make("small:exact=true")
    summary = run_in_parts(mdp, instances.gpi(), tm.uniform_policy(mdp), 10, tmp_path / "r",
                           part_size=1)  # fmt: skip
    assert summary.stop_reason == "optimal"
    whole = tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 10)
    _same_run(load_parts(tmp_path / "r"), whole)


def test_a_folder_with_a_run_is_refused(tmp_path, garnet):
    run_in_parts(garnet, instances.gpi(), tm.uniform_policy(garnet), 2, tmp_path / "r")
    with pytest.raises(InvalidParameterError, match="already holds a run"):
        run_in_parts(garnet, instances.gpi(), tm.uniform_policy(garnet), 2, tmp_path / "r")


def test_parts_that_do_not_join_are_a_file_error(tmp_path, garnet):
    run_in_parts(garnet, instances.pmd(0.3), tm.uniform_policy(garnet), 6, tmp_path / "r",
                 part_size=3)  # fmt: skip
    manifest = json.loads((tmp_path / "r" / MANIFEST).read_text())
    manifest["parts"].reverse()
    (tmp_path / "r" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(InvalidFileError, match="does not start where"):
        load_parts(tmp_path / "r")
    with pytest.raises(InvalidFileError):
        load_parts(tmp_path / "nothing")


class _InterruptAfter:
    """A progress callback that raises KeyboardInterrupt at a given iteration (a Ctrl-C)."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def __call__(self, iteration, _returns) -> None:
        if iteration == self.iteration:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_the_steps_taken(garnet):
    # Ctrl-C lost the whole run; with on_interrupt="stop" the trace so far is returned
    trace = tm.mirror_learning(garnet, instances.pmd(0.3), tm.uniform_policy(garnet), 50,
                               progress=_InterruptAfter(7), on_interrupt="stop")  # fmt: skip
    assert (trace.iterations, trace.stop_reason) == (7, "interrupted")
    with pytest.raises(KeyboardInterrupt):
        tm.mirror_learning(garnet, instances.pmd(0.3), tm.uniform_policy(garnet), 50,
                           progress=_InterruptAfter(3))  # fmt: skip


def test_ctrl_c_in_parts_saves_the_last_part(tmp_path, garnet):
    summary = run_in_parts(garnet, instances.pmd(0.3), tm.uniform_policy(garnet), 50,
                           tmp_path / "r", part_size=4, progress=_InterruptAfter(10),
                           on_interrupt="stop")  # fmt: skip
    assert (summary.iterations, summary.stop_reason) == (10, "interrupted")
    joined = load_parts(tmp_path / "r")
    assert (joined.iterations, joined.stop_reason) == (10, "interrupted")


def test_trace_bytes_counts_every_iteration():
    mdp = mdps.make("garnet:S=100,A=4,b=3,seed=0")
    assert trace_bytes(mdp, 10**9) > 2 * 1024**4  # a billion iterations do not fit in memory
    assert trace_bytes(mdp, 100) < 10 * 1024**2


def test_progress_true_draws_a_bar(garnet, capsys):
    trace = tm.mirror_learning(garnet, instances.gpi(), tm.uniform_policy(garnet), 3, progress=True)
    assert trace.iterations >= 1
    assert "gpi" in capsys.readouterr().err.lower()


def test_bad_progress_and_interrupt_arguments(garnet):
    with pytest.raises(InvalidParameterError, match="progress"):
        tm.mirror_learning(garnet, instances.gpi(), tm.uniform_policy(garnet), 3, progress=5)
    with pytest.raises(InvalidParameterError, match="on_interrupt"):
        tm.mirror_learning(garnet, instances.gpi(), tm.uniform_policy(garnet), 3,
                           on_interrupt="ignore")  # fmt: skip


def test_missing_python_flint_warns_once(monkeypatch):
    # exact mode without python-flint was 127x slower at S = 200 and nothing said so
    monkeypatch.setattr(_exact, "_flint", None)
    monkeypatch.setattr(_exact, "_warned_slow_backend", False)
    mdp = mdps.make("small:exact=true")
    with pytest.warns(RuntimeWarning, match="python-flint") as record:
        tm.evaluate(mdp, tm.uniform_policy(mdp))
        tm.evaluate(mdp, tm.uniform_policy(mdp))
    assert len([w for w in record if "python-flint" in str(w.message)]) == 1
