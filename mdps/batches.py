"""Batches of MDPs for :mod:`tabular_mirror.batch`: generated directly, vectorised over members.

- :func:`garnet_batch`        B Garnet(S, A, b) MDPs: the law of :func:`mdps.garnet` (b distinct
  successors per state-action by Floyd's sampling, Dirichlet(1) weights, i.i.d. rewards), drawn
  for all B S A rows at once.
- :func:`random_dense_batch`  B random dense MDPs, the law of :func:`mdps.random_dense_mdp`.
- :func:`make_batch`          any catalogue spec: the two generators above vectorised; the
  seeded exact generators member by member (converted to float); a deterministic family
  (``riverswim:S=6``, ``paper-chain``, ...) repeated B times (to run it from B initial
  policies).

Every batch records its provenance (``{"spec", "seed", "size"}``) so that member b of
``make_batch(spec, size, seed=seed)`` can be rebuilt from a witness. Member b of a vectorised
batch is *not* ``garnet(..., seed=b)``: the batch draws one stream for all members (that is
what makes it fast); rebuild a member with ``make_batch(...).mdp(b)`` or from its arrays.

Examples
--------
>>> batch = garnet_batch(1000, 5, 3, 2, seed=0)
>>> batch.size, batch.num_states, batch.num_actions, int((batch.transitions[0] > 0).sum())
(1000, 5, 3, 30)
>>> make_batch("garnet:S=5,A=3,b=2", 1000, seed=0).transitions.tolist() == (
...     batch.transitions.tolist())
True
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from tabular_mirror.batch import MDPBatch
from tabular_mirror.errors import InvalidParameterError

from ._common import positive_int, rng
from .generators import _dirichlet_spacings, _distinct_columns, _rewards, _sizes

__all__ = ["garnet_batch", "random_dense_batch", "make_batch", "BATCH_GENERATORS"]


def _discounts(discount: Any, size: int) -> np.ndarray:
    try:
        values = np.broadcast_to(np.asarray(discount, dtype=float), (size,))
    except (TypeError, ValueError):
        from fractions import Fraction

        try:
            values = np.full(size, float(Fraction(str(discount))))
        except (ValueError, ZeroDivisionError):
            raise InvalidParameterError(f"discount = {discount!r} is not a number") from None
    return np.array(values)


def garnet_batch(
    size: int,
    S: int,
    A: int,
    b: int,
    *,
    seed: Any,
    discount: Any = 0.9,
    reward_law: str = "uniform",
) -> MDPBatch:
    """B Garnet(S, A, b) MDPs drawn at once (the law of :func:`mdps.garnet`).

    Parameters
    ----------
    size : int
        B, the number of MDPs.
    S, A, b : int
        States, actions, branching factor (1 <= b <= S).
    seed : int, SeedSequence or Generator
    discount : float or (B,) array
        gamma of every member (or of each).
    reward_law : {"uniform", "normal"}

    Returns
    -------
    MDPBatch
        Dense (B, S, A, S); d uniform. Draw order: successors of all B S A rows, their
        weights, then the (B, S, A) rewards.
    """
    size = positive_int(size, "size")
    S, A, b = _sizes(S, A, b)
    generator = rng(seed)
    rows = size * S * A
    columns = _distinct_columns(generator, rows, S, b)
    weights = _dirichlet_spacings(generator, rows, b)
    rewards = _rewards(generator, size * S, A, reward_law).reshape(size, S, A)
    transitions = np.zeros((rows, S))
    np.put_along_axis(transitions, columns, weights, axis=1)
    return MDPBatch(
        transitions.reshape(size, S, A, S),
        rewards,
        _discounts(discount, size),
        provenance={
            "spec": f"garnet:S={S},A={A},b={b},reward_law={reward_law}",
            "size": size,
            "seed": _seed_text(seed),
        },
    )


def random_dense_batch(
    size: int,
    S: int,
    A: int,
    *,
    seed: Any,
    discount: Any = 0.9,
    reward_law: str = "uniform",
) -> MDPBatch:
    """B random dense MDPs (every row Dirichlet(1) over all S states), drawn at once."""
    size = positive_int(size, "size")
    S, A = positive_int(S, "S"), positive_int(A, "A")
    generator = rng(seed)
    draws = generator.standard_exponential((size, S, A, S))
    transitions = draws / draws.sum(axis=3, keepdims=True)
    rewards = _rewards(generator, size * S, A, reward_law).reshape(size, S, A)
    return MDPBatch(
        transitions,
        rewards,
        _discounts(discount, size),
        provenance={
            "spec": f"random-dense:S={S},A={A},reward_law={reward_law}",
            "size": size,
            "seed": _seed_text(seed),
        },
    )


#: Catalogue names with a vectorised batch generator.
BATCH_GENERATORS = {"garnet": garnet_batch, "random-dense": random_dense_batch}


def _seed_text(seed: Any) -> Any:
    return int(seed) if isinstance(seed, int | np.integer) else repr(seed)


def make_batch(spec: str, size: int, *, seed: Any = 0, discount: Any = None) -> MDPBatch:
    """A batch of ``size`` MDPs from a catalogue spec (``mdps.make`` grammar).

    Parameters
    ----------
    spec : str
        ``name:key=value,...`` without ``seed`` (given separately). ``garnet`` and
        ``random-dense`` are drawn vectorised; other seeded generators member by member (member
        b from ``numpy.random.SeedSequence(seed).spawn(size)[b]``); deterministic entries are
        repeated.
    size : int
        B.
    seed : int
        The batch's seed.
    discount : float or (B,) array, optional
        Overrides the spec's discount.

    Returns
    -------
    MDPBatch
        Float; provenance ``{"spec", "seed", "size"}``.

    Raises
    ------
    InvalidParameterError
        An unknown name or parameter (as :func:`mdps.make`), ``seed`` inside the spec.
    """
    from .registry import REGISTRY, available, parse_spec

    size = positive_int(size, "size")
    name, parameters = parse_spec(spec)
    if name not in REGISTRY:
        raise InvalidParameterError(f"unknown MDP {name!r}; valid names: {', '.join(available())}")
    if "seed" in parameters:
        raise InvalidParameterError(
            f"spec {spec!r} contains seed; a batch takes seed= separately (one per batch)"
        )
    if discount is not None and np.ndim(discount) == 0:
        parameters["discount"] = discount
    provenance = {"spec": spec, "seed": _seed_text(seed), "size": size}
    if name in BATCH_GENERATORS:
        builder = BATCH_GENERATORS[name]
        accepted = inspect.signature(builder).parameters
        unknown = sorted(set(parameters) - set(accepted) - {"sparse"})
        if unknown:
            raise InvalidParameterError(
                f"{name} has no parameter {', '.join(map(repr, unknown))}; valid parameters: "
                f"{', '.join(p for p in accepted if p not in ('size', 'seed'))}"
            )
        parameters.pop("sparse", None)
        batch = builder(size, seed=seed, **parameters)
        batch = MDPBatch(
            batch.transitions, batch.rewards, batch.discount, batch.initial, provenance
        )
        return (
            batch if discount is None or np.ndim(discount) == 0 else batch.with_discount(discount)
        )
    from .registry import make

    builder = REGISTRY[name]
    text = ",".join(f"{key}={_text(value)}" for key, value in parameters.items())
    base = f"{name}:{text}" if text else name
    if "seed" in inspect.signature(builder).parameters:
        children = np.random.SeedSequence(int(seed)).spawn(size)
        mdps = []
        for child in children:  # cold path: exact generators, converted to float
            member = builder(**parameters, seed=np.random.default_rng(child))
            mdps.append(member)
        batch = MDPBatch.from_mdps(mdps, provenance)
    else:
        batch = MDPBatch.repeat(make(base), size, provenance)
    return batch if discount is None or np.ndim(discount) == 0 else batch.with_discount(discount)


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return "|".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
