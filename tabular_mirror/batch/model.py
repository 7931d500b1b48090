"""A batch of B same-shaped float MDPs: the stacked arrays (B, S, A, S), (B, S, A), (B,), (B, S).

:class:`MDPBatch` is to the batched engine what :class:`~tabular_mirror.FiniteMDP` is to the
per-MDP path: validated once at construction (vectorised over the batch), immutable, and able
to hand out any member as a :class:`~tabular_mirror.FiniteMDP` (``batch.mdp(i)``) so a result
can be replayed on the per-MDP path. Float mode only: exact arithmetic does not vectorise.

Examples
--------
>>> import tabular_mirror as tm
>>> from tabular_mirror.batch import MDPBatch
>>> small = tm.FiniteMDP([[[0.5, 0.5], [0, 1]], [[0.8, 0.2], [0.1, 0.9]]], [[5, 10], [-1, 2]], 0.9)
>>> batch = MDPBatch.from_mdps([small, small.with_discount(0.5)])
>>> batch.size, batch.num_states, batch.num_actions, batch.discount.tolist()
(2, 2, 2, [0.9, 0.5])
>>> batch.mdp(1) == small.with_discount(0.5)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import DEFAULT_ROW_TOLERANCE
from ..errors import InvalidMDPError, InvalidParameterError
from ..model import FiniteMDP, check_mdp

__all__ = ["MDPBatch"]


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=float)
    array.flags.writeable = False
    return array


def _check_batchable(mdp: FiniteMDP, name: str) -> None:
    """The batched engine covers discounted MDPs in which every action is feasible."""
    if mdp.has_infeasible_actions:
        raise InvalidParameterError(
            f"{name} has infeasible actions (action_mask); the batched engine takes MDPs in "
            "which every action is feasible: use the per-MDP functions (tm.evaluate, "
            "tm.mirror_step, tm.mirror_learning) for it"
        )
    if not mdp.is_discounted:
        raise InvalidParameterError(
            f"{name} has discount = {mdp.discount}; the batched engine needs gamma < 1"
        )


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


@dataclass(frozen=True, eq=False)
class MDPBatch:
    """B finite discounted MDPs with the same numbers of states and actions, stacked.

    Parameters
    ----------
    transitions : (B, S, A, S) array_like
        P[b, s, a, s'], each row P[b, s, a, :] a distribution.
    rewards : (B, S, A) array_like
        r[b, s, a].
    discount : float or (B,) array_like
        gamma of each MDP, in [0, 1).
    initial : (S,) or (B, S) array_like, optional
        d of each MDP; uniform by default.
    provenance : dict, optional
        How the batch was made (a generator spec and seed), copied into witnesses so a run
        can be rebuilt; the arrays themselves are always enough.

    Raises
    ------
    InvalidMDPError
        A wrong shape, NaN or inf, a negative probability, a row not summing to 1 (within
        1e-10), a discount outside [0, 1), an initial vector that is not a distribution. The
        message names the batch index: ``transitions[17, 3, 1, :] sums to 0.98, expected 1``.

    Notes
    -----
    Arrays are stored read-only and C-contiguous. Use :meth:`mdp` for one member and
    :meth:`take` for a sub-batch.
    """

    transitions: np.ndarray
    rewards: np.ndarray
    discount: np.ndarray
    initial: np.ndarray | None = None
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        transitions = np.asarray(self.transitions, dtype=float)
        if transitions.ndim != 4 or transitions.shape[1] != transitions.shape[3]:
            raise InvalidMDPError(
                f"transitions has shape {transitions.shape}, expected (B, S, A, S)"
            )
        size, num_states, num_actions, _ = transitions.shape
        if size == 0 or num_states == 0 or num_actions == 0:
            raise InvalidMDPError(f"transitions has shape {transitions.shape}: an empty batch")
        rewards = np.asarray(self.rewards, dtype=float)
        if rewards.shape != (size, num_states, num_actions):
            raise InvalidMDPError(
                f"rewards has shape {rewards.shape}, expected {(size, num_states, num_actions)}"
            )
        discount = np.broadcast_to(np.asarray(self.discount, dtype=float), (size,))
        initial = (
            np.full((size, num_states), 1.0 / num_states)
            if self.initial is None
            else np.broadcast_to(np.asarray(self.initial, dtype=float), (size, num_states))
        )
        for name, array in (("transitions", transitions), ("rewards", rewards)):
            bad = ~np.isfinite(array)
            if bad.any():
                raise InvalidMDPError(f"{name}{list(_first(bad))} is {array[bad][0]}: NaN or inf")
        negative = transitions < 0
        if negative.any():
            index = _first(negative)
            raise InvalidMDPError(f"transitions{list(index)} = {transitions[index]}, expected >= 0")
        sums = transitions.sum(axis=3)
        off = np.abs(sums - 1) > DEFAULT_ROW_TOLERANCE
        if off.any():
            b, s, a = _first(off)
            raise InvalidMDPError(
                f"transitions[{b}, {s}, {a}, :] sums to {sums[b, s, a]:.12g}, expected 1 "
                f"(tolerance {DEFAULT_ROW_TOLERANCE:g})"
            )
        bad = ~np.isfinite(discount) | (discount < 0) | (discount >= 1)
        if bad.any():
            b = _first(bad)[0]
            raise InvalidMDPError(f"discount[{b}] = {discount[b]}, expected 0 <= gamma < 1")
        bad = ~np.isfinite(initial) | (initial < 0)
        if bad.any():
            index = _first(bad)
            raise InvalidMDPError(f"initial{list(index)} = {initial[index]}, expected >= 0")
        off = np.abs(initial.sum(axis=1) - 1) > DEFAULT_ROW_TOLERANCE
        if off.any():
            b = _first(off)[0]
            raise InvalidMDPError(
                f"initial[{b}, :] sums to {initial[b].sum():.12g}, expected 1 "
                f"(tolerance {DEFAULT_ROW_TOLERANCE:g})"
            )
        object.__setattr__(self, "transitions", _readonly(transitions))
        object.__setattr__(self, "rewards", _readonly(rewards))
        object.__setattr__(self, "discount", _readonly(discount))
        object.__setattr__(self, "initial", _readonly(initial))
        object.__setattr__(self, "provenance", dict(self.provenance))

    # ------------------------------------------------------------------ sizes
    @property
    def size(self) -> int:
        """B, the number of MDPs."""
        return self.transitions.shape[0]

    @property
    def num_states(self) -> int:
        """S."""
        return self.transitions.shape[1]

    @property
    def num_actions(self) -> int:
        """A."""
        return self.transitions.shape[2]

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        source = f", {self.provenance['spec']}" if "spec" in self.provenance else ""
        return (
            f"MDPBatch(size={self.size}, num_states={self.num_states}, "
            f"num_actions={self.num_actions}{source})"
        )

    # ------------------------------------------------------------------ members
    def mdp(self, index: int) -> FiniteMDP:
        """Member ``index`` as a validated float :class:`~tabular_mirror.FiniteMDP`."""
        index = self._index(index)
        return FiniteMDP(
            np.array(self.transitions[index]),
            np.array(self.rewards[index]),
            float(self.discount[index]),
            np.array(self.initial[index]),
            exact=False,
        )

    def take(self, indices: Any) -> MDPBatch:
        """The sub-batch of the given member indices (or boolean mask), in that order."""
        indices = np.asarray(indices)
        if indices.dtype == bool:
            indices = np.flatnonzero(indices)
        provenance = dict(self.provenance)
        if "indices" in provenance:
            provenance["indices"] = np.asarray(provenance["indices"])[indices].tolist()
        elif provenance:
            provenance["indices"] = indices.tolist()
        return MDPBatch(
            self.transitions[indices],
            self.rewards[indices],
            self.discount[indices],
            self.initial[indices],
            provenance,
        )

    def _subset(self, indices: np.ndarray) -> MDPBatch:
        """A sub-batch without re-validation or provenance (internal: the engine's loop keeps
        the full batch and maps positions back itself)."""
        subset = object.__new__(MDPBatch)
        for name, array in (
            ("transitions", self.transitions[indices]),
            ("rewards", self.rewards[indices]),
            ("discount", self.discount[indices]),
            ("initial", self.initial[indices]),
        ):
            object.__setattr__(subset, name, array)
        object.__setattr__(subset, "provenance", {})
        return subset

    def member_provenance(self, index: int) -> dict[str, Any]:
        """How member ``index`` was made: the batch's provenance with the member's position."""
        index = self._index(index)
        provenance = {k: v for k, v in self.provenance.items() if k != "indices"}
        if "indices" in self.provenance:
            provenance["index"] = int(self.provenance["indices"][index])
        elif provenance:
            provenance["index"] = index
        return provenance

    def with_discount(self, discount: Any) -> MDPBatch:
        """The same MDPs with another discount (a float or one per member)."""
        return MDPBatch(self.transitions, self.rewards, discount, self.initial, self.provenance)

    def _index(self, index: Any) -> int:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise InvalidParameterError(f"index = {index!r} is not an integer")
        if not -self.size <= index < self.size:
            raise InvalidParameterError(f"index = {index} is outside a batch of {self.size}")
        return int(index) % self.size

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_mdps(cls, mdps: Sequence[FiniteMDP], provenance: dict | None = None) -> MDPBatch:
        """Stack same-shaped MDPs (exact ones are converted to float; sparse to dense)."""
        mdps = list(mdps)
        if not mdps:
            raise InvalidParameterError("from_mdps needs at least one MDP")
        for k, mdp in enumerate(mdps):
            check_mdp(mdp, f"mdps[{k}]")
            _check_batchable(mdp, f"mdps[{k}]")
        shape = (mdps[0].num_states, mdps[0].num_actions)
        for k, mdp in enumerate(mdps):
            if (mdp.num_states, mdp.num_actions) != shape:
                raise InvalidParameterError(
                    f"mdps[{k}] has (S, A) = {(mdp.num_states, mdp.num_actions)}, expected "
                    f"{shape} like mdps[0]: a batch holds same-shaped MDPs"
                )
        floats = [m.to_float().to_dense() if (m.is_exact or m.is_sparse) else m for m in mdps]
        return cls(
            np.stack([np.asarray(m.transitions, dtype=float) for m in floats]),
            np.stack([np.asarray(m.rewards, dtype=float) for m in floats]),
            np.array([float(m.discount) for m in floats]),
            np.stack([np.asarray(m.initial, dtype=float) for m in floats]),
            provenance or {},
        )

    @classmethod
    def repeat(cls, mdp: FiniteMDP, size: int, provenance: dict | None = None) -> MDPBatch:
        """``size`` copies of one MDP (e.g. to run it from many initial policies)."""
        check_mdp(mdp)
        _check_batchable(mdp, "mdp")
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise InvalidParameterError(f"size = {size!r}, expected an integer >= 1")
        one = mdp.to_float().to_dense() if (mdp.is_exact or mdp.is_sparse) else mdp
        transitions = np.asarray(one.transitions, dtype=float)
        return cls(
            np.broadcast_to(transitions, (size, *transitions.shape)),
            np.broadcast_to(np.asarray(one.rewards, dtype=float), (size, *one.rewards.shape)),
            float(one.discount),
            np.asarray(one.initial, dtype=float),
            provenance or {},
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (
            MDPBatch,
            (
                np.array(self.transitions),
                np.array(self.rewards),
                np.array(self.discount),
                np.array(self.initial),
                self.provenance,
            ),
        )
