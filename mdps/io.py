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
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from tabular_mirror.errors import ExactnessError, InvalidMDPError, InvalidParameterError
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


def _mask_from_pairs(pairs: Any, num_states: int, num_actions: int) -> np.ndarray | None:
    """The action mask of an ``infeasible`` list (None when absent)."""
    if pairs is None:
        return None
    mask = np.ones((num_states, num_actions), dtype=bool)
    try:
        for s, a in pairs:
            mask[int(s), int(a)] = False
    except (TypeError, ValueError, IndexError) as error:
        raise InvalidMDPError(
            f"infeasible is not a list of [state, action] pairs: {error}"
        ) from None
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
    with path.open("w", newline="") as handle:
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


def _is_rational_literal(text: str) -> bool:
    return not any(marker in text.lower() for marker in (".", "e", "inf", "nan"))


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

    Returns
    -------
    FiniteMDP
        Dense.

    Raises
    ------
    InvalidMDPError
        Missing columns, unreadable numbers, negative indices, or rows not summing to 1.
    """
    with Path(path).open(newline="") as handle:
        reader = csv.reader(handle)
        header = tuple(column.strip() for column in next(reader, ()))
        if header != CSV_HEADER:
            raise InvalidMDPError(f"{path} has header {header}, expected {','.join(CSV_HEADER)}")
        records = [row for row in reader if row]
    if not records:
        raise InvalidMDPError(f"{path} has no transitions")
    try:
        indices = np.array([[int(r[0]), int(r[1]), int(r[2])] for r in records], dtype=np.int64)
    except (ValueError, IndexError) as error:
        raise InvalidMDPError(f"{path}: state, action and next_state must be integers") from error
    if (indices < 0).any():
        raise InvalidMDPError(f"{path}: negative state, action or next_state index")
    numbers = [(r[3].strip(), r[4].strip()) for r in records]
    if exact is None:
        exact = all(_is_rational_literal(p) and _is_rational_literal(q) for p, q in numbers)
    try:
        if exact:
            probability = np.array([Fraction(p) for p, _ in numbers], dtype=object)
            reward = np.array([Fraction(q) for _, q in numbers], dtype=object)
        else:
            probability = np.array([_real(p) for p, _ in numbers])
            reward = np.array([_real(q) for _, q in numbers])
    except (ValueError, ZeroDivisionError) as error:
        raise (ExactnessError if exact else InvalidMDPError)(
            f"{path}: a probability or reward is not a {'rational' if exact else 'real'} number: "
            f"{error}"
        ) from error
    S = int(indices[:, [0, 2]].max()) + 1 if num_states is None else int(num_states)
    A = int(indices[:, 1].max()) + 1 if num_actions is None else int(num_actions)
    if indices[:, [0, 2]].max() >= S or indices[:, 1].max() >= A:
        raise InvalidMDPError(f"{path} mentions a state >= {S} or an action >= {A}")
    zero = Fraction(0) if exact else 0.0
    transitions = np.full((S, A, S), zero, dtype=object if exact else float)
    np.add.at(transitions, (indices[:, 0], indices[:, 1], indices[:, 2]), probability)
    pair = indices[:, 0] * A + indices[:, 1]
    expected = np.full(S * A, zero, dtype=object if exact else float)
    np.add.at(expected, pair, probability * reward)
    if not exact:  # keep a reward written once per pair exactly as written
        low = np.full(S * A, np.inf)
        high = np.full(S * A, -np.inf)
        np.minimum.at(low, pair, reward)
        np.maximum.at(high, pair, reward)
        constant = low == high
        expected[constant] = low[constant]
    return FiniteMDP(
        transitions,
        expected.reshape(S, A),
        scalar(discount, exact, "discount"),
        initial,
        exact=exact,
    )


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
        path.write_text(json.dumps(document))
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
    with path.open("wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


def load(path: str | os.PathLike) -> FiniteMDP:
    """Load an MDP written by :func:`save` (``.npz`` float or ``.json`` exact).

    Raises
    ------
    InvalidParameterError
        An unknown suffix.
    InvalidMDPError
        A file that is not a saved MDP.
    """
    path = Path(path)
    if path.suffix == ".json":
        document = json.loads(path.read_text())
        if document.get("format") != FORMAT_NAME:
            raise InvalidMDPError(f"{path} is not a {FORMAT_NAME} file")
        S, A = int(document["num_states"]), int(document["num_actions"])
        transitions = np.full((S, A, S), Fraction(0), dtype=object)
        for s, a, t, p in document["transitions"]:
            transitions[s, a, t] = Fraction(p)
        return FiniteMDP(
            transitions,
            [[Fraction(v) for v in row] for row in document["rewards"]],
            Fraction(document["discount"]),
            [Fraction(v) for v in document["initial"]],
            action_mask=_mask_from_pairs(document.get("infeasible"), S, A),
            exact=True,
        )
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            if "format" not in archive or str(archive["format"]) != FORMAT_NAME:
                raise InvalidMDPError(f"{path} is not a {FORMAT_NAME} file")
            if bool(archive["sparse"]):
                transitions: Any = sp.csr_matrix(
                    (archive["data"], archive["indices"], archive["indptr"]),
                    shape=tuple(archive["shape"]),
                )
            else:
                transitions = archive["transitions"]
            return FiniteMDP(
                transitions,
                archive["rewards"],
                float(archive["discount"]),
                archive["initial"],
                action_mask=archive["action_mask"] if "action_mask" in archive else None,
                exact=False,
            )
    raise InvalidParameterError(
        f"path {str(path)!r} has suffix {path.suffix!r}; valid: .npz, .json"
    )
