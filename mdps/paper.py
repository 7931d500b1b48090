"""The three environments of the mirror-learning experiments (Kuba et al. 2022, §7, Figure 3).

The paper describes the environments in a few words; every modelling choice made here to turn
them into finite MDPs is stated in the docstrings. The common ones:

- a *terminal* state is a zero-reward absorbing state (every action loops on it with reward 0),
  so the discounted return of an episode is the value of the MDP;
- the initial distribution d is uniform over the non-terminal states (the paper uses d uniform
  over states; an episode cannot start in a terminal state).

References
----------
Kuba, Schroeder de Witt, Foerster, "Mirror Learning: A Unifying Framework of Policy
Optimisation", ICML 2022, section 7 and Figure 3.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tabular_mirror.model import FiniteMDP

from ._common import ONE, flag, positive_int, scalar, storage, zeros
from .gridworlds import gridworld

__all__ = ["paper_bandit", "paper_chain", "paper_grid", "PAPER_BANDIT_REWARDS", "PAPER_GRID_MAP"]

#: Rewards of the five actions of the single-step game.
PAPER_BANDIT_REWARDS = (10, 0, 1, 0, 5)

#: The grid world: G goal (terminal), B bomb (terminal, -100), # barrier.
PAPER_GRID_MAP = ("....G", ".####", ".....", ".....", "B....")


def paper_bandit(
    *, discount: Any = 0, terminal_state: bool = False, exact: bool = False
) -> FiniteMDP:
    """The single-step game: one state, five actions with rewards 10, 0, 1, 0, 5.

    Modelling choice: the episode "ends after one step". By default this is modelled with the
    single state looping on itself and ``discount = 0``, so the return of action a is exactly
    ``r[a]`` and the MDP has the paper's one state (d, beta and nu trivially uniform). With
    ``terminal_state=True`` the step instead leads to a second, zero-reward absorbing state;
    then any discount gives the same return, and d is the point mass on the playing state.

    Parameters
    ----------
    discount : float, Fraction or str
        gamma; 0 by default. With ``terminal_state=False`` and gamma > 0 the game is repeated
        forever (values scale by 1 / (1 - gamma)).
    terminal_state : bool
        Model termination with an explicit absorbing state (2 states) instead of gamma = 0.
    exact : bool
        Exact Fractions.

    Returns
    -------
    FiniteMDP
        1 (or 2) states, 5 actions. Optimal return 10 (action 0).

    Examples
    --------
    >>> import tabular_mirror as tm
    >>> tm.solve(paper_bandit(exact=True)).expected_return
    Fraction(10, 1)
    """
    num_states = 2 if terminal_state else 1
    transitions = zeros((num_states, 5, num_states), exact)
    transitions[:, :, -1] = ONE if exact else 1.0
    rewards = zeros((num_states, 5), exact)
    rewards[0] = [scalar(r, exact, "reward") for r in PAPER_BANDIT_REWARDS]
    initial = zeros((num_states,), exact)
    initial[0] = ONE if exact else 1.0
    return FiniteMDP(
        transitions, rewards, scalar(discount, exact, "discount"), initial, exact=exact
    )


def paper_chain(*, discount: Any = "999/1000", length: int = 5, exact: bool = False) -> FiniteMDP:
    """The "tabular game": five states in a line, actions left / stay / right.

    States 0..4 are the line (0 left-most), state 5 is the terminal state (zero-reward,
    absorbing). Actions 0 left, 1 stay, 2 right, deterministic. Left gives +1/10 and moves
    one step left; stay gives 0; right gives -1/10 and moves one step right. Left from state 0
    gives -10 and terminates; right from state 4 gives +10 and terminates. d is uniform over
    the five line states.

    Parameters
    ----------
    discount : float, Fraction or str
        gamma = 0.999 in the paper.
    length : int
        Number of line states (5 in the paper).
    exact : bool
        Exact Fractions.

    Returns
    -------
    FiniteMDP
        ``length + 1`` states, 3 actions.

    Notes
    -----
    The optimal policy is "always right": ``V*(4 - k) = -(1/10) (1 - g^k) / (1 - g) + 10 g^k``
    with g = gamma, i.e. about 10, 9.89, 9.78, 9.67, 9.56; the optimal return (d uniform) is
    about 9.78, the paper's "about 9.7".
    """
    exact = flag(exact, "exact")
    n = positive_int(length, "length")
    storage("paper_chain", n + 1, 3, False, exact, can_be_sparse=False)
    terminal = n
    states = np.arange(n)
    one, tenth = (ONE, ONE / 10) if exact else (1.0, 0.1)
    transitions = zeros((n + 1, 3, n + 1), exact)
    rewards = zeros((n + 1, 3), exact)
    left = np.where(states == 0, terminal, states - 1)
    right = np.where(states == n - 1, terminal, states + 1)
    transitions[states, 0, left] = one
    transitions[states, 1, states] = one
    transitions[states, 2, right] = one
    transitions[terminal, :, terminal] = one
    rewards[:n, 0] = tenth
    rewards[:n, 2] = -tenth
    rewards[0, 0] = -10 * one
    rewards[n - 1, 2] = 10 * one
    initial = zeros((n + 1,), exact)
    initial[:n] = one / n
    return FiniteMDP(
        transitions, rewards, scalar(discount, exact, "discount"), initial, exact=exact
    )


def paper_grid(
    *, discount: Any = "999/1000", layout: Any = PAPER_GRID_MAP, exact: bool = False
) -> FiniteMDP:
    """The 5 x 5 grid world with a barrier row, a goal and a bomb.

    The grid built (row 0 at the top)::

        . . . . G      G goal, top-right, terminal
        . # # # #      # barrier: row 1, columns 1-4 (a gap at column 0)
        . . . . .
        . . . . .
        B . . . .      B bomb, bottom-left, terminal

    Actions 0 north, 1 east, 2 south, 3 west, deterministic; a move into the edge or the
    barrier leaves the agent in place. Every move costs -1 (including the move into the goal),
    except the move into the bomb, which gives -100. Goal and bomb are terminal (zero-reward
    absorbing). States are the 21 non-barrier cells in row-major order (goal 4, bomb 16);
    d is uniform over the 19 non-terminal cells.

    Parameters
    ----------
    discount : float, Fraction or str
        gamma = 0.999 in the paper.
    layout : sequence of str
        Another map with the same symbols (``.``, ``#``, ``G``, ``B``).
    exact : bool
        Exact Fractions.

    Returns
    -------
    FiniteMDP
        21 states, 4 actions.

    Notes
    -----
    The text says "a barrier row" without placing it, and the authors' transition code has
    operator-precedence slips, so the figure's grid may differ. This grid is the text's: the
    barrier is the row below the goal with its single gap at the far (bomb) side, so that
    agents below must walk to the left edge, past the bomb, to get out. Its optimal return
    (d uniform over non-terminal cells) is about -7.44, the paper's "about -7". With the
    barrier in the middle row instead (``"....G", ".....", ".####", ".....", "B...."``) the
    optimal return is about -6.19.
    """
    return gridworld(
        layout,
        discount=discount,
        actions="NESW",
        step_reward=-1,
        cell_rewards={"B": -100},
        terminal="GB",
        exact=exact,
    )
