"""The fundamental theorem of mirror learning (Kuba et al. 2022, Theorem 3.6) on a run.

For any drift, neighbourhood operator and continuous sampling distribution, and any pi_0:

1. inequality (13): V_{n+1}(s) >= V_n(s) + (nu(s)/beta(s)) D_{pi_n}(pi_{n+1} | s) for every s,
   hence eta(pi_{n+1}) >= eta(pi_n) + sum_s d[s] (nu(s)/beta(s)) D_{pi_n}(pi_{n+1} | s);
2. V_{pi_n} -> V*;   3. eta(pi_n) -> eta*;
4. every limit point of (pi_n) is optimal: max_{s,a} A_{pi_n} -> 0 and the mass pi_n puts on
   non-optimal actions -> 0.

A finite run cannot prove a limit. The convergence verdicts therefore decide only what a run
can decide: *passed* when the run reached the optimum (within its stopping tolerance);
*failed* at a certified fixed point of the update that is not optimal (staying at pi_k attains
the certified maximum of the mirror objective, decided exactly: then pi_k, pi_k, ... is a
mirror-learning sequence that never converges, contradicting (2)-(4)); *inconclusive*
otherwise, with the observed rate (gap_n / gap_0)^(1/n) and, for a float fixed point up to
rounding, the advice to decide it exactly. A failure is diagnosed: the hypotheses are checked
at the fixed point (:mod:`proofs_check.diagnosis`), so a boundary stall of exact PPO reads "the
PPO clip drift violates Def. 3.1(2) at pi_k".

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

from ._common import (
    ROUNDING_RELATIVE,
    as_float,
    optimum,
    ratio_times,
    recorded_error,
    value_scale,
)
from .diagnosis import CONVERGENCE
from .drift_bounds import drift_bound_8, drift_bound_9
from .lemmas import (
    RunInfo,
    _run,
    _subtract,
    lemma_3_3_on_trace,
    lemma_3_5_on_trace,
    over_steps,
    user_tolerance,
)
from .verdicts import EXACT, Report, Tolerance, Verdict, decide

__all__ = [
    "check_trace",
    "check_fundamental_theorem",
    "inequality_13",
    "return_inequality",
    "value_convergence",
    "return_convergence",
    "limit_optimal",
    "fixed_points",
    "verify_trace",
    "one_algorithm",
]


def inequality_13(trace: tm.Trace | RunInfo) -> Verdict:
    """Theorem 3.6(1), inequality (13), state by state at every step.

    Slack: V_{n+1}(s) - V_n(s) - (nu[s]/beta[s]) D_{pi_n}(pi_{n+1} | s).
    """
    run = _run(trace)
    trace = run.trace

    def slack(n: int) -> np.ndarray:
        bound = ratio_times(trace.drift_weights[n], trace.sampling[n], trace.state_drifts[n])
        return _subtract(trace.values[n + 1] - trace.values[n], bound)

    return over_steps(
        run,
        "theorem_3_6_1_inequality_13",
        "V_{n+1}(s) >= V_n(s) + (nu/beta)(s) D_{pi_n}(pi_{n+1}|s) for every n, s (ineq. (13))",
        slack,
    )


def return_inequality(trace: tm.Trace | RunInfo) -> Verdict:
    """Theorem 3.6(1) for eta: eta_{n+1} >= eta_n + sum_s d (nu/beta) D (the recorded
    ``improvement_bounds``): monotone returns with the drift term."""
    run = _run(trace)
    trace = run.trace

    def slack(n: int) -> np.ndarray:
        return np.array(
            [trace.returns[n + 1] - trace.returns[n] - trace.improvement_bounds[n]],
            dtype=trace.returns.dtype,
        )

    verdict = over_steps(
        run,
        "theorem_3_6_1_return_monotone",
        "eta_{n+1} >= eta_n + sum_s d (nu/beta) D at every step (Thm 3.6(1))",
        slack,
    )
    return replace(verdict, worst_state=None)


def _convergence_tolerance(trace: tm.Trace, user: Any = None) -> Any:
    if trace.exact:
        return EXACT
    gamma = float(trace.mdp.discount)
    stop = float(trace.tolerance or 0)
    error = recorded_error(trace, *range(trace.iterations + 1))
    value = stop / (1 - gamma) + 2 * error + 1e-12 * value_scale(trace.mdp)
    tolerance = Tolerance(
        value,
        "run's stopping tolerance on max A / (1 - gamma) + 2 x certified evaluation error",
    )
    return user_tolerance(tolerance, user)


def _rate(gaps: list[float]) -> str:
    first, last, n = gaps[0], gaps[-1], len(gaps) - 1
    if n == 0 or first <= 0:
        return "no rate (no steps or no initial gap)"
    if last <= 0:
        return f"gap 0 after {n} iterations"
    return f"observed rate (gap_n/gap_0)^(1/n) = {(last / first) ** (1 / n):.4g}"


def fixed_points(run: RunInfo) -> tuple[int | None, str]:
    """The first iteration k at which pi_k is a fixed point of the update, and how it is known.

    pi_k is a fixed point when staying at pi_k attains the maximum of the mirror objective over
    N(pi_k): the step from pi_k certifies max <= objective(pi_{k+1}) + gap, and staying scores
    exactly 0 (sum_a pi A_pi = 0 and D_pi(pi) = 0). Then pi_k, pi_k, pi_k, ... is a
    mirror-learning sequence (the update may return any maximiser).

    Staying must be allowed: pi_k in N(pi_k), which Definition 3.2 guarantees and which is
    checked when the algorithm is known (a neighbourhood that excludes its own centre is not a
    fixed point; the diagnosis reports Def. 3.2 instead).

    Returns (k, "exact") when decided in rational arithmetic (an exact trace, or a float trace
    whose MDP, pi_k and algorithm lift exactly to rationals and whose exact step confirms it),
    (k, "numerical") when a float step finds no improvement beyond rounding but the fixed
    point cannot be decided exactly, and (None, "") otherwise.
    """
    trace = run.trace
    floor = 0 if trace.exact else ROUNDING_RELATIVE * value_scale(trace.mdp)
    numerical: int | None = None
    for k in range(trace.iterations):
        certificate = trace.certificates[k]
        if not certificate.certified or certificate.bound is None:
            continue
        upper = trace.objectives[k] + certificate.bound
        if upper > floor or not _may_stay(run, k):
            continue
        if trace.exact:
            return k, "exact"
        if _exact_fixed_point(run, k):
            return k, "exact"
        if numerical is None:
            numerical = k
    return (numerical, "numerical") if numerical is not None else (None, "")


def _may_stay(run: RunInfo, k: int) -> bool:
    """pi_k in N(pi_k) (assumed, as Def. 3.2 requires, when the algorithm is not known)."""
    algorithm = run.algorithm_at(k)
    if algorithm is None:
        return True
    from tabular_mirror.algorithm import make_context

    trace = run.trace
    context = make_context(trace.mdp, algorithm, trace.policies[k])
    return bool(algorithm.neighbourhood.contains(context, trace.policies[k]))


def _exact_fixed_point(run: RunInfo, k: int) -> bool:
    """Lift a float trace's pi_k to rationals and decide the fixed point exactly: the MDP and
    pi_k must convert exactly (every float is a binary fraction; rows must sum to exactly 1)
    and the algorithm must have an exact step (rational pieces)."""
    from fractions import Fraction

    algorithm = run.algorithm_at(k)
    if algorithm is None:
        return False
    trace = run.trace
    try:
        exact_mdp = trace.mdp.to_exact()
        policy = np.array(
            [[Fraction(float(x)) for x in row] for row in trace.policies[k]], dtype=object
        )
        options = {key: run.options[key] for key in ("choice", "solver") if key in run.options}
        step = tm.mirror_step(exact_mdp, algorithm, policy, **options)
    except (tm.TabularMirrorError, ValueError, ZeroDivisionError):
        return False
    certificate = step.certificate
    return bool(
        certificate.certified
        and certificate.bound is not None
        and step.objective + certificate.bound <= 0
    )


def one_algorithm(run: RunInfo | tm.Trace) -> str:
    """ "" when one algorithm made every step of the run; otherwise why Theorem 3.6 does not
    apply (a reason starting "not applicable": a scheduled parameter took different values at
    two steps, so the drift, drift distribution, neighbourhood or sampling changed), or why it
    cannot be decided (the algorithm given for a trace without a schedule record has no valid
    value at one of its steps).

    The values are the trace's record (:class:`tabular_mirror.schedules.ScheduleRecord`), or,
    for a trace without one, the known algorithm's schedules at the trace's steps.
    """
    run = _run(run)
    trace = run.trace
    record = getattr(trace, "schedule", None)
    if record is not None:
        parameters, schedules, rows = record.parameters, record.schedules, record.values
    elif run.algorithm is not None and run.algorithm.schedules:
        parameters = tuple(path for path, _ in run.algorithm.schedules)
        schedules = tuple(str(s) for _, s in run.algorithm.schedules)
        try:
            rows = tuple(run.algorithm.scheduled_values(n) for n in range(trace.iterations))
        except tm.InvalidParameterError as error:
            # the run could not have been made by this algorithm: undecided, not "not
            # applicable" (which says the theorem's hypotheses fail for a run of it)
            return (
                "the algorithm's schedules have no valid value at a step of this run, so it "
                f"cannot be the run's algorithm ({error})"
            )
    else:
        return ""
    for k, row in enumerate(rows):
        for j, (first, value) in enumerate(zip(rows[0], row, strict=True)):
            if value != first:
                return (
                    f"not applicable: the algorithm changed across iterations ({parameters[j]} "
                    f"= {schedules[j]} is {first} at step 0 and {value} at step {k}); Theorem "
                    "3.6 assumes one drift, neighbourhood and sampling for the whole run (the "
                    "per-step claims, Lemmas 3.3 and 3.5 and inequality (13), are checked step "
                    "by step)"
                )
    return ""


def _convergence(run: RunInfo, name: str, gaps: list[Any], what: str, tolerance: Any) -> Verdict:
    """reached (passed) / certified non-optimal fixed point (failed) / otherwise inconclusive;
    not applicable (inconclusive) when the algorithm changed across the run's iterations."""
    trace = run.trace
    changed = one_algorithm(run)
    if changed:
        return decide(name, [], EXACT, f"{what} (Theorem 3.6, one algorithm)", empty=changed)
    limit = tolerance.value if isinstance(tolerance, Tolerance) else 0
    final = gaps[-1]
    floats = [as_float(g) for g in gaps]
    rate = _rate(floats)
    n = trace.iterations
    point, how = fixed_points(run)
    if point is not None and how == "exact" and gaps[point] > 0:
        verdict = Verdict(
            name, "failed", -gaps[point], None, point, None, tolerance,
            f"pi_{point} is a fixed point of the update (staying there attains the certified "
            f"maximum of the mirror objective, decided exactly) with {what} gap "
            f"{floats[point]:.4g} > 0: the mirror-learning sequence pi_{point}, pi_{point}, "
            "... never converges",
        )  # fmt: skip
        return run.finish(verdict, CONVERGENCE)
    if final <= limit:
        verdict = Verdict(
            name, "passed", limit - final, None, n, None, tolerance, f"{what} reached; {rate}"
        )
        return run.finish(verdict, CONVERGENCE)
    if point is not None:
        reason = (
            f"pi_{point} is a fixed point up to rounding (the step finds no improvement beyond "
            f"{ROUNDING_RELATIVE:g} x the value scale) with {what} gap {floats[point]:.4g}, but a "
            "float run cannot prove an exact fixed point; run it in exact arithmetic to decide"
        )
    else:
        reason = (
            "a finite run decides a limit only when it reaches the optimum or a certified fixed "
            f"point: {what} gap {floats[-1]:.4g} after {n} iterations (from "
            f"{floats[0]:.4g}); {rate}"
        )
    verdict = Verdict(
        name, "inconclusive", limit - final, None, n, None, tolerance,
        f"{what} not reached after {n} iterations", reason=reason,
    )  # fmt: skip
    return run.finish(verdict, CONVERGENCE)


def _optimal(run: RunInfo, optimal_values: Any) -> Any:
    if optimal_values is not None:
        return optimal_values
    if run.trace.optimal_values is not None:
        return run.trace.optimal_values
    return optimum(run.trace.mdp)[0]


def value_convergence(trace: tm.Trace | RunInfo, optimal_values: Any = None) -> Verdict:
    """Theorem 3.6(2): ||V* - V_{pi_n}||_inf -> 0.

    Passed when the run reached V* (within the run's stopping tolerance), failed at a certified
    non-optimal fixed point of the update, inconclusive otherwise (with the observed rate).
    """
    run = _run(trace)
    optimal_values = _optimal(run, optimal_values)
    gaps = [max(optimal_values - v) for v in run.trace.values]
    return _convergence(
        run,
        "theorem_3_6_2_value_convergence",
        gaps,
        "V*",
        _convergence_tolerance(run.trace, run.tolerance),
    )


def return_convergence(trace: tm.Trace | RunInfo, optimal_return: Any = None) -> Verdict:
    """Theorem 3.6(3): eta* - eta(pi_n) -> 0 (reached / certified fixed point / inconclusive)."""
    run = _run(trace)
    if optimal_return is None:
        optimal_return = run.trace.optimal_return
    if optimal_return is None:
        optimal_return = optimum(run.trace.mdp)[1]
    gaps = [optimal_return - r for r in run.trace.returns]
    return _convergence(
        run,
        "theorem_3_6_3_return_convergence",
        gaps,
        "eta*",
        _convergence_tolerance(run.trace, run.tolerance),
    )


def limit_optimal(trace: tm.Trace | RunInfo, optimal_values: Any = None) -> Verdict:
    """Theorem 3.6(4): max_{s,a} A_{pi_n} -> 0 and the mass on non-optimal actions -> 0.

    An action is non-optimal at s when Q*(s, a) < V*(s) (exactly, or by more than the
    convergence tolerance in float mode). The gap followed is
    max(max_{s,a} A_{pi_n}[s,a], max_s mass_n(s) x smallest action gap): both the largest
    advantage and the non-optimal mass (in value units) must vanish. Decided like (2)-(3).
    """
    run = _run(trace)
    mdp = run.trace.mdp
    optimal_values = _optimal(run, optimal_values)
    q_star = tm.q_from_values(mdp, optimal_values)
    tolerance = _convergence_tolerance(run.trace, run.tolerance)
    limit = tolerance.value if isinstance(tolerance, Tolerance) else 0
    action_gaps = optimal_values[:, None] - q_star
    suboptimal = np.asarray(action_gaps > limit, dtype=bool)
    zero = 0 * run.trace.returns[0]
    smallest_gap = min(
        (g for g, m in zip(action_gaps.flat, suboptimal.flat, strict=True) if m), default=zero
    )
    masses = [
        max(sum((p * m for p, m in zip(row, mask, strict=True) if m), zero)
            for row, mask in zip(policy, suboptimal, strict=True))
        for policy in run.trace.policies
    ]  # fmt: skip
    gaps = [
        max(max(a, zero), mass * smallest_gap)
        for a, mass in zip(run.trace.max_advantages, masses, strict=True)
    ]
    verdict = _convergence(
        run,
        "theorem_3_6_4_convergence_to_optimal_policy",
        gaps,
        "max advantage and non-optimal mass 0",
        tolerance,
    )
    detail = (
        f"{verdict.detail}; mass on non-optimal actions {as_float(masses[0]):.3g} -> "
        f"{as_float(masses[-1]):.3g}"
    )
    return replace(verdict, detail=detail)


def check_trace(
    trace: tm.Trace,
    *,
    tolerance: Any = None,
    algorithm: MirrorAlgorithm | None = None,
    options: dict[str, Any] | None = None,
    diagnose_failures: bool = True,
    verify: bool = True,
) -> Report:
    """Every run-level check of the paper on a recorded :class:`tabular_mirror.Trace`.

    Parameters
    ----------
    trace : Trace
        From :func:`tabular_mirror.mirror_learning` (or :func:`tabular_mirror.load_trace`).
    tolerance : float, optional
        A user override of when a float claim passes (the reason then says "user"). A failure
        still needs a violation beyond the evidence's own allowance, so an override never turns
        an uncertified step into a failure. Ignored for exact traces, decided exactly.
    algorithm : MirrorAlgorithm, optional
        The run's algorithm: failures are then diagnosed (the paper's hypotheses checked at the
        offending policy), witnesses replay (:func:`proofs_check.replay`), and a float fixed
        point can be lifted to rationals and decided exactly.
    options : dict, optional
        The keywords the run was made with (``choice``, ``solver``, ``tol``, ``strict``), for
        the witnesses.
    diagnose_failures : bool
        Diagnose failed conclusions (sample-based checks; the searches switch it off).
    verify : bool
        First check that the trace is evidence about its MDP: no NaN, every policy on the
        simplex, and every recorded V_{pi_k} and eta(pi_k) equal to a fresh evaluation of
        pi_k (exactly, or within the certified evaluation errors). A trace that is not raises
        InvalidParameterError instead of producing verdicts. Costs n + 1 evaluations.

    Returns
    -------
    Report
        Verdicts: ``lemma_3_5_mirror_operator``, ``lemma_3_3_monotone_values``,
        ``theorem_3_6_1_inequality_13``, ``theorem_3_6_1_return_monotone``,
        ``drift_bound_8_step``, ``drift_bound_9_total``, ``theorem_3_6_2_value_convergence``,
        ``theorem_3_6_3_return_convergence``, ``theorem_3_6_4_convergence_to_optimal_policy``;
        for a run with schedules also ``xiao_2022_theorem_10_rate``
        (:func:`proofs_check.classic.xiao_theorem_10`).

    Notes
    -----
    Per-step claims hold for the exact argmax and are decided with each step's certificate
    (see :func:`proofs_check._common.step_tolerance`): a certified step within its allowance, an
    uncertified one fails only beyond what its gap bound explains and is otherwise
    inconclusive. Convergence claims are limits: a finite run passes them by reaching the
    optimum, fails them at a certified fixed point of the update that is not optimal, and is
    otherwise inconclusive with its observed rate.

    Schedules (:mod:`tabular_mirror.schedules`): when a scheduled parameter took different
    values at two steps, the run is not a run of one algorithm. Theorem 3.6 assumes one drift,
    neighbourhood and sampling for the whole run, so its convergence claims (2)-(4) are then
    inconclusive with a reason starting "not applicable", never passed or failed; the per-step
    claims (Lemmas 3.5 and 3.3, inequality (13) and its return form, (8)) hold for every step
    of its own algorithm and are checked step by step (failures diagnosed with the algorithm
    of that step), and (9), their telescoped sum, too. The rate of Xiao (2022), Theorem 10
    (PMD with geometrically increasing steps) is checked where its hypotheses hold.
    """
    if verify:
        verify_trace(trace)
    note = ""
    if algorithm is None or options is None:
        recorded_algorithm, recorded_options, note = _from_provenance(trace)
        algorithm = recorded_algorithm if algorithm is None else algorithm
        options = recorded_options if options is None else options
    if verify and algorithm is not None:
        _verify_schedule(trace, algorithm)
    run = RunInfo(trace, algorithm, options, None if trace.exact else tolerance)
    run.diagnose_failures = diagnose_failures
    if trace.optimal_values is None:
        optimal_values, optimal_return, _ = optimum(trace.mdp)
    else:
        optimal_values, optimal_return = trace.optimal_values, trace.optimal_return
    verdicts = [
        lemma_3_5_on_trace(run),
        lemma_3_3_on_trace(run),
        inequality_13(run),
        return_inequality(run),
        drift_bound_8(run),
        drift_bound_9(run, optimal_return),
        value_convergence(run, optimal_values),
        return_convergence(run, optimal_return),
        limit_optimal(run, optimal_values),
    ]
    if getattr(trace, "schedule", None) is not None or (algorithm and algorithm.schedules):
        from .classic import xiao_theorem_10

        verdicts.append(xiao_theorem_10(run, optimal_return=optimal_return))
    title = f"{trace.algorithm} ({_count(trace.iterations, 'iteration')}){note}"
    return Report(tuple(verdicts), title)


def _from_provenance(trace: tm.Trace) -> tuple[Any, dict[str, Any] | None, str]:
    """The algorithm and run options a trace records (see :class:`tabular_mirror.traces.
    Provenance`), rebuilt where they can be: (algorithm or None, options or None, a note for
    the report's title when something could not be rebuilt)."""
    from .witness import rebuild_algorithm, solver_from_text

    provenance = getattr(trace, "provenance", None)
    if provenance is None:
        return None, None, ""
    algorithm, notes = None, []
    if provenance.algorithm is not None:
        try:
            algorithm = rebuild_algorithm({"algorithm": provenance.algorithm})
        except tm.TabularMirrorError:
            notes.append("its algorithm cannot be rebuilt (no diagnosis, witnesses not replayable)")
    options: dict[str, Any] = {"choice": provenance.choice, "strict": provenance.strict}
    if provenance.solver is not None:
        try:
            options["solver"] = solver_from_text(provenance.solver)
        except tm.TabularMirrorError:
            algorithm = None  # a run without its solver cannot be replayed
            notes.append(f"its solver {provenance.solver} cannot be rebuilt")
    return algorithm, options, f"; {'; '.join(notes)}" if notes else ""


def _verify_schedule(trace: tm.Trace, algorithm: MirrorAlgorithm) -> None:
    """The trace's schedule record must be the algorithm's schedules at the trace's steps (a
    record edited by hand, or a trace checked with another algorithm, is refused)."""
    record = getattr(trace, "schedule", None)
    scheduled = algorithm.schedules
    if record is None:
        # every run of a scheduled algorithm records its values (files before version 3
        # predate schedules): a record-less trace with steps is a run of another algorithm
        if scheduled and trace.iterations > 0:
            raise tm.InvalidParameterError(
                "the trace records no schedule, but the algorithm schedules "
                f"{', '.join(path for path, _ in scheduled)}: it is not a run of this algorithm"
            )
        return
    parameters = tuple(path for path, _ in scheduled)
    if record.parameters != parameters:
        raise tm.InvalidParameterError(
            f"the trace records the schedules of {', '.join(record.parameters)}, but the "
            f"algorithm schedules {', '.join(parameters) or 'nothing'}: it is not a run of "
            "this algorithm"
        )
    for k, row in enumerate(record.values):
        expected = algorithm.scheduled_values(record.start + k)
        for j, (value, wanted) in enumerate(zip(row, expected, strict=True)):
            if value != wanted:
                raise tm.InvalidParameterError(
                    f"trace.schedule records {record.parameters[j]} = {value} at step {k}, but "
                    f"the algorithm's schedule {scheduled[j][1]} gives {wanted} at n = "
                    f"{record.start + k}: the record is not the run's"
                )


def verify_trace(trace: tm.Trace) -> None:
    """Raise InvalidParameterError unless the trace is evidence about its own MDP.

    Checked: the per-policy and per-step arrays have no NaN (infinities only where a drift
    can be infinite); every pi_k is a policy of the MDP; V_{pi_k} and eta(pi_k) as recorded
    equal a fresh evaluation of pi_k, exactly in exact mode and within twice the certified
    evaluation error plus rounding in float mode. A trace edited by hand, produced by other
    code, or run on another MDP is refused before any verdict is made of it.
    """
    if not isinstance(trace, tm.Trace):
        raise tm.InvalidParameterError(f"trace = {trace!r} is not a tabular_mirror.Trace")
    mdp = trace.mdp
    for name in ("values", "returns", "max_advantages", "drifts", "state_drifts",
                 "drift_weights", "sampling", "mirror_values", "improvement_bounds",
                 "objectives"):  # fmt: skip
        array = getattr(trace, name)
        if array.dtype != object and array.size and np.isnan(array).any():
            index = tuple(int(i) for i in np.argwhere(np.isnan(array))[0])
            raise tm.InvalidParameterError(
                f"trace.{name}{list(index)} is NaN: a trace with NaN is no evidence for any claim"
            )
    for k, policy in enumerate(trace.policies):
        try:
            # on the simplex as mirror_step's re-verification accepts a float step: entries
            # >= -1e-12, rows summing to 1 within 1e-9 (a run's own steps must pass)
            checked = np.asarray(policy)
            if not trace.exact and np.all(np.asarray(checked >= -1e-12, dtype=bool)):
                checked = np.maximum(checked, 0.0)
            tm.check_policy(mdp, checked, tolerance=1e-9)
            evaluation = tm.evaluate(mdp, policy, validate=False)
        except tm.InvalidPolicyError as error:
            raise tm.InvalidParameterError(
                f"trace.policies[{k}] is not a policy: {error}"
            ) from None
        # the recorded values carry their own certified error, the fresh ones theirs
        tolerance = (
            0
            if trace.exact
            else recorded_error(trace, k) + float(evaluation.error_bound) + 1e-12 * value_scale(mdp)
        )
        difference = evaluation.values - trace.values[k]
        worst = max(abs(d) for d in difference)
        if worst > tolerance:
            raise tm.InvalidParameterError(
                f"trace.values[{k}] differs from the evaluation of trace.policies[{k}] by "
                f"{float(worst):.3g} (allowed {float(tolerance):.3g}): the trace is not a run "
                "on its MDP"
            )
        if abs(evaluation.expected_return - trace.returns[k]) > tolerance:
            raise tm.InvalidParameterError(
                f"trace.returns[{k}] = {trace.returns[k]} is not eta(pi_{k}) = "
                f"{evaluation.expected_return}: the trace is not a run on its MDP"
            )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def check_fundamental_theorem(
    mdp: tm.FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy0: Any,
    iterations: int,
    *,
    tolerance: Any = None,
    diagnose_failures: bool = True,
    **mirror_learning_kwargs: Any,
) -> Report:
    """Run :func:`tabular_mirror.mirror_learning` and :func:`check_trace` on the result.

    Parameters
    ----------
    mdp, algorithm, policy0, iterations
        As for :func:`tabular_mirror.mirror_learning`.
    tolerance : float, optional
        Passed to :func:`check_trace`.
    diagnose_failures : bool
        Passed to :func:`check_trace`.
    **mirror_learning_kwargs
        Passed on (``choice``, ``solver``, ``tol``, ``strict``); recorded in the witnesses.

    Returns
    -------
    Report
        Failed verdicts carry a diagnosis and a witness that :func:`proofs_check.replay`
        re-runs.
    """
    trace = tm.mirror_learning(mdp, algorithm, policy0, iterations, **mirror_learning_kwargs)
    return check_trace(
        trace,
        tolerance=tolerance,
        algorithm=algorithm,
        options=mirror_learning_kwargs,
        diagnose_failures=diagnose_failures,
        verify=False,  # the trace was just made from this MDP: nothing to re-evaluate
    )
