"""The fundamental theorem of mirror learning (Kuba et al. 2022, Theorem 3.6) on a run.

For any drift, neighbourhood operator and continuous sampling distribution, and any pi_0:

1. inequality (13): V_{n+1}(s) >= V_n(s) + (nu(s)/beta(s)) D_{pi_n}(pi_{n+1} | s) for every s,
   hence eta(pi_{n+1}) >= eta(pi_n) + sum_s d[s] (nu(s)/beta(s)) D_{pi_n}(pi_{n+1} | s);
2. V_{pi_n} -> V*;   3. eta(pi_n) -> eta*;
4. every limit point of (pi_n) is optimal: max_{s,a} A_{pi_n} -> 0 and the mass pi_n puts on
   non-optimal actions -> 0.

A finite run cannot prove a limit. The convergence verdicts therefore decide what a run can
decide: *reached* (the gap is within tolerance), *stalled* (the update returned the same policy
at a non-optimal point: a deterministic update then stays there forever, which contradicts
(2)-(4)), or *in progress* (passes when the gap shrank; the detail gives the observed rate
(gap_n / gap_0)^(1/n)).

:func:`check_trace` runs every run-level check on a :class:`tabular_mirror.Trace`;
:func:`check_fundamental_theorem` runs :func:`tabular_mirror.mirror_learning` first.

References
----------
Kuba, Schroeder de Witt, Foerster, "Mirror Learning: A Unifying Framework of Policy
Optimisation", ICML 2022, Theorem 3.6 and its proof (inequality (13)); section 6 (8)-(9).

Examples
--------
>>> import tabular_mirror as tm
>>> from tabular_mirror import instances
>>> mdp = tm.FiniteMDP(
...     [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
...     [[5, 10], [-1, 2]], "9/10")
>>> report = check_fundamental_theorem(mdp, instances.gpi(), tm.uniform_policy(mdp), 10)
>>> report.passed, report["theorem_3_6_1_inequality_13"].exact
(True, True)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

import tabular_mirror as tm
from tabular_mirror.algorithm import MirrorAlgorithm

from ._common import as_float, evaluation_error, optimum, ratio_times, value_scale
from .drift_bounds import drift_bound_8, drift_bound_9
from .lemmas import _subtract, lemma_3_3_on_trace, lemma_3_5_on_trace, over_steps
from .verdicts import EXACT, Report, Tolerance, Verdict, mdp_witness

__all__ = [
    "check_trace",
    "check_fundamental_theorem",
    "inequality_13",
    "return_inequality",
    "value_convergence",
    "return_convergence",
    "limit_optimal",
]


def inequality_13(trace: tm.Trace) -> Verdict:
    """Theorem 3.6(1), inequality (13), state by state at every step.

    Slack: V_{n+1}(s) - V_n(s) - (nu[s]/beta[s]) D_{pi_n}(pi_{n+1} | s).
    """

    def slack(n: int) -> np.ndarray:
        bound = ratio_times(trace.drift_weights[n], trace.sampling[n], trace.state_drifts[n])
        return _subtract(trace.values[n + 1] - trace.values[n], bound)

    return over_steps(
        trace,
        "theorem_3_6_1_inequality_13",
        "V_{n+1}(s) >= V_n(s) + (nu/beta)(s) D_{pi_n}(pi_{n+1}|s) for every n, s (ineq. (13))",
        slack,
    )


def return_inequality(trace: tm.Trace) -> Verdict:
    """Theorem 3.6(1) for eta: eta_{n+1} >= eta_n + sum_s d (nu/beta) D (the recorded
    ``improvement_bounds``): monotone returns with the drift term."""

    def slack(n: int) -> np.ndarray:
        return np.array(
            [trace.returns[n + 1] - trace.returns[n] - trace.improvement_bounds[n]],
            dtype=trace.returns.dtype,
        )

    verdict = over_steps(
        trace,
        "theorem_3_6_1_return_monotone",
        "eta_{n+1} >= eta_n + sum_s d (nu/beta) D at every step (Thm 3.6(1))",
        slack,
    )
    return replace(verdict, worst_state=None)


def _convergence_tolerance(trace: tm.Trace) -> Any:
    if trace.exact:
        return EXACT
    gamma = float(trace.mdp.discount)
    stop = float(trace.tolerance or 0)
    value = stop / (1 - gamma) + 2 * evaluation_error(trace.mdp) + 1e-12 * value_scale(trace.mdp)
    return Tolerance(
        value,
        "run's stopping tolerance on max A / (1 - gamma) + 2 x certified evaluation error",
    )


def _stalled(trace: tm.Trace) -> bool:
    """Did the last step return the policy it started from (a fixed point of the update)?"""
    if trace.iterations == 0:
        return False
    last, before = trace.policies[-1], trace.policies[-2]
    if trace.exact:
        return bool(np.all(last == before))
    return bool(np.max(np.abs(np.asarray(last, float) - np.asarray(before, float))) <= 1e-13)


def _rate(gaps: list[float]) -> str:
    first, last, n = gaps[0], gaps[-1], len(gaps) - 1
    if n == 0 or first <= 0:
        return "no rate (no steps or no initial gap)"
    if last <= 0:
        return f"gap 0 after {n} iterations"
    return f"observed rate (gap_n/gap_0)^(1/n) = {(last / first) ** (1 / n):.4g}"


def _convergence(trace: tm.Trace, name: str, gaps: list[Any], what: str, tolerance: Any) -> Verdict:
    limit = tolerance.value if isinstance(tolerance, Tolerance) else 0
    witness = {
        "gaps": [as_float(g) for g in gaps],
        "stop_reason": trace.stop_reason,
        "iterations": trace.iterations,
        "final_policy": mdp_witness(trace.mdp, final_policy=trace.policies[-1])["final_policy"],
    }
    final = gaps[-1]
    rate = _rate([as_float(g) for g in gaps])
    n = trace.iterations
    if final <= limit:
        return Verdict(
            name, True, limit - final, None, n, witness, tolerance, f"{what} reached; {rate}"
        )
    if _stalled(trace):
        return Verdict(
            name,
            False,
            limit - final,
            None,
            n,
            witness,
            tolerance,
            f"the update is at a fixed point with {what} gap {as_float(final):.4g} > 0: the "
            "sequence stays there, contradicting convergence",
        )
    progress = gaps[0] - final
    return Verdict(
        name,
        bool(progress > 0 or gaps[0] <= limit),
        progress,
        None,
        n,
        witness,
        tolerance,
        f"{what} not reached after {n} iterations (a finite run decides progress only, margin "
        f"= gap_0 - gap_n); {rate}",
    )


def value_convergence(trace: tm.Trace, optimal_values: Any = None) -> Verdict:
    """Theorem 3.6(2): ||V* - V_{pi_n}||_inf -> 0 (reached / stalled / in progress)."""
    if optimal_values is None:
        optimal_values = trace.optimal_values
    if optimal_values is None:
        optimal_values = optimum(trace.mdp)[0]
    gaps = [max(optimal_values - v) for v in trace.values]
    return _convergence(
        trace,
        "theorem_3_6_2_value_convergence",
        gaps,
        "V*",
        _convergence_tolerance(trace),
    )


def return_convergence(trace: tm.Trace, optimal_return: Any = None) -> Verdict:
    """Theorem 3.6(3): eta* - eta(pi_n) -> 0 (reached / stalled / in progress)."""
    if optimal_return is None:
        optimal_return = trace.optimal_return
    if optimal_return is None:
        optimal_return = optimum(trace.mdp)[1]
    gaps = [optimal_return - r for r in trace.returns]
    return _convergence(
        trace, "theorem_3_6_3_return_convergence", gaps, "eta*", _convergence_tolerance(trace)
    )


def limit_optimal(trace: tm.Trace, optimal_values: Any = None) -> Verdict:
    """Theorem 3.6(4): max_{s,a} A_{pi_n} -> 0 and the mass on non-optimal actions -> 0.

    An action is non-optimal at s when Q*(s, a) < V*(s) (exactly, or by more than the
    convergence tolerance in float mode). The "gap" followed is
    max(max_{s,a} A_{pi_n}[s,a], (1-gamma) * max_s mass_n(s) * min action gap) -- in words: both
    the largest advantage and the non-optimal mass (in value units) must vanish.
    """
    mdp = trace.mdp
    if optimal_values is None:
        optimal_values = trace.optimal_values
    if optimal_values is None:
        optimal_values = optimum(mdp)[0]
    q_star = tm.q_from_values(mdp, optimal_values)
    tolerance = _convergence_tolerance(trace)
    limit = tolerance.value if isinstance(tolerance, Tolerance) else 0
    suboptimal = np.asarray(q_star < optimal_values[:, None] - limit, dtype=bool)
    masses = [
        max(sum((p * m for p, m in zip(row, mask, strict=True) if m), 0 * row[0])
            for row, mask in zip(policy, suboptimal, strict=True))
        for policy in trace.policies
    ]  # fmt: skip
    largest = list(trace.max_advantages)
    verdict = _convergence(
        trace,
        "theorem_3_6_4_convergence_to_optimal_policy",
        [max(a, 0 * a) for a in largest],
        "max advantage 0",
        tolerance,
    )
    final_mass = masses[-1]
    detail = (
        f"{verdict.detail}; mass on non-optimal actions {as_float(masses[0]):.3g} -> "
        f"{as_float(final_mass):.3g}"
    )
    witness = dict(verdict.witness, non_optimal_mass=[as_float(m) for m in masses])
    # the largest advantage is not monotone along a run (it can grow while every value
    # improves), so a run in progress also counts as progress a shrinking non-optimal mass;
    # only a stall at a non-optimal fixed point refutes the limit statement
    in_progress = not verdict.passed and not _stalled(trace)
    if in_progress and masses[-1] < masses[0]:
        detail += " (progress: the non-optimal mass shrank)"
        return replace(verdict, passed=True, detail=detail, witness=witness)
    return replace(verdict, detail=detail, witness=witness)


def check_trace(trace: tm.Trace, *, tolerance: Any = None) -> Report:
    """Every run-level check of the paper on a recorded :class:`tabular_mirror.Trace`.

    Parameters
    ----------
    trace : Trace
        From :func:`tabular_mirror.mirror_learning` (or :func:`tabular_mirror.load_trace`).
    tolerance : float, optional
        Override every float tolerance with this value (the reason then says "user").
        Ignored for exact traces, which are decided exactly.

    Returns
    -------
    Report
        Verdicts: ``lemma_3_5_mirror_operator``, ``lemma_3_3_monotone_values``,
        ``theorem_3_6_1_inequality_13``, ``theorem_3_6_1_return_monotone``,
        ``drift_bound_8_step``, ``drift_bound_9_total``, ``theorem_3_6_2_value_convergence``,
        ``theorem_3_6_3_return_convergence``, ``theorem_3_6_4_convergence_to_optimal_policy``.

    Notes
    -----
    Exact traces (Fractions) are decided with tolerance 0. Float tolerances are per step: two
    certified evaluation errors plus the step's certified optimality gap / (beta_min (1-gamma))
    (a delta-suboptimal argmax moves Lemma 3.5 by delta / beta[s], and Lemma 3.3 propagates
    it through (I - gamma P)^{-1}). An uncertified step gets no allowance for its gap.
    """
    if trace.optimal_values is None:
        optimal_values, optimal_return, _ = optimum(trace.mdp)
    else:
        optimal_values, optimal_return = trace.optimal_values, trace.optimal_return
    verdicts = [
        lemma_3_5_on_trace(trace),
        lemma_3_3_on_trace(trace),
        inequality_13(trace),
        return_inequality(trace),
        drift_bound_8(trace),
        drift_bound_9(trace, optimal_return),
        value_convergence(trace, optimal_values),
        return_convergence(trace, optimal_return),
        limit_optimal(trace, optimal_values),
    ]
    if tolerance is not None and not trace.exact:
        user = Tolerance(float(tolerance), "user")
        verdicts = [_retolerate(v, user) for v in verdicts]
    return Report(tuple(verdicts), f"{trace.algorithm} ({trace.iterations} iterations)")


def _retolerate(verdict: Verdict, tolerance: Tolerance) -> Verdict:
    margin = verdict.margin
    passed = bool(margin >= -tolerance.value) if not _is_progress(verdict) else verdict.passed
    return replace(verdict, passed=passed, tolerance=tolerance)


def _is_progress(verdict: Verdict) -> bool:
    return "decides progress only" in verdict.detail or "vacuous" in verdict.detail


def check_fundamental_theorem(
    mdp: tm.FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy0: Any,
    iterations: int,
    **mirror_learning_kwargs: Any,
) -> Report:
    """Run :func:`tabular_mirror.mirror_learning` and :func:`check_trace` on the result.

    Parameters
    ----------
    mdp, algorithm, policy0, iterations
        As for :func:`tabular_mirror.mirror_learning`.
    **mirror_learning_kwargs
        Passed on (``choice``, ``solver``, ``tol``, ...); ``tolerance`` goes to
        :func:`check_trace`.

    Returns
    -------
    Report
    """
    tolerance = mirror_learning_kwargs.pop("tolerance", None)
    trace = tm.mirror_learning(mdp, algorithm, policy0, iterations, **mirror_learning_kwargs)
    return check_trace(trace, tolerance=tolerance)
