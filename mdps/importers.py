"""Imports from gymnasium toy-text environments and the MDPtoolbox array conventions.

- :func:`from_gymnasium` reads ``env.unwrapped.P[s][a]``, a list of
  ``(probability, next_state, reward, terminated)`` (FrozenLake, CliffWalking, Taxi).
- :func:`from_mdptoolbox` / :func:`to_mdptoolbox` convert between a
  :class:`~tabular_mirror.FiniteMDP` and the arrays of pymdptoolbox (transitions (A, S, S),
  or a list of A sparse (S, S) matrices) and MATLAB / R MDPtoolbox ([S, S, A]).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from tabular_mirror.errors import InvalidMDPError, InvalidParameterError, MissingDependencyError
from tabular_mirror.model import FiniteMDP

from ._common import scalar

__all__ = ["from_gymnasium", "from_mdptoolbox", "to_mdptoolbox", "LAYOUTS"]

#: Array layouts: "python" (pymdptoolbox, P (A, S, S), R (A, S, S)) and "matlab"
#: (MATLAB / R MDPtoolbox, P [S, S, A], R [S, S, A]).
LAYOUTS = ("python", "matlab")


def from_gymnasium(env: Any, *, discount: Any = "99/100", sparse: bool = False) -> FiniteMDP:
    """The finite MDP of a gymnasium toy-text environment (its ``unwrapped.P`` table).

    Each ``P[s][a]`` is a list of ``(probability, next_state, reward, terminated)``. Entries
    with the same next state are merged (probabilities added); rewards are reduced to the
    expected reward ``r[s, a] = sum p * reward``; every state reached by a transition with
    ``terminated=True`` becomes terminal: a zero-reward absorbing state (its own table rows,
    which gymnasium never uses, are replaced). d is ``unwrapped.initial_state_distrib`` when
    the environment has one, else uniform.

    Parameters
    ----------
    env : gymnasium.Env
        An environment (wrapped or not) whose ``unwrapped`` has ``P``, ``observation_space``
        and ``action_space`` of type Discrete.
    discount : float, Fraction or str
        gamma (gymnasium environments are undiscounted; 99/100 by default).
    sparse : bool
        CSR (S*A, S) transitions instead of dense (S, A, S).

    Returns
    -------
    FiniteMDP
        Float mode (gymnasium probabilities are floats; convert with ``to_exact``).

    Raises
    ------
    MissingDependencyError
        gymnasium is not installed.
    InvalidParameterError
        The environment has no ``P`` table or no Discrete spaces.
    InvalidMDPError
        A table row does not sum to 1.

    Notes
    -----
    Usage: ``from_gymnasium(gymnasium.make("FrozenLake-v1"), discount=0.99)``.
    """
    try:
        import gymnasium  # noqa: F401  (checks the optional dependency is present)
    except ImportError as error:
        raise MissingDependencyError("gymnasium", "mdps.from_gymnasium", extra="gym") from error
    base = getattr(env, "unwrapped", env)
    table = getattr(base, "P", None)
    if table is None:
        raise InvalidParameterError(
            f"env ({type(base).__name__}) has no transition table P; from_gymnasium reads "
            "toy-text environments such as FrozenLake, CliffWalking and Taxi"
        )
    try:
        S, A = int(base.observation_space.n), int(base.action_space.n)
    except AttributeError as error:
        raise InvalidParameterError(
            "env needs Discrete observation and action spaces (with attribute n)"
        ) from error
    rows, columns, probabilities, rewards, terminated = [], [], [], [], []
    for s in range(S):
        for a in range(A):
            for probability, next_state, reward, done in table[s][a]:
                rows.append(s * A + a)
                columns.append(int(next_state))
                probabilities.append(float(probability))
                rewards.append(float(reward))
                terminated.append(bool(done))
    rows_array = np.array(rows, dtype=np.int64)
    columns_array = np.array(columns, dtype=np.int64)
    p = np.array(probabilities)
    expected = np.bincount(rows_array, weights=p * np.array(rewards), minlength=S * A)
    terminal = np.unique(columns_array[np.array(terminated, dtype=bool)])
    keep = ~np.isin(rows_array // A, terminal)
    loop_rows = (terminal[:, None] * A + np.arange(A)).ravel()
    matrix = sp.coo_matrix(
        (
            np.concatenate([p[keep], np.ones(len(loop_rows))]),
            (
                np.concatenate([rows_array[keep], loop_rows]),
                np.concatenate([columns_array[keep], np.repeat(terminal, A)]),
            ),
        ),
        shape=(S * A, S),
    ).tocsr()  # sums duplicate next states
    matrix.sum_duplicates()
    expected = expected.reshape(S, A)
    expected[terminal] = 0.0
    initial = getattr(base, "initial_state_distrib", None)
    transitions = matrix if sparse else matrix.toarray().reshape(S, A, S)
    return FiniteMDP(
        transitions,
        expected,
        scalar(discount, False, "discount"),
        None if initial is None else np.asarray(initial, dtype=float),
        exact=False,
    )


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise InvalidParameterError(f"layout = {layout!r} is unknown; valid: {', '.join(LAYOUTS)}")


def from_mdptoolbox(
    P: Any, R: Any, discount: Any, *, layout: str = "python", exact: bool | None = None
) -> FiniteMDP:
    """A FiniteMDP from MDPtoolbox arrays.

    Parameters
    ----------
    P : array_like or sequence of sparse matrices
        Transitions: ``layout="python"`` (pymdptoolbox) (A, S, S) with ``P[a, s, s']``, or a
        sequence of A (S, S) scipy.sparse matrices; ``layout="matlab"`` [S, S, A] with
        ``P[s, s', a]``.
    R : array_like
        Rewards: (S, A) ``R[s, a]``; (S,) ``R[s]`` for every action; or per transition,
        (A, S, S) (python) / [S, S, A] (matlab), reduced to expected rewards.
    discount : float, Fraction or str
        gamma.
    layout : {"python", "matlab"}
        Axis convention of P and of per-transition R.
    exact : bool, optional
        As for :class:`~tabular_mirror.FiniteMDP` (exact iff the arrays hold Fractions or
        strings by default).

    Returns
    -------
    FiniteMDP
        Sparse when P is a sequence of sparse matrices, dense otherwise.

    Raises
    ------
    InvalidParameterError
        Unknown layout.
    InvalidMDPError
        Shapes that do not match.

    References
    ----------
    Chadès et al., "MDPtoolbox", Ecography 37, 2014; Cordwell, pymdptoolbox documentation.
    """
    _check_layout(layout)
    sparse_list = isinstance(P, list | tuple) and bool(P) and all(sp.issparse(m) for m in P)
    if exact is None:
        exact = (not sparse_list and _holds_objects(P)) or _holds_objects(R)
    if sparse_list:
        if layout != "python":
            raise InvalidParameterError("a list of sparse matrices is the python layout (A, S, S)")
        A, S = len(P), P[0].shape[0]
        stacked = sp.vstack([sp.csr_matrix(m, dtype=float) for m in P], format="csr")
        # stacked row a*S + s -> FiniteMDP row s*A + a
        order = (np.arange(A)[None, :] * S + np.arange(S)[:, None]).ravel()
        transitions: Any = stacked[order]
        dense_p = None
    else:
        array = np.asarray(P, dtype=object if _holds_objects(P) else float)
        if array.ndim != 3:
            raise InvalidMDPError(f"P has shape {array.shape}, expected 3 axes")
        dense_p = array.transpose(1, 0, 2) if layout == "python" else array.transpose(0, 2, 1)
        S, A = dense_p.shape[0], dense_p.shape[1]
        transitions = dense_p
    rewards = np.asarray(R, dtype=object if _holds_objects(R) else float)
    if rewards.ndim == 1:
        if rewards.shape != (S,):
            raise InvalidMDPError(f"R has shape {rewards.shape}, expected (S,) = ({S},)")
        rewards = np.repeat(rewards[:, None], A, axis=1)
    elif rewards.ndim == 3:
        rewards = rewards.transpose(1, 0, 2) if layout == "python" else rewards.transpose(0, 2, 1)
        if dense_p is None:
            flat = rewards.reshape(S * A, S)
            rewards = np.asarray(transitions.multiply(flat).sum(axis=1)).reshape(S, A)
    elif rewards.ndim != 2:
        raise InvalidMDPError(f"R has shape {rewards.shape}, expected (S, A), (S,) or 3 axes")
    return FiniteMDP(transitions, rewards, scalar(discount, exact, "discount"), exact=exact)


def _holds_objects(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype == object or value.dtype.kind == "U"
    try:
        return np.asarray(value).dtype.kind in "OU"
    except ValueError:
        return True


def to_mdptoolbox(mdp: FiniteMDP, *, layout: str = "python") -> tuple[Any, np.ndarray]:
    """MDPtoolbox arrays ``(P, R)`` of an MDP (d is not represented; discount is separate).

    Parameters
    ----------
    mdp : FiniteMDP
    layout : {"python", "matlab"}
        "python": P (A, S, S) (a list of A CSR (S, S) matrices for a sparse MDP), R (S, A).
        "matlab": P [S, S, A] (dense), R [S, A].

    Returns
    -------
    P, R
        Float arrays for a float MDP, object arrays of Fractions for an exact one.

    Examples
    --------
    >>> from mdps.textbook import small
    >>> P, R = to_mdptoolbox(small())
    >>> P.shape, R.shape
    ((2, 2, 2), (2, 2))
    """
    _check_layout(layout)
    A = mdp.num_actions
    rewards = np.array(mdp.rewards)
    if mdp.is_sparse and layout == "python":
        matrix = mdp.transition_matrix
        return [sp.csr_matrix(matrix[a::A]) for a in range(A)], rewards
    dense = np.array(mdp.to_dense().transitions)
    if layout == "python":
        return dense.transpose(1, 0, 2).copy(), rewards
    return dense.transpose(0, 2, 1).copy(), rewards
