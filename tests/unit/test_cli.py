"""The command line through ``tabular_mirror.cli.main``: every subcommand, and one-line errors."""

from __future__ import annotations

import csv

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import instances
from tabular_mirror.cli import main
from tabular_mirror.traces import load_trace, save_trace

SMALL = tm.FiniteMDP(
    [[[0.5, 0.5], [0, 1], [0.9, 0.1]], [[0.8, 0.2], [0.1, 0.9], [0.5, 0.5]]],
    [[5, 10, 3], [-1, 2, 0]],
    0.9,
)


def has(module: str, attribute: str) -> bool:
    try:
        return hasattr(__import__(module, fromlist=[attribute]), attribute)
    except ImportError:
        return False


needs_catalogue = pytest.mark.skipif(not has("mdps", "make"), reason="mdps.make not available")
needs_paper = pytest.mark.skipif(
    not (has("mdps", "make") or has("mdps.paper", "paper_bandit")),
    reason="the paper's environments (mdps) are not available",
)
needs_checks = pytest.mark.skipif(
    not has("proofs_check", "check_trace"), reason="proofs_check.check_trace not available"
)


@pytest.fixture
def trace_file(tmp_path):
    trace = tm.mirror_learning(SMALL, instances.pmd(0.5), tm.uniform_policy(SMALL), 6)
    return save_trace(trace, tmp_path / "small")


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [[], ["run"], ["check"], ["plot"], ["solve"], ["reproduce"], ["demo"]],
    ids=lambda argv: "-".join(argv) or "top",
)
def test_help_everywhere(argv, capsys):
    assert main([*argv, "--help"]) == 0
    assert "usage:" in capsys.readouterr().out


def test_demo(capsys):
    assert main(["demo"]) == 0
    assert "1825/43" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_run_on_a_saved_file(trace_file, tmp_path, capsys):
    output = tmp_path / "out.npz"
    argv = ["run", str(trace_file), "ppo:epsilon=0.2", "-n", "5", "--policy", "random"]
    assert main([*argv, "--seed", "3", "-o", str(output)]) == 0
    assert "trace saved" in capsys.readouterr().out
    trace = load_trace(output)
    assert trace.algorithm == "PPO(epsilon=1/5)"
    assert trace.iterations <= 5
    assert np.all(np.asarray(trace.policies[0]) >= 1e-3)


def test_run_exact(trace_file, tmp_path):
    output = tmp_path / "exact"
    assert main(["run", str(trace_file), "gpi", "--exact", "-o", str(output)]) == 0
    trace = load_trace(tmp_path / "exact.json")
    assert trace.exact
    assert trace.stop_reason == "optimal"


@needs_catalogue
def test_run_from_the_catalogue(tmp_path, capsys):
    import mdps

    name = next(iter(mdps.available()))
    output = tmp_path / "cat.npz"
    assert main(["run", name, "pmd:step=1", "-n", "3", "-o", str(output)]) == 0
    assert output.exists()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "{trace}", "sac"], "unknown algorithm 'sac'"),
        (["run", "{trace}", "trpo:delta=0"], "delta = 0 must be > 0"),
        (["run", "{trace}", "gpi", "-n", "-3"], "must be >= 0"),
        (["run", "{trace}", "gpi", "-n", "many"], "not an integer"),
        (["run", "missing.npz", "gpi"], "does not exist"),
        (["run", "{trace}", "gpi", "--policy", "bad"], "invalid choice"),
        (["run", "{trace}", "pmd:step=1", "--exact"], "exact mode"),
        (["plot", "{trace}", "-o", "{tmp}/figure.bmp"], "unknown format"),
        (["plot", "{tmp}/nothing.npz"], "does not exist"),
        (["plot", "{trace}", "--kind", "simplex", "--state", "7"], "out of range"),
        (["solve", "{trace}", "--method", "magic"], "invalid choice"),
        (["reproduce", "--environments", "moon"], "unknown environment 'moon'"),
        (["reproduce", "--iterations", "0"], "must be >= 1"),
        (["frobnicate"], "invalid choice"),
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(value[:2]),
)
def test_errors_are_one_line_and_exit_2(argv, fragment, trace_file, tmp_path, capsys):
    argv = [a.format(trace=trace_file, tmp=tmp_path) for a in argv]
    if argv[0] == "reproduce":
        argv += ["-o", str(tmp_path / "repro")]
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert "error:" in line
    assert fragment in line


@pytest.mark.parametrize(
    ("kind", "suffix"),
    [("convergence", ".png"), ("simplex", ".svg"), ("polytope", ".pdf")],
    ids=["convergence-png", "simplex-svg", "polytope-pdf"],
)
def test_plot(kind, suffix, trace_file, tmp_path, capsys):
    output = tmp_path / f"figure{suffix}"
    assert main(["plot", str(trace_file), "--kind", kind, "-o", str(output)]) == 0
    assert output.stat().st_size > 0
    assert "saved" in capsys.readouterr().out


def test_solve(trace_file, capsys):
    assert main(["solve", str(trace_file), "--method", "value_iteration"]) == 0
    out = capsys.readouterr().out
    assert "V*[0]" in out and "eta*" in out


def test_solve_exact(trace_file, capsys):
    assert main(["solve", str(trace_file), "--exact"]) == 0
    assert "/" in capsys.readouterr().out  # Fractions are printed as p/q


@needs_checks
def test_check_a_trace(trace_file, capsys):
    assert main(["check", str(trace_file)]) == 0
    assert capsys.readouterr().out.strip()


@needs_checks
@needs_catalogue
def test_check_generated(capsys):
    code = main(["check", "--algorithm", "gpi", "--mdps", "2", "-n", "5"])
    assert code == 0, capsys.readouterr().out


@needs_checks
def test_check_needs_a_trace_or_an_algorithm(capsys):
    assert main(["check"]) == 2
    assert "give exactly one of: a TRACE" in one_error_line(capsys)


@needs_paper
def test_reproduce(tmp_path, capsys):
    output = tmp_path / "repro"
    argv = ["reproduce", "-o", str(output), "-n", "4", "--environments", "single-step,tabular"]
    assert main([*argv, "--exact", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Comparison with the paper" in out
    assert (output / "figure3.png").stat().st_size > 0
    with open(output / "figure3.csv") as handle:
        rows = list(csv.DictReader(handle))
    cells = {(r["environment"], r["drift"], r["neighbourhood"]) for r in rows}
    assert len(cells) == 16
    assert {r["mode"] for r in rows} >= {"exact", "float"}
    assert {"mean_value", "drift_paid", "optimality_gap", "improvement_bound"} <= set(rows[0])
    assert len(list((output / "traces").iterdir())) == 16
