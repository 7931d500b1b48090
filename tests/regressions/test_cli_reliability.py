"""Issue 11: the command line's errors, long runs, Ctrl-C, files and output.

Each test says what broke before. Errors are one line on stderr with exit code 2, never a
traceback; Ctrl-C keeps what was done and exits 130.
"""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest

import mdps
import tabular_mirror as tm
from tabular_mirror import cli, learning
from tabular_mirror.cli import main
from tabular_mirror.traces import load_trace


def error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert "internal error" not in captured.err
    return lines[0]


@pytest.fixture
def small_trace(tmp_path):
    mdp = mdps.make("small")
    trace = tm.mirror_learning(mdp, tm.instances.pmd(0.5), tm.uniform_policy(mdp), 4)
    return tm.save_trace(trace, tmp_path / "small")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        # a traceback with exit 1 for each of these
        (["run", "small", "gpi", "--seed", "-1"], "--seed"),
        (["run", "small", "pmd:step=1e999"], "step = "),
        (["check", "--algorithm", "gpi", "--generator", "garnet:S={x}", "--mdps", "1"],
         "braces may only hold {seed}"),
        (["plot", "{trace}", "--dpi", "0"], "--dpi"),
        (["plot", "{trace}", "--dpi", "100000"], "--dpi"),
        (["run", "small", "gpi", "-n", "1e300"], "not an integer"),
        (["run", "small", "gpi", "-n", "10000000000"], "<= 1,000,000,000"),
        # -o t.txt silently wrote t.npz; --exact -o x.npz wrote x.json
        (["run", "small", "gpi", "-o", "{tmp}/t.txt"], "use -o"),
        (["run", "small", "gpi", "--exact", "-o", "{tmp}/x.npz"], "x.json"),
        (["run", "small", "gpi", "-o", "{tmp}/x.json"], "x.npz"),
        # the advice named a Python method ("use to_exact(limit_denominator=...)")
        (["solve", "garnet:S=20,A=3,b=5,seed=0", "--exact"], "exact-garnet"),
        (["run", "small:exact=true", "pmd:step=1"], "run without --exact"),
        (["solve", "forest:S=100000,sparse=false"], "sparse=true"),
        (["solve", "small:exact=maybe"], "exact = 'maybe'"),
        (["solve", "{tmp}"], "folder"),
    ],
)  # fmt: skip
def test_errors_are_one_line_with_exit_code_2(argv, fragment, small_trace, tmp_path, capsys):
    argv = [a.replace("{trace}", str(small_trace)).replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    line = error_line(capsys)
    assert fragment in line
    assert "to_float()" not in line and "to_exact(" not in line


DAMAGE = {
    "truncated": lambda data: data[: len(data) // 2],
    "garbage": lambda data: b"\x00\xff" * 40,
    "empty": lambda data: b"",
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
@pytest.mark.parametrize("command", ["plot", "check", "solve", "run"])
def test_damaged_files_are_one_line(command, damage, small_trace, capsys):
    # BadZipFile / EOFError tracebacks with exit 1
    small_trace.write_bytes(DAMAGE[damage](small_trace.read_bytes()))
    argv = {"run": ["run", str(small_trace), "gpi"]}.get(command, [command, str(small_trace)])
    assert main(argv) == 2
    error_line(capsys)


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args(["--version"])
    assert stop.value.code == 0
    capsys.readouterr()
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"tabular-mirror {tm.__version__}"


def test_one_iteration_is_singular(tmp_path, capsys):
    # "1 iterations"
    assert main(["run", "small", "gpi", "-o", str(tmp_path / "t")]) == 0
    out = capsys.readouterr().out
    assert "1 iteration in" in out and "1 iterations" not in out
    assert main(["solve", "small", "--exact"]) == 0
    assert "after 1 iteration\n" in capsys.readouterr().out


def test_long_fractions_have_a_decimal_beside(capsys):
    # eta* printed as a 35-digit fraction with no decimal
    assert main(["solve", "paper-chain:exact=true"]) == 0
    out = capsys.readouterr().out
    assert "eta* = 4890109945011/500000000000 (≈ 9.78021989002)" in out


def test_twenty_one_states_are_all_printed(capsys):
    # one value of 21 was hidden behind "..."
    assert main(["solve", "paper-grid", "--max-states", "20"]) == 0
    out = capsys.readouterr().out
    assert "..." not in out
    assert out.count("V*[") == 21
    assert main(["solve", "forest:S=100", "--max-states", "10"]) == 0
    out = capsys.readouterr().out
    assert out.count("V*[") == 10
    assert "... 90 more states (--max-states 100 prints them all)" in out


def test_exact_rounding_is_reported(capsys):
    # --exact rounded probabilities to denominators <= 10^6 and printed "error bound <= 0"
    assert main(["solve", "garnet:S=5,A=2,b=2,seed=0", "--exact"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("--exact: the float MDP was read as fractions")
    assert "largest change: probability" in out


def test_certified_at_scale(capsys):
    # `solve forest:S=100000,discount=0.96,sparse=true` said not_certified and exited 1 while
    # printing "error bound <= 3.3e-12"; the visitation's bound is now reported on its own line
    assert main(["solve", "forest:S=100000,discount=0.96,sparse=true"]) == 0
    out = capsys.readouterr().out
    assert ": converged after" in out
    assert "visitation rho: certified ||rho - rho_pi||_1 <=" in out


def test_large_catalogue_entry_is_solved_sparse(capsys):
    # `solve forest:S=1000000` died with a 14.6 TiB MemoryError traceback
    assert main(["solve", "forest:S=1000000", "--max-states", "2"]) == 0
    assert "sparse): converged" in capsys.readouterr().out


def _interrupt_after(count):
    """A replacement for mirror_learning_steps that raises KeyboardInterrupt after `count` steps."""
    original = learning.mirror_learning_steps

    def steps(*args, **kwargs):
        for k, step in enumerate(original(*args, **kwargs)):
            if k == count:
                raise KeyboardInterrupt
            yield step

    return steps


def test_ctrl_c_in_run_saves_the_steps_taken(tmp_path, monkeypatch, capsys):
    # Ctrl-C lost the whole run
    monkeypatch.setattr(learning, "mirror_learning_steps", _interrupt_after(3))
    output = tmp_path / "run.npz"
    assert main(["run", "garnet:S=6,A=3,b=2,seed=1", "pmd:step=0.1", "-n", "100", "-o",
                 str(output)]) == 130  # fmt: skip
    out = capsys.readouterr().out
    assert "interrupted: the 3 steps taken are saved" in out
    trace = load_trace(output)  # the file says why the run stopped
    assert (trace.iterations, trace.stop_reason) == (3, "interrupted")


def test_ctrl_c_in_run_in_parts(tmp_path, monkeypatch, capsys):
    from tabular_mirror import streaming

    monkeypatch.setattr(streaming, "mirror_learning_steps", _interrupt_after(5))
    output = tmp_path / "run.npz"
    argv = ["run", "garnet:S=6,A=3,b=2,seed=1", "pmd:step=0.1", "-n", "100", "--part-size", "2"]
    assert main([*argv, "-o", str(output)]) == 130
    assert tm.load_parts(tmp_path / "run.parts").iterations == 5


def test_a_huge_run_streams_to_parts(tmp_path, monkeypatch, capsys):
    # `run -n 1000000000` grew memory at 15 MiB/s; now the trace goes to disk in parts
    monkeypatch.setattr(learning, "mirror_learning_steps", _interrupt_after(4))
    from tabular_mirror import streaming

    monkeypatch.setattr(streaming, "mirror_learning_steps", learning.mirror_learning_steps)
    argv = ["run", "garnet:S=6,A=3,b=2,seed=1", "pmd:step=0.001", "-n", "1000000000"]
    assert main([*argv, "-o", str(tmp_path / "long")]) == 130
    out = capsys.readouterr().out
    assert "writing it in parts of" in out
    assert (tmp_path / "long.parts" / "run.json").exists()


def test_ctrl_c_elsewhere_exits_130(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tm.optimal, "solve", interrupted)
    assert main(["solve", "small"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_progress_bar_on_a_terminal(tmp_path, monkeypatch, capsys):
    # long commands printed nothing until the end
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(["run", "garnet:S=6,A=3,b=2,seed=1", "pmd:step=0.1", "-n", "5", "-o",
                 str(tmp_path / "t")]) == 0  # fmt: skip
    assert "PMD" in capsys.readouterr().err
    assert main(["run", "small", "gpi", "-q", "-o", str(tmp_path / "q")]) == 0
    assert capsys.readouterr().err == ""


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reproduce")
    argv = ["reproduce", "--environments", "single-step", "-n", "2", "-q", "-o", str(folder)]
    assert main(argv) in (0, 1)
    first = json.loads((folder / "reproduce.json").read_text())
    assert main([*argv, "--seed", "3"]) in (0, 1)
    return folder, first


def test_reproduce_into_a_folder_with_a_run_moves_the_old_one(two_runs):
    # a second run into the same folder left a mixture of old and new files without a mark
    folder, first = two_runs
    manifest = json.loads((folder / "reproduce.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["arguments"]["seed"] == 3
    previous = json.loads((folder / "previous-run" / "reproduce.json").read_text())
    assert previous == first
    assert sorted(p.name for p in folder.iterdir()) == [
        "figure3.csv",
        "figure3.png",
        "previous-run",
        "reproduce.json",
        "traces",
    ]  # fmt: skip no staging folder left behind


def test_reproduce_csv_columns_are_documented(two_runs):
    folder, _ = two_runs
    manifest = json.loads((folder / "reproduce.json").read_text())
    with open(folder / "figure3.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(cli.CSV_COLUMNS) == list(manifest["csv_columns"])
    # the per-step columns are empty exactly on the last row of each run (no step leaves it)
    last = {}
    for row in rows:
        last[(row["drift"], row["neighbourhood"])] = row
    for row in rows:
        final = row is last[(row["drift"], row["neighbourhood"])]
        assert (row["drift_paid"] == "") == final
        assert (row["improvement_bound"] == "") == final


def test_reproduce_ctrl_c_keeps_the_runs_done(tmp_path, monkeypatch, capsys):
    calls = {"n": 0}
    original = learning.mirror_learning

    def interrupted_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(learning, "mirror_learning", interrupted_third)
    argv = ["reproduce", "--environments", "single-step", "-n", "2", "-q", "-o", str(tmp_path)]
    assert main(argv) == 130
    manifest = json.loads((tmp_path / "reproduce.json").read_text())
    assert (manifest["status"], manifest["runs"]) == ("interrupted", 2)
    assert len(list((tmp_path / "traces").iterdir())) == 2
    assert "interrupted after 2 runs of 8" in capsys.readouterr().out


def test_interior_policy_is_the_clis(tmp_path):
    # a notebook imported the private cli._interior_policy; the public one gives the same pi_0
    mdp = mdps.make("paper-grid")
    assert np.array_equal(
        tm.interior_policy(mdp, 0), cli._interior_policy(mdp.num_states, mdp.num_actions, 0, False)
    )
