"""Sampling distributions beta_pi (Kuba et al. 2022, section 3): where the mirror objective is
evaluated. Each is a tiny frozen dataclass with ``weights(context) -> (S,)``, every entry > 0
(the theory needs beta_pi[s] > 0 for all s and continuity in pi).

- :class:`UniformSampling`       beta[s] = 1/S (off-policy, fixed)
- :class:`InitialSampling`       beta = d, the initial distribution (must be positive)
- :class:`VisitationSampling`    beta = rhobar_{pi_old}, on-policy (TRPO, PPO)
- :class:`FixedSampling`         any fixed positive distribution

A sampling distribution with a zero is rejected when the step is computed (it is one of the
hypotheses ``proofs_check``'s counterexample search shows to matter); :class:`FixedSampling`
accepts ``allow_zero=True`` for that search only.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validate import DEFAULT_ROW_TOLERANCE, plain_number
from .errors import InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context

__all__ = [
    "Sampling",
    "UniformSampling",
    "InitialSampling",
    "VisitationSampling",
    "FixedSampling",
    "check_distribution",
    "fixed_distribution",
]


def fixed_distribution(distribution: Any, name: str, positive: bool = True) -> tuple:
    """A user's fixed state distribution, checked when it is given; returned as a tuple.

    Entries may be floats, ints, Fractions or strings such as "1/3" (read exactly). The
    length is checked against S when the distribution meets an MDP.
    """
    try:
        values = tuple(plain_number(v) for v in distribution)
        exact = all(isinstance(v, str | numbers.Rational) for v in values)
        entries = [_exact_entry(v) for v in values]  # each entry must be one number
        array = np.array(entries if exact else [float(v) for v in entries], dtype=object)
    except (TypeError, ValueError, ZeroDivisionError) as error:  # a nested tuple or "abc"
        raise InvalidParameterError(
            f"{name} = {distribution!r} is not a sequence of numbers: {error}"
        ) from error
    check_distribution(array, name, positive=positive)
    return values


def _exact_entry(value: Any) -> Fraction:
    """An entry read exactly: strings and rationals as written, floats at their binary value."""
    if isinstance(value, str | numbers.Rational):
        return Fraction(value)
    return Fraction(float(value))


def distribution_array(distribution: tuple, exact: bool) -> np.ndarray:
    """The entries of a :func:`fixed_distribution` as Fractions (exact) or floats.

    Called at every step: float mode converts in numpy's C loop unless a string ("1/3") needs
    reading exactly first.
    """
    if exact:
        return np.array([_exact_entry(v) for v in distribution], dtype=object)
    if any(isinstance(v, str) for v in distribution):
        return np.array([float(_exact_entry(v)) for v in distribution], dtype=float)
    return np.array(distribution, dtype=float)


def check_distribution(
    weights: Any, name: str, size: int | None = None, positive: bool = True
) -> np.ndarray:
    """Validate a state distribution: shape, finite, >= 0 (> 0 if ``positive``), sums to 1."""
    if (
        type(weights) is np.ndarray
        and weights.dtype == np.float64
        and weights.ndim == 1
        and (size is None or len(weights) == size)
        and (weights.min() > 0 if positive else weights.min() >= 0)  # NaN fails too
        and abs(float(weights.sum()) - 1.0) <= DEFAULT_ROW_TOLERANCE
    ):
        return weights  # valid: every check below would pass
    exact = (
        isinstance(weights, np.ndarray)
        and weights.dtype == object
        and all(isinstance(v, Fraction | int) for v in weights.ravel())
    )
    array = weights if exact else np.asarray(weights, dtype=float)
    if array.ndim != 1 or (size is not None and array.shape != (size,)):
        expected = f"({size},)" if size is not None else "one-dimensional"
        raise InvalidParameterError(f"{name} has shape {array.shape}, expected {expected}")
    if not exact and not np.all(np.isfinite(array)):
        raise InvalidParameterError(f"{name} contains NaN or inf")
    bad = np.asarray(array <= 0 if positive else array < 0, dtype=bool)
    if bad.any():
        s = int(np.argmax(bad))
        need = "> 0 (a sampling distribution must be positive everywhere)" if positive else ">= 0"
        raise InvalidParameterError(f"{name}[{s}] = {array[s]}, expected {need}")
    total = array.sum()
    if (total != 1) if exact else abs(total - 1) > DEFAULT_ROW_TOLERANCE:
        raise InvalidParameterError(f"{name} sums to {total}, expected 1")
    return array


class Sampling:
    """Base class: ``weights(context) -> (S,)`` with positive entries summing to 1."""

    def weights(self, context: Context) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class UniformSampling(Sampling):
    """beta[s] = 1/S."""

    def weights(self, context: Context) -> np.ndarray:
        num_states = context.mdp.num_states
        if context.mdp.is_exact:
            return np.full(num_states, Fraction(1, num_states), dtype=object)
        return np.full(num_states, 1.0 / num_states)


@dataclass(frozen=True)
class InitialSampling(Sampling):
    """beta = d, the MDP's initial distribution (valid only if d > 0 everywhere)."""

    def weights(self, context: Context) -> np.ndarray:
        return check_distribution(context.mdp.initial, "sampling (initial distribution d)")


@dataclass(frozen=True)
class VisitationSampling(Sampling):
    """beta = rhobar_{pi_old} = (1 - gamma) rho_{pi_old}, the on-policy state distribution."""

    def weights(self, context: Context) -> np.ndarray:
        return check_distribution(
            context.evaluation.normalized_visitation, "sampling (normalized visitation)"
        )


@dataclass(frozen=True)
class FixedSampling(Sampling):
    """A fixed distribution (off-policy). ``allow_zero`` is for counterexample searches."""

    distribution: tuple
    allow_zero: bool = False

    def __post_init__(self) -> None:
        distribution = fixed_distribution(
            self.distribution, "sampling distribution", positive=not self.allow_zero
        )
        object.__setattr__(self, "distribution", distribution)

    def weights(self, context: Context) -> np.ndarray:
        return check_distribution(
            distribution_array(self.distribution, context.mdp.is_exact),
            "sampling distribution",
            context.mdp.num_states,
            positive=not self.allow_zero,
        )
