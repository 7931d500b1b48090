"""Grid worlds from a text map, and the classic grids built from it.

:func:`gridworld` turns a text map into a :class:`~tabular_mirror.FiniteMDP`: walls, terminal
cells, cell rewards, slips, teleports (Sutton & Barto's A -> A') and redirects (the cliff sends
the agent back to the start). :func:`frozen_lake`, :func:`cliff_walking` and
:func:`sutton_barto_grid` are built with it natively (no gymnasium needed) and reproduce the
gymnasium toy-text dynamics state for state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tabular_mirror.errors import InvalidParameterError
from tabular_mirror.model import FiniteMDP

from ._common import ONE, ZERO, probability, scalar, zeros

__all__ = [
    "gridworld",
    "frozen_lake",
    "cliff_walking",
    "sutton_barto_grid",
    "FROZEN_LAKE_MAPS",
    "CLIFF_WALKING_MAP",
    "SUTTON_BARTO_MAP",
]

#: Row and column offsets of the four moves: north (up), east, south (down), west.
MOVES = {"N": (-1, 0), "E": (0, 1), "S": (1, 0), "W": (0, -1)}
#: The two directions perpendicular to each move (where a slip goes).
PERPENDICULAR = {"N": "WE", "S": "EW", "E": "NS", "W": "SN"}

#: The gymnasium FrozenLake maps (S start, F frozen, H hole, G goal).
FROZEN_LAKE_MAPS = {
    4: ("SFFF", "FHFH", "FFFH", "HFFG"),
    8: (
        "SFFFFFFF",
        "FFFFFFFF",
        "FFFHFFFF",
        "FFFFFHFF",
        "FFFHFFFF",
        "FHHFFFHF",
        "FHFFHFHF",
        "FFFHFFFG",
    ),
}

#: CliffWalking 4 x 12 (Sutton & Barto Example 6.6): S start, C cliff, G goal.
CLIFF_WALKING_MAP = ("............", "............", "............", "SCCCCCCCCCCG")

#: Sutton & Barto Example 3.5: A -> a (+10), B -> b (+5).
SUTTON_BARTO_MAP = (".A.B.", ".....", "...b.", ".....", ".a...")


def _parse_layout(layout: str | Sequence[str]) -> np.ndarray:
    if isinstance(layout, str):
        rows = layout.strip().splitlines()
    elif isinstance(layout, Sequence) and all(isinstance(row, str) for row in layout):
        rows = list(layout)
    else:
        raise InvalidParameterError(
            f"layout = {layout!r} is not a map: expected a string with one line per row or a "
            "sequence of row strings (in a spec, rows joined by '|': layout=....G|.####|...)"
        )
    rows = [row.strip() for row in rows]
    if not rows or not rows[0]:
        raise InvalidParameterError("layout is empty, expected rows of characters")
    width = len(rows[0])
    for index, row in enumerate(rows):
        if len(row) != width:
            raise InvalidParameterError(
                f"layout row {index} has {len(row)} cells, expected {width} (rows must be equal)"
            )
    return np.array([list(row) for row in rows])


def _cell_of(grid: np.ndarray, char: str, role: str) -> tuple[int, int]:
    found = np.argwhere(grid == char)
    if len(found) != 1:
        raise InvalidParameterError(
            f"{role} target {char!r} occurs {len(found)} times in the layout, expected once"
        )
    return int(found[0, 0]), int(found[0, 1])


def gridworld(
    layout: str | Sequence[str],
    *,
    discount: Any = "9/10",
    actions: str = "NESW",
    step_reward: Any = 0,
    bump_reward: Any = None,
    cell_rewards: Mapping[str, Any] | None = None,
    terminal: str = "",
    slip: Any = 0,
    teleports: Mapping[str, tuple[str, Any]] | None = None,
    redirects: Mapping[str, str] | None = None,
    initial: Any = None,
    exact: bool = False,
) -> FiniteMDP:
    """A grid world from a text map.

    Every character except ``#`` is a cell and a state; states are the non-wall cells in
    row-major order (so ``5*row + col`` on a wall-free 5-wide map). A move that would leave
    the grid or enter a wall is a *bump*: the agent re-enters its own cell, with reward
    ``bump_reward`` (or the cell's ``cell_rewards`` entry if it has one) and the cell's
    redirect if it has one (as gymnasium's CliffWalking does from a cliff cell).

    Parameters
    ----------
    layout : str or sequence of str
        Rows of the map (a multi-line string or a list of equal-length strings).
    discount : float, Fraction or str
        gamma.
    actions : str
        The actions, in order, as letters from ``N`` (up, row - 1), ``E``, ``S``, ``W``:
        ``"NESW"`` (CliffWalking order), ``"WSEN"`` (FrozenLake order), ``"NSEW"``.
    step_reward : number
        Reward of a move into an ordinary cell.
    bump_reward : number, optional
        Reward of a bump; ``step_reward`` by default.
    cell_rewards : mapping str -> number, optional
        Reward of a move entering a cell with that character (replaces ``step_reward``).
    terminal : str
        Characters of terminal cells: absorbing, every action loops with reward 0.
    slip : number
        Probability that the move goes in a perpendicular direction instead, split equally
        between the two (FrozenLake's slippery ice is ``slip = 2/3``).
    teleports : mapping str -> (str, number), optional
        From a cell with the key character every action moves to the (unique) cell with the
        target character with the given reward (Sutton & Barto's A -> A').
    redirects : mapping str -> str, optional
        A move entering a cell with the key character lands on the (unique) cell with the
        target character instead, with the entered cell's reward (the cliff sends to ``S``).
    initial : (S,) array_like, optional
        d; by default uniform over the ``S`` cells if any, else over non-terminal cells.
    exact : bool
        Build with exact Fractions (all numbers must then be rational).

    Returns
    -------
    FiniteMDP
        Dense, with ``len(actions)`` actions.

    Raises
    ------
    InvalidParameterError
        Ragged or empty layout, unknown action letter, a slip outside [0, 1], a teleport or
        redirect target that is not a unique cell.

    Examples
    --------
    A corridor whose right end is a terminal goal worth 1:

    >>> mdp = gridworld("..G", actions="WE", terminal="G", cell_rewards={"G": 1})
    >>> mdp.num_states, mdp.num_actions
    (3, 2)
    >>> mdp.rewards.tolist()
    [[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    """
    grid = _parse_layout(layout)
    for letter in actions:
        if letter not in MOVES:
            raise InvalidParameterError(
                f"actions contains {letter!r}; valid action letters are N, E, S, W"
            )
    if not actions:
        raise InvalidParameterError("actions is empty, expected letters from N, E, S, W")
    height, width = grid.shape
    is_cell = grid != "#"
    cells = np.argwhere(is_cell)  # (S, 2), row-major
    num_states, num_actions = len(cells), len(actions)
    index = np.full(grid.shape, -1)
    index[is_cell] = np.arange(num_states)
    chars = grid[is_cell]

    step = scalar(step_reward, exact, "step_reward")
    bump = step if bump_reward is None else scalar(bump_reward, exact, "bump_reward")
    slip = probability(slip, exact, "slip")
    # reward of entering each cell, and of bumping while standing on it
    entering = np.array([step] * num_states, dtype=object if exact else float)
    bumping = np.array([bump] * num_states, dtype=object if exact else float)
    for char, value in (cell_rewards or {}).items():
        entering[chars == char] = scalar(value, exact, f"cell_rewards[{char!r}]")
        bumping[chars == char] = entering[chars == char]
    # where entering a cell lands
    landing = np.arange(num_states)
    for char, target in (redirects or {}).items():
        landing[chars == char] = index[_cell_of(grid, target, "redirect")]

    def destination(direction: str) -> tuple[np.ndarray, np.ndarray]:
        """Next state and reward of moving ``direction`` from every state."""
        row = cells[:, 0] + MOVES[direction][0]
        col = cells[:, 1] + MOVES[direction][1]
        inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
        target = np.full(num_states, -1)
        target[inside] = index[row[inside], col[inside]]
        bumped = target < 0
        entered = np.where(bumped, np.arange(num_states), target)
        next_state = landing[entered]
        reward = np.where(bumped, bumping, entering[entered])
        return next_state, reward.astype(object if exact else float)

    half = slip / 2
    transitions = zeros((num_states, num_actions, num_states), exact)
    rewards = zeros((num_states, num_actions), exact)
    states = np.arange(num_states)
    for a, letter in enumerate(actions):
        outcomes = [(letter, (ONE if exact else 1.0) - slip)]
        if slip:
            outcomes += [(side, half) for side in PERPENDICULAR[letter]]
        for direction, weight in outcomes:
            next_state, reward = destination(direction)
            np.add.at(transitions[:, a, :], (states, next_state), weight)
            rewards[:, a] += weight * reward
    for char, (target, value) in (teleports or {}).items():
        source = chars == char
        transitions[source] = ZERO if exact else 0.0
        transitions[source, :, index[_cell_of(grid, target, "teleport")]] = ONE if exact else 1.0
        rewards[source] = scalar(value, exact, f"teleports[{char!r}]")
    absorbing = np.isin(chars, list(terminal))
    transitions[absorbing] = ZERO if exact else 0.0
    transitions[absorbing, :, absorbing.nonzero()[0]] = ONE if exact else 1.0
    rewards[absorbing] = ZERO if exact else 0.0

    if initial is None:
        starts = chars == "S"
        if not starts.any():
            starts = ~absorbing if (~absorbing).any() else np.ones(num_states, bool)
        initial = zeros((num_states,), exact)
        initial[starts] = ONE / int(starts.sum()) if exact else 1.0 / starts.sum()
    return FiniteMDP(
        transitions, rewards, scalar(discount, exact, "discount"), initial, exact=exact
    )


def frozen_lake(
    size: int = 4,
    *,
    slippery: bool = True,
    discount: Any = "99/100",
    exact: bool = False,
) -> FiniteMDP:
    """FrozenLake 4x4 or 8x8 (gymnasium toy text), built natively.

    Actions 0 left, 1 down, 2 right, 3 up. On slippery ice the agent moves in the intended
    direction or either perpendicular one with probability 1/3 each; entering the goal gives
    reward 1; holes and the goal are terminal (absorbing, reward 0); d is the start cell.

    Parameters
    ----------
    size : {4, 8}
        The map (:data:`FROZEN_LAKE_MAPS`).
    slippery : bool
        gymnasium's ``is_slippery`` (with its default ``success_rate`` 1/3).
    discount : float, Fraction or str
        gamma (the environment itself is undiscounted; 99/100 by default).
    exact : bool
        Exact Fractions (probabilities exactly 1/3).

    Returns
    -------
    FiniteMDP
        ``size**2`` states, 4 actions, state ``size*row + col``.

    References
    ----------
    Farama Foundation, Gymnasium ``FrozenLake-v1``.
    """
    if size not in FROZEN_LAKE_MAPS:
        raise InvalidParameterError(f"size = {size!r} is not a FrozenLake map; valid: 4, 8")
    return gridworld(
        FROZEN_LAKE_MAPS[size],
        discount=discount,
        actions="WSEN",
        cell_rewards={"G": 1},
        terminal="GH",
        slip="2/3" if slippery else 0,
        exact=exact,
    )


def cliff_walking(*, discount: Any = "99/100", exact: bool = False) -> FiniteMDP:
    """CliffWalking 4 x 12 (Sutton & Barto Example 6.6; gymnasium ``CliffWalking-v1``).

    Actions 0 up, 1 right, 2 down, 3 left, deterministic. Every move costs -1; stepping into
    the cliff (bottom row between start and goal) costs -100 and sends the agent back to the
    start (not terminal). The goal (bottom-right) is terminal; d is the start (bottom-left).
    The 10 cliff cells are states (unreachable), as in gymnasium.

    Parameters
    ----------
    discount : float, Fraction or str
        gamma (the environment is undiscounted; 99/100 by default).
    exact : bool
        Exact Fractions.

    Returns
    -------
    FiniteMDP
        48 states (``12*row + col``), 4 actions.

    References
    ----------
    Sutton & Barto, Reinforcement Learning: An Introduction, 2nd ed., 2018, Example 6.6.
    """
    return gridworld(
        CLIFF_WALKING_MAP,
        discount=discount,
        actions="NESW",
        step_reward=-1,
        cell_rewards={"C": -100},
        terminal="G",
        redirects={"C": "S"},
        exact=exact,
    )


def sutton_barto_grid(*, discount: Any = "9/10", exact: bool = False) -> FiniteMDP:
    """The 5 x 5 grid of Sutton & Barto Example 3.5 (Figures 3.2 and 3.5).

    Actions 0 north, 1 south, 2 east, 3 west, deterministic. From A = (0, 1) every action
    moves to A' = (4, 1) with reward +10; from B = (0, 3) every action moves to B' = (2, 3)
    with reward +5; bumping into the edge leaves the state unchanged with reward -1; every
    other move has reward 0. State ``5*row + col``; no terminal states; d uniform.

    Parameters
    ----------
    discount : float, Fraction or str
        gamma, 9/10 in the book.
    exact : bool
        Exact Fractions.

    Returns
    -------
    FiniteMDP
        25 states, 4 actions.

    Notes
    -----
    ``V*(A) = 10 / (1 - gamma^5) = 1000000/40951`` at gamma = 9/10 (jump, then four steps
    north back to A).

    References
    ----------
    Sutton & Barto, Reinforcement Learning: An Introduction, 2nd ed., 2018, Example 3.5.

    Examples
    --------
    >>> import tabular_mirror as tm
    >>> result = tm.solve(sutton_barto_grid(exact=True), method="policy_iteration")
    >>> result.values[1]
    Fraction(1000000, 40951)
    """
    return gridworld(
        SUTTON_BARTO_MAP,
        discount=discount,
        actions="NSEW",
        bump_reward=-1,
        teleports={"A": ("a", 10), "B": ("b", 5)},
        initial=None,
        exact=exact,
    )
