"""Files: the CSV long table (interchange) and lossless save / load (npz or JSON).

- :func:`to_csv` / :func:`from_csv`: one row per transition with the header
  ``state,action,next_state,probability,reward`` (the long format of CRAAM and MDPs.jl).
  Floats are written with ``repr`` (round-trip exact); exact values as fraction strings
  (``1/3``). The discount and d are not part of the table.
- :func:`save` / :func:`load`: the whole MDP (P, r, gamma, d) without loss: ``.npz`` for a
  float MDP (a sparse one stays sparse), ``.json`` with fraction strings for an exact one.
"""

from __future__ import annotations

import csv
import json
import os
import re
import zipfile
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from tabular_mirror._files import atomic_path, check_allocation
from tabular_mirror.errors import (
    ExactnessError,
    InvalidFileError,
    InvalidMDPError,
    InvalidParameterError,
)
from tabular_mirror.model import FiniteMDP

from ._common import scalar

__all__ = ["to_csv", "from_csv", "save", "load", "CSV_HEADER", "FORMAT_NAME", "FORMAT_VERSION"]

#: Columns of the CSV long table.
CSV_HEADER = ("state", "action", "next_state", "probability", "reward")
#: Identifies files written by :func:`save`.
FORMAT_NAME = "tabular-mirror-mdp"
FORMAT_VERSION = 1


def _nonzero_transitions(mdp: FiniteMDP) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(state, action, next_state, probability) of every stored nonzero P entry, in order."""
    matrix = mdp.transition_matrix
    if sp.issparse(matrix):
        coo = matrix.tocoo()
        order = np.lexsort((coo.col, coo.row))
        row, col, data = coo.row[order], coo.col[order], coo.data[order]
        nonzero = data != 0
        row, col, data = row[nonzero], col[nonzero], data[nonzero]
    else:
        row, col = np.nonzero(matrix != 0)
        data = matrix[row, col]
    state, action = np.divmod(row, mdp.num_actions)
    return state, action, col, data


def _infeasible_record(mdp: FiniteMDP) -> dict[str, Any]:
    """``{"infeasible": [[s, a], ...]}`` for an MDP with infeasible actions, else {}."""
    if not mdp.has_infeasible_actions:
        return {}
    return {"infeasible": [[int(s), int(a)] for s, a in np.argwhere(~mdp.action_mask)]}


def _mask_from_pairs(
    pairs: Any, num_states: int, num_actions: int, path: Path
) -> np.ndarray | None:
    """The action mask of an ``infeasible`` list of [state, action] pairs (None if absent)."""
    if pairs is None:
        return None
    if not isinstance(pairs, list):
        raise InvalidFileError(f"{path}: infeasible is not a list of [state, action] pairs", path)
    mask = np.ones((num_states, num_actions), dtype=bool)
    for k, pair in enumerate(pairs):
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(type(v) is int for v in pair)
            and 0 <= pair[0] < num_states
            and 0 <= pair[1] < num_actions
        ):
            raise InvalidFileError(
                f"{path}: infeasible[{k}] = {pair!r}, expected [state, action] within "
                f"(S, A) = ({num_states}, {num_actions})",
                path,
            )
        mask[pair[0], pair[1]] = False
    return mask


def _text(value: Any) -> str:
    return str(value) if isinstance(value, Fraction) else repr(float(value))


def to_csv(mdp: FiniteMDP, path: str | os.PathLike) -> Path:
    """Write the transitions of ``mdp`` as a CSV long table.

    Each row is ``state, action, next_state, probability, reward`` for a nonzero
    ``P[s, a, s']``; ``reward`` is the expected reward r[s, a] (the same on every row of a
    state-action pair).

    Parameters
    ----------
    mdp : FiniteMDP
    path : str or path-like

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    state, action, next_state, probability = _nonzero_transitions(mdp)
    rewards = mdp.rewards[state, action]
    with atomic_path(path) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        writer.writerows(
            zip(
                state.tolist(),
                action.tolist(),
                next_state.tolist(),
                map(_text, probability),
                map(_text, rewards),
                strict=True,
            )
        )
    return path


_INDEX = re.compile(r"\s*\+?\d+\s*")
_RATIONAL = re.compile(r"\s*[+-]?\d+(/\d+)?\s*")
_REAL = re.compile(r"\s*[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|\d+/\d+)\s*")


def _is_rational_literal(text: str) -> bool:
    return _RATIONAL.fullmatch(text) is not None


def _real(text: str) -> float:
    """A float from a decimal literal or a fraction literal (``1/3``), as float mode reads it."""
    return float(Fraction(text)) if "/" in text else float(text)


def from_csv(
    path: str | os.PathLike,
    *,
    discount: Any,
    initial: Any = None,
    exact: bool | None = None,
    num_states: int | None = None,
    num_actions: int | None = None,
    sparse: bool | None = None,
    missing_pairs: str = "error",
) -> FiniteMDP:
    """Read a CSV long table written by :func:`to_csv` (or any tool using its columns).

    Rows with the same (state, action, next_state) are added. The expected reward is
    ``r[s, a] = sum p * reward`` over the rows of (s, a), taken exactly as written when all
    rows of (s, a) carry the same reward.

    Parameters
    ----------
    path : str or path-like
    discount : float, Fraction or str
        gamma (not stored in the table).
    initial : (S,) array_like, optional
        d; uniform by default.
    exact : bool, optional
        Exact mode; by default exact iff every probability and reward is an integer or a
        fraction literal (``1``, ``-3``, ``1/3``), float iff any is a decimal.
    num_states, num_actions : int, optional
        S and A when the table does not mention the largest state or action.
    sparse : bool, optional
        CSR transitions (float mode). By default (None) sparse when a dense P would exceed
        128 MiB, dense otherwise.
    missing_pairs : {"error", "infeasible"}
        A state-action pair without any row: an error (its row sums to 0), or an infeasible
        action (:func:`to_csv` writes no row for the infeasible pairs of an MDP).

    Returns
    -------
    FiniteMDP

    Raises
    ------
    InvalidFileError
        A row without exactly five fields, an index that is not a plain non-negative integer
        literal (``1_0``, ``2.0``, ``-1``), a number that is not a plain literal, a missing
        header.
    InvalidMDPError
        Rows not summing to 1, a state or action beyond ``num_states`` / ``num_actions``.
    InvalidParameterError
        A dense exact P too large for memory (the size is named).
    """
    path = Path(path)
    if missing_pairs not in ("error", "infeasible"):
        raise InvalidParameterError(
            f"unknown missing_pairs {missing_pairs!r}; valid choices: 'error', 'infeasible'"
        )
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = tuple(column.strip() for column in next(reader, ()))
            if header != CSV_HEADER:
                raise InvalidFileError(
                    f"{path} has header {','.join(header)!r}, expected {','.join(CSV_HEADER)!r}",
                    path,
                )
            records = []
            for line, row in enumerate(reader, start=2):
                if not row or not "".join(row).strip():
                    continue
                if len(row) != len(CSV_HEADER):
                    raise InvalidFileError(
                        f"{path}, line {line}: {len(row)} fields {row!r}, expected "
                        f"{len(CSV_HEADER)} ({','.join(CSV_HEADER)})",
                        path,
                    )
                records.append((line, row))
    except (UnicodeDecodeError, csv.Error) as error:
        raise InvalidFileError(f"{path} is not a CSV text file: {error}", path) from None
    if not records:
        raise InvalidFileError(f"{path} has no transitions", path)
    columns = ("state", "action", "next_state")
    triples = []
    for line, row in records:
        for column, text in zip(columns, row[:3], strict=True):
            if _INDEX.fullmatch(text) is None:
                raise InvalidFileError(
                    f"{path}, line {line}: {column} = {text!r} is not an index (a plain integer "
                    ">= 0)",
                    path,
                )
        triples.append(tuple(int(text) for text in row[:3]))
    numbers = [(line, row[3].strip(), row[4].strip()) for line, row in records]
    for line, probability_text, reward_text in numbers:
        for column, text in (("probability", probability_text), ("reward", reward_text)):
            if _REAL.fullmatch(text) is None:
                raise InvalidFileError(
                    f"{path}, line {line}: {column} = {text!r} is not a number (an integer, a "
                    "fraction like 1/3 or a decimal like 0.25)",
                    path,
                )
    if exact is None:
        exact = all(_is_rational_literal(p) and _is_rational_literal(q) for _, p, q in numbers)
    if exact:
        for line, probability_text, reward_text in numbers:
            for column, text in (("probability", probability_text), ("reward", reward_text)):
                if not _is_rational_literal(text):
                    raise ExactnessError(
                        f"{path}, line {line}: {column} = {text!r} is a decimal, but exact=True "
                        "needs integers or fractions like 1/3"
                    )
    largest_state = max(max(s, t) for s, _, t in triples)
    largest_action = max(a for _, a, _ in triples)
    S = largest_state + 1 if num_states is None else _count(num_states, "num_states")
    A = largest_action + 1 if num_actions is None else _count(num_actions, "num_actions")
    if largest_state >= S or largest_action >= A:
        line = next(
            line for (line, _), (s, a, t) in zip(records, triples, strict=True)
            if max(s, t) >= S or a >= A
        )  # fmt: skip
        raise InvalidMDPError(
            f"{path}, line {line} mentions a state >= num_states = {S} or an action >= "
            f"num_actions = {A}"
        )
    try:
        if exact:
            probability = np.array([Fraction(p) for _, p, _ in numbers], dtype=object)
            reward = np.array([Fraction(q) for _, _, q in numbers], dtype=object)
        else:
            probability = np.array([_real(p) for _, p, _ in numbers])
            reward = np.array([_real(q) for _, _, q in numbers])
    except ZeroDivisionError as error:
        raise InvalidFileError(f"{path}: a fraction has denominator 0 ({error})", path) from None
    except OverflowError as error:
        raise InvalidFileError(f"{path}: a number is too large ({error})", path) from None
    check_allocation(
        (S, A), 24, f"{path}: the table names state {S - 1} and action {A - 1}; the row index "
        "of the transitions", "check the state and action columns", InvalidFileError,
    )  # fmt: skip
    indices = np.array(triples, dtype=np.int64)
    dense_bytes = 8.0 * S * A * S
    if sparse is None:
        sparse = not exact and dense_bytes > 128 * 1024**2
    if sparse and exact:
        raise ExactnessError(f"{path}: an exact MDP cannot be stored sparse; use sparse=False")
    pair = indices[:, 0] * A + indices[:, 1]
    zero = Fraction(0) if exact else 0.0
    if sparse:
        transitions: Any = sp.csr_matrix(
            (probability, (pair, indices[:, 2])), shape=(S * A, S)
        )  # duplicates are summed
    else:
        check_allocation(
            (S, A, S), 8, f"{path}: dense transitions", "read it with sparse=True"
            if not exact else "an exact MDP is dense: read it in float mode with exact=False "
            "(sparse), or check the state column",
            InvalidParameterError,
        )  # fmt: skip
        transitions = np.full((S, A, S), zero, dtype=object if exact else float)
        np.add.at(transitions, (indices[:, 0], indices[:, 1], indices[:, 2]), probability)
    expected = np.full(S * A, zero, dtype=object if exact else float)
    np.add.at(expected, pair, probability * reward)
    if not exact:  # keep a reward written once per pair exactly as written
        low = np.full(S * A, np.inf)
        high = np.full(S * A, -np.inf)
        np.minimum.at(low, pair, reward)
        np.maximum.at(high, pair, reward)
        constant = low == high
        expected[constant] = low[constant]
    action_mask = None
    if missing_pairs == "infeasible":
        action_mask = np.zeros(S * A, dtype=bool)
        action_mask[pair] = True
        action_mask = action_mask.reshape(S, A)
    return FiniteMDP(
        transitions,
        expected.reshape(S, A),
        scalar(discount, exact, "discount"),
        initial,
        action_mask=action_mask,
        exact=exact,
    )


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidParameterError(f"{name} = {value!r} must be an integer >= 1")
    return int(value)


def _with_suffix(path: str | os.PathLike, suffix: str) -> Path:
    path = Path(path)
    if not path.suffix:
        return path.with_suffix(suffix)
    if path.suffix != suffix:
        mode = "an exact" if suffix == ".json" else "a float"
        raise InvalidParameterError(
            f"path {str(path)!r} ends in {path.suffix!r}, but {mode} MDP is saved as {suffix}"
        )
    return path


def save(mdp: FiniteMDP, path: str | os.PathLike) -> Path:
    """Save an MDP without loss: ``.npz`` for float, ``.json`` (fraction strings) for exact.

    A missing suffix is added; a suffix that does not match the mode raises.

    Parameters
    ----------
    mdp : FiniteMDP
    path : str or path-like

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InvalidParameterError
        ``.npz`` for an exact MDP or ``.json`` for a float one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from mdps.textbook import small
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> load(save(small(exact=True), folder / "small")) == small(exact=True)
    True
    """
    if mdp.is_exact:
        path = _with_suffix(path, ".json")
        state, action, next_state, probability = _nonzero_transitions(mdp)
        document = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "exact": True,
            "num_states": mdp.num_states,
            "num_actions": mdp.num_actions,
            "discount": str(mdp.discount),
            "initial": [str(v) for v in mdp.initial],
            "rewards": [[str(v) for v in row] for row in mdp.rewards],
            **_infeasible_record(mdp),
            "transitions": [
                [int(s), int(a), int(t), str(p)]
                for s, a, t, p in zip(state, action, next_state, probability, strict=True)
            ],
        }
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps(document), encoding="utf-8")
        return path
    path = _with_suffix(path, ".npz")
    arrays: dict[str, Any] = {
        "format": np.array(FORMAT_NAME),
        "version": np.array(FORMAT_VERSION),
        "rewards": mdp.rewards,
        "discount": np.array(mdp.discount),
        "initial": mdp.initial,
        "sparse": np.array(mdp.is_sparse),
    }
    if mdp.has_infeasible_actions:
        arrays["action_mask"] = mdp.action_mask
    if mdp.is_sparse:
        matrix = mdp.transitions
        arrays |= {
            "data": matrix.data,
            "indices": matrix.indices,
            "indptr": matrix.indptr,
            "shape": np.array(matrix.shape),
        }
    else:
        arrays["transitions"] = mdp.transitions
    with atomic_path(path) as temporary, temporary.open("wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


#: Errors that reading a damaged file can raise inside json, zipfile, zlib and numpy.
_READ_ERRORS = (
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    EOFError,
    OSError,
    zipfile.BadZipFile,
    zlib.error,
    RecursionError,
    UnicodeDecodeError,
    OverflowError,
    RuntimeError,  # zipfile: "encrypted, password required", NotImplementedError for odd flags
)


def load(path: str | os.PathLike) -> FiniteMDP:
    """Load an MDP written by :func:`save` (``.npz`` float or ``.json`` exact).

    Every entry is checked: a damaged, truncated, hand-edited or foreign file raises
    :class:`~tabular_mirror.errors.InvalidFileError` naming the file and what is wrong,
    a float in an exact file :class:`~tabular_mirror.errors.ExactnessError`, and an MDP that is
    not one (rows not summing to 1) :class:`~tabular_mirror.errors.InvalidMDPError`.

    Raises
    ------
    InvalidParameterError
        An unknown suffix.
    InvalidFileError
        A file that is not a saved MDP, or a damaged one (the size it declares is checked
        before anything is allocated).
    ExactnessError
        A JSON number (a binary float) where the exact format stores fraction strings.
    InvalidMDPError
        The stored arrays do not define an MDP.
    """
    path = Path(path)
    if path.suffix not in (".json", ".npz"):
        raise InvalidParameterError(
            f"path {str(path)!r} has suffix {path.suffix!r}; valid: .npz, .json"
        )
    if not path.is_file():
        raise InvalidFileError(f"{path} does not exist or is not a file", path)
    try:
        if path.suffix == ".json":
            return _load_json(path)
        return _load_npz(path)
    except (InvalidFileError, InvalidMDPError, ExactnessError, InvalidParameterError):
        raise
    except MemoryError:
        raise InvalidFileError(f"{path} declares arrays too large for memory", path) from None
    except _READ_ERRORS as error:
        raise InvalidFileError(
            f"{path} is damaged or not a {FORMAT_NAME} file ({type(error).__name__}: "
            f"{str(error)[:200]})",
            path,
        ) from None


def _exact_entry(value: Any, name: str, path: Path) -> Fraction:
    """A fraction string of the exact format; a JSON number is a float and raises."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        if isinstance(value, float):
            raise ExactnessError(
                f"{path}: {name} = {value!r} is a JSON number (a binary float); the exact format "
                'stores fraction strings such as "9/10"'
            )
        raise InvalidFileError(f"{path}: {name} = {value!r} is not a fraction string", path)
    try:
        return Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise InvalidFileError(f"{path}: {name} = {value!r} is not a fraction", path) from None


def _load_json(path: Path) -> FiniteMDP:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise InvalidFileError(f"{path} is not a {FORMAT_NAME} file", path)
    if document.get("version") != FORMAT_VERSION:
        raise InvalidFileError(
            f"{path} has format version {document.get('version')!r}; this version of "
            f"tabular-mirror reads version {FORMAT_VERSION}",
            path,
        )
    sizes = []
    for key in ("num_states", "num_actions"):
        value = document.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidFileError(f"{path}: {key} = {value!r}, expected an integer >= 1", path)
        sizes.append(value)
    S, A = sizes
    check_allocation(
        (S, A, S), 8, f"{path} declares exact transitions", "the file is damaged or not meant "
        "for exact mode", InvalidFileError,
    )  # fmt: skip
    rewards, initial, entries = (document.get(k) for k in ("rewards", "initial", "transitions"))
    if not (isinstance(rewards, list) and len(rewards) == S and all(
        isinstance(row, list) and len(row) == A for row in rewards
    )):  # fmt: skip
        raise InvalidFileError(f"{path}: rewards is not a list of {S} rows of {A} entries", path)
    if not (isinstance(initial, list) and len(initial) == S):
        raise InvalidFileError(f"{path}: initial is not a list of {S} entries", path)
    if not isinstance(entries, list):
        raise InvalidFileError(f"{path}: transitions is not a list", path)
    transitions = np.full((S, A, S), Fraction(0), dtype=object)
    seen: set[tuple[int, int, int]] = set()
    for k, entry in enumerate(entries):
        if not (isinstance(entry, list) and len(entry) == 4):
            raise InvalidFileError(
                f"{path}: transitions[{k}] = {entry!r}, expected [state, action, next_state, "
                "probability]",
                path,
            )
        index = tuple(entry[:3])
        for name, value, extent in zip(("state", "action", "next_state"), index, (S, A, S),
                                       strict=True):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < extent:
                raise InvalidFileError(
                    f"{path}: transitions[{k}] has {name} = {value!r}, expected an integer in "
                    f"0..{extent - 1}",
                    path,
                )
        if index in seen:
            raise InvalidFileError(
                f"{path}: transitions[{k}] repeats the entry {list(index)} (each nonzero P[s, a, "
                "s'] is stored once)",
                path,
            )
        seen.add(index)
        transitions[index] = _exact_entry(entry[3], f"transitions[{k}] probability", path)
    return FiniteMDP(
        transitions,
        [
            [_exact_entry(v, f"rewards[{s}][{a}]", path) for a, v in enumerate(row)]
            for s, row in enumerate(rewards)
        ],
        _exact_entry(document.get("discount"), "discount", path),
        [_exact_entry(v, f"initial[{s}]", path) for s, v in enumerate(initial)],
        action_mask=_mask_from_pairs(document.get("infeasible"), S, A, path),
        exact=True,
    )


def _member(archive: Any, name: str, path: Path, kind: str, ndim: int) -> np.ndarray:
    """One array of an npz archive, of numeric ``kind`` ("f" real, "i" integer) and ``ndim``."""
    if name not in archive:
        raise InvalidFileError(f"{path} has no member {name!r}", path)
    array = archive[name]
    kinds = {"f": "fiub", "i": "iu", "b": "b"}[kind]
    if array.dtype.kind not in kinds or array.ndim != ndim:
        raise InvalidFileError(
            f"{path}: member {name!r} has dtype {array.dtype} and shape {array.shape}, expected "
            f"{ndim} dimension(s) of {'real numbers' if kind == 'f' else 'integers'}",
            path,
        )
    return array


def _load_npz(path: Path) -> FiniteMDP:
    with np.load(path, allow_pickle=False) as archive:
        if "format" not in archive or str(archive["format"]) != FORMAT_NAME:
            raise InvalidFileError(f"{path} is not a {FORMAT_NAME} file", path)
        version = _member(archive, "version", path, "i", 0)
        if int(version) != FORMAT_VERSION:
            raise InvalidFileError(
                f"{path} has format version {int(version)}; this version of tabular-mirror "
                f"reads version {FORMAT_VERSION}",
                path,
            )
        if bool(_member(archive, "sparse", path, "b", 0)):
            shape = _member(archive, "shape", path, "i", 1)
            if shape.shape != (2,) or (shape < 1).any():
                raise InvalidFileError(f"{path}: shape = {shape.tolist()}, expected (S*A, S)", path)
            check_allocation(
                (int(shape[0]),), 8, f"{path} declares a sparse row index", "the file is damaged",
                InvalidFileError,
            )  # fmt: skip
            transitions: Any = sp.csr_matrix(
                (
                    _member(archive, "data", path, "f", 1),
                    _member(archive, "indices", path, "i", 1),
                    _member(archive, "indptr", path, "i", 1),
                ),
                shape=(int(shape[0]), int(shape[1])),
            )
        else:
            transitions = _member(archive, "transitions", path, "f", 3)
        return FiniteMDP(
            transitions,
            _member(archive, "rewards", path, "f", 2),
            float(_member(archive, "discount", path, "f", 0)),
            _member(archive, "initial", path, "f", 1),
            action_mask=(
                _member(archive, "action_mask", path, "b", 2) if "action_mask" in archive else None
            ),
            exact=False,
        )
