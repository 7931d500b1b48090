"""Hypothesis strategies for finite MDPs, policies and distributions.

Every strategy builds *valid* objects (a :class:`tabular_mirror.FiniteMDP` never fails its own
validation) and shrinks toward small, degenerate, round cases: one state, one action,
deterministic transitions to state 0, zero rewards, discount 1/2, deterministic policies
choosing action 0. Size and mode parameters accept either a value or a hypothesis strategy
(``num_states=3`` or ``num_states=st.integers(2, 6)``).

Exact objects hold ``fractions.Fraction`` entries with small denominators (probability rows
are integer weights in 0..4 divided by their sum; rewards have denominators at most 4), so
exact linear algebra on them stays fast. Float objects are built from the same integer
weights (round numbers, so shrinking reaches them) or, sometimes, from arbitrary floats in
[0, 1]; their rows sum to 1 within a few ulps.

Strategies
----------
mdps                 a FiniteMDP (float or exact, dense or sparse)
policies             a policy pi[s, a] for a given MDP (interior, on faces, or either)
mdps_and_policies    an (mdp, policy) pair
distributions        a probability vector of a given size
discounts            a discount gamma in [0, 1) from a short list of round values

Examples
--------
>>> import tabular_mirror as tm
>>> from hypothesis import given, settings
>>> @settings(max_examples=5)
... @given(mdps_and_policies(exact=True, num_states=2))
... def test_visitation_mass(pair):
...     mdp, policy = pair
...     assert sum(tm.evaluate(mdp, policy).visitation) == 1 / (1 - mdp.discount)
>>> test_visitation_mass()
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from tabular_mirror import FiniteMDP

__all__ = ["discounts", "distributions", "mdps", "mdps_and_policies", "policies"]

#: Largest integer weight of a probability row before normalisation (small denominators).
MAX_WEIGHT = 4

#: Largest reward denominator of exact MDPs.
MAX_REWARD_DENOMINATOR = 4

#: Default sizes of :func:`mdps`: S in 1..5, A in 1..4 (shrinking to 1).
DEFAULT_NUM_STATES = st.integers(1, 5)
DEFAULT_NUM_ACTIONS = st.integers(1, 4)

#: Discounts drawn by default, first (the shrink target) to last.
DEFAULT_DISCOUNTS = ("1/2", "0", "1/4", "3/4", "9/10", "99/100")


def _strategy(value: Any) -> SearchStrategy:
    """A strategy as is; any other value as ``st.just(value)``."""
    return value if isinstance(value, SearchStrategy) else st.just(value)


def _as_fraction(value: Any) -> Fraction:
    """A discount or bound as a Fraction; floats by their decimal repr (0.9 -> 9/10)."""
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(value)


def discounts(exact: bool = False, values: Any = DEFAULT_DISCOUNTS) -> SearchStrategy:
    """A discount gamma in [0, 1) drawn from ``values`` (shrinks toward the first one).

    Parameters
    ----------
    exact : bool
        Return Fractions (True) or floats (False).
    values : sequence of str, Fraction or float
        The candidates; the default ``("1/2", "0", "1/4", "3/4", "9/10", "99/100")``.
    """
    fractions = [_as_fraction(v) for v in values]
    bad = [f for f in fractions if not 0 <= f < 1]
    if bad:
        raise InvalidArgument(f"discounts must lie in [0, 1), got {bad}")
    return st.sampled_from(fractions).map(lambda f: f if exact else float(f))


@st.composite
def _weights(
    draw: Any, size: int, exact: bool, positive: bool, support: int | None, face: bool
) -> list:
    """A probability vector of length ``size`` from integer (or float) weights.

    ``positive``: every entry > 0. ``support``: at most this many nonzero entries.
    ``face``: at least one zero entry (when size >= 2). Shrinks to [1, 0, ..., 0].
    """
    if positive:
        chosen = list(range(size))
    else:
        largest = size if support is None else max(1, min(size, support))
        if face and size >= 2:
            largest = min(largest, size - 1)
        chosen = draw(
            st.lists(st.integers(0, size - 1), min_size=1, max_size=largest, unique=True).map(
                sorted
            )
        )
    low = 1 if positive else 0
    integer = st.integers(low, MAX_WEIGHT)
    if exact:
        entry = integer
    else:
        unit = st.floats(0.0, 1.0, allow_subnormal=False)
        if positive:
            unit = st.floats(1e-3, 1.0)
        entry = st.one_of(integer.map(float), unit)
    raw = [draw(entry) for _ in chosen]
    raw[0] = raw[0] if raw[0] > 0 else (1 if exact else 1.0)  # a positive total
    if exact:
        total = sum(raw)
        values = [Fraction(w, total) for w in raw]
        vector = [Fraction(0)] * size
    else:
        total = float(sum(raw))
        values = [w / total for w in raw]
        vector = [0.0] * size
    for index, value in zip(chosen, values, strict=True):
        vector[index] = value
    return vector


@st.composite
def distributions(draw: Any, size: Any, positive: Any = False, exact: Any = False) -> np.ndarray:
    """A probability vector of length ``size``: Fractions when ``exact``, else float64.

    Parameters
    ----------
    size : int or strategy of int
        The length (>= 1).
    positive : bool or strategy of bool
        Every entry strictly positive (a full-support distribution).
    exact : bool or strategy of bool
        An object array of Fractions summing to exactly 1, or floats summing to 1 within ulps.

    Shrinks toward the point mass on index 0 (or, when positive, the uniform distribution).
    """
    size = draw(_strategy(size))
    if size < 1:
        raise InvalidArgument(f"size = {size} must be >= 1")
    exact = draw(_strategy(exact))
    vector = draw(_weights(size, exact, draw(_strategy(positive)), None, False))
    return np.array(vector, dtype=object if exact else float)


def _rewards(exact: bool, low: Fraction, high: Fraction) -> SearchStrategy:
    if exact:
        return st.fractions(low, high, max_denominator=MAX_REWARD_DENOMINATOR)
    integers = st.integers(int(np.ceil(low)), int(np.floor(high))).map(float)
    floats = st.floats(float(low), float(high), allow_nan=False, allow_subnormal=False)
    if np.ceil(low) > np.floor(high):  # no integer in the range
        return floats
    return st.one_of(integers, floats)


@st.composite
def mdps(
    draw: Any,
    num_states: Any = DEFAULT_NUM_STATES,
    num_actions: Any = DEFAULT_NUM_ACTIONS,
    discount: Any = None,
    exact: Any = False,
    sparse: Any = False,
    support: Any = None,
    reward_range: Any = (-1, 1),
    initial: Any = "uniform",
) -> FiniteMDP:
    """A valid :class:`tabular_mirror.FiniteMDP`.

    Parameters
    ----------
    num_states, num_actions : int or strategy of int
        S >= 1 and A >= 1 (default 1..5 and 1..4, shrinking to 1).
    discount : float, Fraction, str, or strategy; optional
        gamma in [0, 1); default :func:`discounts` (1/2, 0, 1/4, 3/4, 9/10, 99/100). Floats are
        read by their decimal repr in exact mode (0.9 becomes 9/10).
    exact : bool or strategy of bool
        Fraction (True) or float64 (False) arithmetic.
    sparse : bool or strategy of bool
        Store P as scipy.sparse CSR (S*A, S). Only for float MDPs: ``sparse=True`` with
        ``exact=True`` is an error; a *drawn* True is ignored for an exact MDP.
    support : int, strategy of int, or None
        At most this many next states with positive probability per (s, a) (1 gives
        deterministic transitions); None allows up to S.
    reward_range : (low, high) or strategy of such pairs
        Bounds of r[s, a] (default (-1, 1)); exact rewards have denominators <= 4.
    initial : "uniform", "positive", "any", or strategy of these
        d: the MDP's uniform default, a random full-support distribution, or a random
        distribution that may have zeros.

    Shrinks toward S = A = 1, transitions to state 0, zero rewards and discount 1/2.
    """
    if exact is True and sparse is True:
        raise InvalidArgument("an exact MDP cannot be sparse (scipy.sparse holds floats)")
    num_states = draw(_strategy(num_states))
    num_actions = draw(_strategy(num_actions))
    if num_states < 1 or num_actions < 1:
        raise InvalidArgument(f"need S >= 1 and A >= 1, got S = {num_states}, A = {num_actions}")
    exact = bool(draw(_strategy(exact)))
    sparse = bool(draw(_strategy(sparse))) and not exact
    limit = draw(_strategy(support))
    low, high = (_as_fraction(v) for v in draw(_strategy(reward_range)))
    if low > high:
        raise InvalidArgument(f"reward_range = ({low}, {high}) is empty")
    gamma = _as_fraction(draw(discounts() if discount is None else _strategy(discount)))
    gamma = gamma if exact else float(gamma)

    row = _weights(num_states, exact, False, limit, False)
    transitions = [[draw(row) for _ in range(num_actions)] for _ in range(num_states)]
    reward = _rewards(exact, low, high)
    rewards = [[draw(reward) for _ in range(num_actions)] for _ in range(num_states)]

    mode = draw(_strategy(initial))
    if mode == "uniform":
        start = None
    elif mode in ("positive", "any"):
        start = draw(distributions(num_states, positive=mode == "positive", exact=exact))
    else:
        raise InvalidArgument(f"initial = {mode!r}; valid choices: 'uniform', 'positive', 'any'")

    dtype = object if exact else float
    transitions = np.array(transitions, dtype=dtype)
    rewards = np.array(rewards, dtype=dtype)
    if sparse:
        transitions = sp.csr_matrix(transitions.reshape(num_states * num_actions, num_states))
    return FiniteMDP(transitions, rewards, gamma, start, exact=exact)


@st.composite
def policies(draw: Any, mdp: Any, interior: Any = None) -> np.ndarray:
    """A policy pi[s, a] for ``mdp`` (Fractions for an exact MDP, float64 otherwise).

    Parameters
    ----------
    mdp : FiniteMDP or strategy of FiniteMDP
    interior : bool, strategy of bool, or None
        True: every pi[s, a] > 0 (the interior of Pi). False: on the boundary, every row with
        A >= 2 has a zero entry (faces of the simplex, including deterministic rows). None:
        either, shrinking to the deterministic policy choosing action 0.
    """
    mdp = draw(_strategy(mdp))
    inside = draw(_strategy(interior))
    rows = [
        draw(
            _weights(
                mdp.num_actions,
                mdp.is_exact,
                positive=inside is True,
                support=None,
                face=inside is False,
            )
        )
        for _ in range(mdp.num_states)
    ]
    return np.array(rows, dtype=object if mdp.is_exact else float)


@st.composite
def mdps_and_policies(draw: Any, interior: Any = None, **mdp_options: Any) -> tuple:
    """An ``(mdp, policy)`` pair: ``mdps(**mdp_options)`` and ``policies(mdp, interior)``."""
    mdp = draw(mdps(**mdp_options))
    return mdp, draw(policies(mdp, interior=interior))
