"""``make("name:key=value,...")``: every catalogue MDP from a short string.

The grammar is ``name`` or ``name:key=value,key=value``. Values are read as

- ``true`` / ``false``: bool;
- an integer literal (``50``, ``-3``): int;
- a fraction literal (``1/10``): Fraction;
- a decimal literal (``0.95``, ``1e-3``): float, or the exact Fraction of the literal
  (``0.95`` -> 19/20) when the spec also says ``exact=true``;
- values joined by ``|`` (``means=1|0|1/2``): a tuple of such values;
- anything else: the string itself (``reward_law=normal``).

Every entry accepts ``discount``.

Examples
--------
>>> make("forest:S=1000,discount=0.95")
FiniteMDP(num_states=1000, num_actions=2, discount=0.95, float, dense)
>>> make("paper-chain:exact=true").discount
Fraction(999, 1000)
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from tabular_mirror.errors import InvalidParameterError
from tabular_mirror.model import FiniteMDP

from . import generators, gridworlds, paper, textbook

__all__ = ["make", "available", "parse_spec", "REGISTRY"]

#: name -> builder; every builder takes ``discount=``.
REGISTRY: dict[str, Callable[..., FiniteMDP]] = {
    "paper-bandit": paper.paper_bandit,
    "paper-chain": paper.paper_chain,
    "paper-grid": paper.paper_grid,
    "small": textbook.small,
    "forest": textbook.forest,
    "riverswim": textbook.riverswim,
    "value-polytope": textbook.value_polytope,
    "chain": textbook.chain,
    "bandit": textbook.bandit,
    "deep-sea": textbook.deep_sea,
    "sutton-barto-grid": gridworlds.sutton_barto_grid,
    "frozen-lake": gridworlds.frozen_lake,
    "cliff-walking": gridworlds.cliff_walking,
    "garnet": generators.garnet,
    "random-dense": generators.random_dense_mdp,
    "exact-garnet": generators.exact_garnet,
    "random-exact": generators.random_exact_mdp,
}

_INTEGER = re.compile(r"[+-]?\d+")
_FRACTION = re.compile(r"[+-]?\d+/\d+")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def available() -> tuple[str, ...]:
    """The names :func:`make` accepts, in registry order.

    >>> "paper-grid" in available()
    True
    """
    return tuple(REGISTRY)


def _value(text: str, exact: bool) -> Any:
    text = text.strip()
    if "|" in text:
        return tuple(_value(part, exact) for part in text.split("|"))
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INTEGER.fullmatch(text):
        return int(text)
    if _FRACTION.fullmatch(text):
        try:
            return Fraction(text)
        except ZeroDivisionError as error:
            raise InvalidParameterError(f"value {text!r} divides by zero") from error
    if _DECIMAL.fullmatch(text):
        return Fraction(text) if exact else float(text)
    return text


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name:key=value,..."`` into the name and the parsed keyword arguments.

    >>> parse_spec("garnet:S=50,A=4,b=3,seed=0,discount=9/10")
    ('garnet', {'S': 50, 'A': 4, 'b': 3, 'seed': 0, 'discount': Fraction(9, 10)})
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidParameterError(f"spec = {spec!r} is not a non-empty string")
    name, _, rest = spec.strip().partition(":")
    pairs = []
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise InvalidParameterError(f"spec {spec!r}: {item!r} is not of the form key=value")
        pairs.append((key.strip(), value))
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise InvalidParameterError(f"spec {spec!r} repeats a parameter")
    raw = dict(pairs)
    exact = raw.get("exact", "").strip().lower() == "true"
    return name.strip(), {key: _value(value, exact) for key, value in pairs}


def _type_hints(builder: Callable[..., FiniteMDP]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(builder)
    except Exception:  # pragma: no cover - an annotation that does not resolve: no type checks
        return {}


def _check_type(name: str, key: str, value: Any, hint: Any) -> Any:
    """A spec value checked against the builder's annotation (bool and int parameters).

    Flags must be ``true`` or ``false`` (``exact=maybe`` is an error, not True) and counts
    integer literals (``S=1e3`` or ``S=10.5`` are errors, not a rounded count).
    """
    if hint is bool and not isinstance(value, bool):
        raise InvalidParameterError(f"{name}: {key} = {value!r} must be true or false")
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidParameterError(f"{name}: {key} = {value!r} must be an integer literal")
    return value


def make(spec: str) -> FiniteMDP:
    """Build a catalogue MDP from a short spec such as ``"garnet:S=50,A=4,b=3,seed=0"``.

    Parameters
    ----------
    spec : str
        ``name`` or ``name:key=value,...``; names from :func:`available`, keys the builder's
        keyword parameters (every builder accepts ``discount``).

    Returns
    -------
    FiniteMDP

    Raises
    ------
    InvalidParameterError
        An unknown name (the valid names are listed), an unknown parameter (the builder's
        parameters are listed), a missing required parameter, or a malformed spec.

    Examples
    --------
    >>> make("garnet:S=50,A=4,b=3,seed=0")
    FiniteMDP(num_states=50, num_actions=4, discount=0.9, float, dense)
    """
    name, kwargs = parse_spec(spec)
    if name not in REGISTRY:
        raise InvalidParameterError(f"unknown MDP {name!r}; valid names: {', '.join(available())}")
    builder = REGISTRY[name]
    parameters = inspect.signature(builder).parameters
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        raise InvalidParameterError(
            f"{name} has no parameter {', '.join(map(repr, unknown))}; valid parameters: "
            f"{', '.join(parameters)}"
        )
    hints = _type_hints(builder)
    for key, value in kwargs.items():
        kwargs[key] = _check_type(name, key, value, hints.get(key))
    missing = [
        key
        for key, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty and key not in kwargs
    ]
    if missing:
        raise InvalidParameterError(
            f"{name} needs {', '.join(missing)} (e.g. {name}:"
            f"{','.join(f'{key}=...' for key in missing)}); valid parameters: "
            f"{', '.join(parameters)}"
        )
    return builder(**kwargs)
