"""Exact rational arithmetic: conversion to Fraction arrays and exact linear solves.

Exact arrays are numpy object arrays whose entries are ``fractions.Fraction``. Accepted exact
scalars: ``Fraction``, Python or numpy integers, and strings such as ``"1/3"`` or ``"0.25"``
(parsed exactly by ``Fraction``). Floats are rejected: a float is already rounded, so turning it
into a Fraction silently would claim an exactness the input does not have. The explicit
conversion is :func:`float_to_fraction_array`.

Linear solves use python-flint's ``fmpq_mat.solve`` (a core dependency; about 17 ms for a dense
200 x 200 system with small denominators). Where python-flint could not be installed (a
platform without its wheels) sympy's ``DomainMatrix`` over QQ is used instead, exact too but
much slower on large systems with large entries; a warning says so once per session.
"""

from __future__ import annotations

import numbers
import warnings
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import ExactnessError

try:  # optional fast backend
    import flint as _flint
except ImportError:  # pragma: no cover - exercised when python-flint is absent
    _flint = None

ZERO = Fraction(0)
ONE = Fraction(1)

_warned_slow_backend = False


def _warn_slow_backend() -> None:
    """Warn once per session that exact solves run without python-flint."""
    global _warned_slow_backend
    if not _warned_slow_backend:
        _warned_slow_backend = True
        warnings.warn(
            "python-flint is not installed: exact linear solves fall back to sympy, which can be "
            "much slower on large systems (pip install python-flint, a core dependency of "
            "tabular-mirror)",
            RuntimeWarning,
            stacklevel=3,
        )


def exact_backend() -> str:
    """Name of the backend used for exact linear solves: ``"python-flint"`` or ``"sympy"``."""
    return "python-flint" if _flint is not None else "sympy"


def is_exact_scalar(value: Any) -> bool:
    """True for values that convert to a Fraction without rounding (Fraction, int, str)."""
    if isinstance(value, bool | np.bool_):
        return False
    return isinstance(value, Fraction | numbers.Integral | str)


def to_fraction(value: Any, name: str) -> Fraction:
    """Convert one exact scalar to a Fraction; floats raise :class:`ExactnessError`."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool | np.bool_):
        raise ExactnessError(f"{name} = {value!r} is a boolean, expected a number")
    if isinstance(value, numbers.Integral):
        return Fraction(int(value))
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError) as error:
            raise ExactnessError(f"{name} = {value!r} is not a rational number") from error
    if _flint is not None and isinstance(value, _flint.fmpq):
        return Fraction(int(value.p), int(value.q))
    if isinstance(value, numbers.Real):
        raise ExactnessError(
            f"{name} = {value!r} is a float, but an exact MDP needs exact values "
            "(Fraction, int or a string like '1/3'); convert explicitly with "
            "FiniteMDP.to_exact() or tabular_mirror.float_to_fraction_array"
        )
    raise ExactnessError(f"{name} = {value!r} of type {type(value).__name__} is not a rational")


def fraction_array(data: Any, name: str) -> np.ndarray:
    """Convert nested lists / arrays of exact scalars to an object array of Fractions."""
    if isinstance(data, np.ndarray) and data.dtype.kind == "f":
        raise ExactnessError(
            f"{name} is a float array (dtype {data.dtype}); an exact MDP needs exact values. "
            "Convert explicitly with tabular_mirror.float_to_fraction_array"
        )
    array = np.array(data, dtype=object)
    out = np.empty(array.shape, dtype=object)
    flat_in = array.ravel()
    flat_out = out.ravel()
    for position, value in enumerate(flat_in):
        if isinstance(value, Fraction):
            flat_out[position] = value
        else:
            index = np.unravel_index(position, array.shape) if array.ndim else ()
            where = f"{name}[{', '.join(str(int(i)) for i in index)}]" if array.ndim else name
            if isinstance(value, list | tuple | np.ndarray):  # a shape problem, not exactness
                raise ValueError(
                    f"{where} is a sequence {value!r}: {name} is ragged (rows of different "
                    "lengths), expected a rectangular array"
                )
            flat_out[position] = to_fraction(value, where)
    return out


def float_to_fraction_array(data: Any, limit_denominator: int | None = None) -> np.ndarray:
    """Explicitly convert floats to Fractions.

    Without ``limit_denominator`` the conversion is the exact binary value of each float
    (``Fraction(0.1) == 3602879701896397/36028797018963968``); with it, each entry is the closest
    fraction with denominator at most ``limit_denominator`` (``Fraction(0.1)`` becomes 1/10).
    """
    array = np.asarray(data, dtype=object)
    out = np.empty(array.shape, dtype=object)
    for position, value in enumerate(array.ravel()):
        fraction = value if isinstance(value, Fraction) else Fraction(value)
        if limit_denominator is not None:
            fraction = fraction.limit_denominator(limit_denominator)
        out.ravel()[position] = fraction
    return out


def is_fraction_array(array: Any) -> bool:
    """True for an object array (the exact representation)."""
    return isinstance(array, np.ndarray) and array.dtype == object


def to_float_array(array: np.ndarray) -> np.ndarray:
    """Round an exact array to float64 (an explicit, lossy conversion)."""
    return np.array(array, dtype=float)


def exact_solve(matrix: np.ndarray, right_hand_side: np.ndarray) -> np.ndarray:
    """Solve ``matrix @ x = right_hand_side`` exactly over the rationals.

    ``matrix`` is an (n, n) object array of Fractions, ``right_hand_side`` (n,) or (n, k).
    Returns an object array of Fractions of the right-hand side's shape. Raises
    ``ZeroDivisionError`` if the matrix is singular (never the case for ``I - gamma P_pi``
    with gamma < 1).
    """
    vector = right_hand_side.ndim == 1
    rhs = right_hand_side.reshape(len(right_hand_side), -1)
    n, k = rhs.shape
    if _flint is not None:
        fmpq = _flint.fmpq
        a = _flint.fmpq_mat(n, n, [fmpq(v.numerator, v.denominator) for v in matrix.ravel()])
        b = _flint.fmpq_mat(n, k, [fmpq(v.numerator, v.denominator) for v in rhs.ravel()])
        x = a.solve(b)
        entries = [Fraction(int(e.p), int(e.q)) for e in x.entries()]
    else:  # pragma: no cover - exercised when python-flint is absent
        _warn_slow_backend()
        from sympy.polys.domains import QQ
        from sympy.polys.matrices import DomainMatrix

        def to_domain(values: np.ndarray, rows: int, cols: int) -> DomainMatrix:
            rows_list = [
                [QQ(int(v.numerator), int(v.denominator)) for v in values[i]] for i in range(rows)
            ]
            return DomainMatrix(rows_list, (rows, cols), QQ)

        a = to_domain(matrix, n, n)
        b = to_domain(rhs, n, k)
        x = a.lu_solve(b).to_list()
        entries = [Fraction(int(QQ.numer(e)), int(QQ.denom(e))) for row in x for e in row]
    out = np.empty(n * k, dtype=object)
    out[:] = entries
    out = out.reshape(n, k)
    return out[:, 0].copy() if vector else out


def exact_max_abs(array: np.ndarray) -> Fraction:
    """Largest absolute value of an exact array (0 for an empty one)."""
    if array.size == 0:
        return ZERO
    return max(abs(v) for v in array.ravel())


def readonly(array: np.ndarray) -> np.ndarray:
    """Mark an array read-only (in place) and return it."""
    array.flags.writeable = False
    return array
