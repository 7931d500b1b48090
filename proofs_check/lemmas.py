"""Lemmas 3.3 and 3.5 of Kuba et al. (2022) on computed mirror steps.

- Lemma 3.5: the mirror update satisfies [M^{pi_new} V_{pi_old}](s) >= V_{pi_old}(s) for every
  state s (:func:`lemma_3_5_on_trace`, :func:`check_step`).
- Lemma 3.3: if [M^{pi_new} V_old](s) >= V_old(s) for every s, then V_new(s) >= V_old(s) for
  every s (:func:`lemma_3_3_on_trace`; :func:`lemma_3_3` checks the implication itself on any
  pair of policies and any nonnegative penalty).

References
----------
J. Grudzien Kuba, C. Schroeder de Witt, J. Foerster, "Mirror Learning: A Unifying Framework of
Policy Optimisation", ICML 2022, section 3, Lemmas 3.3 and 3.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tabular_mirror as tm
from tabular_mirror.algorithm import MirrorAlgorithm

from ._common import evaluation_error, ratio_times, step_tolerance, value_scale
from .verdicts import EXACT, Report, Tolerance, Verdict, decide, mdp_witness

__all__ = [
    "lemma_3_3",
    "lemma_3_3_on_trace",
    "lemma_3_5_on_trace",
    "check_step",
    "over_steps",
]


def over_steps(
    trace: tm.Trace,
    name: str,
    detail: str,
    slack: Any,
    *,
    propagate: bool = True,
) -> Verdict:
    """The worst over a run's steps of ``slack(n) -> (S,)``, each with its step tolerance."""
    from dataclasses import replace

    from .verdicts import combine

    verdicts = []
    for n in range(trace.iterations):
        tolerance = step_tolerance(
            trace.mdp, trace.certificates[n], trace.sampling[n], propagate=propagate
        )
        verdicts.append(replace(decide(name, slack(n), tolerance, detail), worst_iteration=n))
    if not verdicts:
        return decide(name, [], EXACT, f"{detail}: no steps")
    worst = combine(name, verdicts, detail)
    return replace(worst, witness=_trace_witness(trace, worst.worst_iteration))


def lemma_3_5_on_trace(trace: tm.Trace) -> Verdict:
    """Lemma 3.5: [M^{pi_{n+1}} V_{pi_n}](s) - V_{pi_n}(s) >= 0 for every step n and state s.

    Parameters
    ----------
    trace : Trace
        A recorded run (``trace.mirror_values`` holds [M^{pi_{n+1}} V_{pi_n}](s)).

    Returns
    -------
    Verdict
        ``lemma_3_5_mirror_operator``; margin = min over (n, s) of the slack.

    Notes
    -----
    Float tolerance per step: two evaluation errors + the certified step gap / beta_min (a
    delta-suboptimal argmax satisfies [M V](s) >= V(s) - delta / beta[s] by Lemma 3.5's swap).
    """
    return over_steps(
        trace,
        "lemma_3_5_mirror_operator",
        "[M^{pi_{n+1}} V_n](s) >= V_n(s) at every step and state (Lemma 3.5)",
        lambda n: trace.mirror_values[n] - trace.values[n],
        propagate=False,
    )


def lemma_3_3_on_trace(trace: tm.Trace) -> Verdict:
    """Lemma 3.3's conclusion on a run: V_{pi_{n+1}}(s) >= V_{pi_n}(s) for every n and s.

    Returns ``lemma_3_3_monotone_values`` (Lemma 3.3 applied to Lemma 3.5's hypothesis; also
    the state-wise part of Theorem 3.6(1)).
    """
    return over_steps(
        trace,
        "lemma_3_3_monotone_values",
        "V_{n+1}(s) >= V_n(s) at every step and state (Lemma 3.3, Thm 3.6(1))",
        lambda n: trace.values[n + 1] - trace.values[n],
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
        ``lemma_3_3_implication``: vacuously passed (margin +inf) when the hypothesis fails;
        otherwise the margin is min_s (V_new - V_old).
    """
    old = tm.evaluate(mdp, policy)
    new = tm.evaluate(mdp, new_policy)
    expected_q = (np.asarray(new.policy) * old.q_values).sum(axis=1)
    penalty = expected_q * 0 if penalty is None else np.asarray(penalty)
    hypothesis = expected_q - penalty - old.values
    tolerance = _pair_tolerance(mdp)
    witness = mdp_witness(mdp, policy=old.policy, new_policy=new.policy)
    held = decide("hypothesis", hypothesis, tolerance, "")
    if not held.passed:
        return Verdict(
            "lemma_3_3_implication",
            True,
            float("inf"),
            held.worst_state,
            None,
            witness,
            tolerance,
            "hypothesis [M V](s) >= V(s) fails, so Lemma 3.3 says nothing (vacuous)",
        )
    return decide(
        "lemma_3_3_implication",
        new.values - old.values,
        tolerance,
        "[M V_old] >= V_old state-wise, and V_new >= V_old state-wise (Lemma 3.3)",
        witness,
    )


def check_step(
    mdp: tm.FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy: Any,
    step: tm.StepResult | None = None,
    **step_options: Any,
) -> Report:
    """Lemmas 3.3 and 3.5 and inequality (13) on one mirror step (computed unless given).

    Returns a :class:`Report` with ``lemma_3_5_mirror_operator``, ``lemma_3_3_monotone_values``
    and ``theorem_3_6_1_inequality_13`` for the single step pi -> pi_new.
    """
    if step is None:
        step = tm.mirror_step(mdp, algorithm, policy, **step_options)
    new = tm.evaluate(mdp, step.policy, validate=False)
    old_values = step.evaluation.values
    witness = mdp_witness(mdp, policy=step.old_policy, new_policy=step.policy)
    witness["algorithm"] = repr(algorithm)
    lemma_tolerance = step_tolerance(mdp, step.certificate, step.sampling, propagate=False)
    tolerance = step_tolerance(mdp, step.certificate, step.sampling)
    bound = ratio_times(step.drift_weights, step.sampling, step.state_drift)
    gain = new.values - old_values
    verdicts = (
        decide(
            "lemma_3_5_mirror_operator",
            step.mirror_values - old_values,
            lemma_tolerance,
            "[M^{pi_new} V_old](s) >= V_old(s) for every s (Lemma 3.5)",
            witness,
        ),
        decide(
            "lemma_3_3_monotone_values",
            gain,
            tolerance,
            "V_new(s) >= V_old(s) for every s (Lemma 3.3)",
            witness,
        ),
        decide(
            "theorem_3_6_1_inequality_13",
            _subtract(gain, bound),
            tolerance,
            "V_new(s) >= V_old(s) + (nu/beta)(s) D(s) for every s (ineq. (13))",
            witness,
        ),
    )
    return Report(verdicts, f"{algorithm.name}: one step")


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


def _trace_witness(trace: tm.Trace, n: int) -> dict[str, Any]:
    witness = mdp_witness(trace.mdp, policy=trace.policies[n], new_policy=trace.policies[n + 1])
    witness["algorithm"] = trace.algorithm
    witness["iteration"] = n
    return witness
