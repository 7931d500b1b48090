"""The ``tabular-mirror`` command line: one subcommand per job, errors as one clear line.

Subcommands: ``demo``, ``run`` (a mirror-learning run saved as a trace), ``check`` (the paper's
claims on a trace or on generated MDPs), ``plot`` (a trace to PNG/SVG/PDF), ``solve`` (optimal
values), ``reproduce`` (the paper's Figure 3 with verdicts, a CSV and a comparison), ``sweep``
(a grid of batched runs on Dask, Parquet results) and ``sweep-report`` (its tables and
heatmaps). Bad arguments and bad files print one line on stderr and return 2; a failed claim in
``check`` returns 1; Ctrl-C keeps what was done (``run`` and ``reproduce`` save it), says so and
returns 130. Long commands show a progress bar on a terminal's stderr (tqdm); every file is
written atomically (a temporary name, then a rename).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ._files import atomic_path, format_bytes, write_text
from ._progress import progress_bar, terminal_progress
from .errors import ExactnessError, TabularMirrorError

__all__ = ["main", "build_parser"]

PROGRAM = "tabular-mirror"

#: The paper's environments: CLI name -> (catalogue spec, mdps.paper builder, paper's optimum).
ENVIRONMENTS = {
    "single-step": ("paper-bandit", "paper_bandit", "10"),
    "tabular": ("paper-chain", "paper_chain", "about 9.7"),
    "grid": ("paper-grid", "paper_grid", "about -7"),
}

#: Keywords that map proofs_check verdict names to the columns of the reproduce table.
VERDICT_COLUMNS = (
    ("monotone", ("monoton",)),
    ("ineq (13)", ("13", "state_wise", "statewise", "inequality")),
    ("total drift", ("total_drift", "total drift", "drift_bound", "drift bound")),
    ("convergence", ("converg",)),
)


class _Parser(argparse.ArgumentParser):
    """argparse with errors as a single line (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _Fail(Exception):
    """A user-facing error raised by a command: one line, exit code 2."""


#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


# ---------------------------------------------------------------------------- helpers
def _optional(module: str) -> Any:
    """Import an optional sibling package (mdps, proofs_check); None if absent."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _paper_environment(name: str, exact: bool) -> Any:
    spec, builder, _ = ENVIRONMENTS[name]
    mdps = _optional("mdps")
    make = getattr(mdps, "make", None) if mdps else None
    if make is not None:
        return make(f"{spec}:exact=true" if exact else spec)
    paper = _optional("mdps.paper")
    if paper is None or not hasattr(paper, builder):
        raise _Fail(
            f"the paper's environment {name!r} needs the MDP catalogue (mdps.{builder}), "
            "which is not installed"
        )
    return getattr(paper, builder)(exact=exact)


def load_mdp(source: str) -> Any:
    """An MDP from a catalogue spec (``mdps.make``), a saved trace or a saved MDP file."""
    path = Path(source)
    if path.suffix in (".npz", ".json", ".txt", ".csv") or path.exists():
        if not path.exists():
            raise _Fail(f"MDP file {source!r} does not exist")
        if path.is_dir():
            raise _Fail(f"{source!r} is a folder, expected an MDP file, a trace or a spec")
        mdps = _optional("mdps")
        loader = getattr(mdps, "load", None) if mdps else None
        problem = None
        if loader is not None and path.suffix in (".npz", ".json"):
            try:
                return loader(path)
            except TabularMirrorError as error:
                problem = error
        try:
            return _load_trace(path).mdp
        except _Fail:
            detail = f" ({_first_line(problem)})" if problem is not None else ""
            raise _Fail(f"{source!r} is neither a saved MDP nor a saved trace{detail}") from None
    mdps = _optional("mdps")
    make = getattr(mdps, "make", None) if mdps else None
    if make is None:
        raise _Fail(
            f"MDP {source!r}: the catalogue (mdps.make) is not installed; give a saved file"
        )
    try:
        return make(source)
    except KeyError as error:
        raise _Fail(f"MDP {source!r}: {error.args[0] if error.args else error}") from None
    except TabularMirrorError as error:
        raise _Fail(f"MDP {source!r}: {_first_line(error)}") from None


def _first_line(error: Any) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _load_trace(path: Path) -> Any:
    from .traces import load_trace

    if not path.exists():
        raise _Fail(f"trace file {str(path)!r} does not exist")
    if path.is_dir():
        raise _Fail(
            f"{str(path)!r} is a folder; give one trace file (a run saved in parts keeps each "
            "part as a trace: part-000000.npz, ...)"
        )
    from .errors import InvalidFileError

    try:
        return load_trace(path)
    except InvalidFileError as error:  # it names the file and the problem
        raise _Fail(_first_line(error)) from None
    except Exception as error:  # a damaged or foreign file is the user's input, never a crash
        raise _Fail(
            f"{str(path)!r} is not a tabular-mirror trace or is damaged "
            f"({type(error).__name__}: {_first_line(error)[:200]})"
        ) from None


def _interior_policy(num_states: int, num_actions: int, seed: int, exact: bool) -> np.ndarray:
    """A random interior policy on the grid of multiples of 1/1000 (every entry >= 1/1000).

    The same numbers serve exact and float runs, so exact and float cells start from one pi_0;
    the same numbers as the public :func:`tabular_mirror.interior_policy`.
    """
    from ._validate import random_generator

    denominator = 1000
    rng = random_generator(seed, "--seed")
    rows = rng.dirichlet(np.ones(num_actions), size=num_states)
    numerators = np.floor(rows * (denominator - num_actions)).astype(int) + 1
    numerators[:, -1] += denominator - numerators.sum(axis=1)
    if exact:
        policy = np.empty((num_states, num_actions), dtype=object)
        policy.ravel()[:] = [Fraction(int(n), denominator) for n in numerators.ravel()]
        return policy
    return numerators / denominator


def _initial_policy(mdp: Any, kind: str, seed: int) -> np.ndarray:
    from .policies import uniform_policy

    if kind == "uniform":
        return uniform_policy(mdp)
    return _interior_policy(mdp.num_states, mdp.num_actions, seed, mdp.is_exact)


#: ``--exact`` reads a float MDP's numbers as the nearest fractions with this denominator bound.
EXACT_DENOMINATOR = 10**6


def _to_exact(mdp: Any, source: str) -> tuple[Any, str | None]:
    """``--exact``: the MDP in exact arithmetic, and a note saying how it was rounded (or None).

    A float MDP is read as the nearest fractions with denominators <= 10^6; the note gives the
    largest change of a probability, a reward and the discount, so "error bound 0" is never
    claimed for an MDP other than the one given without saying so. When no such fractions
    make every row sum to exactly 1, the command fails with advice a command-line user can act
    on.
    """
    if mdp.is_exact:
        return mdp, None
    try:
        exact = mdp.to_exact(limit_denominator=EXACT_DENOMINATOR)
    except TabularMirrorError:
        raise _Fail(
            f"--exact: {source!r} has float probabilities that no fractions with denominators "
            f"<= {EXACT_DENOMINATOR:,} reproduce with rows summing to exactly 1; use an exact "
            "catalogue entry (exact=true where the entry takes it, e.g. small:exact=true, or "
            "exact-garnet:S=...,A=...,b=...,seed=...), or run without --exact"
        ) from None
    dense = mdp.to_dense()
    changes = [
        float(np.abs(np.asarray(exact.transitions, dtype=float) - dense.transitions).max()),
        float(np.abs(np.asarray(exact.rewards, dtype=float) - mdp.rewards).max()),
        abs(float(exact.discount) - float(mdp.discount)),
    ]
    if max(changes) == 0:
        return exact, None
    return exact, (
        f"--exact: the float MDP was read as fractions with denominators <= "
        f"{EXACT_DENOMINATOR:,} (largest change: probability {changes[0]:.1e}, reward "
        f"{changes[1]:.1e}, discount {changes[2]:.1e}); exact results are for these fractions"
    )


def _exact_text(value: Any, digits: int = 12) -> str:
    """A Fraction with its decimal beside it when the fraction is not short.

    >>> from fractions import Fraction
    >>> _exact_text(Fraction(1825, 43))
    '1825/43 (≈ 42.4418604651)'
    >>> _exact_text(Fraction(5)), _exact_text(Fraction(1, 4))
    ('5', '1/4')
    """
    text = str(value)
    if not isinstance(value, Fraction) or value.denominator == 1 or len(text) <= 5:
        return text
    return f"{text} (≈ {float(value):.{digits}g})"


def _plural(count: int, word: str) -> str:
    """``1 iteration``, ``2 iterations``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _float(value: Any) -> float:
    return float(value) if value is not None else float("nan")


def _report(trace: Any) -> Any:
    """proofs_check's report of a trace, or None when proofs_check is not installed."""
    proofs_check = _optional("proofs_check")
    check_trace = getattr(proofs_check, "check_trace", None) if proofs_check else None
    return None if check_trace is None else check_trace(trace)


# ---------------------------------------------------------------------------- demo
def _demo(arguments: argparse.Namespace) -> int:
    """Solve the MDPtoolbox "small" MDP exactly with every method and print the certificates."""
    from . import FiniteMDP, evaluate, solve
    from .optimal import METHODS

    mdp = FiniteMDP(
        [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
        [[5, 10], [-1, 2]],
        "9/10",
    )
    print(f"MDPtoolbox 'small': {mdp}")
    print(f"{'method':<28} {'mode':<6} {'V*':<32} {'iterations':>10} {'error bound':>14}  status")
    for exact_mode in (True, False):
        model = mdp if exact_mode else mdp.to_float()
        for method in METHODS:
            result = solve(model, method=method)
            values = ", ".join(str(v) if exact_mode else f"{v:.10f}" for v in result.values)
            print(
                f"{method:<28} {'exact' if exact_mode else 'float':<6} {values:<32} "
                f"{result.iterations:>10} {float(result.error_bound):>14.3g}  {result.status}"
            )
    evaluation = evaluate(mdp, [[0, 1], [1, 0]])
    print(
        f"\nvisitation of the optimal policy: {[str(v) for v in evaluation.visitation]} "
        f"(sums to {sum(evaluation.visitation)} = 1/(1-gamma))"
    )
    return 0


# ---------------------------------------------------------------------------- run
#: ``run`` keeps the trace in memory up to this estimated size, and writes it in parts above.
PARTS_ABOVE = 512 * 1024**2
TRACE_SUFFIXES = (".npz", ".json")


def _trace_output(text: str, exact: bool) -> Path:
    """The trace file of ``run -o``: .npz for float runs, .json for exact ones, checked first.

    A wrong suffix is refused before the run starts (``-o t.txt`` silently wrote ``t.npz``,
    ``--exact -o x.npz`` wrote ``x.json``); a missing suffix is added.
    """
    path = Path(text)
    wanted = ".json" if exact else ".npz"
    if path.is_dir():
        raise _Fail(f"-o {text} is a folder; give a file name such as {path / ('trace' + wanted)}")
    if not path.suffix:
        return path.with_suffix(wanted)
    if path.suffix == wanted:
        return path
    if path.suffix in TRACE_SUFFIXES:
        kind = "an exact run is saved as JSON (fractions as text)" if exact else (
            "a float run is saved as .npz (arrays bit for bit)"
        )  # fmt: skip
        raise _Fail(f"-o {text}: {kind}; use -o {path.with_suffix(wanted)} (or no suffix)")
    raise _Fail(
        f"-o {text}: a trace file ends in .npz (float runs) or .json (exact runs); use -o "
        f"{path.with_suffix(wanted)}"
    )


def _part_size(estimated: float, iterations: int) -> int:
    """Steps per part so that one part takes about a quarter of :data:`PARTS_ABOVE`."""
    per_step = max(estimated / (iterations + 1), 1.0)
    return max(1, min(10**6, int(PARTS_ABOVE / 4 / per_step)))


def _run(arguments: argparse.Namespace) -> int:
    from .learning import mirror_learning
    from .specs import make_algorithm
    from .streaming import run_in_parts, savable, trace_bytes
    from .traces import save_trace

    algorithm = make_algorithm(arguments.algorithm)
    mdp = load_mdp(arguments.mdp)
    note = None
    if arguments.exact:
        mdp, note = _to_exact(mdp, arguments.mdp)
    output = _trace_output(arguments.output, mdp.is_exact)
    policy0 = _initial_policy(mdp, arguments.policy, arguments.seed)
    estimated = trace_bytes(mdp, arguments.iterations)
    in_parts = arguments.part_size is not None or estimated > PARTS_ABOVE
    if note:
        print(note)
    print(f"{algorithm.name} on {mdp}")
    for path, schedule in algorithm.schedules:
        print(f"  scheduled: {path} = {schedule} at iteration n (recorded in the trace)")
    bar = progress_bar(arguments.iterations, algorithm.name, terminal_progress(arguments.quiet))
    started = time.perf_counter()
    if in_parts:
        folder = output.with_suffix(".parts")
        part_size = arguments.part_size or _part_size(estimated, arguments.iterations)
        print(
            f"  the trace of {_plural(arguments.iterations, 'iteration')} could take "
            f"{format_bytes(estimated)}: writing it in parts of {_plural(part_size, 'step')} to "
            f"{folder}/"
        )
        try:
            summary = run_in_parts(
                mdp, algorithm, policy0, arguments.iterations, folder, part_size=part_size,
                choice=arguments.choice, strict=True,
                progress=lambda k, value: bar.update(postfix=f"eta={float(value):.6g}"),
                on_interrupt="stop",
            )  # fmt: skip
        finally:
            bar.close()
        elapsed = time.perf_counter() - started
        print(
            f"  {_plural(summary.iterations, 'iteration')} in {elapsed:.2f} s, stop reason: "
            f"{summary.stop_reason}, all steps certified: {summary.all_certified}"
        )
        print(
            f"  eta(pi_0) = {_float(summary.first_return):.6g}, eta(pi_n) = "
            f"{_float(summary.last_return):.6g}, eta* = {_float(summary.optimal_return):.6g}"
        )
        print(
            f"  trace saved in {_plural(summary.parts, 'part')} in {folder}/ (listed in run.json)"
        )
        if summary.stop_reason == "interrupted":
            print(f"interrupted: the {_plural(summary.iterations, 'step')} taken are saved")
            return INTERRUPTED
        return 0
    try:
        trace = mirror_learning(
            mdp, algorithm, policy0, arguments.iterations, choice=arguments.choice, strict=True,
            progress=bar.returns_callback, on_interrupt="stop",
        )  # fmt: skip
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    path = save_trace(savable(trace), output)
    gap = trace.optimality_gaps
    print(
        f"  {_plural(trace.iterations, 'iteration')} in {elapsed:.2f} s, stop reason: "
        f"{trace.stop_reason}, all steps certified: {trace.all_certified}"
    )
    print(
        f"  eta(pi_0) = {_float(trace.returns[0]):.6g}, eta(pi_n) = "
        f"{_float(trace.returns[-1]):.6g}, eta* = {_float(trace.optimal_return):.6g}, "
        f"gap = {_float(gap[-1] if gap is not None else None):.3g}"
    )
    print(f"  trace saved to {path}")
    if trace.stop_reason == "interrupted":
        print(f"interrupted: the {_plural(trace.iterations, 'step')} taken are saved in {path}")
        return INTERRUPTED
    return 0


# ---------------------------------------------------------------------------- check
def _check(arguments: argparse.Namespace) -> int:
    """Exit codes: 1 if a claim failed; 0 otherwise, also when some claims were left undecided
    (they are counted and listed), unless ``--strict`` (then an undecided claim is 1 too)."""
    proofs_check = _optional("proofs_check")
    if proofs_check is None or not hasattr(proofs_check, "check_trace"):
        raise _Fail("check needs proofs_check (check_trace), which is not installed")
    sources = [x for x in (arguments.trace, arguments.algorithm, arguments.replay) if x]
    if len(sources) != 1:
        raise _Fail("give exactly one of: a TRACE file, --algorithm SPEC, --replay WITNESS")
    width = None if arguments.verbose else 100
    if arguments.replay is not None:
        return _replay(proofs_check, Path(arguments.replay), arguments.strict)
    if arguments.trace is not None:
        trace = _load_trace(Path(arguments.trace))
        report = proofs_check.check_trace(trace)
        print(report.render(width))
        _save_witnesses(report, arguments.witness_dir, Path(arguments.trace).stem)
        return _exit_code([report], arguments.strict)
    from .specs import make_algorithm

    algorithm = make_algorithm(arguments.algorithm)
    reports = []
    for k in range(arguments.mdps):
        seed = arguments.seed + k
        spec = arguments.generator.format(seed=seed)
        if "seed=" not in spec:
            spec = f"{spec}{',' if ':' in spec else ':'}seed={seed}"
        mdp = load_mdp(spec)
        policy0 = _interior_policy(mdp.num_states, mdp.num_actions, seed, mdp.is_exact)
        report = proofs_check.check_fundamental_theorem(
            mdp, algorithm, policy0, arguments.iterations
        )
        reports.append(report)
        counts = report.counts()
        print(
            f"[{k + 1}/{arguments.mdps}] {spec}: {report.outcome.upper()} ({counts['passed']} "
            f"passed, {counts['failed']} failed, {counts['inconclusive']} inconclusive)"
        )
        if report.outcome == "failed" or arguments.verbose:
            print(report.render(width))
        _save_witnesses(report, arguments.witness_dir, f"mdp{k + 1}")
    failures = sum(r.outcome == "failed" for r in reports)
    undecided = sum(len(r.inconclusive()) for r in reports)
    print(
        f"{algorithm.name}: {failures} of {arguments.mdps} MDPs failed a claim; "
        f"{undecided} claims left undecided (inconclusive) over all runs"
    )
    return _exit_code(reports, arguments.strict)


def _exit_code(reports: list, strict: bool) -> int:
    """1 on a failed claim; with ``strict`` also on an undecided one; else 0. A claim that is
    not applicable (its hypotheses do not hold for the run) is not undecided."""
    if any(r.outcome == "failed" for r in reports):
        return 1
    inconclusive = [v for r in reports for v in r.inconclusive()]
    not_applicable = sum(v.not_applicable for v in inconclusive)
    undecided = len(inconclusive) - not_applicable
    if not_applicable:
        print(
            f"note: {not_applicable} claim{'s' if not_applicable != 1 else ''} not applicable "
            "to this run (their hypotheses do not hold; not undecided, also with --strict)"
        )
    if undecided:
        print(
            f"note: {undecided} claim{'s' if undecided != 1 else ''} inconclusive (the evidence "
            "could not decide them; see the reasons above)"
            + ("; --strict: exit 1" if strict else "; exit 0 (use --strict to exit 1)")
        )
        return 1 if strict else 0
    return 0


def _save_witnesses(report: Any, directory: str | None, stem: str) -> None:
    """Write each failed verdict's witness as DIRECTORY/STEM-CLAIM.json (replayable)."""
    if directory is None:
        return
    proofs_check = _optional("proofs_check")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for verdict in report.failed():
        witness = verdict.witness
        if isinstance(witness, dict) and "call" in witness:
            path = proofs_check.save_witness(witness, folder / f"{stem}-{verdict.name}.json")
            print(f"  witness of {verdict.name} saved to {path} (replay: tabular-mirror check "
                  f"--replay {path})")  # fmt: skip
        else:
            print(f"  {verdict.name}: no replayable witness (the trace does not name its "
                  "algorithm)")  # fmt: skip


def _replay(proofs_check: Any, path: Path, strict: bool) -> int:
    from .errors import TabularMirrorError

    witness = proofs_check.load_witness(path)
    try:
        verdict = proofs_check.replay(witness)
    except TabularMirrorError as error:
        raise _Fail(f"{path}: cannot replay: {error}") from None
    expected = witness.get("expected", {})
    print(str(verdict))
    same = expected.get("outcome") == verdict.outcome and (
        expected.get("iteration"),
        expected.get("state"),
    ) == (verdict.worst_iteration, verdict.worst_state)
    print(
        f"replayed {witness['claim']}: {verdict.outcome} at iteration {verdict.worst_iteration}, "
        f"state {verdict.worst_state}; recorded: {expected.get('outcome')} at iteration "
        f"{expected.get('iteration')}, state {expected.get('state')} -> "
        + ("reproduced" if same else "NOT reproduced")
    )
    return _exit_code([proofs_check.Report((verdict,))], strict)


# ---------------------------------------------------------------------------- plot
FORMATS = (".png", ".svg", ".pdf")


def save_figure(figure: Any, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically (the format from the suffix); return the path."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format=path.suffix.lstrip(".").lower(), dpi=dpi)
    return path


def _plot(arguments: argparse.Namespace) -> int:
    from . import plots

    output = (
        Path(arguments.output) if arguments.output else Path(arguments.trace).with_suffix(".png")
    )
    if output.suffix.lower() not in FORMATS:
        raise _Fail(f"output {str(output)!r}: unknown format; use one of {', '.join(FORMATS)}")
    trace = _load_trace(Path(arguments.trace))
    if arguments.kind == "convergence":
        figure = plots.convergence(trace)
    elif arguments.kind == "simplex":
        figure = plots.simplex_trajectory(trace, state=arguments.state)
    else:
        figure = plots.value_polytope(trace.mdp, trace)
    save_figure(figure, output, arguments.dpi)
    print(f"{arguments.kind} figure saved to {output}")
    return 0


# ---------------------------------------------------------------------------- solve
def _shown_states(num_states: int, most: int) -> list[int | None]:
    """The states to print: all of them, or the first and last halves around one None.

    Eliding is only worth it when it hides at least two states (21 states with
    ``--max-states 20`` used to hide one value behind "...").
    """
    if num_states <= most + 1:
        return list(range(num_states))
    half = max(most // 2, 1)
    return [*range(half), None, *range(num_states - half, num_states)]


def _solve(arguments: argparse.Namespace) -> int:
    from .optimal import solve

    mdp = load_mdp(arguments.mdp)
    note = None
    if arguments.exact:
        mdp, note = _to_exact(mdp, arguments.mdp)
    if note:
        print(note)
    iterative = arguments.method in ("value_iteration", "modified_policy_iteration")
    bar = progress_bar(
        None, arguments.method.replace("_", " "), iterative and terminal_progress(arguments.quiet)
    )
    try:
        result = solve(
            mdp,
            method=arguments.method,
            progress=bar.residual_callback if bar.bar is not None else None,
        )
    finally:
        bar.close()
    exact = mdp.is_exact
    print(
        f"{arguments.method} on {mdp}: {result.status} after "
        f"{_plural(result.iterations, 'iteration')}"
    )
    if not result.converged:
        print(f"  {result.message}")
    bound = _exact_text(result.error_bound) if exact else f"{float(result.error_bound):.3g}"
    residual = _exact_text(result.residual) if exact else f"{float(result.residual):.3g}"
    print(f"  error bound ||V* - V||_inf <= {bound}  (Bellman residual {residual})")
    evaluation = result.evaluation
    if not exact:
        mark = "" if evaluation.visitation_certified else " (above its tolerance)"
        print(
            f"  visitation rho: certified ||rho - rho_pi||_1 <= "
            f"{float(evaluation.visitation_error_bound):.3g}{mark}"
        )
    eta = _exact_text(result.expected_return) if exact else f"{float(result.expected_return):.12g}"
    print(f"  eta* = {eta}")
    width = len(str(mdp.num_states - 1))
    for s in _shown_states(mdp.num_states, arguments.max_states):
        if s is None:
            hidden = mdp.num_states - 2 * max(arguments.max_states // 2, 1)
            print(f"  ... {hidden} more states (--max-states {mdp.num_states} prints them all)")
            continue
        value = result.values[s]
        text = _exact_text(value) if exact else f"{value:.12g}"
        print(f"  V*[{s:>{width}}] = {text}")
    return 0 if result.converged else 1


# ---------------------------------------------------------------------------- reproduce
CSV_COLUMNS = (
    "iteration",
    "environment",
    "drift",
    "neighbourhood",
    "mode",
    "mean_value",
    "expected_return",
    "drift_paid",
    "cumulative_drift",
    "optimality_gap",
    "improvement_bound",
    "certificate_bound",
    "certified",
)


def _cell_rows(key: tuple[str, str, str], trace: Any, mode: str) -> list[list[Any]]:
    environment, drift, neighbourhood = key
    rows = []
    gaps = trace.optimality_gaps
    cumulative = trace.cumulative_drift
    for n in range(trace.iterations + 1):
        step = n < trace.iterations
        certificate = trace.certificates[n] if step else None
        rows.append(
            [
                n,
                environment,
                drift,
                neighbourhood,
                mode,
                repr(float(np.mean(np.asarray(trace.values[n], dtype=float)))),
                repr(float(trace.returns[n])),
                repr(float(trace.drifts[n])) if step else "",
                repr(float(cumulative[n])),
                repr(float(gaps[n])) if gaps is not None else "",
                repr(float(trace.improvement_bounds[n])) if step else "",
                ""
                if certificate is None or certificate.bound is None
                else repr(float(certificate.bound)),
                "" if certificate is None else str(bool(certificate.certified)).lower(),
            ]
        )
    return rows


def _verdict_cells(report: Any) -> list[str]:
    """The four table columns from a proofs_check report, one word per column: FAIL if a
    claim of the column failed, else "undecided" if one was inconclusive ("n/a" when the
    claims do not apply, e.g. (8)-(9) when d has a zero), else PASS; "-" if none matched."""
    cells = []
    for _, keywords in VERDICT_COLUMNS:
        matched = [
            v
            for v in report.verdicts
            if any(k in v.name.lower().replace("-", "_") for k in keywords)
        ]
        if not matched:
            cells.append("-")
        elif any(v.failed for v in matched):
            cells.append("FAIL")
        elif all(v.inconclusive and v.reason.startswith("not applicable") for v in matched):
            cells.append("n/a")  # e.g. (8)-(9) when d has a zero: U_beta = 0 says nothing
        elif any(v.inconclusive for v in matched):
            cells.append("undecided")
        else:
            cells.append("PASS")
    return cells


#: What each column of figure3.csv holds; row n describes pi_n (n = 0 is the initial policy),
#: and the per-step columns of row n describe the step pi_n -> pi_{n+1}, so they are empty on
#: the last row of a run (no step leaves pi_N).
CSV_COLUMN_DOCS = {
    "iteration": "n, the index of the policy pi_n (0 = the initial policy)",
    "environment": "single-step, tabular or grid (see mdps.paper)",
    "drift": "the drift of the run (zero, squared_tv, squared_l2, forward_kl; each x50)",
    "neighbourhood": "drift_ball or kl_ball (radius 0.05)",
    "mode": "exact (Fractions) or float (certified floats)",
    "mean_value": "the plain mean of V_{pi_n} over all states (d is uniform over the "
    "non-terminal states only, so this differs from eta(pi_n) where there are terminal states)",
    "expected_return": "eta(pi_n) = d . V_{pi_n}, the quantity Figure 3 plots (solid)",
    "drift_paid": "drift_{pi_n}(pi_{n+1}) = sum_s nu[s] D_{pi_n}(pi_{n+1} | s), the drift of the "
    "step n -> n+1 (empty on the last row)",
    "cumulative_drift": "sum_{k<n} drift_{pi_k}(pi_{k+1}); Figure 3's dotted curve is "
    "eta(pi_0) + cumulative_drift",
    "optimality_gap": "eta* - eta(pi_n), with eta* computed exactly",
    "improvement_bound": "the Theorem 3.6(1) lower bound of eta(pi_{n+1}) - eta(pi_n): "
    "sum_s d[s] (nu[s]/beta[s]) D_{pi_n}(pi_{n+1} | s) (empty on the last row)",
    "certificate_bound": "the step n -> n+1's certified bound on (max objective - achieved "
    "objective) (empty on the last row, or when the certificate gives none)",
    "certified": "true when the step n -> n+1's bound is within its tolerance (empty on the "
    "last row)",
}

#: The files a ``reproduce`` run owns in its folder (moved aside when a new run replaces it).
RUN_MANIFEST = "reproduce.json"
PREVIOUS_RUN = "previous-run"


def _owned_files(output: Path) -> list[Path]:
    """The files and folders of an earlier ``reproduce`` run in ``output``."""
    names = [
        RUN_MANIFEST,
        "figure3.csv",
        "traces",
        *(f"figure3.{f}" for f in ("png", "svg", "pdf")),
    ]
    return [output / name for name in names if (output / name).exists()]


def _install_run(output: Path, staging: Path, record: dict[str, Any]) -> str | None:
    """Move a finished (or interrupted) run from ``staging`` into ``output``.

    An earlier run's files go first to ``output/previous-run/`` (replacing an older one), so
    the folder never holds a mixture of two runs; ``reproduce.json`` says which run the files
    are, when it ran, with what arguments, and whether it was complete. Returns a note when an
    earlier run was moved.
    """
    note = None
    earlier = _owned_files(output)
    if earlier:
        previous = output / PREVIOUS_RUN
        if previous.exists():
            shutil.rmtree(previous)
        previous.mkdir()
        for path in earlier:
            os.replace(path, previous / path.name)
        note = f"the earlier run in {output} was moved to {previous}"
    write_text(staging / RUN_MANIFEST, json.dumps(record, indent=1))
    for path in sorted(staging.iterdir(), key=lambda p: p.name == RUN_MANIFEST):
        os.replace(path, output / path.name)  # the manifest last: it marks a complete move
    staging.rmdir()
    return note


def _write_csv(path: Path, rows: list[list[Any]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    with atomic_path(path) as temporary:
        temporary.write_text(buffer.getvalue(), newline="")


def _reproduce(arguments: argparse.Namespace) -> int:
    from . import __version__, plots
    from .instances import PAPER_DRIFTS, PAPER_NEIGHBOURHOODS, paper_experiment
    from .learning import mirror_learning
    from .traces import save_trace

    environments = arguments.environments
    unknown = [e for e in environments if e not in ENVIRONMENTS]
    if unknown:
        raise _Fail(
            f"unknown environment {unknown[0]!r}; valid environments: {', '.join(ENVIRONMENTS)}"
        )
    if arguments.iterations < 1:
        raise _Fail(f"--iterations {arguments.iterations} must be >= 1")
    output = Path(arguments.output)
    if output.exists() and not output.is_dir():
        raise _Fail(f"--output {output} is a file; give a folder")
    output.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".reproduce-", dir=output))
    (staging / "traces").mkdir()
    proofs_check = _optional("proofs_check")
    have_checks = proofs_check is not None and hasattr(proofs_check, "check_trace")
    cells = [(d, n) for n in PAPER_NEIGHBOURHOODS for d in PAPER_DRIFTS]
    exact_models: dict[str, Any] = {}
    traces: dict[tuple[str, str, str], Any] = {}
    modes: dict[tuple[str, str, str], str] = {}
    reports: dict[tuple[str, str, str], Any] = {}
    errors: dict[tuple[str, str, str], str] = {}
    rows: list[list[Any]] = []
    notes: dict[tuple[str, str, str], str] = {}
    bar = progress_bar(
        len(environments) * len(cells), "reproduce", terminal_progress(arguments.quiet), "run"
    )
    started = time.perf_counter()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    interrupted = False
    try:
        models = {e: _paper_environment(e, exact=False) for e in environments}
        for environment in environments:
            model = models[environment]
            policy0 = _interior_policy(model.num_states, model.num_actions, arguments.seed, False)
            for drift, neighbourhood in cells:
                key = (environment, drift, neighbourhood)
                algorithm = paper_experiment(drift, neighbourhood)
                trace, mode = None, "float"
                with warnings.catch_warnings(record=True) as recorded:
                    warnings.simplefilter("always")
                    try:
                        if arguments.exact:
                            if environment not in exact_models:
                                exact_models[environment] = _paper_environment(environment, True)
                            exact_policy = _interior_policy(
                                model.num_states, model.num_actions, arguments.seed, True
                            )
                            try:
                                trace = mirror_learning(
                                    exact_models[environment], algorithm, exact_policy,
                                    arguments.iterations, strict=True,
                                )  # fmt: skip
                                mode = "exact"
                            except ExactnessError:
                                trace = None
                        if trace is None:
                            trace = mirror_learning(
                                model, algorithm, policy0, arguments.iterations, strict=True
                            )
                    except TabularMirrorError as error:
                        errors[key] = _first_line(error)
                    if recorded:
                        first = _first_line(recorded[0].message)
                        notes[key] = (
                            f"{len(recorded)} numerical warning(s) in the step, first: {first}"
                        )
                bar.update(postfix=f"{environment} {drift} {neighbourhood}")
                if key in errors:
                    continue
                traces[key], modes[key] = trace, mode
                save_trace(trace, staging / "traces" / f"{environment}_{drift}_{neighbourhood}")
                rows.extend(_cell_rows(key, trace, mode))
                if have_checks:
                    reports[key] = proofs_check.check_trace(
                        trace, algorithm=algorithm, options={"strict": True}
                    )
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    _write_csv(staging / "figure3.csv", rows)
    figure_path = output / f"figure3.{arguments.format}"
    if traces:
        figure = plots.paper_figure(
            {k: traces[k] for k in traces},
            environments=[e for e in environments if any(k[0] == e for k in traces)],
        )
        save_figure(figure, staging / figure_path.name)
    record = {
        "program": f"{PROGRAM} {__version__}",
        "status": "interrupted" if interrupted else "complete",
        "started": started_at,
        "seconds": round(elapsed, 3),
        "arguments": {
            "iterations": arguments.iterations,
            "environments": environments,
            "exact": arguments.exact,
            "seed": arguments.seed,
            "format": arguments.format,
        },
        "runs": len(traces),
        "exact_runs": sum(m == "exact" for m in modes.values()),
        "errors": {" / ".join(k): v for k, v in errors.items()},
        "csv_columns": CSV_COLUMN_DOCS,
    }
    moved = _install_run(output, staging, record)
    if moved:
        print(f"note: {moved}")
    _print_table(traces, modes, reports, errors, have_checks)
    for key, note in sorted(notes.items(), key=lambda item: _cell_order(item[0])):
        print(f"note {' / '.join(key)}: {note}")
    if not interrupted:
        _print_comparison(environments, traces, reports, errors, arguments.iterations)
    exact_runs = record["exact_runs"]
    print(
        f"\n{_plural(len(traces), 'run')} ({exact_runs} exact, {len(traces) - exact_runs} float "
        f"with certified steps) in {elapsed:.1f} s; wrote "
        + (f"{figure_path}, " if traces else "")
        + f"{output / 'figure3.csv'} (columns described in {output / RUN_MANIFEST}) and "
        f"{_plural(len(traces), 'trace')} in {output / 'traces'}"
    )
    if interrupted:
        print(
            f"interrupted after {_plural(len(traces), 'run')} of "
            f"{len(environments) * len(cells)}: what was done is saved, marked 'interrupted' in "
            f"{output / RUN_MANIFEST}"
        )
        return INTERRUPTED
    failed = bool(errors) or any(r.outcome == "failed" for r in reports.values())
    undecided = sum(1 for r in reports.values() for v in r.inconclusive() if not v.not_applicable)
    if undecided:
        print(
            f"{undecided} claims undecided (inconclusive): a finite run that has not reached "
            "eta* decides convergence only at a certified fixed point (see the notes above)"
        )
    return 1 if (failed or undecided) and arguments.strict else 0


def _print_table(traces: dict, modes: dict, reports: dict, errors: dict, have_checks: bool) -> None:
    header = ["environment", "drift", "neighbourhood", "mode", "n", "stop", "final gap"]
    header += [name for name, _ in VERDICT_COLUMNS]
    table = []
    for key in sorted(set(traces) | set(errors), key=_cell_order):
        if key in errors:
            table.append([*key, "-", "-", "error", "-", *(["-"] * len(VERDICT_COLUMNS))])
            continue
        trace = traces[key]
        gaps = trace.optimality_gaps
        verdicts = (
            _verdict_cells(reports[key]) if key in reports else ["n/a"] * len(VERDICT_COLUMNS)
        )
        table.append(
            [
                *key,
                modes[key],
                str(trace.iterations),
                trace.stop_reason,
                f"{float(gaps[-1]):.2e}" if gaps is not None else "-",
                *verdicts,
            ]
        )
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    if not have_checks:
        print("(verdict columns n/a: proofs_check.check_trace is not installed)")
    for key, message in sorted(errors.items(), key=lambda item: _cell_order(item[0])):
        print(f"error in {' / '.join(key)}: {message}")
    for key, report in sorted(reports.items(), key=lambda item: _cell_order(item[0])):
        undecided = [v for v in report.inconclusive() if not v.reason.startswith("not applicable")]
        if undecided:
            print(
                f"undecided {' / '.join(key)}: "
                f"{', '.join(v.name.replace('theorem_3_6_', 'thm 3.6 ') for v in undecided)} "
                f"({undecided[0].reason.split(': ', 1)[-1]})"
            )
        for verdict in report.verdicts:
            if verdict.failed:
                print(
                    f"FAIL {' / '.join(key)}: {verdict.name} (margin {verdict.margin}, "
                    f"iteration {verdict.worst_iteration}, state {verdict.worst_state}): "
                    f"{verdict.explanation()}"
                )


def _cell_order(key: tuple[str, str, str]) -> tuple[int, int, int]:
    from .instances import PAPER_DRIFTS, PAPER_NEIGHBOURHOODS

    environments = list(ENVIRONMENTS)
    return (
        environments.index(key[0]) if key[0] in environments else 99,
        PAPER_NEIGHBOURHOODS.index(key[2]) if key[2] in PAPER_NEIGHBOURHOODS else 99,
        list(PAPER_DRIFTS).index(key[1]) if key[1] in PAPER_DRIFTS else 99,
    )


def _finite_prefix(trace: Any) -> tuple[np.ndarray, np.ndarray]:
    """(returns, cumulative drift) up to the first non-finite entry."""
    returns = np.asarray(trace.returns, dtype=float)
    cumulative = np.asarray(trace.cumulative_drift, dtype=float)
    bad = np.flatnonzero(~(np.isfinite(returns) & np.isfinite(cumulative)))
    end = bad[0] if bad.size else len(returns)
    return returns[:end], cumulative[:end]


def _print_comparison(
    environments: list[str], traces: dict, reports: dict, errors: dict, iterations: int
) -> None:
    print("\nComparison with the paper (Kuba et al. 2022, section 7, Figure 3):")
    for environment in environments:
        keys = [k for k in traces if k[0] == environment]
        if not keys:
            print(f"  {environment}: no run finished")
            continue
        optimum = float(traces[keys[0]].optimal_return)
        finite = {k: _finite_prefix(traces[k]) for k in keys}
        monotone = sum(bool(np.all(np.diff(finite[k][0]) >= -1e-9)) for k in keys)
        below = sum(
            bool(np.all(finite[k][0] - finite[k][0][0] - finite[k][1] >= -1e-9)) for k in keys
        )
        broken = sum(len(finite[k][0]) < traces[k].iterations + 1 for k in keys)
        uncertified = sum(traces[k].stop_reason == "not_certified" for k in keys)
        close = sum(
            abs(float(traces[k].optimality_gaps[-1])) <= 1e-2 * max(1.0, abs(optimum)) for k in keys
        )
        failed = sum(1 for k in keys if k in reports and reports[k].outcome == "failed")
        paper_optimum = ENVIRONMENTS[environment][2]
        print(
            f"  {environment}: eta* = {optimum:.4g} (paper: {paper_optimum}); monotone return in "
            f"{monotone}/{len(keys)} runs; eta(pi_0) + cumulative drift <= eta(pi_n) in "
            f"{below}/{len(keys)}; within 1% of eta* after {iterations} iterations in "
            f"{close}/{len(keys)}"
            + (f"; proofs_check failures in {failed}" if reports else "")
            + (f"; {uncertified} stopped at an uncertified step" if uncertified else "")
            + (f"; {broken} hit a non-finite step (counted up to it)" if broken else "")
            + (f"; {sum(k[0] == environment for k in errors)} runs errored" if errors else "")
        )
    print(
        "  The paper reports that every instance improves monotonically, that the dotted curve "
        "(initial value + cumulative drift) stays below the solid one, and that all runs approach "
        "the optimum. The paper approximates the argmax (1000 gradient steps); here every step is "
        "the argmax up to a certified tolerance (exact Fractions in the cells marked exact), and a "
        "run stops at the first step that cannot be certified."
    )


# ---------------------------------------------------------------------------- sweep
def _sweep(arguments: argparse.Namespace) -> int:
    """Run a sweep spec on Dask; exit 1 if a task raised (rerun with --resume to finish)."""
    from .sweeps import sweep

    result = sweep(
        arguments.spec,
        arguments.output,
        scheduler=arguments.scheduler,
        workers=arguments.workers,
        resume=arguments.resume,
        progress=not arguments.quiet,
    )
    print(result.summary())
    return 0 if result.finished else 1


def _sweep_report(arguments: argparse.Namespace) -> int:
    """Summarise a sweep directory: a table per grid cell and phase-diagram heatmaps."""
    from .sweeps import sweep_report

    report = sweep_report(
        arguments.directory,
        output=arguments.output,
        x=arguments.x,
        y=arguments.y,
        values=tuple(
            arguments.value or ("failure_rate", "stall_rate", "mean_iterations_to_optimal")
        ),
        where=arguments.where,
        figure_format=arguments.format,
    )
    columns = ("runs", "failure_rate", "stall_rate", "exact_stall_rate", "reached_rate")
    shown = [c for c in (*report.axes, *columns, "mean_iterations_to_optimal") if c in report.table]
    print(report.text(shown))
    print("wrote " + ", ".join(str(path) for path in report.files))
    return 0


# ---------------------------------------------------------------------------- parser
#: The largest count a command accepts (iterations, MDPs, states to print).
MAX_COUNT = 10**9


def _positive_int(text: str) -> int:
    """A count: an integer literal in [0, 10^9]."""
    return _integer(text, 0, MAX_COUNT)


def _integer(text: str, minimum: int, maximum: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= {minimum}")
    if value > maximum:
        raise argparse.ArgumentTypeError(f"{text!r} must be <= {maximum:,}")
    return value


def _seed(text: str) -> int:
    """A random seed: an integer >= 0 (numpy refuses negative seeds)."""
    return _integer(text, 0, 2**63 - 1)


def _dpi(text: str) -> int:
    """A raster resolution in dots per inch, 1..2400."""
    return _integer(text, 1, 2400)


def _part_size_argument(text: str) -> int:
    """Steps per part of ``run --part-size``: 1..10^6."""
    return _integer(text, 1, 10**6)


def _environment_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENVIRONMENTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown environment {unknown[0] if unknown else text!r}; valid: "
            f"{', '.join(ENVIRONMENTS)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (``tabular-mirror COMMAND --help``)."""
    from .optimal import METHODS
    from .specs import spec_help

    formatter = argparse.RawDescriptionHelpFormatter
    from . import __version__

    parser = _Parser(
        prog=PROGRAM,
        description="Exact tabular verification of mirror learning (Kuba et al., ICML 2022).",
        epilog="Start with: tabular-mirror reproduce",
    )
    parser.add_argument("--version", action="version", version=f"{PROGRAM} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add: Callable[..., argparse.ArgumentParser] = commands.add_parser

    demo = add("demo", help="solve a catalogue MDP exactly and print certificates")
    demo.set_defaults(handler=_demo)

    run = add(
        "run",
        help="run mirror learning and save the trace",
        formatter_class=formatter,
        epilog="algorithm specs:\n" + spec_help(),
    )
    run.add_argument("mdp", metavar="MDP", help="catalogue spec (e.g. garnet:S=10,A=3) or file")
    run.add_argument("algorithm", metavar="ALGORITHM", help="algorithm spec, e.g. ppo:epsilon=0.2")
    run.add_argument("-n", "--iterations", type=_positive_int, default=50, help="default 50")
    run.add_argument("--policy", choices=("uniform", "random"), default="uniform", help="pi_0")
    run.add_argument("--seed", type=_seed, default=0, help="seed of the random pi_0 (default 0)")
    run.add_argument("--exact", action="store_true", help="exact Fractions (GPI, L2, TV, PPO)")
    run.add_argument(
        "--choice", choices=("closest", "vertex", "adversarial"), default="closest",
        help="which maximiser when the argmax is a set (default closest)",
    )  # fmt: skip
    run.add_argument(
        "-o", "--output", default="trace",
        help="trace file: .npz for float runs, .json for exact ones (default trace + the suffix)",
    )  # fmt: skip
    run.add_argument(
        "--part-size", type=_part_size_argument, default=None, metavar="K",
        help="write the trace in parts of K steps to OUTPUT.parts/ (bounded memory; automatic "
        "when the whole trace would exceed 512 MiB)",
    )  # fmt: skip
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)

    check = add(
        "check",
        help="check the paper's claims on a trace, on generated MDPs, or replay a witness "
        "(exit 1 if a claim fails; inconclusive claims are counted, exit 1 with --strict)",
        formatter_class=formatter,
        epilog="examples:\n  tabular-mirror check trace.npz\n"
        "  tabular-mirror check --algorithm ppo:epsilon=0.2 --mdps 20 --witness-dir witnesses\n"
        "  tabular-mirror check --replay witnesses/mdp1-theorem_3_6_2_value_convergence.json",
    )
    check.add_argument("trace", metavar="TRACE", nargs="?", help="a saved trace")
    check.add_argument("--algorithm", metavar="SPEC", help="check this algorithm instead")
    check.add_argument(
        "--replay", metavar="WITNESS", help="re-run the check a saved witness (JSON) names"
    )
    check.add_argument(
        "--witness-dir", metavar="DIR", help="save each failed claim's witness (JSON) here"
    )
    check.add_argument(
        "--strict", action="store_true", help="exit 1 also when a claim is inconclusive"
    )
    check.add_argument("--mdps", type=_positive_int, default=10, help="generated MDPs (10)")
    check.add_argument(
        "--generator", default="garnet:S=8,A=3,b=2",
        help="catalogue spec of generated MDPs; seed=K is appended (garnet:S=8,A=3,b=2)",
    )  # fmt: skip
    check.add_argument("-n", "--iterations", type=_positive_int, default=30, help="default 30")
    check.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    check.add_argument("-v", "--verbose", action="store_true", help="print every report")
    check.set_defaults(handler=_check)

    plot = add("plot", help="plot a saved trace to PNG, SVG or PDF")
    plot.add_argument("trace", metavar="TRACE", help="a saved trace (.npz or .json)")
    plot.add_argument("-o", "--output", help="figure file (.png/.svg/.pdf; default TRACE.png)")
    plot.add_argument(
        "--kind", choices=("convergence", "simplex", "polytope"), default="convergence",
        help="convergence (default), simplex (3 actions) or polytope (2 states)",
    )  # fmt: skip
    plot.add_argument("--state", type=_positive_int, default=0, help="state for --kind simplex")
    plot.add_argument("--dpi", type=_dpi, default=110, help="raster resolution, 1-2400 (110)")
    plot.set_defaults(handler=_plot)

    solve = add("solve", help="optimal values V* of an MDP")
    solve.add_argument("mdp", metavar="MDP", help="catalogue spec or file")
    solve.add_argument("--method", choices=METHODS, default="policy_iteration", help="solver")
    solve.add_argument(
        "--exact", action="store_true",
        help="exact Fractions (a float MDP is read as fractions with denominators <= 10^6; the "
        "largest change is printed)",
    )  # fmt: skip
    solve.add_argument("--max-states", type=_positive_int, default=20, help="states to print")
    solve.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    solve.set_defaults(handler=_solve)

    reproduce = add(
        "reproduce",
        help="reproduce the paper's Figure 3 with verdicts, a CSV and a comparison",
        formatter_class=formatter,
        description="Run the paper's 4 drifts x 2 neighbourhoods on its 3 environments (d, beta "
        "and nu uniform, drifts x50, radius 0.05, one random initial policy), check every run with "
        "proofs_check, write figure3.png, figure3.csv and the traces, and compare with the paper.",
    )
    reproduce.add_argument(
        "-o", "--output", default="tabular-mirror-output", help="directory (tabular-mirror-output)"
    )
    reproduce.add_argument("-n", "--iterations", type=_positive_int, default=50, help="50")
    reproduce.add_argument(
        "--environments", type=_environment_list, default=list(ENVIRONMENTS),
        help=f"comma-separated subset of {','.join(ENVIRONMENTS)} (default all)",
    )  # fmt: skip
    reproduce.add_argument(
        "--exact", action="store_true",
        help="run exactly where the step allows (N = Pi with a rational drift); others in float",
    )  # fmt: skip
    reproduce.add_argument("--seed", type=_seed, default=0, help="seed of pi_0 (default 0)")
    reproduce.add_argument("--format", choices=("png", "svg", "pdf"), default="png")
    reproduce.add_argument("--strict", action="store_true", help="exit 1 if a check fails")
    reproduce.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    reproduce.set_defaults(handler=_reproduce)

    sweep = add(
        "sweep",
        help="run a grid of batched runs (a TOML spec) on Dask; results as Parquet",
        description="Run a sweep spec (see tabular_mirror.sweeps.spec) on a LocalCluster with one "
        "worker per core, or on the Dask cluster at --scheduler; one Parquet file per task in "
        "DIR/tasks. Exit 1 if a task raised (finish with --resume).",
    )
    sweep.add_argument("spec", metavar="SPEC.toml", help="the sweep specification")
    sweep.add_argument("-o", "--output", default="sweep-output", help="directory (sweep-output)")
    sweep.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="an existing Dask scheduler")
    sweep.add_argument("--workers", type=int, help="LocalCluster workers (default: one per core)")
    sweep.add_argument("--resume", action="store_true", help="skip tasks already written")
    sweep.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=_sweep)

    report = add(
        "sweep-report",
        help="summarise a sweep: a table per grid cell and phase-diagram heatmaps",
    )
    report.add_argument("directory", metavar="DIR", help="a sweep directory")
    report.add_argument("-o", "--output", help="where to write summary.csv and figures (DIR)")
    report.add_argument("--x", help="heatmap x axis (default: the first swept parameter)")
    report.add_argument("--y", help="heatmap y axis (default: the second swept parameter)")
    report.add_argument("--value", action="append", help="quantity to draw (repeatable)")
    report.add_argument("--where", help="pandas query on the runs first, e.g. 'steps == steps'")
    report.add_argument("--format", choices=("png", "svg", "pdf"), default="png")
    report.set_defaults(handler=_sweep_report)
    return parser


#: Library advice that a command-line user cannot act on, and what to say instead.
_CLI_ADVICE = (
    ("use mdp.to_float()", "run without --exact (or give a float MDP)"),
    ("use to_float() first", "run without --exact (or give a float MDP)"),
    ("use to_float()", "run without --exact (or give a float MDP)"),
    ("FiniteMDP.to_exact() or tabular_mirror.float_to_fraction_array", "--exact"),
    ("use to_exact(limit_denominator=...) to read them as nearby fractions", "use an exact "
     "catalogue entry (exact=true) or run without --exact"),
)  # fmt: skip


def _for_the_command_line(message: str) -> str:
    for library, command_line in _CLI_ADVICE:
        message = message.replace(library, command_line)
    return message


def _check_arguments(arguments: argparse.Namespace) -> None:
    """Checks of arguments that argparse cannot express, before any work starts."""
    generator = getattr(arguments, "generator", None)
    if arguments.command == "check" and generator is not None:
        try:
            generator.format(seed=0)
        except (KeyError, IndexError, ValueError, AttributeError) as error:
            raise _Fail(
                f"--generator {generator!r}: braces may only hold {{seed}} (the MDP's seed), "
                f"found {type(error).__name__}: {error}"
            ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tabular-mirror`` console script; returns the exit code.

    0 on success, 1 when a check fails (``check``, ``reproduce --strict``) or a solve does not
    converge, 2 on a bad argument or file (one line on stderr, never a traceback), 130 after
    Ctrl-C (what was done is kept and the output says where).
    """
    parser = build_parser()
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a bad argument (2, message already printed)
        return int(stop.code or 0)
    if not getattr(arguments, "handler", None):
        parser.print_help()
        return 2
    command = f"{PROGRAM} {arguments.command}"
    try:
        _check_arguments(arguments)
        return int(arguments.handler(arguments) or 0)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except (_Fail, TabularMirrorError, OSError) as error:
        message = _first_line(error) if str(error).strip() else repr(error)
        print(f"{command}: error: {_for_the_command_line(message)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            f"{command}: error: out of memory; use a smaller or sparse MDP (e.g. sparse=true)",
            file=sys.stderr,
        )
        return 2
    except Exception as error:  # a bug: still one line, and how to see the traceback
        if os.environ.get("TABULAR_MIRROR_TRACEBACK"):
            raise
        print(
            f"{command}: internal error ({type(error).__name__}: {_first_line(error)[:300]}); "
            "please report it with the command line (TABULAR_MIRROR_TRACEBACK=1 shows the "
            "traceback)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
