"""Recognise the pieces the exact solvers handle: drift families and ball divergences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import divergences
from ..drifts import (
    Drift,
    ForwardKL,
    PPOClip,
    ReverseKL,
    ScaledDrift,
    SquaredEuclidean,
    SquaredTV,
    TrustRegionKL,
    ZeroDrift,
)
from ..neighbourhoods import AverageBall, Neighbourhood, StateBall

_FAMILIES = {
    ZeroDrift: "zero",
    ForwardKL: "forward_kl",
    ReverseKL: "reverse_kl",
    SquaredEuclidean: "squared_l2",
    SquaredTV: "squared_tv",
    PPOClip: "ppo_clip",
}


def drift_family(drift: Drift, context: Any = None) -> tuple[str, Any, Any] | None:
    """(family, factor, epsilon) for a (scaled) drift the exact solvers know, else None.

    The trust-region KL's coefficient depends on pi, so it needs the ``context``.
    """
    factor: Any = 1
    while isinstance(drift, ScaledDrift):
        factor = factor * drift.factor
        drift = drift.drift
    if isinstance(drift, TrustRegionKL):
        if context is None:
            return None
        return "forward_kl", factor * drift.coefficient_for(context), None
    family = _FAMILIES.get(type(drift))
    if family is None:
        return None
    return family, factor, getattr(drift, "epsilon", None)


def _squared_tv(policy: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    tv = divergences.total_variation(policy, candidate)
    return tv * tv


def ball_family(
    neighbourhood: Neighbourhood,
) -> tuple[str, Any, Callable[[np.ndarray], np.ndarray], Any] | None:
    """(family, factor, row divergence of the policy, bound) for a ball the Lagrangian
    solvers handle, else None. The row divergence is a function of the candidate only; the
    caller binds the policy."""
    if isinstance(neighbourhood, StateBall):
        name = {"kl": "forward_kl", "l2": "squared_l2", "tv": "squared_tv"}[
            neighbourhood.divergence
        ]
        if neighbourhood.divergence == "tv":  # TV <= r  iff  TV^2 <= r^2
            return name, 1, _squared_tv, neighbourhood.radius * neighbourhood.radius
        row = divergences.kl if name == "forward_kl" else divergences.squared_euclidean
        return name, 1, row, neighbourhood.bound()
    if isinstance(neighbourhood, AverageBall):
        if isinstance(neighbourhood.divergence, Drift):
            family = drift_family(neighbourhood.divergence)
            if family is None or family[0] in ("zero", "ppo_clip"):
                return None
            name, factor, _ = family
            row = {
                "forward_kl": divergences.kl,
                "reverse_kl": lambda p, q: divergences.kl(q, p),
                "squared_l2": divergences.squared_euclidean,
                "squared_tv": _squared_tv,
            }[name]
            return (
                name,
                factor,
                lambda p, q, _row=row, _f=factor: _f * _row(p, q),
                (neighbourhood.radius),
            )
        if neighbourhood.divergence == "kl":
            return "forward_kl", 1, divergences.kl, neighbourhood.radius
        if neighbourhood.divergence == "l2":
            return "squared_l2", 1, divergences.squared_euclidean, neighbourhood.radius
    return None
