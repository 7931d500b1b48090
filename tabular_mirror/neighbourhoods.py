"""Neighbourhood operators N(pi) (Kuba et al. 2022, Definition 3.2): where pibar may go.

Each is a frozen dataclass with ``slack(context, candidate)``: a number >= 0 iff pibar is in
N(pi) (the radius minus the distance, in the divergence's own units), and ``contains``.

- :class:`Everything`             N(pi) = Pi (the trivial neighbourhood)
- :class:`StateBall`              max_s div(pi[s], pibar[s]) <= radius, div in {"tv", "l2", "kl"}
  ("l2" is the Euclidean norm; its slack is radius^2 - max_s ||pi[s] - pibar[s]||^2)
- :class:`AverageBall`            sum_s w[s] div(pi[s], pibar[s]) <= radius, with w uniform, the
  old visitation rhobar_pi (TRPO), or fixed; ``div`` a name or any drift
- :func:`drift_ball`              the paper's experiment: uniform mean of an unscaled drift
- :class:`RatioBox`               |pibar[s,a] / pi[s,a] - 1| <= epsilon for every entry (and
  pibar = 0 where pi = 0)
- :class:`Intersection`           all of several neighbourhoods (``intersection(n1, n2)``)

``monotone`` records whether N is monotone in per-state distances: replacing pibar[s] by pi[s]
at one state keeps a member inside. Lemma 3.5's proof uses this silently; every neighbourhood
here has it, and ``proofs_check`` tests the claim and probes ones that lack it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from . import divergences
from ._validate import choice
from .drifts import Drift
from .sampling import check_distribution, distribution_array, fixed_distribution
from .schedules import scheduled_parameter

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context

__all__ = [
    "Neighbourhood",
    "Everything",
    "StateBall",
    "AverageBall",
    "RatioBox",
    "Intersection",
    "drift_ball",
    "intersection",
]

BALL_DIVERGENCES = ("tv", "l2", "kl")


def _row_distance(name: str, policy: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    if name == "l2":
        return divergences.squared_euclidean(policy, candidate)
    return divergences.DIVERGENCES[name](policy, candidate)


class Neighbourhood:
    """Base class: ``slack(context, candidate) >= 0`` iff candidate is in N(context.policy)."""

    monotone: bool = True

    def slack(self, context: Context, candidate: np.ndarray) -> Any:
        raise NotImplementedError

    def contains(self, context: Context, candidate: np.ndarray, tolerance: float = 0.0) -> bool:
        """Is ``candidate`` in N(pi) (up to ``tolerance`` on the slack)?"""
        return bool(self.slack(context, candidate) >= -tolerance)


@dataclass(frozen=True)
class Everything(Neighbourhood):
    """N(pi) = Pi: every policy (GPI, PPO, PMD, TRL). Slack is +inf."""

    def slack(self, context: Context, candidate: np.ndarray) -> float:
        return math.inf


@dataclass(frozen=True)
class StateBall(Neighbourhood):
    """{pibar : div(pi[s], pibar[s]) <= radius for every s}, div in ("tv", "l2", "kl").

    For "kl" the divergence is KL(pi[s] || pibar[s]) (TRPO's direction).
    """

    divergence: str
    radius: Any

    def __post_init__(self) -> None:
        choice(self.divergence, "divergence", BALL_DIVERGENCES)
        object.__setattr__(self, "radius", scheduled_parameter(self.radius, "radius"))

    def bound(self) -> Any:
        """The bound on the per-state divergence (radius^2 for the Euclidean ball)."""
        return self.radius * self.radius if self.divergence == "l2" else self.radius

    def slack(self, context: Context, candidate: np.ndarray) -> Any:
        distances = _row_distance(self.divergence, context.policy, candidate)
        return self.bound() - distances.max()


@dataclass(frozen=True)
class AverageBall(Neighbourhood):
    """{pibar : sum_s w[s] div(pi[s], pibar[s]) <= radius}.

    ``divergence``: "tv", "l2" (squared Euclidean here), "kl" (KL(pi || pibar)), or a Drift
    (the paper's drift ball). ``weighting``: "uniform", "visitation" (rhobar_pi, TRPO's
    average-KL constraint) or a fixed distribution (tuple).
    """

    divergence: Any
    radius: Any
    weighting: Any = "uniform"

    def __post_init__(self) -> None:
        if not isinstance(self.divergence, Drift):
            choice(self.divergence, "divergence", BALL_DIVERGENCES)
        object.__setattr__(self, "radius", scheduled_parameter(self.radius, "radius"))
        if isinstance(self.weighting, str):
            choice(self.weighting, "weighting", ("uniform", "visitation"))
        else:
            weighting = fixed_distribution(self.weighting, "weighting", positive=False)
            object.__setattr__(self, "weighting", weighting)

    def state_weights(self, context: Context) -> np.ndarray:
        """w[s]: the weights of the average."""
        num_states = context.mdp.num_states
        exact = context.mdp.is_exact
        if self.weighting == "uniform":
            if exact:
                return np.full(num_states, Fraction(1, num_states), dtype=object)
            return np.full(num_states, 1.0 / num_states)
        if self.weighting == "visitation":
            return context.evaluation.normalized_visitation
        array = distribution_array(self.weighting, exact)
        return check_distribution(array, "weighting", num_states, positive=False)

    def state_divergence(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        """div(pi[s], pibar[s]) for every s."""
        if isinstance(self.divergence, Drift):
            return self.divergence.value(context, candidate)
        return _row_distance(self.divergence, context.policy, candidate)

    def slack(self, context: Context, candidate: np.ndarray) -> Any:
        weights = self.state_weights(context)
        distances = self.state_divergence(context, candidate)
        with np.errstate(invalid="ignore"):
            average = (
                (weights * distances).sum()
                if weights.dtype == object
                else float(np.dot(weights, np.where(weights > 0, distances, 0.0)))
            )
        return self.radius - average


def drift_ball(drift: Drift, radius: Any) -> AverageBall:
    """The paper's section 7 neighbourhood: {pibar : (1/S) sum_s D_pi(pibar | s) <= radius}."""
    return AverageBall(drift, radius, "uniform")


@dataclass(frozen=True)
class RatioBox(Neighbourhood):
    """{pibar : |pibar[s,a]/pi[s,a] - 1| <= epsilon wherever pi > 0, pibar = 0 elsewhere}.

    The hard version of PPO's clipping: probability ratios confined to [1-eps, 1+eps].
    Slack: epsilon minus the largest ratio deviation (-inf if pibar uses an action pi does not).
    """

    epsilon: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", scheduled_parameter(self.epsilon, "epsilon"))

    def slack(self, context: Context, candidate: np.ndarray) -> Any:
        policy = context.policy
        support = np.asarray(policy > 0, dtype=bool)
        if np.any(np.asarray(candidate[~support] > 0, dtype=bool)):
            return -math.inf
        deviation = abs(candidate[support] / policy[support] - 1)
        return self.epsilon - (deviation.max() if deviation.size else 0)


@dataclass(frozen=True)
class Intersection(Neighbourhood):
    """The intersection of several neighbourhoods; slack is the smallest slack."""

    parts: tuple

    @property
    def monotone(self) -> bool:  # type: ignore[override]
        return all(part.monotone for part in self.parts)

    def slack(self, context: Context, candidate: np.ndarray) -> Any:
        return min(part.slack(context, candidate) for part in self.parts)


def intersection(*parts: Neighbourhood) -> Neighbourhood:
    """N_1(pi) ∩ N_2(pi) ∩ ...; ``Everything`` parts are dropped."""
    kept = tuple(p for p in parts if not isinstance(p, Everything))
    if not kept:
        return Everything()
    return kept[0] if len(kept) == 1 else Intersection(kept)
