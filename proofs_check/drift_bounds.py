"""The total-drift bounds of Kuba et al. (2022), section 6, inequalities (8)-(9).

With U_beta = min_{pi, s} d[s] / beta_pi[s] (positive only if d > 0 everywhere):

- (8) per step:  drift_{pi_n}(pi_{n+1}) <= (eta(pi_{n+1}) - eta(pi_n)) / U_beta;
- (9) in total:  sum_n drift_{pi_n}(pi_{n+1}) <= (eta* - eta(pi_0)) / U_beta.

Both follow from inequality (13) summed against d. On a trace the minimum over pi is taken over
the policies the run visited (per step for (8), over the run for (9)), which is what the proof
uses. With a zero in d, U_beta = 0 and the bounds are vacuous (reported as such).

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

from ._common import optimum, run_tolerance, step_tolerance
from .lemmas import _trace_witness
from .verdicts import EXACT, Verdict, combine, decide

__all__ = ["u_beta", "drift_bound_8", "drift_bound_9"]


def u_beta(initial: Any, sampling: Any) -> Any:
    """U_beta = min_s d[s] / beta[s] for one or several (rows of) beta. 0 if d has a zero."""
    sampling = np.atleast_2d(np.asarray(sampling, dtype=object if _exact(initial) else float))
    ratios = [d / b for row in sampling for d, b in zip(initial, row, strict=True) if b != 0]
    return min(ratios) if ratios else math.inf


def _exact(array: Any) -> bool:
    return np.asarray(array).dtype == object


def drift_bound_8(trace: tm.Trace) -> Verdict:
    """Inequality (8) at every step: eta_{n+1} - eta_n - U_n drift_n >= 0 (U_n = min_s d/beta_n).

    The inequality is checked multiplied through by U_n (so a zero U is no division);
    ``drift_bound_8_step`` is vacuous when d has a zero.
    """
    name = "drift_bound_8_step"
    detail = "drift_n <= (eta_{n+1} - eta_n) / U_beta at every step (ineq. (8))"
    initial = trace.mdp.initial
    if any(v == 0 for v in initial):
        return decide(name, [], EXACT, f"{detail}: vacuous, d has a zero so U_beta = 0")
    verdicts = []
    for n in range(trace.iterations):
        u = u_beta(initial, trace.sampling[n])
        slack = trace.returns[n + 1] - trace.returns[n] - u * trace.drifts[n]
        tolerance = step_tolerance(trace.mdp, trace.certificates[n], trace.sampling[n])
        verdicts.append(replace(decide(name, [slack], tolerance, detail), worst_iteration=n))
    if not verdicts:
        return decide(name, [], EXACT, f"{detail}: no steps")
    worst = combine(name, verdicts, detail)
    return replace(worst, worst_state=None, witness=_trace_witness(trace, worst.worst_iteration))


def drift_bound_9(trace: tm.Trace, optimal_return: Any = None) -> Verdict:
    """Inequality (9): U_beta sum_n drift_n <= eta* - eta(pi_0), U_beta over the whole run."""
    name = "drift_bound_9_total"
    detail = "sum_n drift_n <= (eta* - eta_0) / U_beta (ineq. (9))"
    initial = trace.mdp.initial
    if any(v == 0 for v in initial):
        return decide(name, [], EXACT, f"{detail}: vacuous, d has a zero so U_beta = 0")
    if trace.iterations == 0:
        return decide(name, [], EXACT, f"{detail}: no steps")
    if optimal_return is None:
        optimal_return = trace.optimal_return
    if optimal_return is None:
        optimal_return = optimum(trace.mdp)[1]
    u = u_beta(initial, trace.sampling)
    total = sum(trace.drifts[1:], trace.drifts[0])
    slack = optimal_return - trace.returns[0] - u * total
    tolerance = run_tolerance(trace.mdp, trace.certificates, trace.sampling)
    if not trace.mdp.is_exact:  # eta* and eta_0 each carry an evaluation error
        tolerance = replace(
            tolerance, value=tolerance.value * max(1, trace.iterations)
        )  # errors of the n steps add up in the telescoping sum
    verdict = decide(name, [slack], tolerance, f"{detail}; total drift {float(total):.4g}")
    return replace(verdict, worst_state=None, worst_iteration=trace.iterations - 1)
