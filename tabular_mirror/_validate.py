"""Input checks shared by the model, policies and pieces; each raises the project's own errors.

Checks never modify their input: nothing is normalised, clipped or densified. Float checks use
an absolute tolerance on row sums; exact checks compare Fractions exactly.
"""

from __future__ import annotations

import numbers
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import InvalidParameterError

DEFAULT_ROW_TOLERANCE = 1e-10


def format_index(name: str, index: tuple[int, ...], trailing_slice: bool = False) -> str:
    """``name[i, j]`` (with ``, :`` appended for a row)."""
    parts = [str(int(i)) for i in index]
    if trailing_slice:
        parts.append(":")
    return f"{name}[{', '.join(parts)}]" if parts else name


def first_index(mask: np.ndarray) -> tuple[int, ...]:
    """Index of the first True entry of a boolean array."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def check_finite(array: np.ndarray, name: str, error: type[Exception]) -> None:
    """Reject NaN and infinity in a float array, naming the first offending index."""
    bad = ~np.isfinite(array)
    if bad.any():
        index = first_index(bad)
        raise error(f"{format_index(name, index)} is {array[index]}, expected a finite number")


def check_nonnegative(array: np.ndarray, name: str, error: type[Exception]) -> None:
    """Reject negative entries (exact or float), naming the first offending index."""
    negative = np.asarray(array < 0, dtype=bool)
    if negative.any():
        index = first_index(negative)
        raise error(
            f"{format_index(name, index)} = {array[index]} is negative, expected a probability"
        )


def check_rows_sum_to_one(
    row_sums: np.ndarray,
    name: str,
    error: type[Exception],
    tolerance: float,
    exact: bool,
) -> None:
    """Each entry of ``row_sums`` (one per row, any leading shape) must equal 1."""
    if exact:
        bad = np.asarray(row_sums != 1, dtype=bool)
    else:
        bad = np.abs(row_sums - 1.0) > tolerance
    if bad.any():
        index = first_index(bad)
        expectation = "expected exactly 1" if exact else f"expected 1 (tolerance {tolerance:g})"
        raise error(
            f"{format_index(name, index, trailing_slice=True)} sums to {row_sums[index]}, "
            f"{expectation}"
        )


def plain_number(value: Any) -> Any:
    """A numpy scalar or 0-d array as a Python int / float; a Decimal as a Fraction; else as is."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, Decimal):
        return Fraction(value)
    return value


def short_repr(value: Any, limit: int = 40) -> str:
    """``repr(value)``, shortened for huge numbers (``100000000000... (1000 digits)``)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}... ({len(text)} characters)"


def positive_number(value: Any, name: str, allow_zero: bool = False) -> Any:
    """Check a scalar parameter is a finite real > 0 (>= 0 with ``allow_zero``); return it.

    Strings such as "1/5" are read exactly as Fractions (and returned as such); numpy
    scalars (and 0-d arrays) become the Python number they hold, a Decimal its exact Fraction.
    """
    value = plain_number(value)
    if isinstance(value, str):
        try:
            value = Fraction(value.strip())
        except (ValueError, ZeroDivisionError) as error:
            raise InvalidParameterError(f"{name} = {value!r} is not a number") from error
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Fraction):
        raise InvalidParameterError(f"{name} = {short_repr(value)} must be a real number")
    try:
        finite = bool(np.isfinite(float(value)))
    except OverflowError:  # an exact number beyond float range (e.g. "1e999" read exactly)
        raise InvalidParameterError(
            f"{name} = {short_repr(value)} is too large (beyond the float range, 1.8e308)"
        ) from None
    if not finite:
        raise InvalidParameterError(f"{name} = {value!r} must be finite")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidParameterError(f"{name} = {value!r} must be {bound}")
    return value


#: The largest count (iterations, sweeps, steps) any method accepts: 10^9. A count above it
#: (``sweeps=1e300``) cannot finish and is refused instead of running forever.
MAX_COUNT = 10**9


def whole_number(value: Any, name: str, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """Check a count (iterations, sweeps, steps) is an integer in [minimum, maximum]; return it.

    Integers (Python or numpy) and integral floats such as ``1e4`` are accepted; booleans,
    strings, fractional or non-finite numbers, and counts above ``maximum`` (10^9 by default:
    a count that cannot finish) are rejected.
    """
    value = plain_number(value)
    allowed = f"an integer >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{name} = {value!r} must be {allowed}")
    if not isinstance(value, numbers.Integral):
        if not (np.isfinite(float(value)) and float(value).is_integer()):
            raise InvalidParameterError(f"{name} = {value!r} must be {allowed}")
    if value < minimum:
        raise InvalidParameterError(f"{name} = {value!r} must be {allowed}")
    if value > maximum:
        raise InvalidParameterError(
            f"{name} = {value!r} must be an integer <= {maximum:,}: a larger count cannot finish"
        )
    return int(value)


def choice(value: str, name: str, valid: tuple[str, ...] | list[str]) -> str:
    """Check ``value`` is one of ``valid``; the error lists the valid choices."""
    if not isinstance(value, str) or value not in valid:
        raise InvalidParameterError(
            f"unknown {name} {value!r}; valid choices: {', '.join(repr(v) for v in valid)}"
        )
    return value


def random_generator(seed: Any, name: str = "seed") -> np.random.Generator:
    """A ``numpy.random.Generator`` from None, an int >= 0, a SeedSequence or a Generator.

    Anything else (a negative int, a float, a string, a bool) raises
    :class:`InvalidParameterError` naming ``name`` and what is allowed.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None:
        seed = plain_number(seed)
        if isinstance(seed, bool) or not isinstance(
            seed, numbers.Integral | np.random.SeedSequence
        ):
            raise InvalidParameterError(
                f"{name} = {seed!r} must be None, an int >= 0, a numpy.random.SeedSequence or a "
                "numpy.random.Generator"
            )
        if isinstance(seed, numbers.Integral) and seed < 0:
            raise InvalidParameterError(f"{name} = {seed} is negative, expected an int >= 0")
    return np.random.default_rng(seed)


def reward_scale(rewards: np.ndarray) -> float:
    """max |r[s, a]| as a float; inf when an exact reward is beyond the float range."""
    rewards = np.asarray(rewards)
    if rewards.dtype != object:
        return float(np.abs(rewards).max(initial=0.0))
    largest = max((abs(v) for v in rewards.ravel()), default=0)
    try:
        return float(largest)
    except OverflowError:
        return float("inf")
