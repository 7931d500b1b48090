"""Run traces of mirror learning: what happened at every iteration, saved and loaded losslessly.

A :class:`Trace` records, for pi_0, pi_1, ..., pi_n: the policies, their values V_{pi_k} and
returns eta(pi_k), their largest advantage max_{s,a} A_{pi_k}; and for every step k -> k+1 the
drift paid drift_{pi_k}(pi_{k+1}), the per-state drift D_{pi_k}(pi_{k+1} | s), nu and beta, the
mirror-operator values [M^{pi_{k+1}} V_{pi_k}](s), the improvement lower bound of Theorem 3.6(1)
sum_s d[s] (nu[s]/beta[s]) D_{pi_k}(pi_{k+1} | s), the step's objective, certificate and time.

Storage: float traces go to ``.npz`` (arrays bit for bit, metadata as JSON inside); exact traces
to ``.json`` with every Fraction written as the string "p/q". :func:`load_trace` reads both.
The MDP itself is stored too, so a saved trace is a reproducible witness.

A saved trace is evidence (``tabular-mirror check`` turns it into verdicts), so a file that is
damaged, truncated, hand-edited or not a trace must never load as a trace. The format
(version 3, format tag ``"tabular-mirror trace 3"``) carries a SHA-256 checksum of its content;
:func:`load_trace` verifies it and validates every member before building the :class:`Trace`,
and raises :class:`~tabular_mirror.errors.InvalidFileError` naming the file and the problem
otherwise. :func:`save_trace` writes atomically and only what :func:`load_trace` reads back as
an equal trace. Versions: 1 (no checksum), 2 (checksum, provenance, evaluation error bounds),
3 (and ``schedule``: the values of the scheduled parameters used at every step, null for an
algorithm without schedules); every version is read.

References
----------
Kuba, Schroeder de Witt, Foerster, "Mirror Learning: A Unifying Framework of Policy
Optimisation", ICML 2022, section 3 (Theorem 3.6: the quantities recorded).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import reprlib
import secrets
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import numpy as np
import scipy.sparse as sp

from ._validate import DEFAULT_ROW_TOLERANCE
from .errors import InvalidFileError, InvalidParameterError, TabularMirrorError
from .model import FiniteMDP
from .results import CERTIFICATE_KINDS, Certificate
from .schedules import ScheduleRecord

__all__ = ["Trace", "Provenance", "save_trace", "load_trace"]

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


@dataclass(frozen=True)
class Provenance:
    """How a run was made, so that a saved trace can be replayed and diagnosed.

    ``algorithm`` is the algorithm's ``repr`` (a rebuildable description for the library's
    pieces: ``proofs_check.witness`` parses it without evaluating code), ``choice`` the
    maximiser rule, ``solver`` a description of a custom step solver (``"module:function"``,
    the JSON parameters of an inexact solver, or its name; None for the library's own),
    ``strict`` whether the run stopped at the first uncertified step.
    """

    algorithm: str | None = None
    choice: str = "closest"
    solver: str | None = None
    strict: bool = False


@dataclass(frozen=True, repr=False)
class Trace:
    """The record of one mirror-learning run (see :func:`tabular_mirror.mirror_learning`).

    Arrays have a leading iteration axis: (n+1, ...) for per-policy quantities
    (``policies`` pi_k (n+1, S, A), ``values`` V_{pi_k} (n+1, S), ``returns`` eta(pi_k),
    ``max_advantages``), (n, ...) for per-step ones (``drifts``, ``state_drifts``,
    ``drift_weights`` nu, ``sampling`` beta, ``mirror_values``, ``improvement_bounds``,
    ``objectives``, ``step_times``). ``optimal_values``/``optimal_return`` are V*, eta* when
    computed. ``evaluation_error_bounds`` (n+1,) is the certified sup-norm error of each
    recorded V_{pi_k} (0 in exact mode; None when not recorded, e.g. a version-1 file), and
    ``provenance`` (a :class:`Provenance`) how the run was made. ``schedule`` (a
    :class:`~tabular_mirror.schedules.ScheduleRecord`) holds the value of every scheduled
    parameter used at each step (None when the algorithm has no schedule, or the file
    predates version 3). ``stop_reason`` is
    "iterations" (the budget ran out), "optimal" (a GPI fixed point: max_{s,a} A <=
    tolerance), "not_certified" (a step could not be certified and ``strict=True``),
    "interrupted" (Ctrl-C with ``on_interrupt="stop"``) or "left_support" (the drift needs
    pi > 0 and a step put exactly 0 on an action, e.g. a KL step whose exp(eta A) underflowed
    under a growing step size: the next step is undefined, and the run ends with what it has).
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
    provenance: Provenance | None = None
    evaluation_error_bounds: np.ndarray | None = None
    schedule: ScheduleRecord | None = None

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
        return not _different_fields(self, other)

    __hash__ = None  # type: ignore[assignment]


def _different_fields(trace: Trace, other: Trace) -> list[str]:
    """The names of the fields in which two traces differ (arrays: shape and entries)."""
    different = []
    for f in fields(trace):
        left, right = getattr(trace, f.name), getattr(other, f.name)
        if isinstance(left, np.ndarray) or isinstance(right, np.ndarray):
            if left is None or right is None:
                different.append(f.name)
            elif np.shape(left) != np.shape(right) or not np.array_equal(left, right):
                different.append(f.name)
        elif left != right:
            different.append(f.name)
    return different


# ---------------------------------------------------------------------------- the format
_FORMAT_NAME = "tabular-mirror trace"
_VERSION = 3  # 3: schedule; 2: SHA-256 checksum, mdp.row_tolerance (float); 1: neither
_READABLE_VERSIONS = (1, 2, 3)
#: what :func:`tabular_mirror.mirror_learning` writes as ``stop_reason``
_STOP_REASONS = ("iterations", "optimal", "not_certified", "interrupted", "left_support")
#: float policies: entries >= -tolerance and |row sum - 1| <= tolerance (the step's own check)
_POLICY_TOLERANCE = 1e-9
#: refuse files whose declared arrays would need more memory than this (``max_bytes``)
_DEFAULT_MAX_BYTES = 4 * 2**30
_UNLIMITED = 2**63  # save_trace: the trace is already in memory
_FLOAT_ENTRY_BYTES = 8
_EXACT_ENTRY_BYTES = 160  # a Fraction of two small ints, its pointer and its JSON string
_MAX_JSON_DEPTH = 32  # the format nests 6 deep
_PER_POLICY = ("policies", "values", "returns", "max_advantages")
_NDIM = {
    "policies": 3,
    "values": 2,
    "returns": 1,
    "max_advantages": 1,
    "drifts": 1,
    "state_drifts": 2,
    "drift_weights": 2,
    "sampling": 2,
    "mirror_values": 2,
    "improvement_bounds": 1,
    "objectives": 1,
    "step_times": 1,
}
# Where the library itself writes an infinity (and with which sign); NaN is legal nowhere.
# A drift leaving the support is +inf (D_pi(pibar | s), hence drift_pi(pibar) and the
# improvement bound sum_s d[s] (nu[s]/beta[s]) D(s)); the objective and [M V](s) then are -inf.
_INFINITY_SIGN = {
    "drifts": 1,
    "state_drifts": 1,
    "improvement_bounds": 1,
    "mirror_values": -1,
    "objectives": -1,
}
_TOP_KEYS = (
    "format",
    "algorithm",
    "exact",
    "stop_reason",
    "tolerance",
    "certificates",
    "mdp",
    "shapes",
)
_EXACT_KEYS = ("arrays", "optimal_values", "optimal_return")
_VERSION_2_KEYS = ("checksum", "provenance", "evaluation_error_bounds")
_VERSION_3_KEYS = ("schedule",)
_SCHEDULE_KEYS = ("parameters", "schedules", "values", "start")
_PROVENANCE_KEYS = ("algorithm", "choice", "solver", "strict")
_CHOICES = ("closest", "vertex", "adversarial")
_CERTIFICATE_KEYS = ("kind", "bound", "tolerance", "certified", "detail")
_EXACT_MDP_KEYS = ("transitions", "rewards", "discount", "initial", "shape")
_RATIONAL = re.compile(r"[+-]?[0-9]+(/[0-9]+)?")
_FORMAT_TAG = re.compile(r"tabular-mirror trace ([0-9]{1,9})")
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 60
_SHORT.maxlist = _SHORT.maxdict = 4
_SHORT.maxlevel = 2


class _Bad(Exception):
    """A problem with the content being read; becomes InvalidFileError (load) or
    InvalidParameterError (save), with the file or the trace named."""


def _describe(value: Any) -> str:
    """``'no' (a string)``: a short repr and the JSON type, for messages."""
    if isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, int | float):
        kind = "a number"
    elif isinstance(value, str):
        kind = "a string"
    elif isinstance(value, list):
        kind = f"a list of {len(value)}"
    elif isinstance(value, dict):
        kind = "an object"
    elif value is None:
        return "null"
    else:
        kind = type(value).__name__
    return f"{_SHORT.repr(value)} ({kind})"


def _size(num_bytes: int) -> str:
    """``3.2 GiB``; beyond 1024 PiB, ``1.2e+40 bytes`` (declared sizes can have 1000s of digits,
    too many for a float or for ``str``)."""
    for power, unit in enumerate(("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")):
        if num_bytes < 1024 ** (power + 1):
            return f"{num_bytes} bytes" if power == 0 else f"{num_bytes / 1024**power:.3g} {unit}"
    exponent = int(math.log10(num_bytes))
    return f"{num_bytes / 10**exponent:.2f}e+{exponent} bytes"


def _index(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(str(int(i)) for i in index)}]" if index else name


# ---------------------------------------------------------------------------- writing
def _exact_strings(array: np.ndarray) -> Any:
    return np.vectorize(str, otypes=[object])(array).tolist() if np.size(array) else []


def _number_text(value: Any) -> Any:
    """A certificate number as text: "p/q" for Fractions and ints, the float's repr otherwise."""
    if value is None:
        return None
    if isinstance(value, Fraction | int | np.integer) and not isinstance(value, bool):
        return str(value)
    return repr(float(value))


def _mdp_record(mdp: FiniteMDP) -> dict[str, Any]:
    if mdp.is_exact:
        record = {
            "transitions": _exact_strings(mdp.transitions),
            "rewards": _exact_strings(mdp.rewards),
            "discount": str(mdp.discount),
            "initial": _exact_strings(mdp.initial),
            "shape": [mdp.num_states, mdp.num_actions],
        }
    else:
        record = {
            "discount": repr(float(mdp.discount)),
            "shape": [mdp.num_states, mdp.num_actions],
            "row_tolerance": repr(_row_tolerance(mdp)),
        }
    if mdp.has_infeasible_actions:  # only then: other traces are written as before
        record["infeasible"] = [[int(s), int(a)] for s, a in np.argwhere(~mdp.action_mask)]
    return record


def _action_mask(record: dict[str, Any], num_states: int, num_actions: int) -> Any:
    """The MDP's action mask from the optional ``infeasible`` [[s, a], ...] list (or None)."""
    pairs = record.pop("infeasible", None)
    if pairs is None:
        return None
    pairs = _list(pairs, "mdp.infeasible")
    mask = np.ones((num_states, num_actions), dtype=bool)
    for k, pair in enumerate(pairs):
        pair = _list(pair, f"mdp.infeasible[{k}]")
        if len(pair) != 2 or not all(type(v) is int for v in pair):
            raise _Bad(f"mdp.infeasible[{k}] is {_describe(pair)}, expected [state, action]")
        s, a = pair
        if not (0 <= s < num_states and 0 <= a < num_actions):
            raise _Bad(
                f"mdp.infeasible[{k}] = {pair} is outside (S, A) = {num_states, num_actions}"
            )
        mask[s, a] = False
    return mask


def _row_tolerance(mdp: FiniteMDP) -> float:
    """The row tolerance the float MDP passes again when read back: max(1e-10, its largest
    |row sum - 1| over P and d), measured as :class:`FiniteMDP` measures it."""
    transitions = mdp.transitions
    if sp.issparse(transitions):
        sums = np.asarray(transitions.sum(axis=1))
    else:
        sums = np.asarray(transitions).sum(axis=2)
    sums = np.where(mdp.action_mask.reshape(np.shape(sums)), sums, 1.0)  # infeasible: no row
    deviation = max(
        float(np.abs(sums - 1.0).max()), float(abs(np.asarray(mdp.initial).sum() - 1.0))
    )
    return max(DEFAULT_ROW_TOLERANCE, deviation)


def _schedule_json(record: ScheduleRecord | None) -> Any:
    """The schedule record as JSON: values as text ("p/q" exact, a float's repr)."""
    if record is None:
        return None
    return {
        "parameters": list(record.parameters),
        "schedules": list(record.schedules),
        "values": [[_number_text(v) for v in row] for row in record.values],
        "start": int(record.start),
    }


def _certificate_record(certificate: Certificate) -> dict[str, Any]:
    return {
        "kind": certificate.kind,
        "bound": _number_text(certificate.bound),
        "tolerance": _number_text(certificate.tolerance),
        "certified": bool(certificate.certified),
        "detail": certificate.detail,
    }


def _payload(trace: Trace) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata (JSON) and, for float traces, the arrays of the file, without checksum."""
    exact = bool(trace.exact)
    metadata: dict[str, Any] = {
        "format": f"{_FORMAT_NAME} {_VERSION}",
        "algorithm": trace.algorithm,
        "exact": exact,
        "stop_reason": trace.stop_reason,
        "tolerance": str(trace.tolerance) if exact else repr(float(trace.tolerance)),
        "certificates": [_certificate_record(c) for c in trace.certificates],
        "mdp": _mdp_record(trace.mdp),
        "shapes": {
            name: [int(d) for d in np.shape(getattr(trace, name))] for name in _ARRAY_FIELDS
        },
        "provenance": None if trace.provenance is None else asdict(trace.provenance),
        "evaluation_error_bounds": (
            None
            if trace.evaluation_error_bounds is None
            else [_number_text(b) for b in trace.evaluation_error_bounds]
        ),
        "schedule": _schedule_json(trace.schedule),
    }
    if exact:
        metadata["arrays"] = {name: _exact_strings(getattr(trace, name)) for name in _ARRAY_FIELDS}
        metadata["optimal_values"] = (
            None if trace.optimal_values is None else _exact_strings(trace.optimal_values)
        )
        metadata["optimal_return"] = (
            None if trace.optimal_return is None else str(trace.optimal_return)
        )
        return metadata, {}
    arrays = {name: np.asarray(getattr(trace, name), dtype=float) for name in _ARRAY_FIELDS}
    if trace.optimal_values is not None:
        arrays["optimal_values"] = np.asarray(trace.optimal_values, dtype=float)
    if trace.optimal_return is not None:
        arrays["optimal_return"] = np.asarray(float(trace.optimal_return))
    mdp = trace.mdp
    if mdp.is_sparse:
        matrix = mdp.transitions
        arrays.update(mdp_data=matrix.data, mdp_indices=matrix.indices, mdp_indptr=matrix.indptr)
    else:
        arrays["mdp_transitions"] = np.asarray(mdp.transitions)
    arrays["mdp_rewards"] = np.asarray(mdp.rewards)
    arrays["mdp_initial"] = np.asarray(mdp.initial)
    return metadata, arrays


def _checksum(metadata: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of the canonical content: the metadata without its checksum (JSON, sorted keys,
    no whitespace) and every array's name, little-endian dtype, shape and bytes (C order)."""
    digest = hashlib.sha256()

    def feed(data: bytes) -> None:
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)

    content = {key: value for key, value in metadata.items() if key != "checksum"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    feed(text.encode("ascii"))
    for name in sorted(arrays):
        array = arrays[name]
        dtype = array.dtype.newbyteorder("<")
        feed(name.encode("utf-8"))
        feed(dtype.str.encode("ascii"))
        feed(repr(tuple(int(d) for d in array.shape)).encode("ascii"))
        feed(np.ascontiguousarray(array, dtype=dtype).tobytes())
    return f"sha256:{digest.hexdigest()}"


def _write_npz(handle: IO[bytes], metadata_text: str, arrays: Mapping[str, np.ndarray]) -> None:
    np.savez_compressed(handle, metadata=np.array(metadata_text), **arrays)


def _write_json(handle: IO[bytes], text: str) -> None:
    handle.write(text.encode("utf-8"))


def _write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write to a new temporary file next to ``path``, fsync it, then ``os.replace`` it onto
    ``path``: readers see the old file or the whole new one, never a part. On any exception
    the temporary file is removed and ``path`` is untouched."""
    directory = path.parent
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
        try:
            descriptor = os.open(temporary, flags, 0o666)  # the umask applies, as for open()
        except FileExistsError:  # pragma: no cover - a 64-bit random name is taken
            continue
        break
    try:
        # a file object, not a name: np.savez_compressed would append ".npz" to the name
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:  # pragma: no cover - already gone
            pass
        raise
    try:  # make the rename itself durable (POSIX); not possible everywhere
        directory_descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(directory_descriptor)
    except OSError:  # pragma: no cover - file systems without directory fsync
        pass
    finally:
        os.close(directory_descriptor)


def save_trace(trace: Trace, path: str | os.PathLike[str]) -> Path:
    """Save a trace losslessly and atomically: ``.npz`` for float traces, ``.json`` for exact.

    The suffix is forced (``path.with_suffix``): a float trace is written as ``.npz`` (every
    array bit for bit, the metadata as a JSON member), an exact one as ``.json`` (every
    Fraction as the string "p/q"). The file (format version 3) carries a SHA-256 checksum of
    its canonical content (metadata and array bytes), so :func:`load_trace` detects a file
    modified after it was written.

    Before writing, the payload is read back in memory through the same validation as
    :func:`load_trace`, and must give a trace equal to ``trace``: a trace that would not load
    back (NaN, a policy off the simplex, an unknown ``stop_reason``, a float inside an exact
    trace, ...) is refused here rather than discovered when the file is read.

    The write is atomic: the content goes to a temporary file in the same directory, is
    flushed and fsynced, then ``os.replace``-d onto the destination. An interrupted or failed
    write leaves any previous file at ``path`` as it was and no temporary file behind.

    Parameters
    ----------
    trace : Trace
        From :func:`tabular_mirror.mirror_learning`.
    path : str or path-like
        The destination; its suffix is replaced by ``.npz`` or ``.json``.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InvalidParameterError
        ``trace`` is not a Trace, or it would not load back as an equal trace (the message
        names the array, index and value, as :func:`load_trace` would).
    OSError
        The file could not be written (the destination is then untouched).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import tabular_mirror as tm
    >>> from tabular_mirror import instances
    >>> mdp = tm.FiniteMDP([[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
    ...                    [[5, 10], [-1, 2]], "9/10")
    >>> trace = tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 10)
    >>> path = save_trace(trace, pathlib.Path(tempfile.mkdtemp()) / "gpi")
    >>> path.suffix, load_trace(path) == trace
    ('.json', True)
    """
    if not isinstance(trace, Trace):
        raise InvalidParameterError(
            f"trace has type {type(trace).__name__!r}, expected a tabular_mirror.Trace "
            "(from mirror_learning)"
        )
    exact = trace.exact
    try:
        path = Path(path).with_suffix(".json" if exact else ".npz")
    except (TypeError, ValueError) as error:
        raise InvalidParameterError(f"path = {path!r} is not a file path: {error}") from None
    try:
        metadata, arrays = _payload(trace)
        metadata["checksum"] = _checksum(metadata, arrays)
        text = json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError, AttributeError, OverflowError) as error:
        raise InvalidParameterError(f"trace cannot be saved: {error}") from error
    # read the payload back exactly as load_trace will read the file
    try:
        if exact:
            reread = _exact_trace(_parse_json(text), _Budget(_UNLIMITED))
        else:
            members = _MemoryMembers(arrays)
            reread = _float_trace(_parse_json(text), members, _Budget(_UNLIMITED))
    except _Bad as problem:
        raise InvalidParameterError(
            f"trace cannot be saved: it would not load back: {problem}"
        ) from problem.__cause__
    different = _different_fields(reread, trace)
    if different:
        raise InvalidParameterError(
            "trace cannot be saved losslessly: it would load back with a different "
            f"{', '.join(different)} (a float inside an exact trace, or a type the file "
            "does not keep)"
        )
    if exact:
        _write_atomically(path, lambda handle: _write_json(handle, text))
    else:
        _write_atomically(path, lambda handle: _write_npz(handle, text, arrays))
    return path


# ---------------------------------------------------------------------------- reading: JSON
def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Bad(f"the JSON object has the key {key!r} twice")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise _Bad(f"the JSON holds the constant {name}, which is not a JSON number")


def _parse_json(text: str) -> Any:
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise _Bad("the JSON is nested too deeply to be a trace") from None
    except json.JSONDecodeError as error:
        raise _Bad(
            f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except ValueError as error:  # e.g. an integer with more than 4300 digits
        raise _Bad(f"is not valid JSON: {error}") from None
    _check_depth(document)
    return document


def _check_depth(document: Any) -> None:
    """Refuse nesting deeper than the format's (before anything recurses over it)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_JSON_DEPTH:
            raise _Bad(f"the JSON nests deeper than {_MAX_JSON_DEPTH} levels; a trace nests 6")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value if isinstance(item, list | dict))


def _object(value: Any, where: str, required: tuple[str, ...]) -> dict[str, Any]:
    """``value`` must be a JSON object with exactly the keys ``required``."""
    if not isinstance(value, dict):
        raise _Bad(f"{where} is {_describe(value)}, expected an object")
    missing = [key for key in required if key not in value]
    if missing:
        raise _Bad(f"{where} has no key {missing[0]!r} (keys expected: {', '.join(required)})")
    unexpected = [key for key in value if key not in required]
    if unexpected:
        raise _Bad(
            f"{where} has the unexpected key {unexpected[0]!r} (keys expected: "
            f"{', '.join(required)})"
        )
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{where} is {_describe(value)}, expected a string")
    return value


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"{where} is {_describe(value)}, expected true or false")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(f"{where} is {_describe(value)}, expected a list")
    return value


def _count(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _Bad(f"{where} is {_describe(value)}, expected an integer >= {minimum}")
    return value


def _version(metadata: Any) -> int:
    """The format version from the ``format`` tag; refuses other files and newer versions."""
    if not isinstance(metadata, dict):
        raise _Bad(f"the metadata is {_describe(metadata)}, expected a JSON object")
    if "format" not in metadata:
        raise _Bad(f"has no 'format' key: not a {_FORMAT_NAME} file")
    tag = _string(metadata["format"], "format")
    match = _FORMAT_TAG.fullmatch(tag)
    if match is None:
        raise _Bad(f"format is {tag!r}, expected '{_FORMAT_NAME} N': not a trace file")
    version = int(match.group(1))
    if version not in _READABLE_VERSIONS:
        raise _Bad(
            f"has format version {version}; this tabular-mirror reads versions "
            f"{', '.join(map(str, _READABLE_VERSIONS))} (written by a newer tabular-mirror?)"
        )
    return version


def _version_keys(version: int) -> tuple[str, ...]:
    """The top-level keys a version adds to version 1's."""
    return (_VERSION_2_KEYS if version >= 2 else ()) + (_VERSION_3_KEYS if version >= 3 else ())


def _verify_checksum(
    metadata: dict[str, Any], arrays: Mapping[str, np.ndarray], version: int
) -> None:
    if version < 2:
        return  # version 1 had no checksum: the full validation below is all there is
    stored = _string(metadata["checksum"], "checksum")
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", stored):
        raise _Bad(f"checksum is {stored!r}, expected 'sha256:' and 64 hexadecimal digits")
    try:
        actual = _checksum(metadata, arrays)
    except (TypeError, ValueError, UnicodeEncodeError) as error:
        raise _Bad(f"the content cannot be checksummed: {error}") from None
    if actual != stored:
        raise _Bad(
            f"was modified after it was written: checksum mismatch (stored {stored[:19]}..., "
            f"content {actual[:19]}...)"
        )


def _declared(metadata: dict[str, Any], exact: bool, budget: _Budget) -> tuple[int, int, int]:
    """(n, S, A) from ``mdp.shape`` and ``shapes``, all declared shapes checked against them."""
    record = metadata["mdp"]
    shape = _list(record["shape"], "mdp.shape")
    if len(shape) != 2:
        raise _Bad(f"mdp.shape is {_describe(shape)}, expected [S, A]")
    num_states = _count(shape[0], "mdp.shape[0] (S)", 1)
    num_actions = _count(shape[1], "mdp.shape[1] (A)", 1)
    shapes = _object(metadata["shapes"], "shapes", _ARRAY_FIELDS)
    declared: dict[str, tuple[int, ...]] = {}
    for name in _ARRAY_FIELDS:
        entry = _list(shapes[name], f"shapes.{name}")
        if len(entry) != _NDIM[name]:
            raise _Bad(f"shapes.{name} is {_describe(entry)}, expected {_NDIM[name]} dimensions")
        declared[name] = tuple(_count(d, f"shapes.{name}[{axis}]") for axis, d in enumerate(entry))
    steps = declared["drifts"][0]
    entries = sum(int(np.prod(s, dtype=object)) for s in declared.values())
    if exact:  # the MDP is part of the JSON (a float MDP's members are counted as read)
        entries += num_states * num_actions * (num_states + 1) + 2 * num_states
    per_entry = _EXACT_ENTRY_BYTES if exact else _FLOAT_ENTRY_BYTES
    budget.spend(
        entries * per_entry,
        f"{steps} steps on S = {num_states} states and A = {num_actions} actions",
    )
    expected = _expected_shapes(steps, num_states, num_actions)
    for name in _ARRAY_FIELDS:
        if declared[name] != expected[name]:
            leading = "n+1" if name in _PER_POLICY else "n"
            symbols = {1: f"[{leading}]", 2: f"[{leading}, S]", 3: f"[{leading}, S, A]"}
            raise _Bad(
                f"shapes.{name} is {list(declared[name])}, expected {symbols[_NDIM[name]]} = "
                f"{list(expected[name])} (n = {steps} steps from shapes.drifts; S, A = "
                f"{num_states}, {num_actions} from mdp.shape)"
            )
    return steps, num_states, num_actions


class _Budget:
    """The memory a file may make us allocate (``max_bytes``), spent from declared sizes
    before each allocation."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0

    def spend(self, needed: int, what: str) -> None:
        if self.spent + needed > self.limit:
            raise _Bad(
                f"declares {what}: about {_size(self.spent + needed)} in memory, more than the "
                f"limit of {_size(self.limit)} (max_bytes); refused before reading the arrays"
            )
        self.spent += needed


def _expected_shapes(steps: int, num_states: int, num_actions: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for name in _ARRAY_FIELDS:
        leading = steps + 1 if name in _PER_POLICY else steps
        shapes[name] = (leading, num_states, num_actions)[: _NDIM[name]]
    return shapes


def _nested(data: Any, shape: tuple[int, ...], where: str) -> list[Any]:
    """The leaves of nested lists of exactly ``shape`` (checked level by level, no recursion)."""
    level = [data]
    for axis, length in enumerate(shape):
        following: list[Any] = []
        for position, item in enumerate(level):
            if not isinstance(item, list) or len(item) != length:
                index = np.unravel_index(position, shape[:axis]) if axis else ()
                found = _describe(item)
                raise _Bad(
                    f"{_index(where, tuple(index))} is {found}, expected a list of {length} "
                    f"(shape {list(shape)})"
                )
            following.extend(item)
        level = following
    return level


def _rational(text: Any, where: str, infinity: int = 0) -> Any:
    """A "p/q" string as a Fraction; "inf" / "-inf" as a float where ``infinity`` allows."""
    if not isinstance(text, str):
        raise _Bad(f"{where} is {_describe(text)}, expected a rational number as a 'p/q' string")
    if _RATIONAL.fullmatch(text):
        try:
            return Fraction(text)
        except (ValueError, ZeroDivisionError) as error:
            raise _Bad(f"{where} = {text[:40]!r} is not a rational number: {error}") from None
    if text in ("inf", "-inf") and infinity == (1 if text == "inf" else -1):
        return float(text)
    if text in ("inf", "-inf", "nan"):
        allowed = {1: "only +inf", -1: "only -inf", 0: "no infinity or NaN"}[infinity]
        raise _Bad(f"{where} is {text}, but {allowed} can occur there")
    raise _Bad(f"{where} = {text[:40]!r} is not a rational number 'p/q'")


def _exact_array(data: Any, shape: tuple[int, ...], where: str, infinity: int = 0) -> np.ndarray:
    """Nested lists of "p/q" strings of exactly ``shape`` as an object array of Fractions."""
    leaves = _nested(data, shape, where)
    out = np.empty(len(leaves), dtype=object)
    for position, text in enumerate(leaves):
        try:
            out[position] = _rational(text, where, infinity)
        except _Bad:  # again, naming the entry (computed only on failure)
            index = tuple(int(i) for i in np.unravel_index(position, shape))
            out[position] = _rational(text, _index(where, index), infinity)
    return out.reshape(shape)


def _real_text(text: Any, where: str, *, infinity: bool = False, exact: bool = False) -> Any:
    """A number written as text: a Fraction ("p/q") in exact mode, else a float's repr;
    never NaN, +inf only where ``infinity``."""
    if not isinstance(text, str):
        raise _Bad(f"{where} is {_describe(text)}, expected a number written as a string")
    if exact and _RATIONAL.fullmatch(text):
        return _rational(text, where)
    try:
        value = float(text)
    except ValueError:
        raise _Bad(f"{where} = {text[:40]!r} is not a number") from None
    if value != value or value == -np.inf or (value == np.inf and not infinity):
        raise _Bad(f"{where} is {text[:40]}, expected a finite number")
    return value


def _exact_trace(metadata: Any, budget: _Budget) -> Trace:
    """Validate a parsed ``.json`` document and build the exact Trace it holds."""
    version = _version(metadata)
    if version >= 2:  # first: an edited file is reported as edited, whatever the edit
        if "checksum" not in metadata:
            raise _Bad("has no key 'checksum' (format versions 2 and later are checksummed)")
        _verify_checksum(metadata, {}, version)
    keys = _TOP_KEYS + _EXACT_KEYS + _version_keys(version)
    metadata = _object(metadata, "the document", keys)
    if _boolean(metadata["exact"], "exact") is not True:
        raise _Bad("exact is false, but a .json trace holds an exact run (float traces are .npz)")
    record = dict(metadata["mdp"]) if isinstance(metadata["mdp"], dict) else metadata["mdp"]
    steps, num_states, num_actions = _declared(metadata, True, budget)
    action_mask = (
        _action_mask(record, num_states, num_actions) if isinstance(record, dict) else None
    )
    record = _object(record, "mdp", _EXACT_MDP_KEYS)
    data = _object(metadata["arrays"], "arrays", _ARRAY_FIELDS)
    shapes = _expected_shapes(steps, num_states, num_actions)
    arrays = {
        name: _exact_array(data[name], shapes[name], f"arrays.{name}", _INFINITY_SIGN.get(name, 0))
        for name in _ARRAY_FIELDS
        if name != "step_times"
    }
    # wall-clock times are floats even in an exact trace (written with their repr)
    times = _nested(data["step_times"], shapes["step_times"], "arrays.step_times")
    arrays["step_times"] = np.array(
        [_real_text(t, f"arrays.step_times[{k}]") for k, t in enumerate(times)], dtype=float
    )
    mdp = _build_mdp(
        lambda: FiniteMDP(
            _exact_array(
                record["transitions"], (num_states, num_actions, num_states), "mdp.transitions"
            ),
            _exact_array(record["rewards"], (num_states, num_actions), "mdp.rewards"),
            _rational(record["discount"], "mdp.discount"),
            _exact_array(record["initial"], (num_states,), "mdp.initial"),
            action_mask=action_mask,
            exact=True,
        )
    )
    optimal_values = (
        None
        if metadata["optimal_values"] is None
        else _exact_array(metadata["optimal_values"], (num_states,), "optimal_values")
    )
    optimal_return = (
        None
        if metadata["optimal_return"] is None
        else _rational(metadata["optimal_return"], "optimal_return")
    )
    return _assemble(metadata, True, mdp, arrays, steps, optimal_values, optimal_return)


def _build_mdp(build: Callable[[], FiniteMDP]) -> FiniteMDP:
    """Run FiniteMDP's own validation; its error is kept as the cause."""
    try:
        return build()
    except _Bad:
        raise
    except (TabularMirrorError, ValueError, TypeError, ZeroDivisionError) as error:
        raise _Bad(f"the stored MDP is not a valid FiniteMDP: {error}") from error


# ---------------------------------------------------------------------------- reading: npz
class _MemoryMembers:
    """The arrays of a float trace held in memory (save_trace reads its payload back)."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.names = set(arrays)

    def header(self, name: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
        return self.arrays[name].shape, self.arrays[name].dtype

    def read(self, name: str) -> np.ndarray:
        return self.arrays[name]


@contextmanager
def _archive_errors(what: str) -> Iterator[None]:
    """Turn whatever zipfile, zlib and numpy's .npy reader raise on damaged bytes into a _Bad
    saying ``what`` failed. That set is open-ended (BadZipFile, zlib.error, EOFError,
    struct.error, tokenize.TokenError from a header, NotImplementedError for a compression
    method, RuntimeError for an encrypted member, ...); sizes are checked before any of these
    calls allocates, so a MemoryError is not one of them and is not caught."""
    try:
        yield
    except (_Bad, MemoryError):
        raise
    except Exception as error:
        raise _Bad(f"{what}: {type(error).__name__}: {error}") from None


class _ZipMembers:
    """The ``.npy`` members of an ``.npz`` file, read with their headers checked first."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        names = archive.namelist()
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise _Bad(f"the archive holds the member {name!r} twice")
            seen.add(name)
            if not name.endswith(".npy"):
                raise _Bad(f"the archive holds the member {name!r}, which is not a .npy array")
        self.names = {name[: -len(".npy")] for name in names}
        self.headers: dict[str, tuple[tuple[int, ...], np.dtype[Any], bool, int]] = {}

    def header(self, name: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
        member = f"{name}.npy"
        with _archive_errors(f"member {member!r} has no readable .npy header"):
            with self.archive.open(member) as stream:
                version = np.lib.format.read_magic(stream)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
                else:
                    raise _Bad(f"member {member!r} has .npy version {version}, expected 1.0 or 2.0")
                offset = stream.tell()
        self.headers[name] = (tuple(shape), dtype, bool(fortran), offset)
        return tuple(shape), dtype

    def read(self, name: str) -> np.ndarray:
        member = f"{name}.npy"
        shape, dtype, fortran, offset = self.headers[name]
        count = int(np.prod(shape, dtype=object))
        expected = offset + count * dtype.itemsize
        size = self.archive.getinfo(member).file_size
        if size != expected:
            raise _Bad(
                f"member {member!r} holds {size} bytes, expected {expected} for a {dtype} array "
                f"of shape {shape}"
            )
        with _archive_errors(f"member {member!r} is damaged"):
            raw = self.archive.read(member)  # checks the CRC-32 of the whole member
        if len(raw) != expected:
            raise _Bad(f"member {member!r} holds {len(raw)} bytes, expected {expected}")
        if count == 0:
            return np.empty(shape, dtype=dtype)
        array = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
        return np.array(array.reshape(shape, order="F" if fortran else "C"), order="C")


def _is_dtype(dtype: np.dtype[Any], kind: str, sizes: tuple[int, ...] | None) -> bool:
    plain = dtype.fields is None and dtype.subdtype is None and dtype.kind == kind
    return plain and (sizes is None or dtype.itemsize in sizes)


_DTYPES = {"f": "float64", "i": "int32 or int64", "U": "a unicode string"}


def _member(
    members: Any,
    name: str,
    kind: str,
    shape: tuple[int, ...] | None,
    budget: _Budget | None,
) -> np.ndarray:
    """A member, read only after its header matched: dtype ``kind`` (float64, int32/int64 or
    unicode), ``shape`` (or any 1-d shape for None), its size within ``budget`` (None: already
    counted from the declared shapes)."""
    member = f"{name}.npy"
    if name not in members.names:
        raise _Bad(f"has no member {member!r}")
    found, dtype = members.header(name)
    if any(d < 0 for d in found):
        raise _Bad(f"member {member!r} has shape {tuple(found)}, with a negative length")
    sizes = {"f": (8,), "i": (4, 8), "U": None}[kind]
    if not _is_dtype(dtype, kind, sizes):
        raise _Bad(f"member {member!r} has dtype {dtype}, expected {_DTYPES[kind]}")
    if (shape is None and len(found) != 1) or (shape is not None and tuple(found) != shape):
        expected = "one dimension" if shape is None else f"{shape}"
        raise _Bad(f"member {member!r} has shape {tuple(found)}, expected {expected}")
    if budget is not None:
        needed = int(np.prod(found, dtype=object)) * dtype.itemsize
        budget.spend(needed, f"a member {member!r} of shape {tuple(found)} ({dtype})")
    array = members.read(name)
    if kind == "f" and array.dtype != np.float64:  # a big-endian float64
        array = array.astype(np.float64)
    return array


def _check_float(array: np.ndarray, name: str, infinity: int = 0) -> None:
    """No NaN; an infinity only of the sign the library writes there (``infinity``: +1 for
    +inf, -1 for -inf, 0 for none)."""
    nan = np.isnan(array)
    if nan.any():
        index = tuple(int(i) for i in np.argwhere(nan)[0])
        raise _Bad(f"{_index(name, index)} is NaN, expected a number")
    wrong = np.isinf(array)
    if infinity:
        wrong &= np.sign(array) != infinity
    if wrong.any():
        index = tuple(int(i) for i in np.argwhere(wrong)[0])
        allowed = {1: "only +inf", -1: "only -inf", 0: "no infinity"}[infinity]
        raise _Bad(f"{_index(name, index)} is {array[index]}, but {allowed} can occur there")


_SPARSE_MEMBERS = ("mdp_data", "mdp_indices", "mdp_indptr")
_FLOAT_MEMBERS = {
    *_ARRAY_FIELDS,
    *_SPARSE_MEMBERS,
    "metadata",
    "optimal_values",
    "optimal_return",
    "mdp_transitions",
    "mdp_rewards",
    "mdp_initial",
}


def _float_trace(metadata: Any, members: Any, budget: _Budget) -> Trace:
    """Validate the parsed metadata and the members of an ``.npz`` and build the float Trace."""
    version = _version(metadata)
    if version >= 2 and "checksum" not in metadata:
        raise _Bad(
            "has no key 'checksum' in its metadata (format versions 2 and later are checksummed)"
        )
    metadata = _object(metadata, "the metadata", _TOP_KEYS + _version_keys(version))
    record = dict(metadata["mdp"]) if isinstance(metadata["mdp"], dict) else metadata["mdp"]
    steps, num_states, num_actions = _declared(metadata, False, budget)
    action_mask = (
        _action_mask(record, num_states, num_actions) if isinstance(record, dict) else None
    )
    record = _object(
        record, "mdp", ("discount", "shape", "row_tolerance")[: 3 if version >= 2 else 2]
    )
    shapes = _expected_shapes(steps, num_states, num_actions)
    unexpected = sorted(members.names - _FLOAT_MEMBERS)
    if unexpected:
        raise _Bad(f"has the unexpected member {unexpected[0] + '.npy'!r}")
    arrays = {name: _member(members, name, "f", shapes[name], None) for name in _ARRAY_FIELDS}
    optimal = {
        name: _member(members, name, "f", shape, budget)
        for name, shape in (("optimal_values", (num_states,)), ("optimal_return", ()))
        if name in members.names
    }
    mdp_arrays: dict[str, np.ndarray] = {}
    sparse = "mdp_transitions" not in members.names
    if sparse:
        if not set(_SPARSE_MEMBERS) & members.names:
            raise _Bad("has no member 'mdp_transitions.npy' (nor sparse 'mdp_data.npy')")
        rows = (num_states * num_actions + 1,)
        mdp_arrays["mdp_indptr"] = _member(members, "mdp_indptr", "i", rows, budget)
        mdp_arrays["mdp_data"] = _member(members, "mdp_data", "f", None, budget)
        nonzeros = mdp_arrays["mdp_data"].shape
        mdp_arrays["mdp_indices"] = _member(members, "mdp_indices", "i", nonzeros, budget)
    else:
        extra = sorted(set(_SPARSE_MEMBERS) & members.names)
        if extra:
            raise _Bad(f"holds both dense 'mdp_transitions.npy' and sparse '{extra[0]}.npy'")
        shape = (num_states, num_actions, num_states)
        mdp_arrays["mdp_transitions"] = _member(members, "mdp_transitions", "f", shape, budget)
    shape = (num_states, num_actions)
    mdp_arrays["mdp_rewards"] = _member(members, "mdp_rewards", "f", shape, budget)
    mdp_arrays["mdp_initial"] = _member(members, "mdp_initial", "f", (num_states,), budget)
    _verify_checksum(metadata, {**arrays, **optimal, **mdp_arrays}, version)
    if _boolean(metadata["exact"], "exact") is not False:
        raise _Bad("exact is true, but an .npz trace holds a float run (exact traces are .json)")
    for name, array in arrays.items():
        _check_float(array, name, _INFINITY_SIGN.get(name, 0))
    for name, array in optimal.items():
        _check_float(array, name)
    if version >= 2:
        row_tolerance = _real_text(record["row_tolerance"], "mdp.row_tolerance")
        if row_tolerance < 0:
            raise _Bad(f"mdp.row_tolerance is {row_tolerance}, expected a number >= 0")
    else:
        row_tolerance = DEFAULT_ROW_TOLERANCE
    discount = _real_text(record["discount"], "mdp.discount")
    if sparse:
        transitions: Any = _csr(mdp_arrays, num_states, num_actions)
    else:
        transitions = mdp_arrays["mdp_transitions"]
    mdp = _build_mdp(
        lambda: FiniteMDP(
            transitions,
            mdp_arrays["mdp_rewards"],
            discount,
            mdp_arrays["mdp_initial"],
            action_mask=action_mask,
            exact=False,
            row_tolerance=row_tolerance,
        )
    )
    optimal_values = optimal.get("optimal_values")
    optimal_return = float(optimal["optimal_return"]) if "optimal_return" in optimal else None
    return _assemble(metadata, False, mdp, arrays, steps, optimal_values, optimal_return)


def _csr(arrays: dict[str, np.ndarray], num_states: int, num_actions: int) -> sp.csr_matrix:
    """The sparse (S*A, S) transitions, its structure checked before scipy sees it (scipy does
    not check column indices, and reading past them is undefined)."""
    data, indices, indptr = arrays["mdp_data"], arrays["mdp_indices"], arrays["mdp_indptr"]
    if indptr[0] != 0 or indptr[-1] != len(data) or np.any(np.diff(indptr) < 0):
        raise _Bad(
            f"mdp_indptr is not a CSR row pointer: it must rise from 0 to {len(data)} "
            "(the number of stored transitions)"
        )
    if len(indices) and (indices.min() < 0 or indices.max() >= num_states):
        raise _Bad(f"mdp_indices has an entry outside [0, S) = [0, {num_states})")
    rows = np.repeat(np.arange(num_states * num_actions), np.diff(indptr))
    order = np.diff(indices.astype(np.int64))
    if len(order) and np.any((order <= 0) & (rows[1:] == rows[:-1])):
        raise _Bad("mdp_indices is not strictly increasing within a row (CSR canonical form)")
    return sp.csr_matrix((data, indices, indptr), shape=(num_states * num_actions, num_states))


# ---------------------------------------------------------------------------- shared checks
def _certificates(records: Any, steps: int, exact: bool) -> tuple[Certificate, ...]:
    records = _list(records, "certificates")
    if len(records) != steps:
        raise _Bad(f"certificates has {len(records)} entries, expected one per step ({steps})")
    certificates = []
    for k, raw in enumerate(records):
        where = f"certificates[{k}]"
        record = _object(raw, where, _CERTIFICATE_KEYS)
        kind = _string(record["kind"], f"{where}.kind")
        if kind not in CERTIFICATE_KINDS:
            raise _Bad(f"{where}.kind is {kind!r}, expected one of {', '.join(CERTIFICATE_KINDS)}")
        bound = record["bound"]
        if bound is not None:
            bound = _real_text(bound, f"{where}.bound", infinity=True, exact=exact)
        tolerance = record["tolerance"]
        if tolerance is not None:
            tolerance = _real_text(tolerance, f"{where}.tolerance", exact=exact)
            if tolerance < 0:
                raise _Bad(f"{where}.tolerance is {tolerance}, expected a number >= 0")
        certified = _boolean(record["certified"], f"{where}.certified")
        detail = _string(record["detail"], f"{where}.detail")
        if certified and (
            kind == "inexact" or bound is None or tolerance is None or not bound <= tolerance
        ):
            raise _Bad(
                f"{where} claims certified = true, but its bound {bound} is not a number <= its "
                f"tolerance {tolerance} (kind {kind!r})"
            )
        certificates.append(Certificate(kind, bound, tolerance, certified, detail))
    return tuple(certificates)


def _check_policies(policies: np.ndarray, exact: bool) -> None:
    """Every pi_k[s] is a distribution: exactly in exact mode, to 1e-9 in float mode."""
    tolerance = 0 if exact else _POLICY_TOLERANCE
    negative = np.asarray(policies < -tolerance, dtype=bool)
    if negative.any():
        index = tuple(int(i) for i in np.argwhere(negative)[0])
        expectation = ">= 0" if exact else f">= 0 (tolerance {tolerance:g})"
        raise _Bad(
            f"{_index('policies', index)} = {policies[index]} is negative, expected {expectation}"
        )
    sums = policies.sum(axis=2)
    bad = np.asarray(sums != 1, dtype=bool) if exact else np.abs(sums - 1.0) > tolerance
    if bad.any():
        k, s = (int(i) for i in np.argwhere(bad)[0])
        expectation = "exactly 1" if exact else f"1 (tolerance {tolerance:g})"
        raise _Bad(
            f"policies[{k}, {s}, :] sums to {sums[k, s]}, expected {expectation}: pi_{k}[{s}] "
            "is not a distribution"
        )


def _provenance(record: Any) -> Provenance | None:
    """The run's provenance (None when the file has none: version 1)."""
    if record is None:
        return None
    record = _object(record, "provenance", _PROVENANCE_KEYS)
    algorithm = record["algorithm"]
    if algorithm is not None:
        algorithm = _string(algorithm, "provenance.algorithm")
    choice = _string(record["choice"], "provenance.choice")
    if choice not in _CHOICES:
        raise _Bad(f"provenance.choice is {choice!r}, expected one of {', '.join(_CHOICES)}")
    solver = record["solver"]
    if solver is not None:
        solver = _string(solver, "provenance.solver")
    strict = _boolean(record["strict"], "provenance.strict")
    return Provenance(algorithm, choice, solver, strict)


def _schedule(record: Any, steps: int) -> ScheduleRecord | None:
    """The scheduled values of the run: one row per step, one finite number > 0 per scheduled
    parameter (None when the file has none: no schedule, or a version before 3)."""
    if record is None:
        return None
    record = _object(record, "schedule", _SCHEDULE_KEYS)
    parameters = _list(record["parameters"], "schedule.parameters")
    if not parameters:
        raise _Bad("schedule.parameters is empty; a run without schedules stores schedule null")
    names = tuple(_string(p, f"schedule.parameters[{k}]") for k, p in enumerate(parameters))
    if len(set(names)) != len(names):
        raise _Bad(f"schedule.parameters names a parameter twice: {names}")
    texts = _list(record["schedules"], "schedule.schedules")
    if len(texts) != len(names):
        raise _Bad(
            f"schedule.schedules has {len(texts)} entries, expected one per parameter "
            f"({len(names)})"
        )
    schedules = tuple(_string(t, f"schedule.schedules[{k}]") for k, t in enumerate(texts))
    rows = _list(record["values"], "schedule.values")
    if len(rows) != steps:
        raise _Bad(f"schedule.values has {len(rows)} rows, expected one per step ({steps})")
    values = []
    for k, row in enumerate(rows):
        row = _list(row, f"schedule.values[{k}]")
        if len(row) != len(names):
            raise _Bad(
                f"schedule.values[{k}] has {len(row)} entries, expected one per parameter "
                f"({len(names)})"
            )
        parsed = []
        for j, text in enumerate(row):
            where = f"schedule.values[{k}][{j}] ({names[j]} at step {k})"
            value = _real_text(text, where, exact=bool(_RATIONAL.fullmatch(str(text))))
            if not value > 0:
                raise _Bad(f"{where} is {text}, expected a finite number > 0")
            if isinstance(value, Fraction) and value.denominator == 1:
                value = int(value)
            parsed.append(value)
        values.append(tuple(parsed))
    start = _count(record["start"], "schedule.start")
    return ScheduleRecord(names, schedules, tuple(values), start)


def _error_bounds(record: Any, steps: int, exact: bool) -> np.ndarray | None:
    """The certified evaluation error of each V_{pi_k}: n + 1 numbers >= 0 (0 if exact)."""
    if record is None:
        return None
    items = _list(record, "evaluation_error_bounds")
    if len(items) != steps + 1:
        raise _Bad(
            f"evaluation_error_bounds has {len(items)} entries, expected {steps + 1} (one per "
            "policy)"
        )
    bounds = [
        _real_text(b, f"evaluation_error_bounds[{k}]", exact=exact) for k, b in enumerate(items)
    ]
    for k, bound in enumerate(bounds):
        if not bound >= 0 or (exact and bound != 0):
            expected = "0 (an exact evaluation)" if exact else "a number >= 0"
            raise _Bad(f"evaluation_error_bounds[{k}] is {bound}, expected {expected}")
    if exact:
        array = np.empty(len(bounds), dtype=object)
        array[:] = bounds
        return array
    return np.array(bounds, dtype=float)


def _assemble(
    metadata: dict[str, Any],
    exact: bool,
    mdp: FiniteMDP,
    arrays: dict[str, np.ndarray],
    steps: int,
    optimal_values: np.ndarray | None,
    optimal_return: Any,
) -> Trace:
    """The checks common to both formats, then the Trace."""
    _check_policies(arrays["policies"], exact)
    times = arrays["step_times"]
    slow = ~np.isfinite(times) | (times < 0)
    if slow.any():
        k = int(np.argmax(slow))
        raise _Bad(f"step_times[{k}] is {times[k]}, expected a finite number of seconds >= 0")
    algorithm = _string(metadata["algorithm"], "algorithm")
    stop_reason = _string(metadata["stop_reason"], "stop_reason")
    if stop_reason not in _STOP_REASONS:
        raise _Bad(f"stop_reason is {stop_reason!r}, expected one of {', '.join(_STOP_REASONS)}")
    tolerance = _real_text(metadata["tolerance"], "tolerance", exact=exact)
    if exact and not isinstance(tolerance, Fraction):
        raise _Bad(f"tolerance is {metadata['tolerance']!r}, expected a rational 'p/q' string")
    if tolerance < 0:
        raise _Bad(f"tolerance is {tolerance}, expected a number >= 0")
    last = arrays["max_advantages"][-1]
    if stop_reason == "optimal" and not last <= tolerance:
        raise _Bad(
            f"stop_reason is 'optimal', but max_advantages[{steps}] = {last} exceeds the "
            f"tolerance {tolerance}: pi_{steps} is not a fixed point"
        )
    if stop_reason in ("not_certified", "left_support") and steps == 0:
        raise _Bad(f"stop_reason is {stop_reason!r}, but no step was taken")
    certificates = _certificates(metadata["certificates"], steps, exact)
    if (optimal_values is None) != (optimal_return is None):
        given = "optimal_values" if optimal_return is None else "optimal_return"
        raise _Bad(f"{given} is stored without its partner (V* and eta* are saved together)")
    provenance = _provenance(metadata.get("provenance"))
    bounds = _error_bounds(metadata.get("evaluation_error_bounds"), steps, exact)
    schedule = _schedule(metadata.get("schedule"), steps)
    return Trace(
        schedule=schedule,
        provenance=provenance,
        evaluation_error_bounds=bounds,
        algorithm=algorithm,
        mdp=mdp,
        exact=exact,
        certificates=certificates,
        optimal_values=optimal_values,
        optimal_return=optimal_return,
        stop_reason=stop_reason,
        tolerance=tolerance,
        **arrays,
    )


# ---------------------------------------------------------------------------- load_trace
def _read_npz(path: Path, budget: _Budget) -> Trace:
    with _archive_errors("is not a zip archive (an .npz trace is a zip of .npy arrays)"):
        archive = zipfile.ZipFile(path)
    with archive:
        members = _ZipMembers(archive)
        if "metadata" not in members.names:
            found = ", ".join(sorted(members.names)[:6]) or "none"
            raise _Bad(
                f"has no member 'metadata.npy': not a {_FORMAT_NAME} file (members: {found})"
            )
        text = _member(members, "metadata", "U", (), budget)
        return _float_trace(_parse_json(str(text[()])), members, budget)


def load_trace(path: str | os.PathLike[str], *, max_bytes: int = _DEFAULT_MAX_BYTES) -> Trace:
    """Load a trace written by :func:`save_trace`, after validating all of it.

    A saved trace is evidence, so nothing that is not one loads: every failure is an
    :class:`~tabular_mirror.errors.InvalidFileError` whose message names the file and the
    problem (the member or key, what was expected, what was found), and a file either loads
    as the trace that was saved or not at all. What is validated, in order:

    - the path: an existing, non-empty regular file ending in ``.npz`` (float) or ``.json``
      (exact);
    - the container: a readable zip of ``.npy`` members (CRC-checked; headers read before any
      data, dtypes float64 or int, never pickles), or UTF-8 JSON without duplicate keys,
      NaN/Infinity constants or nesting deeper than the format's;
    - the format tag ``"tabular-mirror trace N"`` with a known version N (1, 2 or 3);
    - the checksum (versions 2 and 3): SHA-256 of the canonical content; a file edited after it was
      written fails with "modified after it was written: checksum mismatch";
    - the declared sizes: n steps, S states, A actions; the memory the arrays would take is
      estimated from them *before* anything is allocated and must not exceed ``max_bytes``;
    - every key and member present, none unexpected, each of its JSON type (``certified`` a
      boolean, ``certificates`` a list, numbers as strings...);
    - shapes: (n+1, S, A) policies, (n+1, S) values, (n+1,) returns and max advantages,
      (n, S) / (n,) per-step arrays, n certificates, the declared ``shapes`` equal to these;
    - numbers: no NaN anywhere; an infinity only where the library writes one (+inf drifts,
      state drifts, improvement bounds and certificate bounds; -inf mirror values and
      objectives); step times finite and >= 0; exact traces hold "p/q" strings only;
    - policies on the simplex: exactly (entries >= 0, rows summing to exactly 1) in an exact
      trace, to 1e-9 (the mirror step's own check) in a float one;
    - ``stop_reason`` one of "iterations", "optimal", "not_certified", "interrupted",
      "left_support" (what :func:`~tabular_mirror.mirror_learning` writes), "optimal" only if
      the last max_{s,a} A <= tolerance, "not_certified" and "left_support" only after a step;
    - certificates: ``kind`` in :data:`~tabular_mirror.results.CERTIFICATE_KINDS`, bound and
      tolerance numbers or null, ``certified`` true only with a bound <= tolerance;
    - ``exact`` true in ``.json`` and false in ``.npz``, V* and eta* stored together;
    - the MDP through :class:`FiniteMDP`'s own validation (its error is the cause);
    - the schedule record (version 3): null, or the scheduled parameters' names, one row per
      step of one finite number > 0 per parameter, and the iteration of the first step.

    Version-2 files (written before the schedule record) load with ``schedule = None``.
    Version-1 files (format tag ``"tabular-mirror trace 1"``, written before the checksum)
    still load, after the same full validation; without a checksum, a consistent hand edit
    of a version-1 file cannot be detected. The checksum detects damage and edits, it is not
    a signature: whoever can recompute it can forge a file.

    Parameters
    ----------
    path : str or path-like
        A ``.npz`` (float) or ``.json`` (exact) trace.
    max_bytes : int
        Refuse files whose declared arrays would need more memory than this (default 4 GiB).

    Returns
    -------
    Trace
        Equal (``==``, bit for bit) to the trace that was saved.

    Raises
    ------
    InvalidFileError
        For every problem with the path or the file (``error.path`` is the path); an
        invalid MDP's :class:`InvalidMDPError` is its ``__cause__``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "notes.json").write_text('{"format": "something else"}')
    >>> try:
    ...     load_trace(folder / "notes.json")
    ... except InvalidFileError as error:
    ...     print(str(error).split("notes.json': ")[1])
    format is 'something else', expected 'tabular-mirror trace N': not a trace file
    """
    if not isinstance(path, str | os.PathLike):
        raise InvalidFileError(
            f"path = {_SHORT.repr(path)} is not a file path (a str or os.PathLike)", path
        )
    try:
        path = Path(path)
    except (TypeError, ValueError) as error:
        raise InvalidFileError(f"path = {path!r} is not a file path: {error}", path) from None
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise InvalidParameterError(f"max_bytes = {max_bytes!r}, expected an integer > 0")
    try:
        return _load(path, _Budget(max_bytes))
    except _Bad as problem:
        raise InvalidFileError(f"trace file {str(path)!r}: {problem}", path) from problem.__cause__


def _load(path: Path, budget: _Budget) -> Trace:
    suffix = path.suffix.lower()
    try:
        if not path.exists():
            raise _Bad("does not exist")
        if not path.is_file():
            raise _Bad("is not a regular file" + (" (a directory)" if path.is_dir() else ""))
        size = path.stat().st_size
    except (OSError, ValueError) as error:
        raise _Bad(f"cannot be read: {error}") from None
    if suffix not in (".npz", ".json"):
        raise _Bad(f"has suffix {path.suffix!r}: a trace is .npz (float) or .json (exact)")
    if size == 0:
        raise _Bad("is empty (0 bytes)")
    if size > budget.limit:
        raise _Bad(f"is {_size(size)}, more than the limit of {_size(budget.limit)} (max_bytes)")
    if suffix == ".npz":
        return _read_npz(path, budget)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise _Bad(f"cannot be read: {error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Bad(
            f"is not UTF-8 text: byte {raw[error.start]:#04x} at offset {error.start} "
            "(an exact trace is JSON)"
        ) from None
    return _exact_trace(_parse_json(text), budget)
