"""Lemmas 3.3 and 3.5 of Kuba et al. (2022) on computed mirror steps.

- Lemma 3.5: the mirror update satisfies [M^{pi_new} V_{pi_old}](s) >= V_{pi_old}(s) for every
  state s (:func:`lemma_3_5_on_trace`, :func:`check_step`).
- Lemma 3.3: if [M^{pi_new} V_old](s) >= V_old(s) for every s, then V_new(s) >= V_old(s) for
  every s (:func:`lemma_3_3_on_trace`; :func:`lemma_3_3` checks the implication itself on any
  pair of policies and any nonnegative penalty).

Both hold for the exact argmax. A computed step is decided with the allowance of its
certificate (:func:`proofs_check._common.step_tolerance`): a certified delta-suboptimal step
moves Lemma 3.5 by at most delta / beta[s]; a step that is not certified can pass (the
inequality holds on the computed iterates) but fails only by more than its certificate could
explain; with no valid bound a violation is inconclusive, never a failure. A failed verdict
carries the hypotheses of the lemma checked at the offending policy
(:mod:`proofs_check.diagnosis`) and a witness that :func:`proofs_check.replay` re-runs.

References
----------
J. Grudzien Kuba, C. Schroeder de Witt, J. Foerster, "Mirror Learning: A Unifying Framework of
Policy Optimisation", ICML 2022, section 3, Lemmas 3.3 and 3.5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

import tabular_mirror as tm
from tabular_mirror.algorithm import MirrorAlgorithm

from ._common import evaluation_error, ratio_times, recorded_error, step_tolerance, value_scale
from .diagnosis import STEP, diagnose
from .verdicts import EXACT, Report, Tolerance, Verdict, combine, decide, mdp_witness
from .witness import call_witness, with_expected

__all__ = [
    "lemma_3_3",
    "lemma_3_3_on_trace",
    "lemma_3_5_on_trace",
    "check_step",
    "over_steps",
    "RunInfo",
]


class RunInfo:
    """What a trace-level verdict needs beyond the trace: the algorithm (for the diagnosis and
    a replayable witness) and the options the run was made with (``choice``, ``solver``,
    ``tol``, ``strict``), plus a user ``tolerance`` override.

    Without the algorithm, witnesses hold the MDP and the policies only (readable, not
    replayable) and failures are not diagnosed.
    """

    def __init__(
        self,
        trace: tm.Trace,
        algorithm: MirrorAlgorithm | None = None,
        options: dict[str, Any] | None = None,
        tolerance: Any = None,
        diagnose_failures: bool = True,
    ) -> None:
        self.trace = trace
        self.diagnose_failures = diagnose_failures
        self.algorithm = algorithm
        self.options = dict(options or {})
        self.tolerance = tolerance
        self._diagnoses: dict[tuple[int, tuple[str, ...]], tuple[Verdict, ...]] = {}

    @property
    def start(self) -> int:
        """The iteration of the trace's first step (> 0 for a later part of a long run)."""
        schedule = getattr(self.trace, "schedule", None)
        return 0 if schedule is None else schedule.start

    def algorithm_at(self, n: int) -> MirrorAlgorithm | None:
        """The algorithm of the trace's step n -> n + 1 (its schedules evaluated there); None
        when the algorithm is not known or a schedule has no valid value there."""
        if self.algorithm is None:
            return None
        try:
            return self.algorithm.at(self.start + n)
        except tm.InvalidParameterError:
            return None

    def witness(self, n: int | None, **shown: Any) -> dict[str, Any]:
        """A witness for iteration ``n`` (the policies pi_n, pi_{n+1} shown)."""
        trace = self.trace
        if n is not None:
            shown.setdefault("policy", trace.policies[n])
            if n + 1 < len(trace.policies):
                shown.setdefault("new_policy", trace.policies[n + 1])
            shown["iteration"] = n
        # a part of a scheduled run starting at n > 0 is not a run from pi_0 at n = 0: shown,
        # not replayed
        if self.algorithm is None or (self.start and self.algorithm.schedules):
            witness = mdp_witness(trace.mdp, policy0=trace.policies[0])
            witness["algorithm_name"] = trace.algorithm
            for key, value in shown.items():
                witness[key] = value.tolist() if isinstance(value, np.ndarray) else value
            if "policy" in shown:
                witness.update(mdp_witness(trace.mdp, **{
                    k: shown[k] for k in ("policy", "new_policy") if k in shown
                }))  # fmt: skip
            witness["replayable"] = False
            return witness
        from .fundamental import check_fundamental_theorem

        arguments: dict[str, Any] = {
            "mdp": trace.mdp,
            "algorithm": self.algorithm,
            "policy0": trace.policies[0],
            "iterations": trace.iterations,
        }
        arguments.update({k: v for k, v in self.options.items() if v is not None})
        if self.tolerance is not None:
            arguments["tolerance"] = self.tolerance
        return call_witness(check_fundamental_theorem, arguments, "", **shown)

    def diagnosis(self, n: int | None, which: tuple[str, ...]) -> tuple[Verdict, ...]:
        """The hypotheses ``which`` at pi_n (cached; empty without the algorithm)."""
        if self.algorithm is None or n is None or not self.diagnose_failures:
            return ()
        algorithm = self.algorithm_at(n)  # a scheduled run: the algorithm of step n
        if algorithm is None:
            return ()
        key = (n, which)
        if key not in self._diagnoses:
            trace = self.trace
            step = n < trace.iterations
            self._diagnoses[key] = diagnose(
                trace.mdp,
                algorithm,
                trace.policies[n],
                iteration=n,
                certificate=trace.certificates[n] if step else None,
                sampling=trace.sampling[n] if step else None,
                which=which,
            )
        return self._diagnoses[key]

    def finish(self, verdict: Verdict, which: tuple[str, ...] = STEP) -> Verdict:
        """Attach the witness (with the expected outcome) and, for a failure, the diagnosis."""
        n = verdict.worst_iteration
        witness = with_expected(self.witness(n), verdict)
        diagnosis = self.diagnosis(n, which) if verdict.failed else ()
        return replace(verdict, witness=witness, diagnosis=diagnosis)


def user_tolerance(tolerance: Any, value: Any) -> Any:
    """A user's tolerance override: it sets when a claim passes; a failure still needs a
    violation beyond the evidence's own fail allowance (so an override never makes a solver
    artefact or an uncertified step a failure)."""
    if value is None:
        return tolerance
    fail = tolerance.fail_threshold if isinstance(tolerance, Tolerance) else (tolerance or 0)
    return Tolerance(float(value), "user", max(float(value), float(fail)))


def over_steps(
    run: RunInfo,
    name: str,
    detail: str,
    slack: Callable[[int], Any],
    *,
    propagate: bool = True,
    which: tuple[str, ...] = STEP,
) -> Verdict:
    """The worst over a run's steps of ``slack(n) -> (S,)``, each decided with its step's
    allowance (:func:`proofs_check._common.step_tolerance`)."""
    trace = run.trace
    verdicts = []
    for n in range(trace.iterations):
        tolerance = step_tolerance(
            trace.mdp,
            trace.certificates[n],
            trace.sampling[n],
            propagate=propagate,
            error=recorded_error(trace, n, n + 1),
        )
        tolerance = user_tolerance(tolerance, run.tolerance)
        verdicts.append(replace(decide(name, slack(n), tolerance, detail), worst_iteration=n))
    if not verdicts:
        return run.finish(
            decide(name, [], EXACT, detail, empty="the run took no steps: nothing to check")
        )
    return run.finish(combine(name, verdicts, detail), which)


def _run(trace_or_run: tm.Trace | RunInfo) -> RunInfo:
    return trace_or_run if isinstance(trace_or_run, RunInfo) else RunInfo(trace_or_run)


def lemma_3_5_on_trace(trace: tm.Trace | RunInfo) -> Verdict:
    """Lemma 3.5: [M^{pi_{n+1}} V_{pi_n}](s) - V_{pi_n}(s) >= 0 for every step n and state s.

    Parameters
    ----------
    trace : Trace (or RunInfo)
        A recorded run (``trace.mirror_values`` holds [M^{pi_{n+1}} V_{pi_n}](s)).

    Returns
    -------
    Verdict
        ``lemma_3_5_mirror_operator``; margin = min over (n, s) of the slack.

    Notes
    -----
    Float allowance per step: two evaluation errors + the certified step gap / beta_min (a
    delta-suboptimal argmax satisfies [M V](s) >= V(s) - delta / beta[s] by Lemma 3.5's swap).
    """
    run = _run(trace)
    return over_steps(
        run,
        "lemma_3_5_mirror_operator",
        "[M^{pi_{n+1}} V_n](s) >= V_n(s) at every step and state (Lemma 3.5)",
        lambda n: run.trace.mirror_values[n] - run.trace.values[n],
        propagate=False,
    )


def lemma_3_3_on_trace(trace: tm.Trace | RunInfo) -> Verdict:
    """Lemma 3.3's conclusion on a run: V_{pi_{n+1}}(s) >= V_{pi_n}(s) for every n and s.

    Returns ``lemma_3_3_monotone_values`` (Lemma 3.3 applied to Lemma 3.5's hypothesis; also
    the state-wise part of Theorem 3.6(1)).
    """
    run = _run(trace)
    return over_steps(
        run,
        "lemma_3_3_monotone_values",
        "V_{n+1}(s) >= V_n(s) at every step and state (Lemma 3.3, Thm 3.6(1))",
        lambda n: run.trace.values[n + 1] - run.trace.values[n],
    )


def lemma_3_3(
    mdp: tm.FiniteMDP,
    policy: Any,
    new_policy: Any,
    penalty: Any = None,
) -> Verdict:
    """Lemma 3.3 as an implication on one pair: hypothesis => conclusion.

    With M(s) = sum_a pi_new[s,a] Q_pi[s,a] - penalty[s] (penalty >= 0), if M(s) >= V_pi(s) for
    every s then V_{pi_new}(s) >= V_pi(s) for every s.

    Parameters
    ----------
    mdp : FiniteMDP
    policy, new_policy : (S, A) pi_old and pi_new.
    penalty : (S,) nonnegative, optional
        (nu/beta) D_pi(pi_new | s); zero by default (policy improvement).

    Returns
    -------
    Verdict
        ``lemma_3_3_implication``: passed when the conclusion holds (margin min_s (V_new -
        V_old)), or vacuously (margin +inf) when the hypothesis is decided false; failed when
        the hypothesis holds and the conclusion is decided false (Lemma 3.3 would be wrong);
        inconclusive when the float evidence cannot decide the hypothesis or the conclusion.

    Raises
    ------
    InvalidParameterError
        A penalty that is not (S,), or negative (Lemma 3.3 assumes penalty >= 0).
    """
    old = tm.evaluate(mdp, policy)
    new = tm.evaluate(mdp, new_policy)
    expected_q = (np.asarray(new.policy) * old.q_values).sum(axis=1)
    if penalty is None:
        penalty = expected_q * 0
    else:
        penalty = np.asarray(penalty, dtype=object if mdp.is_exact else float)
        if penalty.shape != (mdp.num_states,):
            raise tm.InvalidParameterError(
                f"penalty has shape {penalty.shape}, expected ({mdp.num_states},)"
            )
        if any(p < 0 for p in penalty):
            raise tm.InvalidParameterError(
                "penalty has a negative entry; Lemma 3.3 assumes (nu/beta) D >= 0"
            )
    hypothesis = expected_q - penalty - old.values
    tolerance = _pair_tolerance(mdp)
    witness = call_witness(
        lemma_3_3,
        {"mdp": mdp, "policy": old.policy, "new_policy": new.policy, "penalty": penalty},
        "lemma_3_3_implication",
    )
    premise = decide("hypothesis", hypothesis, tolerance, "")
    conclusion = decide(
        "lemma_3_3_implication",
        new.values - old.values,
        tolerance,
        "[M V_old] >= V_old state-wise, and V_new >= V_old state-wise (Lemma 3.3)",
        witness,
    )
    if conclusion.passed:
        verdict = conclusion
    elif premise.failed:
        verdict = Verdict(
            "lemma_3_3_implication", "passed", float("inf"), premise.worst_state, None,
            witness, tolerance,
            "hypothesis [M V](s) >= V(s) fails, so Lemma 3.3 says nothing (vacuous)",
        )  # fmt: skip
    elif conclusion.failed and premise.passed:
        verdict = conclusion
    else:
        verdict = replace(
            conclusion,
            outcome="inconclusive",
            reason="the float evidence decides neither the hypothesis nor the conclusion "
            f"(hypothesis margin {float(premise.margin):.3g})",
        )
    return replace(verdict, witness=with_expected(witness, verdict))


def check_step(
    mdp: tm.FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy: Any,
    step: tm.StepResult | None = None,
    *,
    diagnose_failures: bool = True,
    **step_options: Any,
) -> Report:
    """Lemmas 3.3 and 3.5 and inequality (13) on one mirror step (computed unless given).

    ``diagnose_failures=False`` skips the (sample-based, slower) diagnosis of a failure: the
    counterexample searches use it while they search and diagnose the witness they return.

    Returns a :class:`Report` with ``lemma_3_5_mirror_operator``, ``lemma_3_3_monotone_values``
    and ``theorem_3_6_1_inequality_13`` for the single step pi -> pi_new, each decided with the
    step certificate's allowance; a failed one carries the diagnosis at pi. The witness replays
    the step (with ``step_options``; a given ``step`` is recomputed the same way on replay).
    """
    if step is None:
        step = tm.mirror_step(mdp, algorithm, policy, **step_options)
    new = tm.evaluate(mdp, step.policy, validate=False)
    old_values = step.evaluation.values
    witness = call_witness(
        check_step,
        {"mdp": mdp, "algorithm": algorithm, "policy": step.old_policy, **step_options},
        "",
        new_policy=step.policy,
    )
    lemma_tolerance = step_tolerance(mdp, step.certificate, step.sampling, propagate=False)
    tolerance = step_tolerance(mdp, step.certificate, step.sampling)
    bound = ratio_times(step.drift_weights, step.sampling, step.state_drift)
    gain = new.values - old_values
    verdicts = [
        decide(
            "lemma_3_5_mirror_operator",
            step.mirror_values - old_values,
            lemma_tolerance,
            "[M^{pi_new} V_old](s) >= V_old(s) for every s (Lemma 3.5)",
        ),
        decide(
            "lemma_3_3_monotone_values",
            gain,
            tolerance,
            "V_new(s) >= V_old(s) for every s (Lemma 3.3)",
        ),
        decide(
            "theorem_3_6_1_inequality_13",
            _subtract(gain, bound),
            tolerance,
            "V_new(s) >= V_old(s) + (nu/beta)(s) D(s) for every s (ineq. (13))",
        ),
    ]
    diagnosis: tuple[Verdict, ...] = ()
    if diagnose_failures and any(v.failed for v in verdicts):
        diagnosis = diagnose(
            mdp,
            algorithm,
            step.old_policy,
            certificate=step.certificate,
            sampling=step.sampling,
            which=STEP,
        )
    finished = tuple(
        replace(v, witness=with_expected(witness, v), diagnosis=diagnosis if v.failed else ())
        for v in verdicts
    )
    return Report(finished, f"{algorithm.name}: one step")


# ---------------------------------------------------------------------------- helpers
def _subtract(left: Any, right: Any) -> np.ndarray:
    exact = left.dtype == object and right.dtype == object
    if exact:
        return np.array([a - b for a, b in zip(left, right, strict=True)], dtype=object)
    return np.asarray(left, dtype=float) - np.asarray(right, dtype=float)


def _pair_tolerance(mdp: tm.FiniteMDP) -> Any:
    if mdp.is_exact:
        return EXACT
    return Tolerance(
        4 * evaluation_error(mdp) + 1e-12 * value_scale(mdp),
        "certified evaluation errors of both policies + rounding",
    )
