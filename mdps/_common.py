"""Private helpers shared by the builders: exact/float scalars and arrays, seeds, checks."""

from __future__ import annotations

import numbers
from fractions import Fraction
from typing import Any

import numpy as np

from tabular_mirror.errors import ExactnessError, InvalidParameterError

ZERO = Fraction(0)
ONE = Fraction(1)


def as_fraction(value: Any, name: str) -> Fraction:
    """An exact scalar (Fraction, int or a string like ``"1/3"``) as a Fraction; floats raise."""
    if isinstance(value, bool | np.bool_):
        raise InvalidParameterError(f"{name} = {value!r} is a boolean, expected a number")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, numbers.Integral):
        return Fraction(int(value))
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError) as error:
            raise InvalidParameterError(f"{name} = {value!r} is not a rational number") from error
    if isinstance(value, numbers.Real):
        raise ExactnessError(
            f"{name} = {value!r} is a float, but exact=True needs exact values "
            "(Fraction, int or a string like '1/3')"
        )
    raise InvalidParameterError(
        f"{name} = {value!r} of type {type(value).__name__} is not a number"
    )


def as_float(value: Any, name: str) -> float:
    """A real scalar (float, int, Fraction or numeric string) as a float."""
    if isinstance(value, bool | np.bool_):
        raise InvalidParameterError(f"{name} = {value!r} is a boolean, expected a number")
    try:
        return float(Fraction(value.strip())) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, ZeroDivisionError) as error:
        raise InvalidParameterError(f"{name} = {value!r} is not a number") from error


def scalar(value: Any, exact: bool, name: str) -> Any:
    """``value`` as a Fraction (exact mode) or a float."""
    return as_fraction(value, name) if exact else as_float(value, name)


def probability(value: Any, exact: bool, name: str) -> Any:
    """A probability in [0, 1], exact or float."""
    result = scalar(value, exact, name)
    if not 0 <= result <= 1:
        raise InvalidParameterError(f"{name} = {value} is outside [0, 1], expected a probability")
    return result


def zeros(shape: tuple[int, ...], exact: bool) -> np.ndarray:
    """An array of zeros: Fractions (object dtype) or float64."""
    if exact:
        out = np.empty(shape, dtype=object)
        out.fill(ZERO)
        return out
    return np.zeros(shape)


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (ints and integral Fractions accepted)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Rational):
        raise InvalidParameterError(f"{name} = {value!r} is not an integer")
    if value != int(value) or int(value) < minimum:
        raise InvalidParameterError(
            f"{name} = {value} is invalid, expected an integer >= {minimum}"
        )
    return int(value)


def rng(seed: Any) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed, a SeedSequence or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool | np.bool_) or not isinstance(
        seed, numbers.Integral | np.random.SeedSequence
    ):
        raise InvalidParameterError(
            f"seed = {seed!r} is not an int, numpy.random.SeedSequence or numpy.random.Generator"
        )
    if isinstance(seed, numbers.Integral) and seed < 0:
        raise InvalidParameterError(f"seed = {seed} is negative, expected an int >= 0")
    return np.random.default_rng(seed)


def fractions_over(numerators: np.ndarray, denominator: int) -> np.ndarray:
    """The object array ``numerators / denominator`` of exact Fractions."""
    to_fraction = np.frompyfunc(lambda k: Fraction(int(k), denominator), 1, 1)
    return np.asarray(to_fraction(numerators), dtype=object).reshape(np.shape(numerators))
