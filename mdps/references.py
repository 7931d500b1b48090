"""Known exact values of the catalogue MDPs (spec/catalogue.md), as data.

Each :class:`Reference` names a builder call, the optimal policy (deterministic, one action
per state) and the exact optimal values V*. The reference tests solve each MDP exactly and
compare; users can do the same to check a solver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from tabular_mirror.model import FiniteMDP

from . import gridworlds, textbook

__all__ = ["Reference", "REFERENCES", "SUTTON_BARTO_RANDOM_VALUES", "SUTTON_BARTO_OPTIMAL_ROWS"]


@dataclass(frozen=True)
class Reference:
    """One known optimum: ``build(exact=..., **kwargs)`` has ``optimal_values`` under
    ``optimal_policy`` (None where only some values are known, see ``known_values``).

    Attributes
    ----------
    name : str
        Short identifier (used as a test id).
    build : callable
        The builder, called with ``kwargs`` and ``exact``.
    kwargs : dict
        Arguments of the builder (discount included).
    optimal_policy : tuple of int
        An optimal action per state.
    known_values : dict int -> Fraction
        Exact V*[s] for the listed states.
    source : str
        Where the number comes from.
    """

    name: str
    build: Callable[..., FiniteMDP]
    kwargs: dict[str, Any]
    optimal_policy: tuple[int, ...]
    known_values: dict[int, Fraction]
    source: str
    approximate: dict[int, float] = field(default_factory=dict)

    def mdp(self, exact: bool = True) -> FiniteMDP:
        """The MDP, exact (default) or float."""
        return self.build(exact=exact, **self.kwargs)


def _values(*values: str) -> dict[int, Fraction]:
    return {state: Fraction(value) for state, value in enumerate(values)}


REFERENCES: tuple[Reference, ...] = (
    Reference(
        "small-0.9",
        textbook.small,
        {"discount": "9/10"},
        (1, 0),
        _values("1825/43", "1550/43"),
        "MDPtoolbox small(); exact values from the catalogue",
    ),
    Reference(
        "small-0.99",
        textbook.small,
        {"discount": "99/100"},
        (1, 0),
        _values("87875/224", "21625/56"),
        "MDPtoolbox small(); exact values from the catalogue",
    ),
    Reference(
        "forest-0.9",
        textbook.forest,
        {"discount": "9/10"},
        (0, 0, 0),
        _values("6561/250", "7371/250", "8371/250"),
        "MDPtoolbox forest() defaults S=3, r1=4, r2=2, p=1/10",
    ),
    Reference(
        "forest-0.96",
        textbook.forest,
        {"discount": "96/100"},
        (0, 0, 0),
        _values("46656/625", "48816/625", "51316/625"),
        "MDPtoolbox forest() defaults S=3, r1=4, r2=2, p=1/10",
    ),
    Reference(
        "riverswim-0.9",
        textbook.riverswim,
        {"discount": "9/10"},
        (1, 1, 1, 1, 1, 1),
        {0: Fraction(425329947, 326053817)},
        "Osband, Russo, Van Roy (2013) RiverSwim, n = 6; catalogue",
        approximate={0: 1.30448, 5: 5.14689},
    ),
    Reference(
        "value-polytope-0.9",
        textbook.value_polytope,
        {"discount": "9/10"},
        (0, 0),
        _values("9/55", "104/55"),
        "Dadashi et al. (2019) Fig. 2(d) left; catalogue",
    ),
    Reference(
        "sutton-barto-3.5",
        gridworlds.sutton_barto_grid,
        {"discount": "9/10"},
        (),  # many optimal policies (ties); only values are compared
        {1: Fraction(1000000, 40951)},
        "Sutton & Barto (2018) Example 3.5 / Figure 3.5: V*(A) = 10 / (1 - 0.9^5)",
    ),
)

#: Sutton & Barto Figure 3.2: V of the equiprobable random policy, rounded to 0.1, by rows.
SUTTON_BARTO_RANDOM_VALUES = (
    (3.3, 8.8, 4.4, 5.3, 1.5),
    (1.5, 3.0, 2.3, 1.9, 0.5),
    (0.1, 0.7, 0.7, 0.4, -0.4),
    (-1.0, -0.4, -0.4, -0.6, -1.2),
    (-1.9, -1.3, -1.2, -1.4, -2.0),
)

#: Sutton & Barto Figure 3.5: V* rounded to 0.1, first and last rows.
SUTTON_BARTO_OPTIMAL_ROWS = {
    0: (22.0, 24.4, 22.0, 19.4, 17.5),
    4: (14.4, 16.0, 14.4, 13.0, 11.7),
}
