"""One sweep task: a batched run of one grid cell's chunk, written as one Parquet file.

:func:`run_task` is what a Dask worker executes. It builds the chunk's MDPs
(:func:`mdps.make_batch` with the task's seed) and initial policies, runs
:func:`tabular_mirror.batch.mirror_learning_batch`, decides every claim per run
(:func:`tabular_mirror.batch.check_batch`) and writes one row per run to
``DIRECTORY/tasks/<id>.parquet``: first under a temporary name in the same directory, then
renamed (atomic on POSIX), so a file with a task's name is always complete and a killed worker
loses at most its own task. The same task always writes the same rows (no times, no host
names in the data), so a task that runs twice leaves one identical file.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_task", "task_table", "schema", "task_path", "TASKS_FOLDER"]

#: The folder of the Parquet dataset inside a sweep directory.
TASKS_FOLDER = "tasks"

#: Columns every row has, before the swept parameters and the claim columns.
_CELL_COLUMNS = (
    ("task", "string"),
    ("run", "int64"),
    ("seed", "int64"),
    ("algorithm", "string"),
    ("mdp", "string"),
    ("discount", "float64"),
    ("iterations", "int64"),
    ("num_states", "int64"),
    ("num_actions", "int64"),
)

_CLAIM_COLUMNS = (
    ("lemma_3_5", "string"),
    ("lemma_3_5_margin", "float64"),
    ("lemma_3_5_iteration", "int64"),
    ("lemma_3_3", "string"),
    ("lemma_3_3_margin", "float64"),
    ("lemma_3_3_iteration", "int64"),
    ("inequality_13", "string"),
    ("inequality_13_margin", "float64"),
    ("inequality_13_iteration", "int64"),
    ("convergence", "string"),
    ("convergence_margin", "float64"),
    ("claims_passed", "int64"),
    ("claims_failed", "int64"),
    ("claims_inconclusive", "int64"),
    ("stalled", "bool"),
    ("stall_exact", "bool"),
    ("stop_reason", "string"),
    ("iterations_run", "int64"),
    ("iterations_to_optimal", "int64"),
    ("final_gap", "float64"),
    ("rate", "float64"),
    ("uncertified_steps", "int64"),
    ("fallback_steps", "int64"),
    ("convergence_reason", "string"),
    ("witness", "string"),
)


def schema(parameters: dict[str, str]) -> Any:
    """The Parquet schema of a sweep: cell columns, one column per swept parameter (float64
    for numbers, string otherwise; null where a cell does not have it), claim columns."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
    }
    fields = [pa.field(name, types[kind]) for name, kind in _CELL_COLUMNS]
    fields += [
        pa.field(name, pa.float64() if kind == "number" else pa.string())
        for name, kind in sorted(parameters.items())
    ]
    fields += [pa.field(name, types[kind]) for name, kind in _CLAIM_COLUMNS]
    return pa.schema(fields)


def task_path(directory: str | Path, task_id: str) -> Path:
    """Where task ``task_id`` of the sweep in ``directory`` writes its rows."""
    return Path(directory) / TASKS_FOLDER / f"{task_id}.parquet"


def _initial_policies(task: dict, batch: Any) -> np.ndarray:
    from ..batch import random_policies, uniform_policies

    if task["policy0"] == "uniform":
        return uniform_policies(batch)
    return random_policies(batch, task["policy_seed"])


def task_table(task: dict) -> Any:
    """Run ``task`` and return its rows as a ``pyarrow.Table`` (one row per run)."""
    import pyarrow as pa

    from mdps import make_batch

    from ..batch import check_batch, mirror_learning_batch

    batch = make_batch(task["mdp"], task["runs"], seed=task["mdp_seed"], discount=task["discount"])
    policies = _initial_policies(task, batch)
    trace = mirror_learning_batch(
        batch,
        task["algorithm"],
        policies,
        task["iterations"],
        choice=task["choice"],
        inexact=task["inexact"],
    )
    claims = check_batch(
        trace, epsilon=task["eps_optimality"], confirm_stalls=task["confirm_stalls"]
    )
    columns = claims.columns()
    size = batch.size
    data: dict[str, Any] = {
        "task": [task["id"]] * size,
        "run": np.arange(task["first_run"], task["first_run"] + size),
        "seed": np.full(size, task["seed"]),
        "algorithm": [task["algorithm"]] * size,
        "mdp": [task["mdp"]] * size,
        "discount": np.full(size, float(task["discount"])),
        "iterations": np.full(size, task["iterations"]),
        "num_states": np.full(size, batch.num_states),
        "num_actions": np.full(size, batch.num_actions),
    }
    values = {**task["algorithm_parameters"], **task["mdp_parameters"]}
    for name, kind in task["parameters"].items():
        value = values.get(name)
        if value is None:
            data[name] = [None] * size
        elif kind == "number":
            data[name] = np.full(size, float(value))
        else:
            data[name] = [str(value)] * size
    for name, _ in _CLAIM_COLUMNS:
        column = columns[name]
        if name in ("stall_exact", "witness"):
            data[name] = list(column)
        else:
            data[name] = np.asarray(column).tolist() if column.dtype == object else column
    return pa.Table.from_pydict(data, schema=schema(task["parameters"]))


def run_task(task: dict, directory: str) -> dict[str, Any]:
    """Run one task and write ``DIRECTORY/tasks/<id>.parquet`` (temporary name, then rename).

    Returns a small summary for the progress display: ``id``, ``runs``, runs with a failed
    claim, stalled runs, seconds.
    """
    import pyarrow.parquet as pq

    started = time.perf_counter()
    table = task_table(task)
    final = task_path(directory, task["id"])
    temporary = final.with_name(f".{task['id']}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, final)
    failed = int(np.count_nonzero(np.asarray(table.column("claims_failed")) > 0))
    stalled = int(np.count_nonzero(np.asarray(table.column("stalled"))))
    return {
        "id": task["id"],
        "runs": table.num_rows,
        "failed": failed,
        "stalled": stalled,
        "seconds": time.perf_counter() - started,
    }
