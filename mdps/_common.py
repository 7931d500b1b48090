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


#: A builder whose ``sparse`` is left at None builds dense P up to this size (float64 bytes).
SPARSE_ABOVE = 128 * 1024**2
#: No builder allocates a dense P larger than this (bytes): it raises, naming the size.
DENSE_LIMIT = 2 * 1024**3
#: Nor a sparse P larger than this (bytes: 16 per stored entry, 8 per row).
SPARSE_LIMIT = 8 * 1024**3


def _size_text(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def storage(
    name: str,
    S: int,
    A: int,
    sparse: Any,
    exact: bool,
    can_be_sparse: bool,
    nonzeros_per_row: float = 1.0,
) -> bool:
    """Decide dense or sparse P for a builder and refuse a dense P that cannot fit.

    ``sparse=None`` (the default of the builders that can build CSR directly) means sparse
    when a dense float64 P would exceed :data:`SPARSE_ABOVE` (128 MiB, e.g. forest S > 2896),
    so that ``forest:S=1000000`` is built sparse. A dense P above :data:`DENSE_LIMIT` (2 GiB)
    raises before anything is allocated, naming the size and the sparse alternative.
    """
    dense_bytes = 8.0 * S * A * S
    if sparse is None:
        sparse = can_be_sparse and not exact and dense_bytes > SPARSE_ABOVE
    sparse = flag(sparse, "sparse")
    if sparse and exact:
        raise ExactnessError(
            f"{name}(sparse=True) stores floats; exact=True needs a dense P (sparse=false)"
        )
    if sparse and not can_be_sparse:  # pragma: no cover - callers only pass what they support
        raise InvalidParameterError(f"{name} has no sparse form")
    if sparse:
        sparse_bytes = (16.0 * nonzeros_per_row + 24.0) * S * A  # entries, row index, rewards
        if sparse_bytes > SPARSE_LIMIT:
            raise InvalidParameterError(
                f"{name} with S = {S}, A = {A}: even sparse, P would need "
                f"{_size_text(sparse_bytes)} (more than {_size_text(SPARSE_LIMIT)}); use fewer "
                "states"
            )
    if not sparse and dense_bytes > DENSE_LIMIT:
        alternative = (
            "build it with sparse=true (CSR, O(S A b) memory)"
            if can_be_sparse and not exact
            else "use fewer states"
            + (" or the float, sparse form (exact=false, sparse=true)" if can_be_sparse else "")
        )
        raise InvalidParameterError(
            f"{name} with S = {S}, A = {A}: a dense P of shape ({S}, {A}, {S}) would need "
            f"{_size_text(dense_bytes)} (more than {_size_text(DENSE_LIMIT)}); {alternative}"
        )
    return sparse


def flag(value: Any, name: str) -> bool:
    """A yes/no parameter: True or False (numpy bools too); anything else raises."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise InvalidParameterError(
        f"{name} = {value!r} must be True or False (in a spec: {name}=true or {name}=false)"
    )


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
