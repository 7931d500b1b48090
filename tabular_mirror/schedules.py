"""Schedules: a step size, coefficient or radius that depends on the iteration, n -> value.

A schedule is a small frozen dataclass, like a piece: its parameters are its fields (shown in
its repr, which rebuilds it), and calling it at an iteration n = 0, 1, ... gives a finite
number > 0, validated. Pieces take a schedule wherever they take such a parameter
(``scaled(drift, factor)``, ``AverageBall(..., radius)``, ``PPOClip(epsilon)``, the named
instances' ``step``, ``tau``, ``delta``, ``epsilon``), and the algorithm at iteration n,
``algorithm.at(n)``, is the same record with every schedule replaced by its value at n: the
pieces of one iteration are ordinary pieces, so the step is computed as for any algorithm.
:func:`tabular_mirror.mirror_learning` takes step n -> n + 1 with ``algorithm.at(n)`` and
records the values used in the trace (:class:`ScheduleRecord`).

======================  ==============================  ======================================
schedule                value at n                      spec (``pmd:step=...``)
======================  ==============================  ======================================
:class:`Constant`       value                           ``constant(1)`` (or just ``1``)
:class:`Geometric`      start * ratio^n                 ``geometric(1, 2)``
:class:`Linear`         start + slope * n               ``linear(1, 1/2)``
:class:`InverseTime`    start / (1 + rate * n)          ``inverse_time(1, 1)``
:class:`Reciprocal`     1 / schedule(n)                 (pmd's drift coefficient 1/step)
:class:`FunctionSchedule`  function(n)                  (any callable; not a spec)
======================  ==============================  ======================================

Exact arithmetic: integer and Fraction parameters give integers and Fractions
(``geometric(1, "1/2")`` at 3 is ``Fraction(1, 8)``), so a scheduled algorithm keeps an exact
MDP exact; float parameters give floats.

Theory. Kuba et al. (2022), Theorem 3.6 assumes one drift, neighbourhood and sampling for the
whole run; a schedule that changes them makes every step a mirror step of its own algorithm
(Lemmas 3.3, 3.5 and inequality (13) hold step by step) but the theorem's convergence claims
are not covered. ``proofs_check.check_trace`` reports them as "not applicable" on such a run and
checks the rates that do apply (Xiao 2022, Theorem 10, for PMD with geometrically growing steps).

Examples
--------
>>> step = geometric(1, 2)
>>> [step(n) for n in range(4)], str(step)
([1, 2, 4, 8], 'geometric(1, 2)')
>>> Reciprocal(step)(3)
Fraction(1, 8)
>>> try:
...     linear(1, -1)(1)
... except InvalidParameterError as error:
...     print(error)
schedule linear(1, -1) gives 0 at n = 1: expected a finite number > 0

References
----------
L. Xiao, "On the Convergence Rates of Policy Gradient Methods", JMLR 23(282), 2022, section 4
(PMD with increasing step sizes, Theorem 10). Kuba, Schroeder de Witt, Foerster, "Mirror
Learning", ICML 2022, Theorem 3.6.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ._validate import plain_number, positive_number, short_repr, whole_number
from .errors import InvalidParameterError

__all__ = [
    "Schedule",
    "Constant",
    "Geometric",
    "Linear",
    "InverseTime",
    "Reciprocal",
    "FunctionSchedule",
    "ScheduleRecord",
    "constant",
    "geometric",
    "linear",
    "inverse_time",
    "as_schedule",
    "scheduled_parameter",
    "scheduled_parameters",
    "resolve",
    "SCHEDULES",
]


def _exact(value: Any) -> bool:
    return isinstance(value, int | Fraction) and not isinstance(value, bool)


def _divide(numerator: Any, denominator: Any) -> Any:
    """numerator / denominator, a Fraction when both are exact (1 / 2 is not 0.5 here)."""
    if _exact(numerator) and _exact(denominator):
        quotient = Fraction(numerator) / denominator
        return int(quotient) if quotient.denominator == 1 else quotient
    return numerator / denominator


def _number(value: Any) -> str:
    """A parameter as the spec writes it: ``1/2`` for Fraction(1, 2), ``0.5`` for 0.5."""
    return str(value)


class Schedule:
    """Base class of schedules: ``schedule(n)`` is the value at iteration n (n = 0, 1, ...).

    Subclasses implement :meth:`raw` (the value, unchecked); ``__call__`` checks n and the
    value: a value that is not a finite real number > 0 raises
    :class:`~tabular_mirror.errors.InvalidParameterError` naming the schedule, n and the value.
    ``str(schedule)`` is its spec text (``geometric(1, 2)``); ``repr`` rebuilds it.
    A schedule has no single value: ``float(schedule)`` raises (evaluate the algorithm at an
    iteration with ``algorithm.at(n)``).
    """

    def raw(self, n: int) -> Any:
        """The value at n, unchecked."""
        raise NotImplementedError

    def __call__(self, n: int) -> Any:
        n = whole_number(n, "n")
        try:
            value = self.raw(n)
        except InvalidParameterError:
            raise
        except Exception as error:  # a user callable's own error (IndexError past a list...)
            raise InvalidParameterError(
                f"schedule {self} cannot be evaluated at n = {n}: {type(error).__name__}: {error}"
            ) from error
        return check_value(self, n, value)

    def __float__(self) -> float:
        raise InvalidParameterError(
            f"schedule {self} has no single value: evaluate the algorithm at an iteration, "
            "algorithm.at(n) (mirror_learning does this at every step)"
        )

    def __str__(self) -> str:
        return repr(self)


def check_value(schedule: Any, n: int, value: Any) -> Any:
    """The value of ``schedule`` at n if it is a finite real number > 0, else the error."""
    value = plain_number(value)
    if isinstance(value, Decimal):  # pragma: no cover - plain_number converts Decimals
        value = Fraction(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Fraction):
        raise InvalidParameterError(
            f"schedule {schedule} gives {short_repr(value)} at n = {n}: expected a finite "
            "number > 0, not a " + type(value).__name__
        )
    try:
        finite = math.isfinite(float(value))
    except OverflowError:
        finite = False
    if not finite or not value > 0:
        raise InvalidParameterError(
            f"schedule {schedule} gives {short_repr(value)} at n = {n}: expected a finite "
            "number > 0"
        )
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)  # whole exact values as int, as a trace file reads them back
    return value


@dataclass(frozen=True)
class Constant(Schedule):
    """The same value at every iteration (a schedule that changes nothing)."""

    value: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", positive_number(self.value, "constant value"))

    def raw(self, n: int) -> Any:
        return self.value

    def __str__(self) -> str:
        return f"constant({_number(self.value)})"


@dataclass(frozen=True)
class Geometric(Schedule):
    """start * ratio^n: growing steps for ratio > 1 (Xiao 2022, Theorem 10 takes ratio >=
    1/gamma), shrinking ones for ratio < 1."""

    start: Any
    ratio: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", positive_number(self.start, "geometric start"))
        object.__setattr__(self, "ratio", positive_number(self.ratio, "geometric ratio"))

    def raw(self, n: int) -> Any:
        return self.start * self.ratio**n

    def __str__(self) -> str:
        return f"geometric({_number(self.start)}, {_number(self.ratio)})"


@dataclass(frozen=True)
class Linear(Schedule):
    """start + slope * n (slope of either sign: a value <= 0 is an error at that n)."""

    start: Any
    slope: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", positive_number(self.start, "linear start"))
        slope = plain_number(self.slope)
        if isinstance(slope, str):
            try:
                slope = Fraction(slope.strip())
            except (ValueError, ZeroDivisionError):
                raise InvalidParameterError(f"linear slope = {slope!r} is not a number") from None
        if isinstance(slope, bool) or not isinstance(slope, numbers.Real | Fraction):
            raise InvalidParameterError(f"linear slope = {short_repr(slope)} must be a number")
        try:
            finite = math.isfinite(float(slope))
        except OverflowError:  # an integer or Fraction beyond the float range
            finite = False
        if not finite:
            raise InvalidParameterError(
                f"linear slope = {short_repr(slope)} must be a finite number within the float range"
            )
        object.__setattr__(self, "slope", slope)

    def raw(self, n: int) -> Any:
        return self.start + self.slope * n

    def __str__(self) -> str:
        return f"linear({_number(self.start)}, {_number(self.slope)})"


@dataclass(frozen=True)
class InverseTime(Schedule):
    """start / (1 + rate * n): a step that shrinks like 1/n (rate >= 0)."""

    start: Any
    rate: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", positive_number(self.start, "inverse_time start"))
        object.__setattr__(
            self, "rate", positive_number(self.rate, "inverse_time rate", allow_zero=True)
        )

    def raw(self, n: int) -> Any:
        return _divide(self.start, 1 + self.rate * n)

    def __str__(self) -> str:
        return f"inverse_time({_number(self.start)}, {_number(self.rate)})"


@dataclass(frozen=True)
class Reciprocal(Schedule):
    """1 / schedule(n) (pmd's drift (1/step) KL with a scheduled step)."""

    schedule: Schedule

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, Schedule):
            raise InvalidParameterError(
                f"Reciprocal takes a Schedule, got {short_repr(self.schedule)}"
            )

    def raw(self, n: int) -> Any:
        return _divide(1, self.schedule(n))

    def __str__(self) -> str:
        return f"1/{self.schedule}"


@dataclass(frozen=True)
class FunctionSchedule(Schedule):
    """Any callable n -> value, checked at every n it is called with.

    A Python function cannot be stored in a file: a trace of a run with a FunctionSchedule
    records the values used, but ``proofs_check`` cannot rebuild the algorithm from it (pass
    ``algorithm=`` to :func:`proofs_check.check_trace`).
    """

    function: Callable[[int], Any]
    name: str = "user schedule"

    def __post_init__(self) -> None:
        if not callable(self.function):
            raise InvalidParameterError(
                f"{self.name}: function = {short_repr(self.function)} is not callable"
            )
        if not isinstance(self.name, str):
            raise InvalidParameterError(f"name = {self.name!r} must be a string")

    def raw(self, n: int) -> Any:
        return self.function(n)

    def __str__(self) -> str:
        return self.name


def constant(value: Any) -> Constant:
    """A :class:`Constant` schedule."""
    return Constant(value)


def geometric(start: Any, ratio: Any) -> Geometric:
    """start * ratio^n (:class:`Geometric`)."""
    return Geometric(start, ratio)


def linear(start: Any, slope: Any) -> Linear:
    """start + slope * n (:class:`Linear`)."""
    return Linear(start, slope)


def inverse_time(start: Any, rate: Any) -> InverseTime:
    """start / (1 + rate * n) (:class:`InverseTime`)."""
    return InverseTime(start, rate)


#: The schedules a spec string can name, with their parameters.
SCHEDULES: dict[str, tuple[Callable[..., Schedule], tuple[str, ...]]] = {
    "constant": (constant, ("value",)),
    "geometric": (geometric, ("start", "ratio")),
    "linear": (linear, ("start", "slope")),
    "inverse_time": (inverse_time, ("start", "rate")),
}


def as_schedule(value: Any, name: str = "schedule") -> Schedule:
    """A Schedule as is, a callable wrapped in a :class:`FunctionSchedule` (named ``name``),
    anything else an InvalidParameterError."""
    if isinstance(value, Schedule):
        return value
    if callable(value):
        return FunctionSchedule(value, name)
    raise InvalidParameterError(
        f"{name} = {short_repr(value)} is not a schedule (a Schedule or a callable n -> value)"
    )


def scheduled_parameter(value: Any, name: str, allow_zero: bool = False) -> Any:
    """A piece's parameter that may be scheduled: a number (checked > 0 as
    :func:`~tabular_mirror._validate.positive_number` does) or a schedule (a callable is
    wrapped), whose value at n = 0 is checked when the piece is built."""
    if isinstance(value, Schedule) or (callable(value) and not isinstance(value, type)):
        schedule = as_schedule(value, name)
        schedule(0)
        return schedule
    return positive_number(value, name, allow_zero=allow_zero)


# ---------------------------------------------------------------------------- pieces
def _children(piece: Any) -> list[tuple[str, Any]]:
    """(field name, value) of a piece's constructor fields (a frozen dataclass), else []."""
    if not dataclasses.is_dataclass(piece) or isinstance(piece, type | Schedule):
        return []
    return [(f.name, getattr(piece, f.name)) for f in dataclasses.fields(piece) if f.init]


def scheduled_parameters(piece: Any, prefix: str = "") -> tuple[tuple[str, Schedule], ...]:
    """Every schedule inside a piece (or an algorithm), with its path: ``(("drift.factor",
    Reciprocal(...)),)``; tuples of pieces are entered (``drift.drifts[1].factor``)."""
    found: list[tuple[str, Schedule]] = []
    for name, value in _children(piece):
        path = f"{prefix}{name}"
        if isinstance(value, Schedule):
            found.append((path, value))
        elif isinstance(value, tuple):
            for k, item in enumerate(value):
                if isinstance(item, Schedule):
                    found.append((f"{path}[{k}]", item))
                else:
                    found.extend(scheduled_parameters(item, f"{path}[{k}]."))
        else:
            found.extend(scheduled_parameters(value, f"{path}."))
    return tuple(found)


def resolve(piece: Any, n: int, used: list[Any] | None = None) -> Any:
    """The piece at iteration n: every schedule inside replaced by its value at n (the piece
    itself when it holds none). The piece's own validation runs on the values (an epsilon
    schedule reaching 1 fails here, naming n).

    Each schedule is called once; ``used`` (a list) receives the values in the order of
    :func:`scheduled_parameters`, so a run records the values it used, not a second call's
    (a user's schedule may keep state or draw at random)."""
    changes: dict[str, Any] = {}

    def value_at(schedule: Schedule) -> Any:
        value = schedule(n)
        if used is not None:
            used.append(value)
        return value

    for name, value in _children(piece):
        if isinstance(value, Schedule):
            changes[name] = value_at(value)
        elif isinstance(value, tuple):
            items = tuple(
                value_at(item) if isinstance(item, Schedule) else resolve(item, n, used)
                for item in value
            )
            if any(a is not b for a, b in zip(items, value, strict=True)):
                changes[name] = items
        else:
            resolved = resolve(value, n, used)
            if resolved is not value:
                changes[name] = resolved
    if not changes:
        return piece
    try:
        return dataclasses.replace(piece, **changes)
    except InvalidParameterError as error:
        raise InvalidParameterError(f"{type(piece).__name__} at n = {n}: {error}") from None


@dataclass(frozen=True)
class ScheduleRecord:
    """The scheduled values a run used, as its :class:`~tabular_mirror.traces.Trace` keeps them.

    Attributes
    ----------
    parameters : the paths of the scheduled parameters in the algorithm (``"drift.factor"``).
    schedules : ``str`` of each schedule (``"1/geometric(1, 2)"``), for reading.
    values : one tuple per step k -> k + 1 of the trace: the value of each parameter used.
    start : the iteration n of the trace's first step (0, or where a part of a long run
        written by :func:`~tabular_mirror.run_in_parts` starts).
    """

    parameters: tuple[str, ...]
    schedules: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    start: int = 0

    @property
    def changes(self) -> bool:
        """Does some scheduled value differ between two steps of the run?"""
        return any(row != self.values[0] for row in self.values[1:])

    def column(self, parameter: str) -> tuple[Any, ...]:
        """The values of one parameter, one per step."""
        if parameter not in self.parameters:
            raise InvalidParameterError(
                f"parameter {parameter!r} is not scheduled; scheduled: "
                f"{', '.join(self.parameters) or 'none'}"
            )
        index = self.parameters.index(parameter)
        return tuple(row[index] for row in self.values)
