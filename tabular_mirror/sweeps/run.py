"""Run a sweep on Dask: a LocalCluster by default, or an existing scheduler.

:func:`sweep` validates the spec, plans the tasks, writes ``sweep.json`` (the normalised spec
and the task ids), skips the tasks whose Parquet file exists (``resume=True``), and submits the
others to ``dask.distributed`` -- a ``LocalCluster`` with one single-threaded worker process
per core started for the run, or the cluster at ``scheduler="tcp://HOST:PORT"``. Dask does the
scheduling, the retries and the recovery from lost workers (a task on a killed worker is
rescheduled; it had written nothing, or its whole file). Nothing here schedules work itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError, MissingDependencyError
from .spec import SweepSpec, load_spec
from .tasks import TASKS_FOLDER, run_task, task_path

__all__ = ["sweep", "SweepResult", "SPEC_FILE"]

#: The normalised spec and task list of a sweep directory.
SPEC_FILE = "sweep.json"


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did: ``directory``, ``tasks`` (all), ``skipped`` (already on disk),
    ``completed`` (run now), ``errors`` (task id -> message of tasks that raised), ``runs``
    (rows written now), ``failed_runs`` (runs with a failed claim), ``stalled_runs``,
    ``seconds`` (wall clock, without starting the cluster), ``workers``, ``task_seconds``
    (the tasks' own wall clock, summed: busy worker time)."""

    directory: Path
    tasks: int
    skipped: int
    completed: int
    errors: dict
    runs: int
    failed_runs: int
    stalled_runs: int
    seconds: float
    workers: int
    task_seconds: float = 0.0

    @property
    def finished(self) -> bool:
        """Every task has its file."""
        return self.skipped + self.completed == self.tasks and not self.errors

    def summary(self) -> str:
        """One paragraph for a terminal."""
        text = (
            f"{self.completed} tasks run, {self.skipped} skipped (already done), "
            f"{self.tasks} in the sweep; {self.runs} runs written in {self.seconds:.1f} s on "
            f"{self.workers} workers; {self.failed_runs} runs with a failed claim, "
            f"{self.stalled_runs} stalled; results: {self.directory / TASKS_FOLDER}"
        )
        if self.errors:
            first = next(iter(self.errors.items()))
            text += (
                f"\n{len(self.errors)} tasks raised (rerun with --resume): {first[0]}: {first[1]}"
            )
        return text


class _ProgressBar:
    """A one-line bar on a terminal (``\\r``), milestone lines elsewhere; nothing if disabled."""

    def __init__(self, total: int, enabled: bool, stream: Any = None) -> None:
        self.total, self.enabled = total, enabled and total > 0
        self.stream = stream or sys.stderr
        self.done = self.runs = self.failed = 0
        self.started = time.perf_counter()
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.next_line = 0.0

    def update(self, summary: dict | None) -> None:
        self.done += 1
        if summary:
            self.runs += summary["runs"]
            self.failed += summary["failed"]
        if not self.enabled:
            return
        fraction = self.done / self.total
        elapsed = time.perf_counter() - self.started
        remaining = elapsed / fraction - elapsed if fraction else 0.0
        width = 30
        bar = "#" * int(width * fraction) + "." * (width - int(width * fraction))
        line = (
            f"[{bar}] {self.done}/{self.total} tasks, {self.runs} runs, "
            f"{self.failed} with a failed claim, {elapsed:.0f} s, ~{remaining:.0f} s left"
        )
        if self.terminal:
            self.stream.write("\r" + line)
            self.stream.flush()
        elif fraction >= self.next_line or self.done == self.total:
            self.stream.write(line + "\n")
            self.stream.flush()
            self.next_line = fraction + 0.1

    def close(self) -> None:
        if self.enabled and self.terminal:
            self.stream.write("\n")
            self.stream.flush()


def _prepare(directory: Path, spec: SweepSpec, tasks: list[dict], resume: bool) -> set[str]:
    """Create or check the sweep directory; return the ids of the tasks already done."""
    record = {"spec": spec.data, "tasks": [task["id"] for task in tasks]}
    spec_file = directory / SPEC_FILE
    if spec_file.exists():
        try:
            stored = json.loads(spec_file.read_text())
        except (OSError, ValueError) as error:
            raise InvalidParameterError(f"{spec_file} is not a sweep record: {error}") from None
        if not resume:
            raise InvalidParameterError(
                f"{directory} already holds a sweep; pass --resume (resume=True) to finish it, "
                "or choose another directory"
            )
        if stored.get("spec") != spec.data:
            raise InvalidParameterError(
                f"{directory} holds a different sweep (its {SPEC_FILE} differs from this spec); "
                "resume it with its own spec, or choose another directory"
            )
    elif directory.exists() and any(directory.iterdir()) and not resume:
        raise InvalidParameterError(f"{directory} exists and is not empty; choose a new directory")
    folder = directory / TASKS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    temporary = spec_file.with_name(f".{SPEC_FILE}.tmp")
    temporary.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(temporary, spec_file)
    for stale in folder.glob(".*.tmp"):  # left by a killed worker or run: never complete
        stale.unlink(missing_ok=True)
    return {path.stem for path in folder.glob("*.parquet")}


def _client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as error:  # pragma: no cover - a dependency
        raise MissingDependencyError(
            "sweeps run on dask.distributed: pip install 'dask[distributed]'"
        ) from error
    if scheduler is not None:
        return Client(scheduler), None
    count = workers or os.cpu_count() or 1
    cluster = LocalCluster(
        n_workers=count, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    return Client(cluster), cluster


def sweep(
    spec: Any,
    directory: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    progress: bool = True,
    client: Any = None,
) -> SweepResult:
    """Run a sweep and write its results as a Parquet dataset (one file per task).

    Parameters
    ----------
    spec : path to a TOML file, dict or SweepSpec
        The grid (see :mod:`tabular_mirror.sweeps.spec`); validated whole before anything
        starts.
    directory : path
        Where ``sweep.json`` and ``tasks/<id>.parquet`` go.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running Dask scheduler; by default a LocalCluster with
        ``workers`` single-threaded processes (default: one per core) is started for the run.
    workers : int, optional
        Workers of the LocalCluster.
    resume : bool
        Finish the sweep in ``directory``: tasks whose file exists are skipped. Without it a
        directory that already holds a sweep is an error.
    progress : bool
        A progress bar on stderr.
    client : dask.distributed.Client, optional
        Use this client (and its cluster) instead of starting one.

    Returns
    -------
    SweepResult

    Raises
    ------
    InvalidParameterError
        An invalid spec (before anything runs), a directory that holds another sweep.
    """
    spec = load_spec(spec)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):  # fmt: skip
        raise InvalidParameterError(f"workers = {workers!r}, expected an integer >= 1")
    if scheduler is not None and client is not None:
        raise InvalidParameterError("give a scheduler address or a client, not both")
    tasks = spec.tasks()
    directory = Path(directory)
    done = _prepare(directory, spec, tasks, resume)
    pending = [task for task in tasks if task["id"] not in done]
    skipped = len(tasks) - len(pending)
    errors: dict[str, str] = {}
    summaries: list[dict] = []
    count = 0
    started = time.perf_counter()
    if pending:
        from dask.distributed import as_completed

        own = created = None
        if client is None:
            client, own = _client(scheduler, workers)
            created = client
        try:
            count = len(client.scheduler_info().get("workers", {}))
            started = time.perf_counter()
            where = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:8]
            futures = {
                client.submit(
                    run_task,
                    task,
                    str(directory),
                    key=f"tabular-mirror-{where}-{task['id']}",
                    retries=1,
                    pure=False,
                ): task["id"]
                for task in pending
            }
            bar = _ProgressBar(len(futures), progress)
            try:
                for future in as_completed(futures):
                    try:
                        summary = future.result()
                    except Exception as error:
                        errors[futures[future]] = f"{type(error).__name__}: {error}"
                        bar.update(None)
                        continue
                    summaries.append(summary)
                    bar.update(summary)
            finally:
                bar.close()
        finally:
            if created is not None:  # a client (and a LocalCluster) started for this run
                created.close()
            if own is not None:
                own.close()
    seconds = time.perf_counter() - started
    missing = [t["id"] for t in pending if t["id"] not in errors and not task_path(
        directory, t["id"]).exists()]  # fmt: skip
    for task_id in missing:
        errors[task_id] = "finished without its file"
    return SweepResult(
        directory=directory,
        tasks=len(tasks),
        skipped=skipped,
        completed=len(summaries),
        errors=errors,
        runs=sum(s["runs"] for s in summaries),
        failed_runs=sum(s["failed"] for s in summaries),
        stalled_runs=sum(s["stalled"] for s in summaries),
        seconds=seconds,
        workers=count,
        task_seconds=sum(s["seconds"] for s in summaries),
    )
