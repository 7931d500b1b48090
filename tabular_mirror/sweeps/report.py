"""Looking at a sweep: a summary table per grid cell and phase diagrams over two parameters.

:func:`sweep_report` reads the Parquet dataset of a sweep directory with pandas (pyarrow),
summarises it per grid cell (:func:`summarise`: runs, the rate of runs with a failed claim and
of each claim failing, the stall rate and the exact-stall rate, how many runs reached
eps-optimality and after how many iterations, final gaps, the smallest margins), and draws a
heatmap per quantity over two swept parameters with the other swept parameters as panels
(:func:`phase_diagram`). The swept parameters are the grid axes that take more than one value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_path
from ..errors import InvalidParameterError
from .run import SPEC_FILE
from .tasks import TASKS_FOLDER

__all__ = [
    "SweepReport",
    "sweep_report",
    "load_results",
    "summarise",
    "phase_diagram",
    "QUANTITIES",
]

#: The summary's quantities (columns of :func:`summarise`) a phase diagram can show.
QUANTITIES = (
    "failure_rate",
    "lemma_3_5_failed",
    "lemma_3_3_failed",
    "inequality_13_failed",
    "convergence_failed",
    "inconclusive_rate",
    "stall_rate",
    "exact_stall_rate",
    "reached_rate",
    "mean_iterations_to_optimal",
    "mean_final_gap",
    "min_lemma_3_3_margin",
)

_CELL = ["algorithm", "mdp", "discount", "iterations"]


@dataclass(frozen=True)
class SweepReport:
    """``table``: the summary (a pandas DataFrame, one row per grid cell); ``axes``: the swept
    parameters; ``figures``: quantity -> matplotlib Figure; ``files``: what was written."""

    table: Any
    axes: tuple
    figures: dict = field(default_factory=dict)
    files: tuple = ()

    def text(self, columns: Any = None) -> str:
        """The summary as a fixed-width text table."""
        shown = self.table if columns is None else self.table[list(columns)]
        return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def _parameters(directory: Path) -> list[str]:
    try:
        record = json.loads((directory / SPEC_FILE).read_text())
    except (OSError, ValueError):
        return []
    names = set()
    for table in (*record["spec"].get("algorithms", []), *record["spec"].get("mdps", [])):
        names.update(key for key in table if key != "spec")
    return sorted(names)


def load_results(directory: str | Path, where: str | None = None) -> Any:
    """The rows of a sweep as a pandas DataFrame (``where``: a ``DataFrame.query`` filter).

    Raises
    ------
    InvalidParameterError
        ``directory`` holds no finished task.
    """
    import pandas as pd

    folder = Path(directory) / TASKS_FOLDER
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        raise InvalidParameterError(f"{directory} holds no sweep results ({folder}/*.parquet)")
    frame = pd.read_parquet(folder, engine="pyarrow")
    if where:
        try:
            frame = frame.query(where)
        except Exception as error:
            raise InvalidParameterError(
                f"where = {where!r} is not a valid filter: {error}"
            ) from None
    return frame


def summarise(frame: Any, parameters: list[str] | None = None) -> Any:
    """One row per grid cell (algorithm, MDP, discount, budget and the swept parameters)."""
    import pandas as pd

    parameters = [p for p in (parameters or []) if p in frame.columns]
    keys = _CELL + [p for p in parameters if p not in _CELL]
    rows = []
    for values, group in frame.groupby(keys, dropna=False, sort=True):
        reached = group["iterations_to_optimal"] >= 0
        row = dict(zip(keys, values, strict=True))
        row.update(
            algorithm_name=str(row["algorithm"]).split(":")[0],
            mdp_name=str(row["mdp"]).split(":")[0],
        )
        row.update(
            runs=len(group),
            failure_rate=float((group["claims_failed"] > 0).mean()),
            lemma_3_5_failed=float((group["lemma_3_5"] == "failed").mean()),
            lemma_3_3_failed=float((group["lemma_3_3"] == "failed").mean()),
            inequality_13_failed=float((group["inequality_13"] == "failed").mean()),
            convergence_failed=float((group["convergence"] == "failed").mean()),
            inconclusive_rate=float((group["claims_inconclusive"] > 0).mean()),
            stall_rate=float(group["stalled"].mean()),
            exact_stall_rate=float((group["stall_exact"] == True).mean()),  # noqa: E712
            reached_rate=float(reached.mean()),
            mean_iterations_to_optimal=float(group.loc[reached, "iterations_to_optimal"].mean())
            if reached.any()
            else math.nan,
            mean_final_gap=float(group["final_gap"].mean()),
            max_final_gap=float(group["final_gap"].max()),
            min_lemma_3_3_margin=float(group["lemma_3_3_margin"].min()),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _axes(table: Any, parameters: list[str]) -> list[str]:
    """Grid axes with more than one value: parameters, then discount, budget, and the MDP and
    algorithm names (their parameters are axes of their own)."""
    order = [*parameters, "discount", "iterations", "mdp_name", "algorithm_name"]
    seen = []
    for name in order:
        if name in table.columns and name not in seen and table[name].nunique(dropna=True) > 1:
            seen.append(name)
    return seen


def _label(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:g}"
    return str(value)


def phase_diagram(
    table: Any, value: str, x: str, y: str | None = None, panels: list[str] | None = None
) -> Any:
    """A heatmap of ``value`` over (x, y), one panel per combination of ``panels``.

    Parameters
    ----------
    table : DataFrame from :func:`summarise`.
    value : a column of ``table`` (see :data:`QUANTITIES`).
    x, y : the two axes (y may be None: one row).
    panels : further columns, one panel per combination of their values.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    if value not in table.columns:
        raise InvalidParameterError(
            f"value = {value!r} is not a summary column; valid: {QUANTITIES}"
        )
    for name in (x, y, *(panels or [])):
        if name is not None and name not in table.columns:
            raise InvalidParameterError(f"axis {name!r} is not a column of the summary")
    panels = list(panels or [])
    groups = list(table.groupby(panels, dropna=False, sort=True)) if panels else [((), table)]
    columns = min(len(groups), 3)
    rows = math.ceil(len(groups) / columns)
    figure = Figure(figsize=(4.6 * columns, 3.6 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    rate = value.endswith("rate") or value.endswith("_failed")
    finite = table[value].replace([np.inf, -np.inf], np.nan)
    limits = (0.0, 1.0) if rate else (float(np.nanmin(finite)), float(np.nanmax(finite)))
    if not all(np.isfinite(limits)):
        limits = (0.0, 1.0)
    image = None
    for k, (key, group) in enumerate(groups):
        ax = axes[k // columns][k % columns]
        xs = sorted(group[x].dropna().unique().tolist())
        ys = sorted(group[y].dropna().unique().tolist()) if y else [None]
        key = key if isinstance(key, tuple) else (key,)
        title = ", ".join(f"{p}={_label(v)}" for p, v in zip(panels, key, strict=True))
        if not xs or not ys:  # this panel's runs do not have the axis (e.g. gpi has no epsilon)
            ax.set_axis_off()
            ax.set_title(f"{title} (no {x if not xs else y})", fontsize=9)
            continue
        grid = np.full((len(ys), len(xs)), np.nan)
        for _, row in group.iterrows():
            if row[x] not in xs or (y and row[y] not in ys):
                continue
            grid[ys.index(row[y]) if y else 0, xs.index(row[x])] = row[value]
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", vmin=limits[0],
                          vmax=limits[1] if limits[1] > limits[0] else limits[0] + 1)  # fmt: skip
        for (i, j), cell in np.ndenumerate(grid):
            if np.isfinite(cell):
                ax.text(j, i, f"{cell:.2g}", ha="center", va="center", fontsize=8, color="w")
        ax.set_xticks(range(len(xs)), [_label(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_label(v) for v in ys] if y else [""])
        ax.set_xlabel(x)
        ax.set_ylabel(y or "")
        ax.set_title(title, fontsize=9)
    for k in range(len(groups), rows * columns):
        axes[k // columns][k % columns].set_visible(False)
    if image is not None:
        figure.colorbar(image, ax=axes, shrink=0.8, label=value)
    figure.suptitle(f"{value} over {x}" + (f" x {y}" if y else ""))
    return figure


def sweep_report(
    directory: str | Path,
    *,
    output: str | Path | None = None,
    x: str | None = None,
    y: str | None = None,
    values: tuple = ("failure_rate", "stall_rate", "mean_iterations_to_optimal"),
    where: str | None = None,
    figure_format: str = "png",
) -> SweepReport:
    """Summarise a sweep directory and draw its phase diagrams.

    Parameters
    ----------
    directory : a sweep directory (``tabular-mirror sweep``'s output).
    output : where to write ``summary.csv`` and ``<value>.<format>`` heatmaps (default: the
        directory itself); ``None`` writes into ``directory``.
    x, y : the heatmap axes; default the first two swept parameters.
    values : the quantities to draw (columns of the summary, :data:`QUANTITIES`).
    where : a pandas query on the rows first (e.g. ``"steps == steps"``: inexact runs only).
    figure_format : png, svg or pdf.

    Returns
    -------
    SweepReport
    """
    directory = Path(directory)
    parameters = _parameters(directory)
    frame = load_results(directory, where)
    table = summarise(frame, parameters)
    axes = _axes(table, parameters)
    if x is None:
        x = axes[0] if axes else "discount"
    if y is None:
        rest = [a for a in axes if a != x]
        y = rest[0] if rest else None
    panels = [a for a in axes if a not in (x, y)]
    unknown = [v for v in values if v not in table.columns]
    if unknown:
        raise InvalidParameterError(
            f"unknown quantity {unknown[0]!r}; valid: {', '.join(QUANTITIES)}"
        )
    target = Path(output) if output is not None else directory
    target.mkdir(parents=True, exist_ok=True)
    files = [target / "summary.csv"]
    with atomic_path(files[0]) as temporary:  # an interrupted report leaves no truncated file
        table.to_csv(temporary, index=False)
    figures = {}
    for value in values:
        figure = phase_diagram(table, value, x, y, panels)
        path = target / f"{value}.{figure_format}"
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format=figure_format, dpi=110)
        figures[value] = figure
        files.append(path)
    return SweepReport(table, tuple(axes), figures, tuple(files))
