"""The total-drift bounds of Kuba et al. (2022), section 6, inequalities (8)-(9).

With U_beta = min_{pi, s} d[s] / beta_pi[s] (positive only if d > 0 everywhere):

- (8) per step:  drift_{pi_n}(pi_{n+1}) <= (eta(pi_{n+1}) - eta(pi_n)) / U_beta;
- (9) in total:  sum_n drift_{pi_n}(pi_{n+1}) <= (eta* - eta(pi_0)) / U_beta.

Both follow from inequality (13) summed against d. On a trace the minimum over pi is taken over
the policies the run visited (per step for (8), over the run for (9)), which is what the proof
uses. With a zero in d, U_beta = 0 and the bounds do not apply (inconclusive, "not
applicable").

References
----------
Kuba, Schroeder de Witt, Foerster, "Mirror Learning", ICML 2022, section 6, ineqs. (8)-(9).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

import tabular_mirror as tm

from ._common import optimum, recorded_error, step_tolerance
from .lemmas import RunInfo, _run, user_tolerance
from .verdicts import EXACT, Tolerance, Verdict, combine, decide

__all__ = ["u_beta", "drift_bound_8", "drift_bound_9"]


def u_beta(initial: Any, sampling: Any) -> Any:
    """U_beta = min_s d[s] / beta[s] for one or several (rows of) beta. 0 if d has a zero."""
    sampling = np.atleast_2d(np.asarray(sampling, dtype=object if _exact(initial) else float))
    ratios = [d / b for row in sampling for d, b in zip(initial, row, strict=True) if b != 0]
    return min(ratios) if ratios else math.inf


def _exact(array: Any) -> bool:
    return np.asarray(array).dtype == object


def drift_bound_8(trace: tm.Trace | RunInfo) -> Verdict:
    """Inequality (8) at every step: eta_{n+1} - eta_n - U_n drift_n >= 0 (U_n = min_s d/beta_n).

    The inequality is checked multiplied through by U_n (so a zero U is no division). When d
    has a zero, U_beta = 0 and the bound does not apply: the verdict is inconclusive ("not
    applicable"). Each step is decided with its certificate's allowance, like inequality (13)
    from which (8) follows.
    """
    run = _run(trace)
    trace = run.trace
    name = "drift_bound_8_step"
    detail = "drift_n <= (eta_{n+1} - eta_n) / U_beta at every step (ineq. (8))"
    initial = trace.mdp.initial
    if any(v == 0 for v in initial):
        return decide(name, [], EXACT, detail, empty=NOT_APPLICABLE)
    verdicts = []
    for n in range(trace.iterations):
        u = u_beta(initial, trace.sampling[n])
        slack = trace.returns[n + 1] - trace.returns[n] - u * trace.drifts[n]
        tolerance = step_tolerance(
            trace.mdp,
            trace.certificates[n],
            trace.sampling[n],
            error=recorded_error(trace, n, n + 1),
        )
        tolerance = user_tolerance(tolerance, run.tolerance)
        verdicts.append(replace(decide(name, [slack], tolerance, detail), worst_iteration=n))
    if not verdicts:
        return decide(name, [], EXACT, detail, empty="the run took no steps: nothing to check")
    chosen = combine(name, verdicts, detail)
    return run.finish(replace(chosen, worst_state=None))


#: Why (8)-(9) say nothing when the initial distribution has a zero.
NOT_APPLICABLE = (
    "not applicable: d has a zero, so U_beta = min_s d/beta = 0 and (8)-(9) say nothing"
)


def drift_bound_9(trace: tm.Trace | RunInfo, optimal_return: Any = None) -> Verdict:
    """Inequality (9): U_beta sum_n drift_n <= eta* - eta(pi_0), U_beta over the whole run.

    (9) is (8) summed over the steps (telescoping) plus eta* >= eta_n, so its allowance is the
    sum of the steps' allowances.
    """
    run = _run(trace)
    trace = run.trace
    name = "drift_bound_9_total"
    detail = "sum_n drift_n <= (eta* - eta_0) / U_beta (ineq. (9))"
    initial = trace.mdp.initial
    if any(v == 0 for v in initial):
        return decide(name, [], EXACT, detail, empty=NOT_APPLICABLE)
    if trace.iterations == 0:
        return decide(name, [], EXACT, detail, empty="the run took no steps: nothing to check")
    if optimal_return is None:
        optimal_return = trace.optimal_return
    if optimal_return is None:
        optimal_return = optimum(trace.mdp)[1]
    u = u_beta(initial, trace.sampling)
    total = sum(trace.drifts[1:], trace.drifts[0])
    slack = optimal_return - trace.returns[0] - u * total
    tolerances = [
        step_tolerance(trace.mdp, c, b, error=recorded_error(trace, n, n + 1))
        for n, (c, b) in enumerate(zip(trace.certificates, trace.sampling, strict=True))
    ]
    tolerance: Any = EXACT
    if any(isinstance(t, Tolerance) for t in tolerances):
        parts = [t if isinstance(t, Tolerance) else Tolerance(0, "exact") for t in tolerances]
        tolerance = Tolerance(
            sum(t.value for t in parts),
            f"the sum of the {len(parts)} steps' allowances (telescoping (8))",
            sum(t.fail_threshold for t in parts),
        )
    tolerance = user_tolerance(tolerance, run.tolerance)
    verdict = decide(name, [slack], tolerance, f"{detail}; total drift {float(total):.4g}")
    return run.finish(replace(verdict, worst_state=None, worst_iteration=trace.iterations - 1))
