"""Algorithm specifications as short strings: ``"ppo:epsilon=0.2"`` -> a MirrorAlgorithm.

The grammar is ``name[:key=value[,key=value...]]``. Names are the named instances of
:mod:`tabular_mirror.instances` plus ``paper`` (one cell of the paper's Figure 3 grid):

==========  =================================  ======================================
name        parameters (defaults)              builds
==========  =================================  ======================================
gpi         -                                  ``instances.gpi()``
trl         coefficient (classic C_pi)         ``instances.trl(coefficient)``
trpo        delta* (0.01)                      ``instances.trpo(delta)``
ppo         epsilon* (0.2)                     ``instances.ppo(epsilon)``
ppo_kl      tau* (1), reverse (false)          ``instances.ppo_kl(tau, reverse)``
pmd         step* (1)                          ``instances.pmd(step)``
paper       drift, neighbourhood (required),   ``instances.paper_experiment(...)``
            scale* (50), radius (0.05)
==========  =================================  ======================================

Parameters marked * may be schedules (:mod:`tabular_mirror.schedules`), written as a call of
a named schedule on numbers: ``pmd:step=geometric(1,2)`` (eta_n = 2^n),
``pmd:step=inverse_time(1,1)`` (1/(1+n)), ``ppo_kl:tau=linear(1,1/2)``,
``trpo:delta=constant(1/100)``. The text is parsed, never evaluated: a schedule name from
:data:`~tabular_mirror.schedules.SCHEDULES` and exact numbers only.

Numbers are read exactly: ``0.2`` becomes ``Fraction(1, 5)``, so one spec serves exact and float
MDPs alike (float steps convert parameters to float). Booleans are ``true``/``false`` (also
``1``/``0``, ``yes``/``no``). Spaces around names, keys and values are ignored.

Examples
--------
>>> parse_spec("ppo:epsilon=0.2")
('ppo', {'epsilon': Fraction(1, 5)})
>>> make_algorithm("pmd:step=1").name
'PMD(step=1)'
>>> make_algorithm("paper:drift=squared_l2,neighbourhood=kl_ball").name
'squared_l2 x50, kl_ball'
>>> parse_spec("pmd:step=geometric(1, 1/2)")
('pmd', {'step': Geometric(start=1, ratio=Fraction(1, 2))})
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from . import instances
from .algorithm import MirrorAlgorithm
from .errors import InvalidParameterError
from .schedules import SCHEDULES, Schedule

__all__ = ["ALGORITHMS", "AlgorithmSpec", "parse_spec", "make_algorithm", "spec_help"]


def _number(key: str, text: str) -> Fraction | int:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidParameterError(f"{key} = {text!r} is not a number") from None
    return int(value) if value.denominator == 1 else value


_SCHEDULE_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)", re.DOTALL)


def _schedulable(key: str, text: str) -> Fraction | int | Schedule:
    """A number, or a schedule written ``name(number, ...)`` (parsed, never evaluated)."""
    call = _SCHEDULE_CALL.fullmatch(text)
    if call is None:
        if "(" in text or ")" in text:
            raise InvalidParameterError(
                f"{key} = {text!r} is not a number or a schedule name(arguments), e.g. "
                "geometric(1,2)"
            )
        return _number(key, text)
    name, inside = call.group(1).lower(), call.group(2)
    if name not in SCHEDULES:
        valid = ", ".join(f"{n}({', '.join(a)})" for n, (_, a) in SCHEDULES.items())
        raise InvalidParameterError(
            f"{key} = {text!r}: unknown schedule {name!r}; valid schedules: {valid}"
        )
    builder, names = SCHEDULES[name]
    arguments = [part.strip() for part in inside.split(",")] if inside.strip() else []
    if len(arguments) != len(names):
        raise InvalidParameterError(
            f"{key} = {text!r}: {name} takes {len(names)} argument"
            f"{'' if len(names) == 1 else 's'} ({', '.join(names)}), got {len(arguments)}"
        )
    values = [
        _number(f"{key} = {name}(...) argument {n}", a)
        for n, a in zip(names, arguments, strict=True)
    ]
    return builder(*values)


def _boolean(key: str, text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidParameterError(f"{key} = {text!r} is not a boolean; use true or false")


def _text(key: str, text: str) -> str:
    return text


@dataclass(frozen=True)
class AlgorithmSpec:
    """One spec name: the builder, its parameters (key -> reader) and the required ones."""

    builder: Callable[..., MirrorAlgorithm]
    parameters: dict[str, Callable[[str, str], Any]]
    required: tuple[str, ...] = ()
    summary: str = ""


#: Every spec name and how it is built.
ALGORITHMS: dict[str, AlgorithmSpec] = {
    "gpi": AlgorithmSpec(instances.gpi, {}, (), "generalised policy iteration"),
    "trl": AlgorithmSpec(instances.trl, {"coefficient": _number}, (), "trust-region learning"),
    "trpo": AlgorithmSpec(instances.trpo, {"delta": _schedulable}, (), "TRPO, average-KL ball"),
    "ppo": AlgorithmSpec(instances.ppo, {"epsilon": _schedulable}, (), "PPO-clip, exact argmax"),
    "ppo_kl": AlgorithmSpec(
        instances.ppo_kl,
        {"tau": _schedulable, "reverse": _boolean},
        (),
        "PPO with a fixed KL penalty",
    ),
    "pmd": AlgorithmSpec(
        instances.pmd, {"step": _schedulable}, (), "policy mirror descent / MDPO / NPG"
    ),
    "paper": AlgorithmSpec(
        instances.paper_experiment,
        {"drift": _text, "neighbourhood": _text, "scale": _schedulable, "radius": _number},
        ("drift", "neighbourhood"),
        "one cell of the paper's Figure 3",
    ),
}


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name:key=value,..."`` into the name and the typed parameters.

    Parameters
    ----------
    spec : str
        An algorithm specification, e.g. ``"trpo:delta=0.01"`` or ``"gpi"``.

    Returns
    -------
    (name, parameters) : tuple of str and dict
        Numbers as exact ``Fraction`` (``int`` when whole), booleans as ``bool``.

    Raises
    ------
    InvalidParameterError
        Unknown name (the message lists the valid ones), unknown or repeated key, a missing
        ``=``, a value that is not of the parameter's type, a missing required parameter, an
        unknown schedule, a schedule with the wrong number of arguments or unbalanced
        parentheses.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidParameterError(
            f"algorithm spec {spec!r} is empty; expected name[:key=value,...] with name one of "
            f"{', '.join(ALGORITHMS)}"
        )
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower().replace("-", "_")
    if name not in ALGORITHMS:
        raise InvalidParameterError(
            f"unknown algorithm {name!r} in spec {spec!r}; valid names: {', '.join(ALGORITHMS)}"
        )
    entry = ALGORITHMS[name]
    parameters: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in _split(rest, spec))):
        key, equals, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not key or not value:
            raise InvalidParameterError(
                f"{item!r} in spec {spec!r} is not key=value (e.g. {_example(name)})"
            )
        if key not in entry.parameters:
            valid = ", ".join(entry.parameters) or "none"
            raise InvalidParameterError(
                f"unknown parameter {key!r} for {name}; valid parameters: {valid}"
            )
        if key in parameters:
            raise InvalidParameterError(f"parameter {key!r} is given twice in spec {spec!r}")
        parameters[key] = entry.parameters[key](key, value)
    missing = [key for key in entry.required if key not in parameters]
    if missing:
        raise InvalidParameterError(
            f"spec {spec!r} is missing {', '.join(missing)} (e.g. {_example(name)})"
        )
    return name, parameters


def _split(text: str, spec: str) -> list[str]:
    """``text`` split at the commas outside parentheses (``step=geometric(1,2),x=1``)."""
    parts, depth, current = [], 0, []
    for character in text:
        if character == "(":
            depth += 1
            if depth > 1:
                raise InvalidParameterError(
                    f"spec {spec!r} nests parentheses; a schedule's arguments are numbers"
                )
        elif character == ")":
            depth -= 1
            if depth < 0:
                raise InvalidParameterError(f"spec {spec!r} has a ')' without its '('")
        if character == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(character)
    if depth:
        raise InvalidParameterError(f"spec {spec!r} has a '(' that is not closed")
    parts.append("".join(current))
    return parts


def make_algorithm(spec: str) -> MirrorAlgorithm:
    """Build the MirrorAlgorithm a spec string describes (see the module table).

    Raises
    ------
    InvalidParameterError
        A malformed spec, or a parameter the instance rejects (e.g. ``delta=0``).
    """
    name, parameters = parse_spec(spec)
    return ALGORITHMS[name].builder(**parameters)


def _example(name: str) -> str:
    return {
        "gpi": "gpi",
        "trl": "trl:coefficient=10",
        "trpo": "trpo:delta=0.01",
        "ppo": "ppo:epsilon=0.2",
        "ppo_kl": "ppo_kl:tau=1,reverse=true",
        "pmd": "pmd:step=1",
        "paper": "paper:drift=squared_l2,neighbourhood=kl_ball",
    }[name]


def spec_help() -> str:
    """A few lines listing every spec name with its parameters and an example."""
    lines = []
    for name, entry in ALGORITHMS.items():
        keys = ", ".join(entry.parameters) or "-"
        lines.append(f"  {name:<8} {entry.summary} (parameters: {keys}); e.g. {_example(name)}")
    schedules = ", ".join(f"{n}({','.join(a)})" for n, (_, a) in SCHEDULES.items())
    lines.append(
        f"  step, tau, delta, epsilon, scale may be schedules n -> value: {schedules}; "
        "e.g. pmd:step=geometric(1,2)"
    )
    return "\n".join(lines)
