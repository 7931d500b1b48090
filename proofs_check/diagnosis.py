"""Why a conclusion failed: the paper's hypotheses checked at the offending policies.

When a conclusion of Lemma 3.5, Lemma 3.3 or Theorem 3.6 fails on a run, the first question is
whether the run is a counterexample to the paper or an algorithm outside its hypotheses. The
diagnosis checks, at the policy where the failure happened:

===================================  =======================================================
verdict                              hypothesis
===================================  =======================================================
``hypothesis_exact_argmax``          the step is the argmax (certified), not an inexact step
``hypothesis_sampling_positive``     beta_pi[s] > 0 for every s (decided on the recorded beta)
``hypothesis_nu_independent``        nu does not depend on pibar (Lemma 3.5's swap, Thm 3.6)
``hypothesis_definition_3_1``        D is a drift at pi: nonnegative, 0 at pi, zero one-sided
                                     derivatives along every feasible simplex direction
``hypothesis_definition_3_2``        N(pi) contains a ball, is compact, and is monotone in
                                     per-state distances (what Lemma 3.5's swap uses)
===================================  =======================================================

Each is a :class:`~proofs_check.verdicts.Verdict` with its own witness; a failed one names the
loose spot, e.g. "the PPO clip drift violates Def. 3.1(2) at pi_n: one-sided derivative ...
toward action a, where pi_n[s, a] = 0". Definition checks are sample-based (see
:mod:`proofs_check.definitions`).

References
----------
Kuba, Schroeder de Witt, Foerster, "Mirror Learning", ICML 2022, Definitions 3.1-3.2, Lemma 3.5,
Theorem 3.6; the loose spots are listed in the project's spec (section 3).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

import tabular_mirror as tm
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.neighbourhoods import Everything

from .verdicts import EXACT, Verdict, held, mdp_witness, worst

__all__ = ["diagnose", "CONVERGENCE", "STEP"]

#: The hypotheses behind the convergence conclusions (Theorem 3.6(2)-(4)).
CONVERGENCE = ("exact_argmax", "sampling", "nu", "drift", "neighbourhood")

#: The hypotheses behind the per-step conclusions (Lemmas 3.3, 3.5, inequality (13)).
STEP = ("exact_argmax", "sampling", "nu", "drift_nonnegative", "neighbourhood_monotone")


def diagnose(
    mdp: tm.FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy: Any,
    *,
    iteration: int | None = None,
    certificate: Any = None,
    sampling: Any = None,
    which: tuple[str, ...] = CONVERGENCE,
    samples: int = 8,
) -> tuple[Verdict, ...]:
    """The hypotheses ``which`` checked at ``policy`` (pi_n of a run, ``iteration`` n).

    Parameters
    ----------
    mdp, algorithm : the run's MDP and algorithm.
    policy : (S, A) the offending policy pi_n.
    iteration : n, for the messages.
    certificate : the certificate of the step taken from pi_n (None: not checked).
    sampling : (S,) beta_{pi_n} as recorded (None: computed).
    which : a subset of ("exact_argmax", "sampling", "nu", "drift", "drift_nonnegative",
        "neighbourhood", "neighbourhood_monotone").
    samples : candidates per sample-based definition check.

    Returns
    -------
    tuple of Verdict
        One per hypothesis, named ``hypothesis_...``; ``worst_iteration`` is ``iteration``.
    """
    from .definitions import check_neighbourhood

    where = "pi_0" if iteration == 0 else f"pi_{iteration}" if iteration is not None else "pi"
    verdicts: list[Verdict] = []
    if "exact_argmax" in which and certificate is not None:
        verdicts.append(_argmax(certificate, where, iteration))
    if "sampling" in which:
        if sampling is None:
            from tabular_mirror.algorithm import make_context

            sampling = make_context(mdp, algorithm, policy).sampling_weights
        smallest = min(sampling)
        state = int(np.argmin(np.asarray(sampling, dtype=float)))
        verdicts.append(
            Verdict(
                "hypothesis_sampling_positive",
                held(smallest > 0),
                smallest,
                state,
                iteration,
                {
                    "sampling": [str(b) for b in sampling],
                    "sampling_piece": repr(algorithm.sampling),
                },
                EXACT,
                f"beta_{where}[s] > 0 for every s (smallest {float(smallest):.3g} at state {state})"
                if smallest > 0
                else f"beta_{where}[{state}] = 0: state {state} is never sampled, so the update "
                "may do anything there (Lemma 3.5 needs beta > 0)",
            )
        )
    if "nu" in which:
        depends = bool(algorithm.drift_distribution.depends_on_candidate)
        verdicts.append(
            Verdict(
                "hypothesis_nu_independent",
                held(not depends),
                -1 if depends else 0,
                None,
                iteration,
                {"drift_distribution": repr(algorithm.drift_distribution)},
                EXACT,
                f"nu = {algorithm.drift_distribution!r} depends on pibar: Lemma 3.5's swap "
                "changes nu, outside the proofs' assumptions"
                if depends
                else "nu does not depend on pibar (as the proofs assume)",
            )
        )
    if {"drift", "drift_nonnegative"} & set(which):
        verdicts.append(_drift(mdp, algorithm, policy, where, iteration, which, samples))
    if {"neighbourhood", "neighbourhood_monotone"} & set(which) and not isinstance(
        algorithm.neighbourhood, Everything
    ):
        report = check_neighbourhood(
            algorithm.neighbourhood, mdp, np.asarray(policy, dtype=float), samples=samples
        )
        parts = (
            report.verdicts
            if "neighbourhood" in which
            else tuple(v for v in report.verdicts if v.name == "lemma_3_5_monotone_neighbourhood")
        )
        chosen = worst(parts)
        verdicts.append(
            replace(
                chosen,
                name="hypothesis_definition_3_2",
                worst_iteration=iteration,
                detail=f"N at {where}: {chosen.name}: {chosen.detail}",
            )
        )
    return tuple(verdicts)


def _argmax(certificate: Any, where: str, iteration: int | None) -> Verdict:
    kind, bound = certificate.kind, certificate.bound
    record = {
        "kind": kind,
        "bound": None if bound is None else str(bound),
        "certified": bool(certificate.certified),
        "detail": certificate.detail,
    }
    if certificate.certified:
        return Verdict(
            "hypothesis_exact_argmax", "passed", bound, None, iteration, record, EXACT,
            f"the step from {where} is the argmax ({kind} certificate, bound {bound})",
        )  # fmt: skip
    if kind == "inexact":
        return Verdict(
            "hypothesis_exact_argmax", "failed", bound, None, iteration, record, EXACT,
            f"the step from {where} is inexact by design ({certificate.detail}): the paper's "
            "results are stated for the exact argmax only",
        )  # fmt: skip
    return Verdict(
        "hypothesis_exact_argmax", "inconclusive", bound, None, iteration, record, EXACT,
        f"the step from {where} is not certified as the argmax ({kind}, bound {bound})",
        reason="the solver could not certify its step",
    )  # fmt: skip


def _drift(
    mdp: tm.FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy: Any,
    where: str,
    iteration: int | None,
    which: tuple[str, ...],
    samples: int,
) -> Verdict:
    from .definitions import check_drift

    drift = algorithm.drift
    zeros = np.argwhere(np.asarray(np.asarray(policy) <= 0, dtype=bool))
    if drift.needs_support and len(zeros):
        s, a = (int(i) for i in zeros[0])
        return Verdict(
            "hypothesis_definition_3_1", "failed", None, s, iteration,
            mdp_witness(mdp, policy=policy), EXACT,
            f"{drift!r} needs pi > 0 but {where}[{s}, {a}] = 0: it is a drift only on the "
            "interior of Pi",
        )  # fmt: skip
    report = check_drift(drift, mdp, policy, samples=samples)
    parts = report.verdicts
    if "drift" not in which:  # the per-step claims use nonnegativity only
        parts = tuple(v for v in parts if v.name == "definition_3_1_nonnegative")
    chosen = worst(parts)
    detail = f"D at {where}: {chosen.name}: {chosen.detail}"
    if chosen.failed and chosen.name == "definition_3_1_zero_gradient":
        detail = f"{drift!r} violates Def. 3.1(2) at {where}: {chosen.detail}"
        facts = chosen.witness if isinstance(chosen.witness, dict) else {}
        if facts.get("one_sided"):  # the failing direction moves mass onto an unused action
            s, a = facts.get("state"), facts.get("to_action")
            detail += f" ({where}[{s}, {a}] = 0 at state {s}: a boundary policy)"
    return replace(
        chosen, name="hypothesis_definition_3_1", worst_iteration=iteration, detail=detail
    )
