"""Imports from gymnasium toy-text environments and the MDPtoolbox array conventions.

- :func:`from_gymnasium` reads ``env.unwrapped.P[s][a]``, a list of
  ``(probability, next_state, reward, terminated)`` (FrozenLake, CliffWalking, Taxi).
- :func:`from_mdptoolbox` / :func:`to_mdptoolbox` convert between a
  :class:`~tabular_mirror.FiniteMDP` and the arrays of pymdptoolbox (transitions (A, S, S),
  or a list of A sparse (S, S) matrices) and MATLAB / R MDPtoolbox ([S, S, A]).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from tabular_mirror._exact import float_to_fraction_array
from tabular_mirror.errors import InvalidMDPError, InvalidParameterError, MissingDependencyError
from tabular_mirror.model import FiniteMDP

from ._common import scalar

__all__ = ["from_gymnasium", "from_mdptoolbox", "from_quantecon", "to_mdptoolbox", "LAYOUTS"]

#: Array layouts: "python" (pymdptoolbox, P (A, S, S), R (A, S, S)) and "matlab"
#: (MATLAB / R MDPtoolbox, P [S, S, A], R [S, S, A]).
LAYOUTS = ("python", "matlab")


def from_gymnasium(
    env: Any,
    *,
    discount: Any = "99/100",
    sparse: bool = False,
    exact: bool = False,
    limit_denominator: int = 10**6,
) -> FiniteMDP:
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
        CSR (S*A, S) transitions instead of dense (S, A, S) (float mode only).
    exact : bool
        An exact MDP: the discount read exactly (``"99/100"`` stays 99/100, never the binary
        0.99), gymnasium's float probabilities and rewards read as the nearest fractions with
        denominator <= ``limit_denominator`` (FrozenLake's 0.333... is 1/3).
    limit_denominator : int
        The largest denominator of those fractions (exact mode); rows must then sum to 1.

    Returns
    -------
    FiniteMDP
        Float mode by default (a discount given as a string or Fraction is remembered, so
        ``to_exact()`` keeps it exact); exact with ``exact=True``.

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
    if exact:
        if sparse:
            raise InvalidParameterError("exact=True builds a dense MDP; drop sparse=True")

        def fractions(values: Any) -> np.ndarray:
            return float_to_fraction_array(np.asarray(values, dtype=float), limit_denominator)

        return FiniteMDP(
            fractions(matrix.toarray()).reshape(S, A, S),
            fractions(expected),
            scalar(discount, True, "discount"),
            None if initial is None else fractions(initial),
            exact=True,
        )
    transitions = matrix if sparse else matrix.toarray().reshape(S, A, S)
    return FiniteMDP(
        transitions,
        expected,
        discount if isinstance(discount, str | Fraction) else scalar(discount, False, "discount"),
        None if initial is None else np.asarray(initial, dtype=float),
        exact=False,
    )


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise InvalidParameterError(f"layout = {layout!r} is unknown; valid: {', '.join(LAYOUTS)}")


def _describe(value: Any) -> str:
    """What a transitions or rewards argument is, in words (for error messages)."""
    if sp.issparse(value):
        return f"a scipy.sparse matrix of shape {value.shape}"
    items = None
    if isinstance(value, list | tuple):
        kind = f"a {type(value).__name__} of {len(value)}"
        items = list(value)
    elif isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 1:
        kind = f"an object array of {len(value)}"
        items = list(value)
    if items is not None:
        shapes = sorted({tuple(np.shape(m)) for m in items}, key=str)
        sparse = sum(sp.issparse(m) for m in items)
        what = "scipy.sparse matrices" if sparse == len(items) else "entries"
        if 0 < sparse < len(items):
            what = f"entries ({sparse} scipy.sparse)"
        shown = " and ".join(str(shape) for shape in shapes[:3])
        return f"{kind} {what} of shape {shown}"
    try:
        array = np.asarray(value)
    except ValueError:
        return f"a ragged {type(value).__name__}"
    return f"an array of shape {array.shape}"


def _matrices(value: Any) -> list | None:
    """The per-action matrices of a list, tuple or 1-D object array of 2-D matrices (the
    pymdptoolbox form), else None."""
    if sp.issparse(value):
        return None
    if isinstance(value, list | tuple):
        items = list(value)
    elif isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 1:
        items = list(value)
    else:
        return None
    if items and all(sp.issparse(m) or np.ndim(m) == 2 for m in items):
        return items
    return None


def _dense(matrix: Any, exact: bool) -> np.ndarray:
    if sp.issparse(matrix):
        return matrix.toarray()
    return np.asarray(matrix, dtype=object if exact else float)


def from_mdptoolbox(
    P: Any, R: Any, discount: Any, *, layout: str = "python", exact: bool | None = None
) -> FiniteMDP:
    """A FiniteMDP from MDPtoolbox arrays, in every form pymdptoolbox and MDPtoolbox accept.

    Parameters
    ----------
    P : array_like or sequence of matrices
        Transitions: ``layout="python"`` (pymdptoolbox) an (A, S, S) array with ``P[a, s, s']``,
        or a list, tuple or 1-D object array of A (S, S) matrices (dense or scipy.sparse);
        ``layout="matlab"`` an [S, S, A] array with ``P[s, s', a]``.
    R : array_like or sequence of matrices
        Rewards: (S, A) ``R[s, a]``; (S,) ``R[s]`` for every action; per transition, an
        (A, S, S) array (python) / [S, S, A] (matlab), or a list, tuple or 1-D object array of
        A (S, S) matrices ``R[a][s, s']`` (dense or sparse), reduced to expected rewards
        ``r[s, a] = sum_s' P[a][s, s'] R[a][s, s']``.
    discount : float, Fraction or str
        gamma (1 is accepted for :func:`tabular_mirror.backward_induction` and
        :func:`tabular_mirror.average_reward`).
    layout : {"python", "matlab"}
        Axis convention of array P and of per-transition array R.
    exact : bool, optional
        As for :class:`~tabular_mirror.FiniteMDP` (exact iff the arrays hold Fractions or
        strings by default).

    Returns
    -------
    FiniteMDP
        Sparse when P holds scipy.sparse matrices, dense otherwise.

    Raises
    ------
    InvalidParameterError
        Unknown layout.
    InvalidMDPError
        Shapes that do not match; the message describes what was received.

    References
    ----------
    Chades et al., "MDPtoolbox", Ecography 37, 2014; Cordwell, pymdptoolbox documentation
    (``mdptoolbox.util.check``).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> P = [sp.csr_matrix([[0.5, 0.5], [0.8, 0.2]]), sp.csr_matrix([[0, 1], [0.1, 0.9]])]
    >>> R = [sp.csr_matrix([[5, 5], [-1, -1]]), sp.csr_matrix([[10, 10], [2, 2]])]
    >>> from_mdptoolbox(P, R, 0.9).rewards.tolist()
    [[5.0, 10.0], [-1.0, 2.0]]
    """
    _check_layout(layout)
    p_matrices = _matrices(P)
    r_matrices = _matrices(R)
    if exact is None:
        exact = (p_matrices is None and _holds_objects(P)) or (
            r_matrices is None and _holds_objects(R)
        )
        if p_matrices is not None and not any(sp.issparse(m) for m in p_matrices):
            exact = exact or any(_holds_objects(m) for m in p_matrices)
    if p_matrices is not None:
        if layout != "python":
            raise InvalidParameterError(
                f"P is {_describe(P)}: a sequence of per-action matrices is the python layout "
                "(A, S, S); pass layout='python'"
            )
        A, S = len(p_matrices), np.shape(p_matrices[0])[0]
        shapes = {tuple(np.shape(m)) for m in p_matrices}
        if shapes != {(S, S)}:
            raise InvalidMDPError(
                f"P is {_describe(P)}: expected A matrices of one shape (S, S), one per action"
            )
        if any(sp.issparse(m) for m in p_matrices):
            if exact:
                raise InvalidMDPError(
                    f"P is {_describe(P)}: scipy.sparse matrices cannot hold exact Fractions"
                )
            stacked = sp.vstack([sp.csr_matrix(m, dtype=float) for m in p_matrices], format="csr")
            # stacked row a*S + s -> FiniteMDP row s*A + a
            order = (np.arange(A)[None, :] * S + np.arange(S)[:, None]).ravel()
            transitions: Any = stacked[order]
            per_action = [sp.csr_matrix(m, dtype=float) for m in p_matrices]
        else:
            stacked_dense = np.stack([_dense(m, exact) for m in p_matrices])
            transitions = stacked_dense.transpose(1, 0, 2)
            per_action = list(stacked_dense)
    else:
        try:
            array = np.asarray(P, dtype=object if (exact or _holds_objects(P)) else float)
        except (TypeError, ValueError) as error:
            raise InvalidMDPError(
                f"P is {_describe(P)} that could not be read as an array: {error}"
            ) from error
        if array.ndim != 3:
            raise InvalidMDPError(
                f"P is {_describe(P)}: expected an (A, S, S) array (python layout), an "
                "[S, S, A] array (matlab layout), or a sequence of A (S, S) matrices"
            )
        transitions = array.transpose(1, 0, 2) if layout == "python" else array.transpose(0, 2, 1)
        S, A = transitions.shape[0], transitions.shape[1]
        per_action = [transitions[:, a, :] for a in range(A)]
    rewards = _mdptoolbox_rewards(R, r_matrices, per_action, S, A, layout, exact)
    return FiniteMDP(transitions, rewards, scalar(discount, exact, "discount"), exact=exact)


def _mdptoolbox_rewards(
    R: Any,
    r_matrices: list | None,
    per_action: list,
    S: int,
    A: int,
    layout: str,
    exact: bool,
) -> Any:
    """Expected rewards (S, A) (or per transition (S, A, S) for a dense P) from any R form."""
    if r_matrices is not None:
        shapes = {tuple(np.shape(m)) for m in r_matrices}
        if len(r_matrices) != A or shapes != {(S, S)}:
            raise InvalidMDPError(
                f"R is {_describe(R)}, but P has A = {A} actions and S = {S} states: expected "
                f"one (S, S) = ({S}, {S}) reward matrix R[a][s, s'] per action"
            )
        columns = []
        for transition, reward in zip(per_action, r_matrices, strict=True):
            if sp.issparse(transition) or sp.issparse(reward):
                product = sp.csr_matrix(transition).multiply(sp.csr_matrix(reward, dtype=float))
                columns.append(np.asarray(product.sum(axis=1)).ravel())
            else:
                columns.append((np.asarray(transition) * _dense(reward, exact)).sum(axis=1))
        return np.stack(columns, axis=1)
    try:
        rewards = np.asarray(R, dtype=object if (exact or _holds_objects(R)) else float)
    except (TypeError, ValueError) as error:
        raise InvalidMDPError(
            f"R is {_describe(R)} that could not be read as an array: {error}"
        ) from error
    if rewards.ndim == 1:
        if rewards.shape != (S,):
            raise InvalidMDPError(
                f"R is {_describe(R)}: a vector of rewards needs S = {S} entries (one per state)"
            )
        return np.repeat(rewards[:, None], A, axis=1)
    if rewards.ndim == 2:
        if rewards.shape != (S, A):
            hint = (
                "; it looks like (A, S): pass its transpose (R.T)"
                if rewards.shape == (A, S)
                else ""
            )
            raise InvalidMDPError(
                f"R is {_describe(R)}, expected (S, A) = ({S}, {A}), (S,) = ({S},) or per "
                f"transition (A, S, S){hint}"
            )
        return rewards
    if rewards.ndim == 3:
        expected = (A, S, S) if layout == "python" else (S, S, A)
        if rewards.shape != expected:
            raise InvalidMDPError(
                f"R is {_describe(R)}, expected per-transition rewards of shape {expected} "
                f"({layout} layout)"
            )
        rewards = rewards.transpose(1, 0, 2) if layout == "python" else rewards.transpose(0, 2, 1)
        if sp.issparse(per_action[0]):
            columns = [
                np.asarray(per_action[a].multiply(rewards[:, a, :]).sum(axis=1)).ravel()
                for a in range(A)
            ]
            return np.stack(columns, axis=1)
        return rewards
    raise InvalidMDPError(
        f"R is {_describe(R)}, expected (S, A), (S,), (A, S, S) or A (S, S) matrices"
    )


def from_quantecon(
    R: Any,
    Q: Any = None,
    beta: Any = None,
    s_indices: Any = None,
    a_indices: Any = None,
    *,
    exact: bool | None = None,
) -> FiniteMDP:
    """A FiniteMDP from QuantEcon's ``DiscreteDP`` data, or from a ``DiscreteDP`` itself.

    Two forms, as in QuantEcon: the product form ``R`` (S, A) (-inf marks an infeasible
    action), ``Q`` (S, A, S); and the state-action-pair form ``R`` (L,), ``Q`` (L, S) dense or
    scipy.sparse, with ``s_indices`` and ``a_indices`` (L,) listing the feasible pairs (see
    :meth:`~tabular_mirror.FiniteMDP.from_state_action_pairs`).

    Parameters
    ----------
    R : array_like, or a quantecon.markov.DiscreteDP
        Rewards (or the whole problem, whose R, Q, beta and indices are read).
    Q : array_like or scipy.sparse matrix
        Transition probabilities.
    beta : float, Fraction or str
        The discount; 1 is accepted for finite-horizon and average-reward use.
    s_indices, a_indices : array_like of int, optional
        The feasible pairs of the state-action-pair form.
    exact : bool, optional
        As for :class:`~tabular_mirror.FiniteMDP`.

    Returns
    -------
    FiniteMDP
        With the action mask of the infeasible pairs; sparse for the pair form in float mode.

    Examples
    --------
    QuantEcon's example (Puterman 1994, section 3.1), both forms:

    >>> product = from_quantecon([[5, 10], [-1, -float("inf")]],
    ...                          [[[0.5, 0.5], [0, 1]], [[0, 1], [0.5, 0.5]]], 0.95)
    >>> pairs = from_quantecon([5, 10, -1], [[0.5, 0.5], [0, 1], [0, 1]], 0.95,
    ...                        [0, 0, 1], [0, 1, 0])
    >>> product == pairs.to_dense(), product.action_mask.tolist()
    (True, [[True, True], [True, False]])
    """
    if Q is None and hasattr(R, "R") and hasattr(R, "Q") and hasattr(R, "beta"):
        problem = R
        R, Q, beta = problem.R, problem.Q, problem.beta
        if getattr(problem, "_sa_pair", False):
            s_indices, a_indices = problem.s_indices, problem.a_indices
    if Q is None or beta is None:
        raise InvalidParameterError(
            "from_quantecon needs R, Q and beta (or one quantecon DiscreteDP)"
        )
    if (s_indices is None) != (a_indices is None):
        raise InvalidParameterError("s_indices and a_indices come together (the pair form)")
    if s_indices is not None:
        return FiniteMDP.from_state_action_pairs(s_indices, a_indices, Q, R, beta, exact=exact)
    if sp.issparse(Q) or np.ndim(Q) != 3:
        raise InvalidMDPError(
            f"Q is {_describe(Q)}: the product form needs an (S, A, S) array; a 2-D or sparse "
            "Q is the state-action-pair form and needs s_indices and a_indices"
        )
    return FiniteMDP(Q, R, beta, exact=exact)


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
    if mdp.has_infeasible_actions:
        raise InvalidParameterError(
            "the MDP has infeasible actions, which MDPtoolbox cannot represent (every action is "
            "available in every state there); QuantEcon's -inf rewards can: keep the MDP, or "
            "use mdp.rewards with -inf where ~mdp.action_mask"
        )
    A = mdp.num_actions
    rewards = np.array(mdp.rewards)
    if mdp.is_sparse and layout == "python":
        matrix = mdp.transition_matrix
        return [sp.csr_matrix(matrix[a::A]) for a in range(A)], rewards
    dense = np.array(mdp.to_dense().transitions)
    if layout == "python":
        return dense.transpose(1, 0, 2).copy(), rewards
    return dense.transpose(0, 2, 1).copy(), rewards
