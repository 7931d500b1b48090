"""tabular_mirror.sweeps: grids of mirror-learning runs on Dask, results in Parquet.

A sweep asks where a guarantee breaks: a grid of algorithm specs and parameter values x MDP
generator specs x discounts x iteration budgets x seeds, each cell run on many random MDPs with
the batched engine (:mod:`tabular_mirror.batch`), every per-step claim decided per run.

sweep          run a spec (TOML file or dict) on a LocalCluster or ``scheduler="tcp://..."``;
               one Parquet file per task (temporary name, then rename), ``resume=True``
load_spec      read and validate a spec (everything is checked before anything runs)
sweep_report   a summary table per grid cell and phase-diagram heatmaps
load_results   the rows as a pandas DataFrame;  summarise, phase_diagram: the pieces

Command line: ``tabular-mirror sweep SPEC.toml -o DIR [--resume] [--scheduler tcp://...]`` and
``tabular-mirror sweep-report DIR``.
"""

from .report import QUANTITIES, SweepReport, load_results, phase_diagram, summarise, sweep_report
from .run import SweepResult, sweep
from .spec import SweepSpec, load_spec, plan_tasks

__all__ = [
    "sweep",
    "sweep_report",
    "load_spec",
    "plan_tasks",
    "load_results",
    "summarise",
    "phase_diagram",
    "SweepSpec",
    "SweepResult",
    "SweepReport",
    "QUANTITIES",
]
