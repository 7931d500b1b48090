"""Random MDPs: Garnet, dense Dirichlet MDPs and their exact rational counterparts.

Every generator takes ``seed``: an int, a ``numpy.random.SeedSequence`` or a
``numpy.random.Generator`` (which is advanced). The same seed gives the same MDP, and the
sparse and dense outputs of one seed are the same MDP.

Transition rows are Dirichlet(1, ..., 1) over their support: the spacings of sorted uniform
cut points (equivalently normalised exponentials). Normalising independent Uniform(0, 1)
draws is *not* Dirichlet(1) and is avoided. The exact generators use the discrete analogue:
the spacings of b - 1 distinct cut points drawn uniformly from the grid {1/q, ..., (q-1)/q},
i.e. a uniform composition of q into b positive parts, divided by q.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from tabular_mirror.errors import InvalidParameterError
from tabular_mirror.model import FiniteMDP

from ._common import fractions_over, positive_int, rng, scalar, storage

__all__ = [
    "garnet",
    "random_dense_mdp",
    "exact_garnet",
    "random_exact_mdp",
    "REWARD_LAWS",
]

#: Reward laws: i.i.d. Uniform[0, 1) or standard normal r[s, a].
REWARD_LAWS = ("uniform", "normal")


def _distinct_columns(generator: np.random.Generator, rows: int, S: int, b: int) -> np.ndarray:
    """(rows, b) sorted column indices, each row a uniform b-subset of range(S).

    Floyd's algorithm vectorised over rows: for j = S-b, ..., S-1 draw t in [0, j]; take t
    unless a previous pick of the row equals t, then take j. Every b-subset is equally likely.
    """
    chosen = np.empty((rows, b), dtype=np.int64)
    for k, j in enumerate(range(S - b, S)):
        draw = generator.integers(0, j + 1, size=rows)
        taken = (chosen[:, :k] == draw[:, None]).any(axis=1)
        chosen[:, k] = np.where(taken, j, draw)
    chosen.sort(axis=1)
    return chosen


def _dirichlet_spacings(generator: np.random.Generator, rows: int, b: int) -> np.ndarray:
    """(rows, b) rows distributed Dirichlet(1, ..., 1): spacings of b-1 sorted uniforms."""
    cuts = np.sort(generator.random((rows, b - 1)), axis=1)
    return np.diff(cuts, axis=1, prepend=0.0, append=1.0)


def _rewards(generator: np.random.Generator, S: int, A: int, reward_law: str) -> np.ndarray:
    if reward_law == "uniform":
        return generator.random((S, A))
    if reward_law == "normal":
        return generator.standard_normal((S, A))
    raise InvalidParameterError(
        f"reward_law = {reward_law!r} is unknown; valid: {', '.join(REWARD_LAWS)}"
    )


def _integer_pair(value: Any, name: str) -> tuple[int, int]:
    """Two integers (lo, hi) from a pair; anything else raises InvalidParameterError."""
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence | np.ndarray)
        or len(value) != 2
        or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_) for v in value
        )
    ):
        raise InvalidParameterError(
            f"{name} = {value!r} is not a pair of integers (lo, hi) (in a spec: {name}=lo|hi)"
        )
    return int(value[0]), int(value[1])


def _sizes(S: Any, A: Any, b: Any) -> tuple[int, int, int]:
    S, A, b = positive_int(S, "S"), positive_int(A, "A"), positive_int(b, "b")
    if b > S:
        raise InvalidParameterError(f"b = {b} exceeds S = {S}: at most S distinct next states")
    return S, A, b


def garnet(
    S: int,
    A: int,
    b: int,
    *,
    seed: Any,
    discount: Any = "9/10",
    sparse: bool | None = None,
    reward_law: str = "uniform",
) -> FiniteMDP:
    """A Garnet(S, A, b) MDP: b random successors per state-action, Dirichlet(1) weights.

    For each (s, a) the b distinct next states are a uniform b-subset of the states (chosen
    without replacement) and their probabilities are Dirichlet(1, ..., 1). Rewards r[s, a]
    are i.i.d. Uniform[0, 1) (``reward_law="uniform"``) or standard normal (``"normal"``).

    Parameters
    ----------
    S, A : int
        Numbers of states and actions.
    b : int
        Branching factor, 1 <= b <= S.
    seed : int, SeedSequence or numpy.random.Generator
        Randomness; the same seed gives the same MDP for sparse and dense output.
    discount : float, Fraction or str
        gamma.
    sparse : bool, optional
        CSR (S*A, S) transitions with b entries per row (built directly; O(S A b)). By
        default (None) sparse when a dense P would exceed 128 MiB (S A S > 1.7e7), else dense.
    reward_law : {"uniform", "normal"}
        Law of the rewards.

    Returns
    -------
    FiniteMDP
        Float mode; d uniform.

    Notes
    -----
    Vectorised over all S*A rows (Floyd's subset sampling runs b vector steps): S = 10^5,
    A = 4, b = 5 takes a fraction of a second. Draw order: successors, weights, rewards.

    References
    ----------
    Archibald, McKinnon, Thomas, "On the generation of Markov decision processes", Journal of
    the Operational Research Society 46, 1995; Bhatnagar, Sutton, Ghavamzadeh, Lee, "Natural
    actor-critic algorithms", Automatica 45, 2009 (the name Garnet).

    Examples
    --------
    >>> mdp = garnet(50, 4, 3, seed=0, sparse=True)
    >>> mdp.transitions.nnz
    600
    """
    S, A, b = _sizes(S, A, b)
    sparse = storage("garnet", S, A, sparse, False, can_be_sparse=True, nonzeros_per_row=b)
    generator = rng(seed)
    rows = S * A
    columns = _distinct_columns(generator, rows, S, b)
    weights = _dirichlet_spacings(generator, rows, b)
    rewards = _rewards(generator, S, A, reward_law)
    if sparse:
        transitions = sp.csr_matrix(
            (weights.ravel(), columns.ravel(), np.arange(0, rows * b + 1, b)), shape=(rows, S)
        )
    else:
        transitions = np.zeros((rows, S))
        np.put_along_axis(transitions, columns, weights, axis=1)
        transitions = transitions.reshape(S, A, S)
    return FiniteMDP(transitions, rewards, scalar(discount, False, "discount"), exact=False)


def random_dense_mdp(
    S: int,
    A: int,
    *,
    seed: Any,
    discount: Any = "9/10",
    reward_law: str = "uniform",
) -> FiniteMDP:
    """A random MDP whose every row P[s, a, :] is Dirichlet(1, ..., 1) over all S states.

    Parameters
    ----------
    S, A : int
        Numbers of states and actions.
    seed : int, SeedSequence or numpy.random.Generator
        Randomness.
    discount : float, Fraction or str
        gamma.
    reward_law : {"uniform", "normal"}
        Law of the i.i.d. rewards r[s, a].

    Returns
    -------
    FiniteMDP
        Float, dense; d uniform.

    Notes
    -----
    Rows are normalised i.i.d. standard exponentials, which is exactly Dirichlet(1).
    """
    S, A = positive_int(S, "S"), positive_int(A, "A")
    storage("random_dense_mdp", S, A, False, False, can_be_sparse=False)
    generator = rng(seed)
    draws = generator.standard_exponential((S, A, S))
    transitions = draws / draws.sum(axis=2, keepdims=True)
    rewards = _rewards(generator, S, A, reward_law)
    return FiniteMDP(transitions, rewards, scalar(discount, False, "discount"), exact=False)


def _compositions(generator: np.random.Generator, rows: int, b: int, q: int) -> np.ndarray:
    """(rows, b) integer parts >= 1 summing to q, each composition equally likely."""
    if b == 1:
        return np.full((rows, 1), q, dtype=np.int64)
    # b-1 distinct cut points in 1..q-1: a uniform (b-1)-subset of range(q-1), shifted by 1
    cuts = _distinct_columns(generator, rows, q - 1, b - 1) + 1
    return np.diff(cuts, axis=1, prepend=0, append=q)


def exact_garnet(
    S: int,
    A: int,
    b: int,
    *,
    seed: Any,
    discount: Any = "9/10",
    denominator: int = 12,
    reward_denominator: int = 4,
    reward_range: tuple[int, int] = (0, 1),
) -> FiniteMDP:
    """An exact Garnet: b distinct successors with rational probabilities of small denominator.

    The successors are chosen as in :func:`garnet`. Probabilities are a uniform composition
    of ``denominator`` into b positive parts, divided by ``denominator`` (the spacings of b-1
    distinct grid cut points: the discrete Dirichlet(1)); every probability is a positive
    multiple of 1/denominator, so the support has exactly b states. Rewards are uniform on
    the grid ``{lo, lo + 1/k, ..., hi}`` with k = ``reward_denominator``.

    Parameters
    ----------
    S, A, b : int
        Sizes; 1 <= b <= min(S, denominator).
    seed : int, SeedSequence or numpy.random.Generator
        Randomness.
    discount : Fraction, int or str
        gamma (exact).
    denominator : int
        q, the common denominator of the probabilities.
    reward_denominator : int
        k, the denominator of the rewards.
    reward_range : (int, int)
        lo and hi of the reward grid.

    Returns
    -------
    FiniteMDP
        Exact (Fractions), dense; d uniform.

    Examples
    --------
    >>> mdp = exact_garnet(3, 2, 2, seed=1)
    >>> mdp.is_exact, all(12 % p.denominator == 0 for p in mdp.transitions.ravel())
    (True, True)
    """
    S, A, b = _sizes(S, A, b)
    storage("exact_garnet", S, A, False, True, can_be_sparse=False)
    q = positive_int(denominator, "denominator")
    k = positive_int(reward_denominator, "reward_denominator")
    if b > q:
        raise InvalidParameterError(
            f"b = {b} exceeds denominator = {q}: b positive multiples of 1/{q} cannot sum to 1"
        )
    lo, hi = _integer_pair(reward_range, "reward_range")
    if hi < lo:
        raise InvalidParameterError(f"reward_range = {reward_range} has hi < lo")
    generator = rng(seed)
    rows = S * A
    columns = _distinct_columns(generator, rows, S, b)
    parts = _compositions(generator, rows, b, q)
    numerators = np.zeros((rows, S), dtype=np.int64)
    np.put_along_axis(numerators, columns, parts, axis=1)
    transitions = fractions_over(numerators.reshape(S, A, S), q)
    reward_numerators = generator.integers(lo * k, hi * k + 1, size=(S, A))
    rewards = fractions_over(reward_numerators, k)
    return FiniteMDP(transitions, rewards, scalar(discount, True, "discount"), exact=True)


def random_exact_mdp(
    S: int,
    A: int,
    *,
    seed: Any,
    discount: Any = "9/10",
    denominator: int | None = None,
    reward_denominator: int = 4,
    reward_range: tuple[int, int] = (0, 1),
) -> FiniteMDP:
    """An exact random MDP with full support: :func:`exact_garnet` with b = S.

    ``denominator`` defaults to ``max(2 * S, 4)`` so that every row has all S states in its
    support with positive probability.

    Examples
    --------
    >>> import tabular_mirror as tm
    >>> mdp = random_exact_mdp(3, 2, seed=0)
    >>> tm.solve(mdp).exact
    True
    """
    S = positive_int(S, "S")
    q = max(2 * S, 4) if denominator is None else denominator
    return exact_garnet(
        S,
        A,
        S,
        seed=seed,
        discount=discount,
        denominator=q,
        reward_denominator=reward_denominator,
        reward_range=reward_range,
    )
