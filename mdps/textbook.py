"""Textbook and toolbox MDPs with known values (see the catalogue, spec/catalogue.md).

Each builder takes ``discount=`` and ``exact=``: with ``exact=True`` every probability and
reward is a Fraction (the defining numbers are rational), so values computed from the MDP are
exact. Grid worlds are in :mod:`mdps.gridworlds`, the paper's environments in
:mod:`mdps.paper`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from tabular_mirror.errors import InvalidParameterError
from tabular_mirror.model import FiniteMDP

from ._common import ONE, flag, positive_int, probability, rng, scalar, storage, zeros

__all__ = [
    "small",
    "forest",
    "riverswim",
    "value_polytope",
    "chain",
    "bandit",
    "deep_sea",
]


def _finish(transitions: Any, rewards: Any, discount: Any, exact: bool, initial: Any = None):
    return FiniteMDP(
        transitions, rewards, scalar(discount, exact, "discount"), initial, exact=exact
    )


def small(*, discount: Any = "9/10", exact: bool = False) -> FiniteMDP:
    """The two-state, two-action "small" MDP of MDPtoolbox / pymdptoolbox.

    ``P[:, 0, :] = [[1/2, 1/2], [4/5, 1/5]]``, ``P[:, 1, :] = [[0, 1], [1/10, 9/10]]``,
    ``r = [[5, 10], [-1, 2]]``.

    Parameters
    ----------
    discount : float, Fraction or str
        gamma; 9/10 as in the toolbox.
    exact : bool
        Exact Fractions.

    Returns
    -------
    FiniteMDP

    Notes
    -----
    At gamma = 9/10 the optimal policy is (1, 0) and ``V* = (1825/43, 1550/43)``.

    References
    ----------
    Chadès, Chapron, Cros, Garcia, Sabbadin, "MDPtoolbox: a multi-platform toolbox to solve
    stochastic dynamic programming problems", Ecography 37, 2014 (function ``mdp_example_small``
    / ``mdptoolbox.example.small``).

    Examples
    --------
    >>> import tabular_mirror as tm
    >>> [str(v) for v in tm.solve(small(exact=True)).values]
    ['1825/43', '1550/43']
    """
    values = [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]]
    transitions = np.array(
        [[[scalar(p, exact, "P") for p in row] for row in state] for state in values],
        dtype=object if exact else float,
    )
    rewards = np.array(
        [[scalar(r, exact, "r") for r in row] for row in [[5, 10], [-1, 2]]],
        dtype=object if exact else float,
    )
    return _finish(transitions, rewards, discount, exact)


def forest(
    S: int = 3,
    r1: Any = 4,
    r2: Any = 2,
    p: Any = "1/10",
    *,
    discount: Any = "9/10",
    sparse: bool | None = None,
    exact: bool = False,
) -> FiniteMDP:
    """Forest management (MDPtoolbox ``forest(S, r1, r2, p)``), at any number of states.

    State s is the age class of the forest. Action 0 = wait: a fire resets to state 0 with
    probability p, otherwise the forest ages to ``min(s + 1, S - 1)``. Action 1 = cut: back
    to state 0. Rewards: ``r[S-1, 0] = r1`` (waiting in the oldest state), ``r[s, 1] = 1`` for
    ``0 < s < S-1``, ``r[S-1, 1] = r2``, all others 0.

    Parameters
    ----------
    S : int
        Number of states, >= 2.
    r1, r2 : number
        Rewards of waiting and of cutting in the oldest state.
    p : number
        Fire probability.
    discount : float, Fraction or str
        gamma.
    sparse : bool, optional
        Return CSR (S*2, S) transitions (built directly, two entries per wait row and one per
        cut row; O(S) time and memory). Float mode only. By default (None) sparse when a dense
        P would exceed 128 MiB (S > 2896), dense otherwise.
    exact : bool
        Exact Fractions (dense).

    Returns
    -------
    FiniteMDP
        S states, 2 actions.

    Raises
    ------
    InvalidParameterError
        S < 2 or p outside [0, 1].
    ExactnessError
        ``sparse=True`` with ``exact=True``.

    Notes
    -----
    Defaults at gamma = 9/10: optimal policy all-wait, ``V* = (6561/250, 7371/250, 8371/250)``.

    References
    ----------
    Chadès et al., MDPtoolbox, Ecography 37, 2014 (``mdp_example_forest``).

    Examples
    --------
    >>> forest(S=10**6, discount=0.95, sparse=True).transitions.nnz
    3000000
    """
    S = positive_int(S, "S", minimum=2)
    exact = flag(exact, "exact")
    sparse = storage("forest", S, 2, sparse, exact, can_be_sparse=True, nonzeros_per_row=1.5)
    p = probability(p, exact, "p")
    one = ONE if exact else 1.0
    rewards = zeros((S, 2), exact)
    rewards[S - 1, 0] = scalar(r1, exact, "r1")
    rewards[1 : S - 1, 1] = one
    rewards[S - 1, 1] = scalar(r2, exact, "r2")
    states = np.arange(S)
    older = np.minimum(states + 1, S - 1)
    if sparse:
        indices = np.zeros(3 * S, dtype=np.int64)
        indices[1::3] = older
        data = np.empty(3 * S)
        data[0::3], data[1::3], data[2::3] = p, 1.0 - p, 1.0
        indptr = np.empty(2 * S + 1, dtype=np.int64)
        indptr[0] = 0
        indptr[1::2] = 3 * states + 2
        indptr[2::2] = 3 * states + 3
        transitions = sp.csr_matrix((data, indices, indptr), shape=(2 * S, S))
        transitions.has_sorted_indices = True
    else:
        transitions = zeros((S, 2, S), exact)
        transitions[states, 0, 0] = p
        transitions[states, 0, older] += one - p
        transitions[states, 1, 0] = one
    return _finish(transitions, rewards, discount, exact)


def riverswim(n: int = 6, *, discount: Any = "9/10", exact: bool = False) -> FiniteMDP:
    """RiverSwim, the variant of Osband, Russo, Van Roy (2013).

    Action 0 = left (downstream) moves deterministically to ``max(s - 1, 0)``. Action 1 =
    right (swim upstream): at s = 0 stay w.p. 2/5, move right w.p. 3/5; at 0 < s < n-1 move
    left w.p. 1/20, stay w.p. 3/5, move right w.p. 7/20; at s = n-1 move left w.p. 2/5, stay
    w.p. 3/5. Rewards ``r[0, left] = 5/1000``, ``r[n-1, right] = 1``, all else 0.

    Parameters
    ----------
    n : int
        Number of states, >= 2 (6 in the paper).
    discount : float, Fraction or str
        gamma.
    exact : bool
        Exact Fractions.

    Returns
    -------
    FiniteMDP
        n states, 2 actions.

    Notes
    -----
    Implementations disagree (Strens 2000 has other probabilities and rewards); this is the
    one of Osband et al. At gamma = 9/10 the optimal policy is always-right and
    ``V*[0] = 425329947/326053817``.

    References
    ----------
    Osband, Russo, Van Roy, "(More) Efficient Reinforcement Learning via Posterior
    Sampling", NeurIPS 2013, Figure 2.
    """
    n = positive_int(n, "n", minimum=2)
    storage("riverswim", n, 2, False, bool(exact), can_be_sparse=False)

    def q(text: str) -> Any:
        return scalar(text, exact, "probability")

    states = np.arange(n)
    transitions = zeros((n, 2, n), exact)
    transitions[states, 0, np.maximum(states - 1, 0)] = q("1")
    middle = states[1:-1]
    transitions[middle, 1, middle - 1] = q("1/20")
    transitions[middle, 1, middle] = q("3/5")
    transitions[middle, 1, middle + 1] = q("7/20")
    transitions[0, 1, 0], transitions[0, 1, 1] = q("2/5"), q("3/5")
    transitions[n - 1, 1, n - 2], transitions[n - 1, 1, n - 1] = q("2/5"), q("3/5")
    rewards = zeros((n, 2), exact)
    rewards[0, 0] = q("5/1000")
    rewards[n - 1, 1] = q("1")
    return _finish(transitions, rewards, discount, exact)


def value_polytope(*, discount: Any = "9/10", exact: bool = False) -> FiniteMDP:
    """The two-state MDP of the value-polytope paper (Dadashi et al. 2019, Fig. 2(d) left).

    ``P[0, 0] = (7/10, 3/10)``, ``P[0, 1] = (99/100, 1/100)``, ``P[1, 0] = (2/10, 8/10)``,
    ``P[1, 1] = (99/100, 1/100)``, ``r = [[-45/100, -1/10], [1/2, 1/2]]``. Every policy's
    value (V(0), V(1)) lies in a polytope, the natural canvas for policy trajectories.

    Parameters
    ----------
    discount : float, Fraction or str
        gamma, 9/10 in the paper.
    exact : bool
        Exact Fractions.

    Returns
    -------
    FiniteMDP
        2 states, 2 actions. At gamma = 9/10: optimal policy (0, 0), ``V* = (9/55, 104/55)``.

    References
    ----------
    Dadashi, Taïga, Le Roux, Schuurmans, Bellemare, "The Value Function Polytope in
    Reinforcement Learning", ICML 2019, Figure 2(d).
    """
    table = [
        [["7/10", "3/10"], ["99/100", "1/100"]],
        [["2/10", "8/10"], ["99/100", "1/100"]],
    ]
    transitions = np.array(
        [[[scalar(p, exact, "P") for p in row] for row in state] for state in table],
        dtype=object if exact else float,
    )
    rewards = np.array(
        [[scalar(r, exact, "r") for r in row] for row in [["-45/100", "-1/10"], ["1/2", "1/2"]]],
        dtype=object if exact else float,
    )
    return _finish(transitions, rewards, discount, exact)


def chain(
    n: int = 5,
    p: Any = 1,
    *,
    discount: Any = "9/10",
    left_reward: Any = 0,
    right_reward: Any = 1,
    exact: bool = False,
) -> FiniteMDP:
    """A chain of n states with actions left and right that succeed with probability p.

    Action 0 = left moves to ``max(s - 1, 0)`` and action 1 = right to ``min(s + 1, n - 1)``
    with probability p; otherwise (probability 1 - p) the agent stays. Taking left in state 0
    gives ``left_reward``, taking right in state n-1 gives ``right_reward``; all else 0.
    d is uniform.

    Parameters
    ----------
    n : int
        Number of states, >= 1.
    p : number
        Success probability of a move.
    discount : float, Fraction or str
        gamma.
    left_reward, right_reward : number
        Rewards at the two ends.
    exact : bool
        Exact Fractions.

    Returns
    -------
    FiniteMDP
        n states, 2 actions.

    Examples
    --------
    >>> import tabular_mirror as tm
    >>> tm.solve(chain(3, "1/2", exact=True)).values[-1]
    Fraction(10, 1)
    """
    n = positive_int(n, "n")
    storage("chain", n, 2, False, bool(exact), can_be_sparse=False)
    p = probability(p, exact, "p")
    one = ONE if exact else 1.0
    states = np.arange(n)
    transitions = zeros((n, 2, n), exact)
    for action, target in enumerate((np.maximum(states - 1, 0), np.minimum(states + 1, n - 1))):
        transitions[states, action, target] = p
        transitions[states, action, states] += one - p
    rewards = zeros((n, 2), exact)
    rewards[0, 0] = scalar(left_reward, exact, "left_reward")
    rewards[n - 1, 1] = scalar(right_reward, exact, "right_reward")
    return _finish(transitions, rewards, discount, exact)


def bandit(
    means: Sequence[Any] = ("1/10", "1/2", "9/10"),
    *,
    discount: Any = 0,
    exact: bool = False,
) -> FiniteMDP:
    """A multi-armed bandit: one state, one action per arm, reward ``means[a]``.

    The state loops on itself; with the default ``discount = 0`` the value of an arm is its
    mean reward (a one-step episode), with gamma > 0 it is ``means[a] / (1 - gamma)``.

    Parameters
    ----------
    means : sequence of numbers
        Expected reward of each arm (at least one).
    discount : float, Fraction or str
        gamma; 0 by default.
    exact : bool
        Exact Fractions.

    Returns
    -------
    FiniteMDP
        1 state, ``len(means)`` actions.
    """
    if isinstance(means, str) or not isinstance(means, Sequence | np.ndarray):
        raise InvalidParameterError(
            f"means = {means!r} is not a sequence of numbers (one per arm; in a spec, arms "
            "joined by '|': bandit:means=1/10|1/2|9/10)"
        )
    means = list(means)
    if not means:
        raise InvalidParameterError("means is empty, expected at least one arm")
    transitions = zeros((1, len(means), 1), exact)
    transitions[...] = ONE if exact else 1.0
    rewards = np.array(
        [[scalar(m, exact, f"means[{i}]") for i, m in enumerate(means)]],
        dtype=object if exact else float,
    )
    return _finish(transitions, rewards, discount, exact)


def deep_sea(
    N: int = 10,
    *,
    seed: Any = 0,
    deterministic: bool = True,
    move_cost: Any = "1/100",
    discount: Any = "99/100",
    exact: bool = False,
) -> FiniteMDP:
    """DeepSea(N) of bsuite: an N x N exploration problem with a randomised action map.

    The agent starts at the top-left cell (row 0, column 0) and descends one row per step;
    after N steps the episode ends (a zero-reward absorbing terminal state). In each cell one
    of the two actions is "right" (column + 1, clamped) and the other "left" (column - 1,
    clamped); which one is drawn per cell, i.i.d. fair coins from ``seed``. Going right costs
    ``move_cost / N``; going right in the last column pays +1, which is only possible at the
    bottom-right corner. In the stochastic variant (``deterministic=False``) a right move
    fails w.p. 1/N (the column stays).

    Parameters
    ----------
    N : int
        Size, >= 1.
    seed : int or numpy.random.Generator
        Draws the action map (``rng.integers(0, 2, (N, N))``; bsuite uses its own RNG, so the
        map differs from bsuite's for the same seed).
    deterministic : bool
        bsuite's ``deterministic`` (default True).
    move_cost : number
        bsuite's ``unscaled_move_cost``, 1/100.
    discount : float, Fraction or str
        gamma (the problem is episodic; 99/100 by default).
    exact : bool
        Exact Fractions.

    Returns
    -------
    FiniteMDP
        ``N*N + 1`` states (cell ``N*row + column``, terminal ``N*N``), 2 actions. Most
        cells (column > row) are unreachable.

    Notes
    -----
    bsuite's mean-zero reward noise at the ends of the chain (stochastic variant) does not
    change expected rewards and is omitted. The optimal undiscounted return is
    ``1 - move_cost`` (always right, deterministic variant).

    References
    ----------
    Osband et al., "Behaviour Suite for Reinforcement Learning", ICLR 2020 (deep_sea);
    Osband, Van Roy, Russo, Wen, "Deep Exploration via Randomized Value Functions", JMLR 2019.
    """
    N = positive_int(N, "N")
    storage("deep_sea", N * N + 1, 2, False, bool(exact), can_be_sparse=False)
    mapping = rng(seed).integers(0, 2, size=(N, N)).ravel()
    one = ONE if exact else 1.0
    fail = one / N if not deterministic else 0 * one
    cost = scalar(move_cost, exact, "move_cost") / N
    cells = np.arange(N * N)
    row, column = divmod(cells, N)
    terminal = N * N
    below = row + 1

    def cell(next_row: np.ndarray, next_column: np.ndarray) -> np.ndarray:
        return np.where(next_row == N, terminal, next_row * N + next_column)

    transitions = zeros((N * N + 1, 2, N * N + 1), exact)
    rewards = zeros((N * N + 1, 2), exact)
    transitions[terminal, :, terminal] = one
    for action in (0, 1):
        right = mapping == action
        go_left = cell(below, np.maximum(column - 1, 0))
        go_right = cell(below, np.minimum(column + 1, N - 1))
        stay = cell(below, column)
        left_cells, right_cells = cells[~right], cells[right]
        transitions[left_cells, action, go_left[~right]] = one
        transitions[right_cells, action, go_right[right]] = one - fail
        transitions[right_cells, action, stay[right]] += fail
        rewards[right_cells, action] = -cost + np.where(column[right] == N - 1, one, 0 * one)
    initial = zeros((N * N + 1,), exact)
    initial[0] = one
    return _finish(transitions, rewards, discount, exact, initial)
