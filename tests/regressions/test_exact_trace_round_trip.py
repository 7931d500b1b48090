"""Regression: exact traces did not round-trip, and their cumulative drift started at int 0.

What broke: ``load_trace`` read every array of an exact (JSON) trace as Fractions, including
the float wall-clock ``step_times``, so ``load_trace(save_trace(trace)) != trace``; and
``Trace.cumulative_drift`` began with the int 0 (the sum of an empty object array) instead of
Fraction(0).
"""

from __future__ import annotations

from fractions import Fraction

import tabular_mirror as tm
from tabular_mirror import instances


def _trace():
    mdp = tm.FiniteMDP(
        [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
    )
    return tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 4)


def test_exact_trace_round_trips(tmp_path):
    trace = _trace()
    loaded = tm.load_trace(tm.save_trace(trace, tmp_path / "trace"))
    assert loaded.step_times.dtype == float
    assert loaded == trace


def test_exact_cumulative_drift_starts_at_fraction_zero():
    assert all(isinstance(v, Fraction) for v in _trace().cumulative_drift)
