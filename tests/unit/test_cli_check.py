"""``tabular-mirror check``: exit codes by outcome, --strict, witnesses and --replay.

Exit codes: 1 if a claim failed; 0 when nothing failed, also with undecided (inconclusive)
claims, which are counted on stdout; --strict makes an undecided claim exit 1 as well.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

import proofs_check
import tabular_mirror as tm
from proofs_check import counterexamples as ce
from tabular_mirror import instances
from tabular_mirror.cli import main
from tabular_mirror.traces import save_trace

#: The TV stall (docs/counterexamples.md, search 1): pi_0 is a fixed point, V* is not reached.
STALL = tm.FiniteMDP([[[1], [1]]], [[0, 1]], "1/2")
STALL_POLICY = tm.deterministic_policy(STALL, [0])


@pytest.fixture
def stalled_trace(tmp_path):
    algorithm = ce.total_variation_algorithm()
    trace = tm.mirror_learning(STALL, algorithm, STALL_POLICY, 3, solver=ce.tv_solver)
    return save_trace(trace, tmp_path / "stall")


@pytest.fixture
def unfinished_trace(tmp_path):
    # two PMD steps with a small step size: monotone, but far from eta*
    mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [1, 0]], 0.9)
    trace = tm.mirror_learning(mdp, instances.pmd(0.1), tm.uniform_policy(mdp), 2)
    return save_trace(trace, tmp_path / "unfinished")


def test_a_failed_claim_exits_1(stalled_trace, capsys):
    assert main(["check", str(stalled_trace)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "fixed point" in out


def test_undecided_claims_exit_0_and_are_counted(unfinished_trace, capsys):
    assert main(["check", str(unfinished_trace)]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "3 inconclusive" in out
    assert "note: 3 claims inconclusive" in out and "--strict" in out


def test_strict_makes_undecided_claims_exit_1(unfinished_trace, capsys):
    assert main(["check", str(unfinished_trace), "--strict"]) == 1
    assert "--strict: exit 1" in capsys.readouterr().out


def test_strict_does_not_count_claims_that_do_not_apply(tmp_path, capsys):
    """A run whose schedule changed its drift: Theorem 3.6's claims (2)-(4) and Xiao's rate
    (not KL PMD) are not applicable, every other claim is decided: --strict exits 0."""
    from tabular_mirror import drifts, schedules
    from tabular_mirror.algorithm import MirrorAlgorithm

    mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [1, 0]], "9/10")
    shrinking = drifts.scaled(drifts.SquaredEuclidean(), schedules.geometric(1, "1/2"))
    algorithm = MirrorAlgorithm.with_defaults(shrinking, name="L2, shrinking")
    trace = tm.mirror_learning(mdp, algorithm, tm.uniform_policy(mdp), 30, tol=0)
    path = save_trace(trace, tmp_path / "scheduled")
    assert main(["check", str(path), "--strict"]) == 0
    out = capsys.readouterr().out
    assert "note: 4 claims not applicable to this run" in out and "inconclusive (" not in out
    # an undecided claim next to them still exits 1 under --strict, and 0 without it
    from tabular_mirror.cli import _exit_code

    report = proofs_check.check_trace(trace)
    assert _exit_code([report], strict=True) == 0
    undecided = proofs_check.Report(
        (*report.verdicts, dataclasses.replace(report.verdicts[0], outcome="inconclusive",
                                               reason="the budget ran out"))
    )  # fmt: skip
    assert _exit_code([undecided], strict=True) == 1
    assert _exit_code([undecided], strict=False) == 0
    assert "1 claim inconclusive" in capsys.readouterr().out


def test_verbose_prints_the_whole_detail(unfinished_trace, capsys):
    main(["check", str(unfinished_trace), "-v"])
    out = capsys.readouterr().out
    assert "observed rate" in out and "..." not in out


def test_replay_reproduces_a_saved_witness(tmp_path, capsys):
    report = proofs_check.check_fundamental_theorem(
        STALL, ce.total_variation_algorithm(), STALL_POLICY, 3, solver=ce.tv_solver
    )
    verdict = report["theorem_3_6_2_value_convergence"]
    assert verdict.failed
    path = proofs_check.save_witness(verdict.witness, tmp_path / "witness.json")
    assert main(["check", "--replay", str(path)]) == 1  # the failure, reproduced
    out = capsys.readouterr().out
    assert "reproduced" in out and "NOT reproduced" not in out


def test_a_saved_trace_is_diagnosed_and_its_witnesses_replay(tmp_path, capsys):
    # the trace records its algorithm (provenance): check rebuilds it, diagnoses the failure
    # and saves a witness that replays from the command line
    mdp = tm.FiniteMDP(
        [[["1", "0"], ["1", "0"]], [["1", "0"], ["0", "1"]]], [["0", "-1"], ["1", "0"]], "9/10"
    )
    trace = tm.mirror_learning(mdp, instances.ppo(), tm.uniform_policy(mdp), 8)
    assert trace.provenance.algorithm == repr(instances.ppo())
    path = save_trace(trace, tmp_path / "ppo")
    folder = tmp_path / "witnesses"
    assert main(["check", str(path), "--witness-dir", str(folder), "-v"]) == 1
    out = capsys.readouterr().out
    assert "hypothesis_definition_3_1" in out and "pi_4[1, 0] = 0" in out
    saved = sorted(folder.glob("*.json"))
    assert len(saved) == 3  # the three convergence claims
    witness = json.loads(saved[0].read_text())
    assert witness["format"] == proofs_check.witness.WITNESS_FORMAT
    assert main(["check", "--replay", str(saved[0])]) == 1
    assert "reproduced" in capsys.readouterr().out


def test_replay_of_a_damaged_witness_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(tm.InvalidFileError):
        proofs_check.load_witness(path)
    code = main(["check", "--replay", str(path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a readable witness" in err[0]


def test_only_one_source(stalled_trace, capsys):
    assert main(["check", str(stalled_trace), "--algorithm", "gpi"]) == 2
    assert "exactly one of" in capsys.readouterr().err
