"""Shared helpers of the checks: tolerances with reasons, exact-safe ratios, V*."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

import tabular_mirror as tm

from .verdicts import EXACT, Tolerance

#: Relative accuracy of float evaluation (tabular_mirror.evaluation.RELATIVE_TOLERANCE).
EVALUATION_RELATIVE = 1e-10

#: Relative size of rounding in the checks' own arithmetic (sums of a few dozen terms).
ROUNDING_RELATIVE = 1e-12


def value_scale(mdp: tm.FiniteMDP) -> float:
    """max(1, ||r||_inf / (1 - gamma)): the largest possible |V|."""
    tm.model.require_discounted(mdp, "proofs_check")
    rewards = np.abs(np.asarray(mdp.rewards, dtype=float)).max()
    return max(1.0, float(rewards) / (1.0 - float(mdp.discount)))


def evaluation_error(mdp: tm.FiniteMDP) -> float:
    """The certified sup-norm error of a default float evaluation (0 in exact mode)."""
    return 0.0 if mdp.is_exact else EVALUATION_RELATIVE * value_scale(mdp)


def recorded_error(trace: tm.Trace, *iterations: int) -> float:
    """The largest certified evaluation error of V_{pi_k} over ``iterations``, as the trace
    recorded it (the default evaluation's error when the trace has no record, e.g. a version-1
    file; 0 in exact mode)."""
    default = evaluation_error(trace.mdp)
    bounds = getattr(trace, "evaluation_error_bounds", None)
    if trace.exact or bounds is None:
        return default
    return max([float(bounds[k]) for k in iterations] or [default])


def step_tolerance(
    mdp: tm.FiniteMDP,
    certificate: Any,
    sampling: Any,
    *,
    propagate: bool = True,
    error: float | None = None,
) -> Any:
    """The allowance of a state-wise claim about one step: when it passes, when it fails.

    A claim that holds for the exact argmax (Lemma 3.5, Lemma 3.3, inequality (13)) is decided
    on the computed step as follows. Two evaluations enter it (2 x their certified error bound,
    plus rounding); a step that is delta-suboptimal moves the claim by at most
    delta / beta[s] (Lemma 3.5's swap argument: swapping row s back to pi would otherwise gain
    more than delta), and Lemma 3.3 propagates that through (I - gamma P_new)^{-1}, a factor
    1 / (1 - gamma) (``propagate``).

    - certified step (bound delta within its tolerance): passes and fails at
      evaluation error + delta / beta_min (x 1/(1-gamma));
    - step not certified but with a valid bound delta (a Frank-Wolfe or duality gap above its
      tolerance): passes within the evaluation error only, fails only beyond the allowance for
      delta; in between the verdict is inconclusive;
    - step with no valid bound (``local``, a failed re-verification): a violation is never a
      failure (fail allowance +inf): the computed step may simply not be the argmax;
    - an inexact step *by design* (certificate kind ``"inexact"``: k gradient steps) is the
      algorithm itself, so its claims are decided on the iterates with the evaluation error
      only;
    - beta with a zero: no gap allowance exists (the swap argument needs beta > 0).

    Exact MDPs: evaluation error 0; an exactly certified step (bound 0) is decided exactly.
    ``error`` is the certified evaluation error of the two evaluations (default: that of a
    default evaluation; a trace passes the error it recorded).
    """
    exact = mdp.is_exact
    if error is None:
        error = evaluation_error(mdp)
    base: Any = 0 if exact else 2 * error + ROUNDING_RELATIVE * value_scale(mdp)
    reason = "exact arithmetic" if exact else "2 x certified evaluation error + rounding"
    if certificate is None:
        return EXACT if exact else Tolerance(base, reason)
    bound = getattr(certificate, "bound", None)
    valid_bound = bound is not None and not _is_nan(bound) and bound >= 0
    beta_min = min(sampling) if sampling is not None and len(sampling) else 0
    factor: Any = 1
    if propagate:
        factor = 1 / (1 - mdp.discount) if exact else 1.0 / (1.0 - float(mdp.discount))
    if certificate.kind == "inexact":
        reason += "; an inexact step by design (the algorithm itself), decided on its iterates"
        return Tolerance(base, reason)
    allowance: Any = None
    if valid_bound and beta_min > 0:
        allowance = (bound / beta_min if exact else float(bound) / float(beta_min)) * factor
    gap_text = " + step gap / beta_min" + (" / (1 - gamma)" if propagate else "")
    if certificate.certified:
        if allowance is None:
            if valid_bound:  # beta has a zero: the swap argument gives nothing
                reason += "; beta has a zero, so the step's gap gives no allowance"
            return Tolerance(base, reason)
        if exact and allowance == 0:
            return EXACT
        return Tolerance(base + allowance, reason + gap_text + " (certified)")
    if allowance is None:
        return Tolerance(
            base,
            reason + "; the step is not certified as the argmax and has no valid gap bound, "
            "so a violation cannot be told from a solver artefact",
            math.inf,
        )
    return Tolerance(
        base,
        reason + "; the step is not certified: a violation beyond the allowance for its gap "
        f"bound {float(bound):.3g}{gap_text} fails, a smaller one is undecided",
        base + allowance,
    )


def _is_nan(value: Any) -> bool:
    return isinstance(value, float | np.floating) and math.isnan(value)


def run_tolerance(mdp: tm.FiniteMDP, certificates: Any, samplings: Any) -> Any:
    """The widest step tolerance over a run (pass and fail allowances taken separately)."""
    tolerances = [
        step_tolerance(mdp, c, b) for c, b in zip(certificates, samplings, strict=True)
    ] or [step_tolerance(mdp, None, None)]
    if all(not isinstance(t, Tolerance) for t in tolerances):
        return EXACT
    as_tolerances = [t if isinstance(t, Tolerance) else Tolerance(0, "exact") for t in tolerances]
    widest = max(as_tolerances, key=lambda t: t.value)
    fail = max(as_tolerances, key=lambda t: t.fail_threshold)
    return Tolerance(widest.value, fail.reason if fail is not widest else widest.reason,
                     fail.fail_threshold)  # fmt: skip


def ratio_times(weights: Any, sampling: Any, values: Any) -> np.ndarray:
    """(nu[s] / beta[s]) * values[s] with 0 * anything = 0 (as tabular_mirror.learning does).

    A state with beta[s] = 0 and nu[s] > 0 gives +inf (float) or raises nothing: it is
    reported as inf.
    """
    out = []
    for w, b, v in zip(weights, sampling, values, strict=True):
        if w == 0 or v == 0:
            out.append(0 * w if isinstance(w, Fraction) else 0.0)
        elif b == 0:
            out.append(np.inf)
        else:
            out.append(w / b * v)
    exact = all(isinstance(x, Fraction | int) for x in out)
    return np.array(out, dtype=object if exact else float)


def optimum(mdp: tm.FiniteMDP) -> tuple[np.ndarray, Any, np.ndarray]:
    """(V*, eta*, Q*) by exact policy iteration (certified in float mode)."""
    result = tm.solve(mdp, method="policy_iteration")
    q_star = tm.q_from_values(mdp, result.values)
    return result.values, result.expected_return, q_star


def as_float(value: Any) -> float:
    """float(value) that survives None."""
    return float("nan") if value is None else float(value)
