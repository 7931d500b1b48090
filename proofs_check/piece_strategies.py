"""Hypothesis strategies for the pieces of a mirror-learning algorithm and for algorithms.

Companions of :mod:`proofs_check.strategies` (MDPs, policies): drifts (Def. 3.1), neighbourhoods
(Def. 3.2), sampling distributions and whole :class:`~tabular_mirror.MirrorAlgorithm` records,
every one valid for the paper's theorem unless asked otherwise. They shrink toward the simplest
piece (zero drift, N = Pi, uniform beta: policy iteration).

Examples
--------
>>> from hypothesis import given, settings
>>> @settings(max_examples=3)
... @given(algorithms(exact=True))
... def test_algorithm_is_a_record(algorithm):
...     assert algorithm.drift.rational
>>> test_algorithm_is_a_record()
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from tabular_mirror import instances
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.drift_distributions import OldVisitation, SameAsSampling
from tabular_mirror.drifts import (
    ChiSquared,
    ForwardKL,
    PPOClip,
    ReverseKL,
    SquaredEuclidean,
    SquaredHellinger,
    SquaredTV,
    ZeroDrift,
    scaled,
)
from tabular_mirror.neighbourhoods import AverageBall, Everything, StateBall
from tabular_mirror.sampling import UniformSampling, VisitationSampling

__all__ = ["drifts", "neighbourhoods", "samplings", "algorithms", "named_instances"]

#: Positive scale factors drawn for drifts (shrink toward 1).
FACTORS = (Fraction(1), Fraction(1, 2), Fraction(2), Fraction(50))


def _strategy(value: Any) -> SearchStrategy:
    return value if isinstance(value, SearchStrategy) else st.just(value)


def drifts(exact: Any = False, support: bool = True) -> SearchStrategy:
    """A drift satisfying Def. 3.1 (scaled by one of :data:`FACTORS`).

    ``exact=True`` draws only rational drifts (zero, squared L2, squared TV, PPO clip) whose
    exact step the library computes with N = Pi. ``support=False`` leaves out drifts that need
    pi > 0 (reverse KL, chi-squared).
    """
    rational = [ZeroDrift(), SquaredEuclidean(), SquaredTV(), PPOClip()]
    others = [ForwardKL(), SquaredHellinger()] + ([ReverseKL(), ChiSquared()] if support else [])

    @st.composite
    def build(draw: Any) -> Any:
        exact_mode = draw(_strategy(exact))
        base = draw(st.sampled_from(rational if exact_mode else rational + others))
        return scaled(base, draw(st.sampled_from(FACTORS)))

    return build()


def neighbourhoods(exact: Any = False) -> SearchStrategy:
    """A neighbourhood satisfying Def. 3.2 and monotone: Pi (only Pi when ``exact``), state or
    average TV/L2/KL balls of radius 1/20 .. 1/2."""

    @st.composite
    def build(draw: Any) -> Any:
        if draw(_strategy(exact)):
            return Everything()
        kind = draw(st.sampled_from(("everything", "state", "average")))
        if kind == "everything":
            return Everything()
        divergence = draw(st.sampled_from(("tv", "l2", "kl")))
        radius = draw(st.sampled_from((Fraction(1, 2), Fraction(1, 4), Fraction(1, 20))))
        if kind == "state":
            return StateBall(divergence, radius)
        return AverageBall(divergence, radius, draw(st.sampled_from(("uniform", "visitation"))))

    return build()


def samplings() -> SearchStrategy:
    """A positive, continuous sampling distribution: uniform or the on-policy visitation."""
    return st.sampled_from((UniformSampling(), VisitationSampling()))


def algorithms(exact: Any = False, support: bool = True) -> SearchStrategy:
    """A :class:`MirrorAlgorithm` covered by Theorem 3.6 (nu independent of pibar, N monotone,
    beta positive). Exact algorithms use N = Pi and a rational drift."""

    @st.composite
    def build(draw: Any) -> MirrorAlgorithm:
        exact_mode = draw(_strategy(exact))
        drift = draw(drifts(exact_mode, support))
        neighbourhood = draw(neighbourhoods(exact_mode))
        sampling = draw(samplings())
        distribution = draw(st.sampled_from((SameAsSampling(), OldVisitation())))
        return MirrorAlgorithm(drift, distribution, neighbourhood, sampling, "generated")

    return build()


def named_instances(exact: bool = False) -> SearchStrategy:
    """One of the paper's named instances (exact: GPI and PPO, which have rational steps)."""
    if exact:
        return st.sampled_from((instances.gpi(), instances.ppo()))
    return st.sampled_from(
        (
            instances.gpi(),
            instances.trpo(Fraction(1, 50)),
            instances.ppo(),
            instances.ppo_kl(1.0),
            instances.ppo_kl(1.0, reverse=True),
            instances.pmd(1.0),
            *instances.paper_grid(),
        )
    )
