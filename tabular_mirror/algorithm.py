"""A mirror-learning algorithm as a record of four pieces, and the mirror operator/objective.

Kuba et al. (2022), section 3. With pi = pi_old, pibar the candidate, beta = beta_pi the
sampling distribution, nu = nu^{pibar}_pi the drift distribution and D the drift:

- mirror operator (Def. 3.4):  [M^{pibar} V_pi](s) = sum_a pibar[s,a] Q_pi[s,a]
  - (nu[s] / beta[s]) D_pi(pibar | s)                                  (:func:`mirror_operator`)
- mirror objective:  sum_s beta[s] sum_a pibar[s,a] A_pi[s,a] - sum_s nu[s] D_pi(pibar | s)
                                                                       (:func:`mirror_objective`)
- the update: pi_new in argmax_{pibar in N(pi)} of the objective
  (:func:`tabular_mirror.mirror_step`).

:class:`MirrorAlgorithm` is a record, not a pipeline: ``MirrorAlgorithm(drift,
drift_distribution, neighbourhood, sampling, name)``. Named instances
(:mod:`tabular_mirror.instances`) are functions returning such records; users build their own
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from ._rows import dot, row_sum
from .context import Context
from .drift_distributions import DriftDistribution, SameAsSampling
from .drifts import Drift, ZeroDrift
from .errors import InvalidParameterError
from .evaluation import _evaluate
from .model import FiniteMDP
from .neighbourhoods import Everything, Neighbourhood
from .results import EvaluationResult
from .sampling import Sampling, UniformSampling
from .schedules import Schedule, resolve, scheduled_parameters

__all__ = [
    "Context",
    "MirrorAlgorithm",
    "make_context",
    "mirror_operator",
    "mirror_objective",
    "drift_ratio",
    "drift_penalty",
    "state_drift",
    "total_drift",
]


@dataclass(frozen=True)
class MirrorAlgorithm:
    """A mirror-learning algorithm: drift D, drift distribution nu, neighbourhood N, sampling beta.

    Every piece is required (pass ``ZeroDrift()``, ``Everything()`` etc. explicitly for the
    trivial ones; :meth:`with_defaults` fills them in).
    """

    drift: Drift
    drift_distribution: DriftDistribution
    neighbourhood: Neighbourhood
    sampling: Sampling
    name: str = "mirror learning"

    def __post_init__(self) -> None:
        expected = {
            "drift": Drift,
            "drift_distribution": DriftDistribution,
            "neighbourhood": Neighbourhood,
            "sampling": Sampling,
        }
        for field_name, kind in expected.items():
            piece = getattr(self, field_name)
            if piece is None:
                raise InvalidParameterError(
                    f"MirrorAlgorithm {self.name!r} is missing its {field_name} (a {kind.__name__})"
                )
            if not isinstance(piece, kind):
                raise InvalidParameterError(
                    f"MirrorAlgorithm {self.name!r}: {field_name} = {piece!r} is not a "
                    f"{kind.__name__}"
                )

    @classmethod
    def with_defaults(
        cls,
        drift: Drift | None = None,
        drift_distribution: DriftDistribution | None = None,
        neighbourhood: Neighbourhood | None = None,
        sampling: Sampling | None = None,
        name: str = "mirror learning",
    ) -> MirrorAlgorithm:
        """Fill missing pieces with zero drift, nu = beta, N = Pi, uniform beta."""
        return cls(
            drift if drift is not None else ZeroDrift(),
            drift_distribution if drift_distribution is not None else SameAsSampling(),
            neighbourhood if neighbourhood is not None else Everything(),
            sampling if sampling is not None else UniformSampling(),
            name,
        )

    def renamed(self, name: str) -> MirrorAlgorithm:
        """The same algorithm under another name."""
        return replace(self, name=name)

    @cached_property
    def schedules(self) -> tuple[tuple[str, Schedule], ...]:
        """The scheduled parameters, as (path, schedule): ``(("drift.factor", ...),)``; empty
        for an algorithm whose pieces do not change across iterations (found once per
        algorithm: the pieces are frozen)."""
        return scheduled_parameters(self)

    def at(self, n: int) -> MirrorAlgorithm:
        """The algorithm of iteration n (the step pi_n -> pi_{n+1}): every schedule in the
        pieces replaced by its value at n; ``self`` when nothing is scheduled.

        Raises InvalidParameterError naming the schedule, n and the value when a schedule
        gives a value that is not a finite number > 0 (or that its piece refuses).

        Examples
        --------
        >>> from tabular_mirror import instances, schedules
        >>> algorithm = instances.pmd(schedules.geometric(1, 2))
        >>> algorithm.name, algorithm.at(3).drift.factor
        ('PMD(step=geometric(1, 2))', Fraction(1, 8))
        """
        return resolve(self, n)

    def scheduled_values(self, n: int) -> tuple[Any, ...]:
        """The value of every scheduled parameter at n, in the order of :attr:`schedules`."""
        return tuple(schedule(n) for _, schedule in self.schedules)


def make_context(
    mdp: FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy: np.ndarray,
    evaluation: EvaluationResult | None = None,
) -> Context:
    """Evaluate pi (unless given) and compute beta_pi: the context of one mirror step."""
    if evaluation is None:
        evaluation = _evaluate(mdp, policy)
    weights = algorithm.sampling.weights(Context(mdp, policy, evaluation))
    return Context(mdp, policy, evaluation, weights)


def state_drift(
    algorithm: MirrorAlgorithm, context: Context, candidate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(D_pi(pibar | s), nu[s]) for every state."""
    drift_values = algorithm.drift.value(context, candidate)
    weights = algorithm.drift_distribution.weights(context, candidate, drift_values)
    return drift_values, weights


def weighted_sum(weights: np.ndarray, values: np.ndarray) -> Any:
    """sum_s w[s] v[s] with 0 * inf = 0 (a state of zero weight pays no infinite drift)."""
    if weights.dtype == object or values.dtype == object:
        return sum((w * v for w, v in zip(weights, values, strict=True) if w != 0), 0 * weights[0])
    if _finite(values):  # the common case, in one product (no 0 * inf to mask)
        return dot(weights, values)
    with np.errstate(invalid="ignore"):
        return dot(weights, np.where(weights > 0, values, 0.0))


def _finite(array: np.ndarray) -> bool:
    """Every entry of a float array is finite (one reduction, no warning on inf)."""
    total = float(array.sum())
    return total - total == 0


def total_drift(algorithm: MirrorAlgorithm, context: Context, candidate: np.ndarray) -> Any:
    """drift_pi(pibar) = sum_s nu[s] D_pi(pibar | s)."""
    drift_values, weights = state_drift(algorithm, context, candidate)
    return weighted_sum(weights, drift_values)


def mirror_objective(algorithm: MirrorAlgorithm, context: Context, candidate: np.ndarray) -> Any:
    """sum_s beta[s] sum_a pibar[s,a] A_pi[s,a] - drift_pi(pibar), which the step maximises."""
    gain = row_sum(candidate * context.advantages)
    return weighted_sum(context.sampling_weights, gain) - total_drift(algorithm, context, candidate)


def mirror_operator(
    algorithm: MirrorAlgorithm, context: Context, candidate: np.ndarray
) -> np.ndarray:
    """[M^{pibar} V_pi](s) = sum_a pibar Q_pi - (nu[s]/beta[s]) D_pi(pibar | s), shape (S,)."""
    drift_values, weights = state_drift(algorithm, context, candidate)
    expected_q = row_sum(candidate * context.q_values)
    return expected_q - drift_penalty(weights, context.sampling_weights, drift_values)


def drift_ratio(weights: np.ndarray, sampling: np.ndarray) -> np.ndarray:
    """nu[s] / beta[s], with 0/0 = 0 and nu/0 = +inf (a state that is never sampled but pays
    drift); exact for Fractions. Only counterexample searches have beta[s] = 0."""
    if weights.dtype == object or sampling.dtype == object:
        return np.array(
            [
                w / b if b != 0 else (0 * w if w == 0 else float("inf"))
                for w, b in zip(weights, sampling, strict=True)
            ],
            dtype=object,
        )
    if sampling.min() > 0:  # beta > 0, as the theory requires: a plain division
        return weights / sampling
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = weights / sampling
    return np.where(sampling > 0, ratio, np.where(weights > 0, np.inf, 0.0))


def drift_penalty(
    weights: np.ndarray, sampling: np.ndarray, drift_values: np.ndarray
) -> np.ndarray:
    """(nu[s] / beta[s]) D(s) with 0 * anything = 0 (a state of zero weight pays nothing)."""
    ratio = drift_ratio(weights, sampling)
    if drift_values.dtype == object or ratio.dtype == object:
        return np.array(
            [
                r * d if (r != 0 and d != 0) else 0 * d
                for r, d in zip(ratio, drift_values, strict=True)
            ],
            dtype=object,
        )
    if _finite(ratio) and _finite(drift_values):  # no 0 * inf: the plain product
        return ratio * drift_values
    with np.errstate(invalid="ignore"):
        return np.where((ratio > 0) & (drift_values != 0), ratio * drift_values, 0.0)
