"""Drift distributions nu^{pibar}_pi (Kuba et al. 2022, section 3): how the per-state drift is
weighted, ``drift_pi(pibar) = sum_s nu[s] D_pi(pibar | s)``.

Each is a frozen dataclass with ``weights(context, candidate, state_drift) -> (S,)`` and a flag
``depends_on_candidate``:

- :class:`SameAsSampling`        nu = beta (PMD / MDPO, the paper's experiments)
- :class:`FixedDrift`            a fixed distribution
- :class:`OldVisitation`         nu = rhobar_{pi_old} (PPO, PPO-KL)
- :class:`CandidateVisitation`   nu = rhobar_{pibar}: depends on pibar
- :class:`MaxDriftState`         point mass on argmax_s D_pi(pibar | s) (trust-region learning):
  depends on pibar; the lowest index wins ties.

The paper's proofs of Lemma 3.5 and Theorem 3.6 treat nu as independent of pibar; the two
candidate-dependent distributions are exactly what ``proofs_check`` probes.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from .sampling import check_distribution, distribution_array, fixed_distribution

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context

__all__ = [
    "DriftDistribution",
    "SameAsSampling",
    "FixedDrift",
    "OldVisitation",
    "CandidateVisitation",
    "MaxDriftState",
]


class DriftDistribution:
    """Base class: ``weights(context, candidate, state_drift) -> (S,)``, a distribution."""

    depends_on_candidate: bool = False

    def weights(
        self, context: Context, candidate: np.ndarray, state_drift: np.ndarray | None = None
    ) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class SameAsSampling(DriftDistribution):
    """nu = beta_{pi_old}: the drift is weighted where the objective is sampled."""

    def weights(self, context, candidate, state_drift=None):
        return context.sampling_weights


@dataclass(frozen=True)
class FixedDrift(DriftDistribution):
    """A fixed state distribution nu (zeros allowed: those states pay no drift)."""

    distribution: tuple

    def __post_init__(self) -> None:
        distribution = fixed_distribution(self.distribution, "drift distribution", False)
        object.__setattr__(self, "distribution", distribution)

    def weights(self, context, candidate, state_drift=None):
        array = distribution_array(self.distribution, context.mdp.is_exact)
        return check_distribution(array, "drift distribution", context.mdp.num_states, False)


@dataclass(frozen=True)
class OldVisitation(DriftDistribution):
    """nu = rhobar_{pi_old}, the normalised discounted visitation of the current policy."""

    def weights(self, context, candidate, state_drift=None):
        return context.evaluation.normalized_visitation


@dataclass(frozen=True)
class CandidateVisitation(DriftDistribution):
    """nu = rhobar_{pibar}: the visitation of the candidate policy (depends on pibar)."""

    depends_on_candidate = True

    def weights(self, context, candidate, state_drift=None):
        from .evaluation import evaluate

        return evaluate(context.mdp, candidate, validate=False).normalized_visitation


@dataclass(frozen=True)
class MaxDriftState(DriftDistribution):
    """nu = point mass on argmax_s D_pi(pibar | s) (trust-region learning; lowest index on ties).

    With this nu, drift_pi(pibar) = max_s D_pi(pibar | s): Schulman et al. (2015)'s max-KL
    penalty C max_s KL(pi[s] || pibar[s]) is this distribution with the scaled forward KL.
    """

    depends_on_candidate = True

    def weights(self, context, candidate, state_drift=None):
        num_states = context.mdp.num_states
        exact = context.mdp.is_exact
        mass = np.full(num_states, Fraction(0) if exact else 0.0, dtype=object if exact else float)
        if state_drift is None:
            raise ValueError("MaxDriftState needs the per-state drift values")
        mass[int(np.argmax(state_drift))] = 1
        return mass
