"""Shared helpers of the checks: tolerances with reasons, exact-safe ratios, V*."""

from __future__ import annotations

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
    rewards = np.abs(np.asarray(mdp.rewards, dtype=float)).max()
    return max(1.0, float(rewards) / (1.0 - float(mdp.discount)))


def evaluation_error(mdp: tm.FiniteMDP) -> float:
    """The certified sup-norm error of a default float evaluation (0 in exact mode)."""
    return 0.0 if mdp.is_exact else EVALUATION_RELATIVE * value_scale(mdp)


def step_tolerance(
    mdp: tm.FiniteMDP, certificate: Any, sampling: Any, *, propagate: bool = True
) -> Any:
    """The float tolerance of a state-wise claim about one step (0 in exact mode).

    Two certified evaluations (2 x their error bound), plus, when the step is certified, the
    effect of a delta-suboptimal argmax: Lemma 3.5's swap argument gives
    [M V](s) >= V(s) - delta / beta[s], and Lemma 3.3 propagates it through
    (I - gamma P_new)^{-1}, i.e. a factor 1 / (1 - gamma) (``propagate``).
    """
    if mdp.is_exact:
        return EXACT
    scale = value_scale(mdp)
    value = 2 * evaluation_error(mdp) + ROUNDING_RELATIVE * scale
    reason = "2 x certified evaluation error + rounding"
    bound = getattr(certificate, "bound", None)
    if certificate is not None and certificate.certified and bound is not None:
        beta = float(np.min(np.asarray(sampling, dtype=float)))
        if beta > 0:
            factor = 1.0 / (1.0 - float(mdp.discount)) if propagate else 1.0
            value += float(bound) / beta * factor
            reason += " + certified step gap / beta_min" + (" / (1 - gamma)" if propagate else "")
    elif certificate is not None and not certificate.certified:
        reason += " (uncertified step: its gap is not covered)"
    return Tolerance(value, reason)


def run_tolerance(mdp: tm.FiniteMDP, certificates: Any, samplings: Any) -> Any:
    """The largest step tolerance over a run (0 in exact mode)."""
    if mdp.is_exact:
        return EXACT
    tolerances = [
        step_tolerance(mdp, c, b) for c, b in zip(certificates, samplings, strict=True)
    ] or [step_tolerance(mdp, None, None)]
    worst = max(tolerances, key=lambda t: t.value)
    return worst


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
