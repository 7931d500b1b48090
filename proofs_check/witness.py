"""Replayable witnesses: everything needed to reproduce a verdict, as JSON, and :func:`replay`.

A witness is a plain dict (JSON-ready) that names the check that produced a verdict and its
arguments, encoded so that they rebuild exactly:

- ``"call"``: the check, as ``"module:function"`` (``"proofs_check.fundamental:
  check_fundamental_theorem"``, ``"proofs_check.lemmas:check_step"``, ...);
- ``"arguments"``: its arguments. MDPs, policies, algorithms, pieces, solvers and Fractions are
  tagged dicts (``{"mdp": ...}``, ``{"array": ..., "exact": true}``, ``{"algorithm": repr}``,
  ``{"piece": repr}``, ``{"solver": ...}``, ``{"fraction": "1/5"}``); everything else is JSON;
- ``"claim"``: the verdict's name, and ``"expected"``: its outcome, margin, iteration and state
  when the witness was made;
- the MDP's arrays at the top level (``transitions`` or ``transitions_sparse``, ``rewards``,
  ``discount``, ``initial``, ``exact``: see :func:`proofs_check.verdicts.mdp_witness`) and,
  for a run, the policies at the offending iteration, so a reader can look at them directly.

Algorithms and pieces are stored by their ``repr`` (frozen dataclasses of the library) and
rebuilt by a restricted parser that only calls the library's piece classes, ``Fraction`` and
numpy scalar constructors: a witness file cannot run code. A user's own piece class becomes
rebuildable with :func:`register_piece`; a piece holding a Python function (``CallableDrift``)
cannot be stored, so :func:`replay` then asks for ``algorithm=``.

Examples
--------
>>> import tabular_mirror as tm
>>> from tabular_mirror import instances
>>> import proofs_check
>>> from proofs_check.counterexamples import tv_solver, total_variation_algorithm
>>> mdp = tm.FiniteMDP([[[1, 0], [1, 0]], [[0, 1], [0, 1]]], [[0, 0], [0, 1]], "1/2")
>>> algorithm = total_variation_algorithm()
>>> report = proofs_check.check_fundamental_theorem(
...     mdp, algorithm, tm.deterministic_policy(mdp, [0, 0]), 3, solver=tv_solver)
>>> verdict = report["theorem_3_6_2_value_convergence"]
>>> verdict.outcome
'failed'
>>> replay(verdict.witness).outcome == verdict.outcome
True
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

import tabular_mirror as tm
from tabular_mirror import drift_distributions, drifts, neighbourhoods, sampling, schedules
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.errors import InvalidFileError, InvalidParameterError
from tabular_mirror.step import describe_solver

from .verdicts import Report, Verdict, array_text, json_default, mdp_witness

__all__ = [
    "WITNESS_FORMAT",
    "register_piece",
    "algorithm_record",
    "rebuild_algorithm",
    "rebuild_mdp",
    "solver_from_text",
    "encode",
    "decode",
    "call_witness",
    "replay",
    "save_witness",
    "load_witness",
]

#: The format tag written into every witness.
WITNESS_FORMAT = "tabular-mirror witness 1"

_PIECES: dict[str, type] = {}


def _register_module(module: Any) -> None:
    for name in dir(module):
        value = getattr(module, name)
        if isinstance(value, type) and value.__module__ == module.__name__:
            _PIECES[name] = value


for _module in (drifts, drift_distributions, neighbourhoods, sampling, schedules):
    _register_module(_module)
_PIECES["MirrorAlgorithm"] = MirrorAlgorithm


def register_piece(cls: type) -> type:
    """Make a user's piece class rebuildable from its ``repr`` (use as a class decorator).

    The class must be a frozen dataclass whose repr lists its fields (the dataclass default) and
    whose field values are numbers, strings, tuples, Fractions or other registered pieces.
    """
    if not isinstance(cls, type):
        raise InvalidParameterError(f"register_piece expects a class, got {cls!r}")
    _PIECES[cls.__name__] = cls
    return cls


def _known_pieces() -> dict[str, Any]:
    from . import counterexamples  # the searches' own pieces (NonMonotoneShift); lazy: no cycle

    names = dict(_PIECES)
    names.setdefault("NonMonotoneShift", counterexamples.NonMonotoneShift)
    names["Fraction"] = Fraction
    return names


_NUMPY_SCALARS = {"float64": np.float64, "int64": np.int64, "float32": np.float32}


def _safe_eval(text: str) -> Any:
    """Evaluate a repr built only of known piece constructors, Fractions, numpy scalars and
    literals (no names, attributes or calls of anything else): a witness cannot run code."""
    pieces = _known_pieces()

    def build(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(build(e) for e in node.elts)
        if isinstance(node, ast.List):
            return [build(e) for e in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = build(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Name) and function.id in pieces:
                constructor = pieces[function.id]
            elif (
                isinstance(function, ast.Attribute)
                and isinstance(function.value, ast.Name)
                and function.value.id == "np"
                and function.attr in _NUMPY_SCALARS
            ):
                constructor = _NUMPY_SCALARS[function.attr]
            else:
                raise InvalidParameterError(
                    f"cannot rebuild {ast.unparse(function)}(...): not a registered piece "
                    "(register your class with proofs_check.witness.register_piece)"
                )
            arguments = [build(a) for a in node.args]
            keywords = {k.arg: build(k.value) for k in node.keywords if k.arg is not None}
            return constructor(*arguments, **keywords)
        raise InvalidParameterError(f"cannot rebuild the expression {ast.unparse(node)!r}")

    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise InvalidParameterError(f"cannot parse {text!r}: {error.msg}") from None
    return build(tree)


def _rebuildable(value: Any) -> bool:
    try:
        return bool(_safe_eval(repr(value)) == value)
    except Exception:  # any failure means: not rebuildable from its repr
        return False


def algorithm_record(algorithm: MirrorAlgorithm) -> dict[str, Any]:
    """{"algorithm": repr, "name": ..., "rebuildable": bool} for a MirrorAlgorithm."""
    return {
        "algorithm": repr(algorithm),
        "name": algorithm.name,
        "rebuildable": _rebuildable(algorithm),
    }


def rebuild_algorithm(record: dict[str, Any]) -> MirrorAlgorithm:
    """The algorithm of :func:`algorithm_record` (InvalidParameterError if not rebuildable)."""
    if not record.get("rebuildable", True):
        raise InvalidParameterError(
            f"the witness's algorithm {record.get('name')!r} holds a piece that cannot be "
            "stored (e.g. a CallableDrift's function); pass algorithm= to replay"
        )
    algorithm = _safe_eval(record["algorithm"])
    if not isinstance(algorithm, MirrorAlgorithm):
        raise InvalidParameterError(f"{record['algorithm']!r} is not a MirrorAlgorithm")
    return algorithm


# ---------------------------------------------------------------------------- solvers
def _solver_record(solver: Callable | None) -> Any:
    """{"solver": ...} for :func:`encode` (see :func:`tabular_mirror.describe_solver`)."""
    if solver is None:
        return None
    return {"solver": solver_from_text(describe_solver(solver), record_only=True)}


def solver_from_text(text: str | None, *, record_only: bool = False) -> Any:
    """Rebuild a solver from :func:`tabular_mirror.describe_solver`'s text (or, with
    ``record_only``, the witness record of it). Only solvers of proofs_check and tabular_mirror
    and inexact solvers are rebuilt: a file never makes the library import other code."""
    if text is None:
        return None
    if text.startswith("{"):
        record: dict[str, Any] = json.loads(text)
    elif text.startswith("<"):
        record = {"name": text.strip("<>"), "rebuildable": False}
    else:
        record = {"function": text}
    return record if record_only else _rebuild_solver(record, None)


def _rebuild_solver(record: dict[str, Any], given: Callable | None) -> Callable:
    if given is not None:
        return given
    if "inexact" in record:
        return tm.inexact_solver(**record["inexact"])
    if "function" in record:
        if not str(record["function"]).startswith(("proofs_check.", "tabular_mirror.")):
            raise InvalidParameterError(
                f"the solver {record['function']!r} is not part of tabular-mirror; pass solver= "
                "to rebuild it (a stored file never makes the library import other code)"
            )
        return _import(record["function"])
    raise InvalidParameterError(
        f"the witness's solver {record.get('name')!r} cannot be stored; pass solver= to replay"
    )


def _import(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    try:
        value: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError, ValueError) as error:
        raise InvalidParameterError(f"cannot import {path!r}: {error}") from None
    return value


# ---------------------------------------------------------------------------- encoding
def encode(value: Any) -> Any:
    """A check's argument as JSON-ready data (see the module docstring for the tags)."""
    if isinstance(value, tm.FiniteMDP):
        return {"mdp": mdp_witness(value)}
    if isinstance(value, MirrorAlgorithm):
        return algorithm_record(value)
    if isinstance(value, drifts.Drift | neighbourhoods.Neighbourhood | sampling.Sampling) or (
        isinstance(value, drift_distributions.DriftDistribution)
    ):
        return {"piece": repr(value), "rebuildable": _rebuildable(value)}
    if isinstance(value, Fraction):
        return {"fraction": str(value)}
    if isinstance(value, np.ndarray):
        return {"array": array_text(value), "exact": value.dtype == object}
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if callable(value):
        return _solver_record(value)
    raise InvalidParameterError(f"cannot store {type(value).__name__} {value!r} in a witness")


def decode(value: Any, *, algorithm: Any = None, solver: Any = None) -> Any:
    """Inverse of :func:`encode` (``algorithm``/``solver`` replace unstorable ones)."""
    if isinstance(value, list):
        return [decode(v, algorithm=algorithm, solver=solver) for v in value]
    if not isinstance(value, dict):
        return value
    if "mdp" in value and len(value) == 1:
        return rebuild_mdp(value["mdp"])
    if "algorithm" in value and "rebuildable" in value:
        return algorithm if algorithm is not None else rebuild_algorithm(value)
    if "piece" in value:
        if not value.get("rebuildable", True):
            raise InvalidParameterError(f"the piece {value['piece']!r} cannot be rebuilt")
        return _safe_eval(value["piece"])
    if "fraction" in value and len(value) == 1:
        return Fraction(value["fraction"])
    if "array" in value and "exact" in value:
        return _array(value["array"], value["exact"])
    if "solver" in value and len(value) == 1:
        return _rebuild_solver(value["solver"], solver)
    return {k: decode(v, algorithm=algorithm, solver=solver) for k, v in value.items()}


def _array(data: Any, exact: bool) -> np.ndarray:
    if not exact:
        return np.array(data, dtype=float)
    flat = np.array(data, dtype=object)
    out = np.empty(flat.shape, dtype=object)
    out.reshape(-1)[:] = [Fraction(str(v)) for v in flat.reshape(-1)]
    return out


def rebuild_mdp(record: dict[str, Any]) -> tm.FiniteMDP:
    """The FiniteMDP of a witness (:func:`proofs_check.verdicts.mdp_witness`), exactly."""
    exact = bool(record.get("exact", False))
    rewards = _array(record["rewards"], exact)
    initial = _array(record["initial"], exact)
    if "transitions_sparse" in record:
        num_states, num_actions = int(record["num_states"]), int(record["num_actions"])
        entries = np.array(record["transitions_sparse"], dtype=float).reshape(-1, 3)
        transitions: Any = sp.csr_matrix(
            (entries[:, 2], (entries[:, 0].astype(np.int64), entries[:, 1].astype(np.int64))),
            shape=(num_states * num_actions, num_states),
        )
    else:
        transitions = _array(record["transitions"], exact)
    discount = Fraction(record["discount"]) if exact else float(record["discount"])
    mask = record.get("action_mask")
    return tm.FiniteMDP(
        transitions,
        rewards,
        discount,
        initial,
        action_mask=None if mask is None else np.array(mask, dtype=bool),
        exact=exact,
    )


# ---------------------------------------------------------------------------- witnesses
def call_witness(
    function: Callable,
    arguments: dict[str, Any],
    claim: str,
    **shown: Any,
) -> dict[str, Any]:
    """A witness that replays ``function(**arguments)`` and reads the verdict ``claim``.

    ``shown`` adds readable data (policies at the offending iteration, ...); arrays become
    nested lists. The MDP argument (if any) is also shown at the top level.
    """
    witness: dict[str, Any] = {"format": WITNESS_FORMAT}
    mdp = arguments.get("mdp")
    if isinstance(mdp, tm.FiniteMDP):
        witness.update(mdp_witness(mdp))
    witness["call"] = f"{function.__module__}:{function.__qualname__}"
    witness["arguments"] = {k: encode(v) for k, v in arguments.items()}
    witness["claim"] = claim
    for key, value in shown.items():
        witness[key] = array_text(value) if isinstance(value, np.ndarray) else encode(value)
    return witness


def with_expected(witness: Any, verdict: Verdict) -> Any:
    """The witness with the verdict's outcome recorded as ``expected`` (what replay must give)."""
    if not isinstance(witness, dict) or "call" not in witness:
        return witness
    expected = {
        "outcome": verdict.outcome,
        "margin": None if verdict.margin is None else encode(verdict.margin),
        "iteration": verdict.worst_iteration,
        "state": verdict.worst_state,
    }
    return {**witness, "claim": verdict.name, "expected": expected}


def replay(
    witness: dict[str, Any] | str | Path,
    *,
    algorithm: MirrorAlgorithm | None = None,
    solver: Callable | None = None,
) -> Verdict:
    """Re-run the check a witness names and return the verdict of its claim.

    Parameters
    ----------
    witness : dict, or the path of a witness saved with :func:`save_witness`
    algorithm, solver : optional
        Stand-ins for an algorithm or solver the witness could not store (a user's
        ``CallableDrift``, a closure).

    Returns
    -------
    Verdict
        The claim's verdict from the re-run; ``witness["expected"]`` holds the original outcome,
        margin, iteration and state to compare with.
    """
    if isinstance(witness, str | Path):
        witness = load_witness(witness)
    if not isinstance(witness, dict) or "call" not in witness or "claim" not in witness:
        raise InvalidParameterError(
            "not a replayable witness: expected a dict with 'call', 'arguments' and 'claim' "
            "(the witness of a verdict made by proofs_check)"
        )
    if not str(witness["call"]).startswith("proofs_check."):
        raise InvalidParameterError(
            f"a witness may only call proofs_check checks, not {witness['call']!r}"
        )
    function = _import(witness["call"])
    arguments = {
        k: decode(v, algorithm=algorithm, solver=solver)
        for k, v in witness.get("arguments", {}).items()
    }
    result = function(**arguments)
    if isinstance(result, Verdict):
        return result
    if isinstance(result, Report):
        return result[witness["claim"]]
    raise InvalidParameterError(
        f"{witness['call']} returned {type(result).__name__}, not a verdict"
    )


def save_witness(witness: dict[str, Any], path: str | Path) -> Path:
    """Write a witness as JSON (atomically: a temporary file, then a rename)."""
    path = Path(path)
    text = json.dumps(witness, indent=1, default=json_default)
    directory = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_witness(path: str | Path) -> dict[str, Any]:
    """Read a witness written by :func:`save_witness` (InvalidFileError if it is not one)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        witness = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise InvalidFileError(f"{path}: not a readable witness file ({error})", path) from None
    if not isinstance(witness, dict) or witness.get("format") != WITNESS_FORMAT:
        raise InvalidFileError(
            f"{path}: not a witness (expected a JSON object with format {WITNESS_FORMAT!r})", path
        )
    for key in ("call", "arguments", "claim"):
        if key not in witness:
            raise InvalidFileError(f"{path}: the witness has no {key!r}", path)
    if not isinstance(witness["arguments"], dict):
        raise InvalidFileError(f"{path}: the witness's 'arguments' is not an object", path)
    return witness
