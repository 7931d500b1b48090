"""Long mirror-learning runs in bounded memory: the trace is written to disk in parts.

:func:`run_in_parts` consumes :func:`~tabular_mirror.learning.mirror_learning_steps` and saves
every ``part_size`` steps as an ordinary trace file (``part-000000.npz``, ...; ``.json`` in
exact mode) in a folder, with a manifest ``run.json`` rewritten atomically after each part.
Part k covers pi_{k m}, ..., pi_{(k+1) m} (consecutive parts share one policy), so every part
is a complete :class:`~tabular_mirror.traces.Trace` that ``load_trace``, ``proofs_check`` and
the plots read as they are, and memory holds at most one part whatever the iteration count.
:func:`load_parts` joins the parts of a short enough run back into one trace.

Examples
--------
>>> import tempfile, pathlib
>>> import tabular_mirror as tm
>>> from tabular_mirror import instances
>>> mdp = tm.FiniteMDP([[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
...                    [[5, 10], [-1, 2]], "9/10").to_float()
>>> folder = pathlib.Path(tempfile.mkdtemp()) / "run"
>>> summary = run_in_parts(mdp, instances.pmd(0.1), tm.uniform_policy(mdp), 25, folder,
...                        part_size=10)
>>> summary.iterations, summary.parts, summary.stop_reason
(25, 3, 'iterations')
>>> load_parts(folder).iterations
25
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._files import write_text
from ._validate import choice as check_choice
from ._validate import whole_number
from .algorithm import MirrorAlgorithm
from .errors import InvalidFileError, InvalidParameterError
from .evaluation import _evaluate
from .learning import (
    STOP_REASONS,
    LearningStep,
    _check_algorithm,
    _default_tolerance,
    _run,
    _stack,
    _trace,
)
from .model import FiniteMDP, check_mdp, require_discounted
from .optimal import solve
from .policies import check_policy
from .step import Solver, describe_solver
from .traces import Provenance, Trace, load_trace, save_trace

__all__ = ["run_in_parts", "load_parts", "RunSummary", "MANIFEST", "trace_bytes", "savable"]

#: The manifest's file name inside a run's folder.
MANIFEST = "run.json"
_FORMAT = "tabular-mirror-run-parts"


@dataclass(frozen=True)
class RunSummary:
    """What :func:`run_in_parts` did.

    Attributes
    ----------
    folder : the run's folder.
    parts : the number of part files written.
    iterations : the steps taken in all.
    stop_reason : as in :class:`~tabular_mirror.traces.Trace` ("interrupted" after Ctrl-C
        with ``on_interrupt="stop"``).
    first_return, last_return : eta(pi_0) and eta(pi_n).
    optimal_return : eta* (None when not computed).
    all_certified : every step was certified.
    """

    folder: Path
    parts: int
    iterations: int
    stop_reason: str
    first_return: Any
    last_return: Any
    optimal_return: Any
    all_certified: bool


def savable(trace: Trace) -> Trace:
    """The trace as it is saved (unchanged: the file format keeps every stop reason of
    :data:`tabular_mirror.learning.STOP_REASONS`, "interrupted" included)."""
    return trace


def trace_bytes(mdp: FiniteMDP, iterations: int) -> float:
    """Estimated memory of a trace of ``iterations`` steps: (S A + 8 S) numbers per step.

    A float is 8 bytes; an exact entry is counted at 100 (a Fraction object and its integers).
    """
    per_number = 100 if mdp.is_exact else 8
    per_step = mdp.num_states * mdp.num_actions + 8 * mdp.num_states + 8
    return float(per_number) * per_step * (iterations + 1)


def _write_manifest(folder: Path, record: dict[str, Any]) -> None:
    write_text(folder / MANIFEST, json.dumps(record, indent=1))


def run_in_parts(
    mdp: FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy0: Any,
    iterations: int,
    folder: str | Path,
    *,
    part_size: int = 1000,
    tol: float | None = None,
    choice: str = "closest",
    solver: Solver | None = None,
    optimum: bool = True,
    strict: bool = False,
    progress: Callable[[int, Any], None] | None = None,
    on_interrupt: str = "raise",
) -> RunSummary:
    """Run mirror learning and save its trace in parts of ``part_size`` steps.

    Parameters
    ----------
    mdp, algorithm, policy0, iterations, tol, choice, solver, strict :
        As in :func:`~tabular_mirror.mirror_learning`.
    folder : str or path-like
        Where the parts and ``run.json`` go; created if missing. A folder holding another
        run's manifest is refused (pick a new folder).
    part_size : int
        Steps per part (1 <= part_size <= 10^6); memory holds one part.
    optimum : compute V* and eta* once, stored in every part.
    progress : optional ``progress(iteration, expected_return)`` after every step.
    on_interrupt : {"raise", "stop"}
        On Ctrl-C: "raise" saves the steps taken as a last part, then re-raises; "stop" saves
        them and returns with ``stop_reason="interrupted"``.

    Returns
    -------
    RunSummary
    """
    check_mdp(mdp)
    require_discounted(mdp, "run_in_parts")
    iterations = whole_number(iterations, "iterations")
    part_size = whole_number(part_size, "part_size", minimum=1, maximum=10**6)
    check_choice(on_interrupt, "on_interrupt", ("raise", "stop"))
    check_choice(choice, "choice", ("closest", "vertex", "adversarial"))
    _check_algorithm(algorithm)
    folder = Path(folder)
    if (folder / MANIFEST).exists():
        raise InvalidParameterError(
            f"{folder} already holds a run ({MANIFEST}); choose another folder or remove it"
        )
    folder.mkdir(parents=True, exist_ok=True)
    policy = check_policy(mdp, policy0, "policy0")
    tol = _default_tolerance(mdp, tol)
    optimal = solve(mdp, method="policy_iteration") if optimum else None
    evaluation = _evaluate(mdp, policy)
    suffix = ".json" if mdp.is_exact else ".npz"
    start = {
        "policy": policy,
        "values": evaluation.values,
        "return": evaluation.expected_return,
        "largest": evaluation.advantages.max(),
        "error": evaluation.error_bound,
    }
    provenance = Provenance(repr(algorithm), choice, describe_solver(solver), bool(strict))
    first_return = evaluation.expected_return
    manifest: dict[str, Any] = {
        "format": _FORMAT,
        "algorithm": algorithm.name,
        "part_size": part_size,
        "parts": [],
        "iterations": 0,
        "stop_reason": "running",
        "all_certified": True,
    }
    _write_manifest(folder, manifest)
    buffer: list[LearningStep] = []
    certified = True

    def flush(stop_reason: str) -> None:
        nonlocal start, certified
        if not buffer and manifest["parts"]:
            return
        policies = [start["policy"], *(s.policy for s in buffer)]
        values = [start["values"], *(s.values for s in buffer)]
        returns = [start["return"], *(s.expected_return for s in buffer)]
        largest = [start["largest"], *(s.max_advantage for s in buffer)]
        part = _trace(
            mdp, algorithm, policies, values, returns, largest, buffer, stop_reason, tol,
            optimum=False, first_error=start["error"], provenance=provenance,
        )  # fmt: skip
        if optimal is not None:
            part = _with_optimum(part, optimal.values, optimal.expected_return)
        name = f"part-{len(manifest['parts']):06d}{suffix}"
        save_trace(savable(part), folder / name)
        certified = certified and part.all_certified
        manifest["parts"].append(name)
        manifest["iterations"] += len(buffer)
        manifest["all_certified"] = certified
        if buffer:
            last = buffer[-1]
            start = {
                "policy": last.policy,
                "values": last.values,
                "return": last.expected_return,
                "largest": last.max_advantage,
                "error": last.evaluation_error,
            }
        buffer.clear()

    runner = _run(mdp, algorithm, policy, iterations, tol, choice, solver, strict, evaluation)
    interrupted = False
    try:
        while True:
            try:
                step = next(runner)
            except StopIteration as stop:
                stop_reason = stop.value
                break
            if len(buffer) == part_size:  # a full part is written once the next step exists,
                flush("iterations")  # so the last part always holds the run's stop reason
            buffer.append(step)
            if progress is not None:
                progress(step.iteration, step.expected_return)
    except KeyboardInterrupt:
        runner.close()
        interrupted = True
        stop_reason = "interrupted"
    flush(stop_reason)
    manifest["stop_reason"] = stop_reason
    _write_manifest(folder, manifest)
    if interrupted and on_interrupt == "raise":
        raise KeyboardInterrupt
    return RunSummary(
        folder=folder,
        parts=len(manifest["parts"]),
        iterations=manifest["iterations"],
        stop_reason=stop_reason,
        first_return=first_return,
        last_return=start["return"],
        optimal_return=None if optimal is None else optimal.expected_return,
        all_certified=certified,
    )


def _with_optimum(trace: Trace, optimal_values: Any, optimal_return: Any) -> Trace:
    return replace(trace, optimal_values=optimal_values, optimal_return=optimal_return)


def load_parts(folder: str | Path) -> Trace:
    """Join the parts of a run written by :func:`run_in_parts` into one trace.

    The joined trace holds every iteration in memory: for runs too long for that, read the
    parts one at a time with :func:`~tabular_mirror.load_trace`.

    Raises
    ------
    InvalidFileError
        No manifest, a manifest that is not one, a missing part, or parts that do not join
        (the last policy of a part is not the first of the next).
    """
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise InvalidFileError(f"{path}: not a run manifest ({error})", path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise InvalidFileError(f"{path} is not a {_FORMAT} manifest", path)
    names = manifest.get("parts")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidFileError(f"{path}: the list of parts is missing or empty", path)
    parts = []
    for name in names:
        if Path(name).name != name:
            raise InvalidFileError(f"{path}: part name {name!r} is not a file name", path)
        parts.append(load_trace(folder / name))
    for k in range(1, len(parts)):
        if not np.array_equal(parts[k - 1].policies[-1], parts[k].policies[0]):
            raise InvalidFileError(
                f"{folder}: {names[k]} does not start where {names[k - 1]} ends", path
            )
    first, last = parts[0], parts[-1]
    stop_reason = manifest.get("stop_reason")
    if stop_reason not in STOP_REASONS:
        stop_reason = last.stop_reason
    exact = first.exact

    def joined(name: str, per_policy: bool) -> np.ndarray:
        pieces = [getattr(p, name) for p in parts]
        if per_policy:
            pieces = [pieces[0], *(piece[1:] for piece in pieces[1:])]
        nonempty = [piece for piece in pieces if len(piece)]
        if not nonempty:
            return pieces[0]
        if exact:
            return _stack([row for piece in nonempty for row in piece], True)
        return np.concatenate(nonempty)

    per_policy = ("policies", "values", "returns", "max_advantages")
    per_step = (
        "drifts", "state_drifts", "drift_weights", "sampling", "mirror_values",
        "improvement_bounds", "objectives", "step_times",
    )  # fmt: skip
    arrays = {name: joined(name, True) for name in per_policy}
    arrays |= {name: joined(name, False) for name in per_step}
    if all(p.evaluation_error_bounds is not None for p in parts):
        arrays["evaluation_error_bounds"] = joined("evaluation_error_bounds", True)
    schedule = None
    if any(p.schedule is not None for p in parts):  # one algorithm: one record, joined
        if any(p.schedule is None or p.schedule.parameters != first.schedule.parameters
               for p in parts):  # fmt: skip
            raise InvalidFileError(f"{folder}: the parts record different schedules", path)
        step = first.schedule.start
        for name, part in zip(names, parts, strict=True):
            if part.schedule.start != step:
                raise InvalidFileError(
                    f"{folder}: {name} records schedule values from step "
                    f"{part.schedule.start}, but the run is at step {step} there",
                    path,
                )
            step += len(part.schedule.values)
        schedule = replace(
            first.schedule, values=tuple(row for p in parts for row in p.schedule.values)
        )
    return Trace(
        schedule=schedule,
        provenance=first.provenance,
        algorithm=first.algorithm,
        mdp=first.mdp,
        exact=exact,
        certificates=tuple(c for p in parts for c in p.certificates),
        optimal_values=last.optimal_values,
        optimal_return=last.optimal_return,
        stop_reason=stop_reason,
        tolerance=last.tolerance,
        **arrays,
    )
