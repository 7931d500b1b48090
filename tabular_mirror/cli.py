"""The ``tabular-mirror`` command line: one subcommand per job, errors as one clear line.

Subcommands: ``demo``, ``run`` (a mirror-learning run saved as a trace), ``check`` (the paper's
claims on a trace or on generated MDPs), ``plot`` (a trace to PNG/SVG/PDF), ``solve`` (optimal
values), ``reproduce`` (the paper's Figure 3 with verdicts, a CSV and a comparison). Bad
arguments print one line on stderr and return 2; a failed claim in ``check`` returns 1.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .errors import ExactnessError, InvalidParameterError, TabularMirrorError

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
        mdps = _optional("mdps")
        for name in ("load", "load_mdp"):
            loader = getattr(mdps, name, None) if mdps else None
            if loader is not None:
                try:
                    return loader(path)
                except (KeyError, ValueError, TabularMirrorError):
                    break
        try:
            return _load_trace(path).mdp
        except _Fail:
            raise _Fail(f"{source!r} is neither a saved MDP nor a saved trace") from None
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


def _load_trace(path: Path) -> Any:
    from .traces import load_trace

    if not path.exists():
        raise _Fail(f"trace file {str(path)!r} does not exist")
    from .errors import InvalidFileError

    try:
        return load_trace(path)
    except InvalidFileError as error:  # it names the file and the problem
        raise _Fail(str(error)) from None
    except (ValueError, OSError) as error:
        raise _Fail(f"{str(path)!r} is not a tabular-mirror trace ({error})") from None


def _interior_policy(num_states: int, num_actions: int, seed: int, exact: bool) -> np.ndarray:
    """A random interior policy on the grid of multiples of 1/1000 (every entry >= 1/1000).

    The same numbers serve exact and float runs, so exact and float cells start from one pi_0.
    """
    denominator = 1000
    rng = np.random.default_rng(seed)
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


def _to_exact(mdp: Any) -> Any:
    if mdp.is_exact:
        return mdp
    try:
        return mdp.to_exact(limit_denominator=10**6)
    except TabularMirrorError:
        return mdp.to_exact()


class _Progress:
    """tqdm when installed, else a plain ``\\r``-updated line on stderr (only on a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.count, self.enabled, self.bar = total, 0, enabled, None
        if enabled:
            tqdm = _optional("tqdm")
            if tqdm is not None:
                self.bar = tqdm.tqdm(total=total, file=sys.stderr, leave=False)

    def update(self, label: str) -> None:
        self.count += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_description(label)
            self.bar.update()
        else:
            sys.stderr.write(f"\r[{self.count}/{self.total}] {label:<50}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


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
def _run(arguments: argparse.Namespace) -> int:
    from .learning import mirror_learning
    from .specs import make_algorithm
    from .traces import save_trace

    algorithm = make_algorithm(arguments.algorithm)
    mdp = load_mdp(arguments.mdp)
    if arguments.exact:
        mdp = _to_exact(mdp)
    policy0 = _initial_policy(mdp, arguments.policy, arguments.seed)
    started = time.perf_counter()
    trace = mirror_learning(
        mdp, algorithm, policy0, arguments.iterations, choice=arguments.choice, strict=True
    )
    elapsed = time.perf_counter() - started
    path = save_trace(trace, arguments.output)
    gap = trace.optimality_gaps
    print(f"{algorithm.name} on {mdp}")
    print(
        f"  {trace.iterations} iterations in {elapsed:.2f} s, stop reason: {trace.stop_reason}, "
        f"all steps certified: {trace.all_certified}"
    )
    print(
        f"  eta(pi_0) = {_float(trace.returns[0]):.6g}, eta(pi_n) = "
        f"{_float(trace.returns[-1]):.6g}, eta* = {_float(trace.optimal_return):.6g}, "
        f"gap = {_float(gap[-1] if gap is not None else None):.3g}"
    )
    print(f"  trace saved to {path}")
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
    """1 on a failed claim; with ``strict`` also on an undecided one; else 0."""
    if any(r.outcome == "failed" for r in reports):
        return 1
    undecided = sum(len(r.inconclusive()) for r in reports)
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
    figure.savefig(output, dpi=arguments.dpi)
    print(f"{arguments.kind} figure saved to {output}")
    return 0


# ---------------------------------------------------------------------------- solve
def _solve(arguments: argparse.Namespace) -> int:
    from .optimal import solve

    mdp = load_mdp(arguments.mdp)
    if arguments.exact:
        mdp = _to_exact(mdp)
    result = solve(mdp, method=arguments.method)
    print(f"{arguments.method} on {mdp}: {result.status} after {result.iterations} iterations")
    print(f"  error bound ||V* - V||_inf <= {result.error_bound}  (residual {result.residual})")
    print(f"  eta* = {result.expected_return}")
    width = len(str(mdp.num_states - 1))
    shown = list(range(mdp.num_states))
    if len(shown) > arguments.max_states:
        half = arguments.max_states // 2
        shown = [*shown[:half], None, *shown[-half:]]
    for s in shown:
        if s is None:
            print("  ...")
            continue
        value = result.values[s]
        text = str(value) if mdp.is_exact else f"{value:.12g}"
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


def _reproduce(arguments: argparse.Namespace) -> int:
    from . import plots
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
    output.mkdir(parents=True, exist_ok=True)
    (output / "traces").mkdir(exist_ok=True)
    proofs_check = _optional("proofs_check")
    have_checks = proofs_check is not None and hasattr(proofs_check, "check_trace")
    cells = [(d, n) for n in PAPER_NEIGHBOURHOODS for d in PAPER_DRIFTS]
    models = {e: _paper_environment(e, exact=False) for e in environments}
    exact_models: dict[str, Any] = {}
    traces: dict[tuple[str, str, str], Any] = {}
    modes: dict[tuple[str, str, str], str] = {}
    reports: dict[tuple[str, str, str], Any] = {}
    errors: dict[tuple[str, str, str], str] = {}
    rows: list[list[Any]] = []
    progress = _Progress(
        len(environments) * len(cells), not arguments.quiet and sys.stderr.isatty()
    )
    notes: dict[tuple[str, str, str], str] = {}
    started = time.perf_counter()
    for environment in environments:
        model = models[environment]
        policy0 = _interior_policy(model.num_states, model.num_actions, arguments.seed, False)
        for drift, neighbourhood in cells:
            key = (environment, drift, neighbourhood)
            algorithm = paper_experiment(drift, neighbourhood)
            progress.update(f"{environment} {drift} {neighbourhood}")
            trace, mode = None, "float"
            caught = warnings.catch_warnings(record=True)
            recorded = caught.__enter__()
            warnings.simplefilter("always")
            try:
                if arguments.exact:
                    if environment not in exact_models:
                        exact_models[environment] = _paper_environment(environment, exact=True)
                    exact_model = exact_models[environment]
                    exact_policy = _interior_policy(
                        model.num_states, model.num_actions, arguments.seed, True
                    )
                    try:
                        trace = mirror_learning(
                            exact_model, algorithm, exact_policy, arguments.iterations, strict=True
                        )
                        mode = "exact"
                    except ExactnessError:
                        trace = None
                if trace is None:
                    trace = mirror_learning(
                        model, algorithm, policy0, arguments.iterations, strict=True
                    )
            except TabularMirrorError as error:
                errors[key] = str(error).splitlines()[0]
                continue
            finally:
                caught.__exit__(None, None, None)
                if recorded:
                    first = str(recorded[0].message).splitlines()[0]
                    notes[key] = f"{len(recorded)} numerical warning(s) in the step, first: {first}"
            traces[key], modes[key] = trace, mode
            save_trace(trace, output / "traces" / f"{environment}_{drift}_{neighbourhood}")
            rows.extend(_cell_rows(key, trace, mode))
            if have_checks:
                reports[key] = proofs_check.check_trace(
                    trace, algorithm=algorithm, options={"strict": True}
                )
    progress.close()
    elapsed = time.perf_counter() - started
    with open(output / "figure3.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    figure_path = output / f"figure3.{arguments.format}"
    if traces:
        figure = plots.paper_figure(
            {k: traces[k] for k in traces},
            environments=[e for e in environments if any(k[0] == e for k in traces)],
        )
        figure.savefig(figure_path, dpi=110)
    _print_table(traces, modes, reports, errors, have_checks)
    for key, note in sorted(notes.items(), key=lambda item: _cell_order(item[0])):
        print(f"note {' / '.join(key)}: {note}")
    _print_comparison(environments, traces, reports, errors, arguments.iterations)
    print(
        f"\n{len(traces)} runs ({sum(m == 'exact' for m in modes.values())} exact) in "
        f"{elapsed:.1f} s; wrote {figure_path}, {output / 'figure3.csv'} and "
        f"{len(traces)} traces in {output / 'traces'}"
    )
    failed = bool(errors) or any(r.outcome == "failed" for r in reports.values())
    undecided = sum(
        1
        for r in reports.values()
        for v in r.inconclusive()
        if not v.reason.startswith("not applicable")
    )
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


# ---------------------------------------------------------------------------- parser
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


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
    parser = _Parser(
        prog=PROGRAM,
        description="Exact tabular verification of mirror learning (Kuba et al., ICML 2022).",
        epilog="Start with: tabular-mirror reproduce",
    )
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
    run.add_argument("--seed", type=int, default=0, help="seed of the random pi_0 (default 0)")
    run.add_argument("--exact", action="store_true", help="exact Fractions (GPI, L2, TV, PPO)")
    run.add_argument(
        "--choice", choices=("closest", "vertex", "adversarial"), default="closest",
        help="which maximiser when the argmax is a set (default closest)",
    )  # fmt: skip
    run.add_argument("-o", "--output", default="trace.npz", help="trace file (default trace.npz)")
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
    plot.add_argument("--dpi", type=_positive_int, default=110, help="raster resolution (110)")
    plot.set_defaults(handler=_plot)

    solve = add("solve", help="optimal values V* of an MDP")
    solve.add_argument("mdp", metavar="MDP", help="catalogue spec or file")
    solve.add_argument("--method", choices=METHODS, default="policy_iteration", help="solver")
    solve.add_argument("--exact", action="store_true", help="exact Fractions")
    solve.add_argument("--max-states", type=_positive_int, default=20, help="states to print")
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
    reproduce.add_argument("--seed", type=int, default=0, help="seed of pi_0 (default 0)")
    reproduce.add_argument("--format", choices=("png", "svg", "pdf"), default="png")
    reproduce.add_argument("--strict", action="store_true", help="exit 1 if a check fails")
    reproduce.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    reproduce.set_defaults(handler=_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tabular-mirror`` console script; returns the exit code."""
    parser = build_parser()
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a bad argument (2, message already printed)
        return int(stop.code or 0)
    if not getattr(arguments, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(arguments.handler(arguments) or 0)
    except (_Fail, TabularMirrorError, InvalidParameterError, OSError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        command = f"{PROGRAM} {arguments.command}"
        print(f"{command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
