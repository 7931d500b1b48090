"""Run traces of mirror learning: what happened at every iteration, saved and loaded losslessly.

A :class:`Trace` records, for pi_0, pi_1, ..., pi_n: the policies, their values V_{pi_k} and
returns eta(pi_k), their largest advantage max_{s,a} A_{pi_k}; and for every step k -> k+1 the
drift paid drift_{pi_k}(pi_{k+1}), the per-state drift D_{pi_k}(pi_{k+1} | s), nu and beta, the
mirror-operator values [M^{pi_{k+1}} V_{pi_k}](s), the improvement lower bound of Theorem 3.6(1)
sum_s d[s] (nu[s]/beta[s]) D_{pi_k}(pi_{k+1} | s), the step's objective, certificate and time.

Storage: float traces go to ``.npz`` (arrays bit for bit, metadata as JSON inside); exact traces
to ``.json`` with every Fraction written as the string "p/q". :func:`load_trace` reads both.
The MDP itself is stored too, so a saved trace is a reproducible witness.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .model import FiniteMDP
from .results import Certificate

__all__ = ["Trace", "save_trace", "load_trace"]

_ARRAY_FIELDS = (
    "policies",
    "values",
    "returns",
    "max_advantages",
    "drifts",
    "state_drifts",
    "drift_weights",
    "sampling",
    "mirror_values",
    "improvement_bounds",
    "objectives",
    "step_times",
)


@dataclass(frozen=True, repr=False)
class Trace:
    """The record of one mirror-learning run (see :func:`tabular_mirror.mirror_learning`).

    Arrays have a leading iteration axis: (n+1, ...) for per-policy quantities
    (``policies`` pi_k (n+1, S, A), ``values`` V_{pi_k} (n+1, S), ``returns`` eta(pi_k),
    ``max_advantages``), (n, ...) for per-step ones (``drifts``, ``state_drifts``,
    ``drift_weights`` nu, ``sampling`` beta, ``mirror_values``, ``improvement_bounds``,
    ``objectives``, ``step_times``). ``optimal_values``/``optimal_return`` are V*, eta* when
    computed. ``stop_reason`` is "iterations" (the budget ran out), "optimal" (a GPI fixed point:
    max_{s,a} A <= tolerance) or "not_certified" (a step could not be certified and
    ``strict=True``).
    """

    algorithm: str
    mdp: FiniteMDP
    exact: bool
    policies: np.ndarray
    values: np.ndarray
    returns: np.ndarray
    max_advantages: np.ndarray
    drifts: np.ndarray
    state_drifts: np.ndarray
    drift_weights: np.ndarray
    sampling: np.ndarray
    mirror_values: np.ndarray
    improvement_bounds: np.ndarray
    objectives: np.ndarray
    step_times: np.ndarray
    certificates: tuple[Certificate, ...]
    optimal_values: np.ndarray | None
    optimal_return: Any
    stop_reason: str
    tolerance: Any

    @property
    def iterations(self) -> int:
        """The number of steps taken (n)."""
        return len(self.drifts)

    @property
    def optimality_gaps(self) -> np.ndarray | None:
        """eta* - eta(pi_k) for every k (None if eta* was not computed)."""
        if self.optimal_return is None:
            return None
        return self.optimal_return - self.returns

    @property
    def cumulative_drift(self) -> np.ndarray:
        """sum_{j < k} drift_{pi_j}(pi_{j+1}), shape (n+1,), starting at 0."""
        zero = Fraction(0) if self.exact else 0.0
        return np.concatenate([[zero], np.cumsum(self.drifts)])

    @property
    def all_certified(self) -> bool:
        """Did every step come with a certificate within tolerance?"""
        return all(c.certified for c in self.certificates)

    def __repr__(self) -> str:
        last = self.returns[-1]
        return (
            f"Trace({self.algorithm!r}, iterations={self.iterations}, final return="
            f"{float(last):.6g}, stop_reason={self.stop_reason!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        for f in fields(self):
            left, right = getattr(self, f.name), getattr(other, f.name)
            if isinstance(left, np.ndarray) or isinstance(right, np.ndarray):
                if left is None or right is None:
                    return False
                if np.shape(left) != np.shape(right) or not np.array_equal(left, right):
                    return False
            elif left != right:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


# ---------------------------------------------------------------------------- storage
def _exact_strings(array: np.ndarray) -> Any:
    return np.vectorize(str, otypes=[object])(array).tolist() if np.size(array) else []


def _exact_array(data: Any, shape: tuple[int, ...]) -> np.ndarray:
    flat = np.array(data, dtype=object).ravel()
    out = np.empty(flat.shape, dtype=object)
    out[:] = [Fraction(v) for v in flat]
    return out.reshape(shape)


def _mdp_record(mdp: FiniteMDP) -> dict[str, Any]:
    if mdp.is_exact:
        return {
            "transitions": _exact_strings(mdp.transitions),
            "rewards": _exact_strings(mdp.rewards),
            "discount": str(mdp.discount),
            "initial": _exact_strings(mdp.initial),
            "shape": [mdp.num_states, mdp.num_actions],
        }
    return {"discount": repr(float(mdp.discount)), "shape": [mdp.num_states, mdp.num_actions]}


def _certificate_record(certificate: Certificate) -> dict[str, Any]:
    def text(value: Any) -> Any:
        if value is None:
            return None
        return str(value) if isinstance(value, Fraction | int) else repr(float(value))

    return {
        "kind": certificate.kind,
        "bound": text(certificate.bound),
        "tolerance": text(certificate.tolerance),
        "certified": bool(certificate.certified),
        "detail": certificate.detail,
    }


def _read_number(text: Any, exact: bool) -> Any:
    if text is None:
        return None
    return Fraction(text) if exact else float(text)


def save_trace(trace: Trace, path: str | Path) -> Path:
    """Save losslessly: ``.npz`` for float traces, ``.json`` for exact ones (suffix forced)."""
    path = Path(path)
    metadata = {
        "format": "tabular-mirror trace 1",
        "algorithm": trace.algorithm,
        "exact": trace.exact,
        "stop_reason": trace.stop_reason,
        "tolerance": str(trace.tolerance) if trace.exact else repr(float(trace.tolerance)),
        "certificates": [_certificate_record(c) for c in trace.certificates],
        "mdp": _mdp_record(trace.mdp),
        "shapes": {name: list(np.shape(getattr(trace, name))) for name in _ARRAY_FIELDS},
    }
    if trace.exact:
        path = path.with_suffix(".json")
        metadata["arrays"] = {name: _exact_strings(getattr(trace, name)) for name in _ARRAY_FIELDS}
        metadata["optimal_values"] = (
            None if trace.optimal_values is None else _exact_strings(trace.optimal_values)
        )
        metadata["optimal_return"] = (
            None if trace.optimal_return is None else str(trace.optimal_return)
        )
        path.write_text(json.dumps(metadata))
        return path
    path = path.with_suffix(".npz")
    arrays = {name: np.asarray(getattr(trace, name), dtype=float) for name in _ARRAY_FIELDS}
    if trace.optimal_values is not None:
        arrays["optimal_values"] = np.asarray(trace.optimal_values, dtype=float)
        arrays["optimal_return"] = np.asarray(float(trace.optimal_return))
    mdp = trace.mdp
    if mdp.is_sparse:
        matrix = mdp.transitions
        arrays.update(mdp_data=matrix.data, mdp_indices=matrix.indices, mdp_indptr=matrix.indptr)
    else:
        arrays["mdp_transitions"] = np.asarray(mdp.transitions)
    arrays["mdp_rewards"] = np.asarray(mdp.rewards)
    arrays["mdp_initial"] = np.asarray(mdp.initial)
    np.savez_compressed(path, metadata=np.array(json.dumps(metadata)), **arrays)
    return path


def load_trace(path: str | Path) -> Trace:
    """Load a trace written by :func:`save_trace`."""
    path = Path(path)
    if path.suffix == ".json":
        metadata = json.loads(path.read_text())
        shapes = metadata["shapes"]
        arrays = {
            name: _exact_array(metadata["arrays"][name], tuple(shapes[name]))
            for name in _ARRAY_FIELDS
            if name != "step_times"
        }
        # wall-clock times are floats even in an exact trace (written with their repr)
        arrays["step_times"] = np.array(metadata["arrays"]["step_times"], dtype=float).reshape(
            tuple(shapes["step_times"])
        )
        record = metadata["mdp"]
        num_states, num_actions = record["shape"]
        mdp = FiniteMDP(
            _exact_array(record["transitions"], (num_states, num_actions, num_states)),
            _exact_array(record["rewards"], (num_states, num_actions)),
            Fraction(record["discount"]),
            _exact_array(record["initial"], (num_states,)),
            exact=True,
        )
        optimal_values = (
            None
            if metadata["optimal_values"] is None
            else _exact_array(metadata["optimal_values"], (num_states,))
        )
        optimal_return = (
            None if metadata["optimal_return"] is None else Fraction(metadata["optimal_return"])
        )
        exact = True
    else:
        with np.load(path, allow_pickle=False) as archive:
            metadata = json.loads(str(archive["metadata"]))
            arrays = {name: archive[name] for name in _ARRAY_FIELDS}
            record = metadata["mdp"]
            num_states, num_actions = record["shape"]
            if "mdp_data" in archive:
                transitions: Any = sp.csr_matrix(
                    (archive["mdp_data"], archive["mdp_indices"], archive["mdp_indptr"]),
                    shape=(num_states * num_actions, num_states),
                )
            else:
                transitions = archive["mdp_transitions"]
            mdp = FiniteMDP(
                transitions,
                archive["mdp_rewards"],
                float(record["discount"]),
                archive["mdp_initial"],
            )
            optimal_values = archive["optimal_values"] if "optimal_values" in archive else None
            optimal_return = (
                float(archive["optimal_return"]) if "optimal_return" in archive else None
            )
        exact = False
    certificates = tuple(
        Certificate(
            c["kind"],
            _read_number(c["bound"], exact),
            _read_number(c["tolerance"], exact),
            c["certified"],
            c["detail"],
        )
        for c in metadata["certificates"]
    )
    return Trace(
        algorithm=metadata["algorithm"],
        mdp=mdp,
        exact=exact,
        certificates=certificates,
        optimal_values=optimal_values,
        optimal_return=optimal_return,
        stop_reason=metadata["stop_reason"],
        tolerance=_read_number(metadata["tolerance"], exact),
        **arrays,
    )
