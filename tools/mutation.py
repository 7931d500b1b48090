"""Mutation testing of proofs_check's checkers: a small AST mutator, one command.

Each mutant changes one operator, constant, condition or statement in the module under test;
the module's fast test selection runs against it (``python -m pytest -x -q -p no:cacheprovider
...``). A mutant is *killed* when the tests fail (or hang: a *timeout*, counted as killed but
reported apart), *survives* when they pass, and is *equivalent* when it is listed, with the
reason, in ``tools/mutation_equivalent.txt`` (no test can tell it from the original; it is left
out of the score). Score = killed / (mutants - equivalent).

Usage (from the repository root)::

    python tools/mutation.py --all --report docs/mutation.md         # every target below
    python tools/mutation.py proofs_check/lemmas.py                  # one file, its tests
    python tools/mutation.py tabular_mirror/step.py::_verify --tests "tests/unit -k step"
    python tools/mutation.py proofs_check/lemmas.py --list           # the mutants, no runs
    python tools/mutation.py --all --survivors docs/mutation.json    # re-run old survivors

With ``--jobs 1`` (the default) each mutant is written into the file itself: the original is
kept in ``FILE.mutation-backup`` and restored after every mutant, on an exception and on
Ctrl-C / SIGTERM (a backup left by a killed run is restored at the next start). With
``--jobs N > 1`` every worker mutates its own scratch copy of the tree and the tree itself is
never written (``--copy`` does the same with one worker: keep editing while it runs). Either
way the tests run with ``PYTHONDONTWRITEBYTECODE=1`` so no mutated bytecode is cached. The
timeout per mutant defaults to 5 x the unmutated run + 10 s; a mutant that times out is run
once more with 3 x that (a busy machine is not a hang) before it counts as a timeout.

Operators: ``compare`` (< <=, > >=, == !=, is / is not, in / not in), ``boolop`` (and / or),
``not`` (``not x`` -> ``x``), ``constant`` (0 <-> 1, True <-> False, a number n -> n + 1, an
identifier-like string such as "passed" -> ""), ``binop`` (+ <-> -, * <-> /, also in ``+=``),
``if_true`` / ``if_false`` (the condition of an ``if``, ``elif``, ``while`` or conditional
expression), ``return_none`` (``return x`` -> ``return None``), ``loop_toggle`` (``continue``
<-> ``break``) and ``loop_statement`` (a simple statement in a loop body -> ``pass``).

Not mutated (reasons in docs/mutation.md): docstrings, annotations, f-strings and exception
messages (prose), ``__all__``, ``if TYPE_CHECKING:`` blocks, ``zip(..., strict=...)`` and lines
marked ``# pragma: no mutate``.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import dataclasses
import datetime
import difflib
import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: The equivalent mutants, each with its reason (see :func:`read_equivalents`).
EQUIVALENT_FILE = ROOT / "tools" / "mutation_equivalent.txt"

PYTEST = ("-m", "pytest", "-x", "-q", "-p", "no:cacheprovider")

#: The negative controls of the checkers (tests/quality), each about 1 s; a module's selection
#: starts with its own file (pytest -x stops at the first failure) and then runs the others,
#: which exercise it through the checks built on it.
_QUALITY = (
    "tests/quality/test_checker_controls.py",
    "tests/quality/test_verdict_outcomes.py",
    "tests/quality/test_step_allowances.py",
    "tests/quality/test_lemma_controls.py",
    "tests/quality/test_convergence_controls.py",
    "tests/quality/test_drift_bound_controls.py",
    "tests/quality/test_diagnosis_controls.py",
    "tests/quality/test_recorded_evidence.py",
    "tests/quality/test_one_algorithm_controls.py",
    "tests/quality/test_xiao_10_controls.py",
)


def _first(*tests: str) -> tuple[str, ...]:
    """``tests`` first, then the rest of the checker controls."""
    return (*tests, *(t for t in _QUALITY if t not in tests))


#: What ``--all`` runs: file[::scopes] -> its fast test selection (paths relative to the root).
TARGETS: dict[str, tuple[str, ...]] = {
    "proofs_check/verdicts.py": _first(
        "tests/quality/test_verdict_outcomes.py", "proofs_check/verdicts.py"
    ),
    "proofs_check/_common.py": _first(
        "tests/quality/test_step_allowances.py", "tests/quality/test_recorded_evidence.py"
    ),
    "proofs_check/lemmas.py": _first("tests/quality/test_lemma_controls.py"),
    "proofs_check/fundamental.py": _first(
        "tests/quality/test_convergence_controls.py",
        "tests/quality/test_recorded_evidence.py",
        "tests/regressions/test_trace_on_the_step_simplex.py",
        "proofs_check/fundamental.py",
        "tests/quality/test_schedule_controls.py",
        "tests/unit/test_schedules.py",
    ),
    "proofs_check/classic.py::_grows,xiao_theorem_10": _first(
        "tests/quality/test_xiao_10_controls.py",
        "tests/quality/test_schedule_controls.py",
        "tests/unit/test_schedules.py",
    ),
    "proofs_check/fundamental.py::one_algorithm,_verify_schedule": _first(
        "tests/quality/test_one_algorithm_controls.py",
        "tests/quality/test_schedule_controls.py",
        "tests/unit/test_schedules.py",
    ),
    "proofs_check/drift_bounds.py": _first("tests/quality/test_drift_bound_controls.py"),
    "proofs_check/diagnosis.py": _first("tests/quality/test_diagnosis_controls.py"),
    # Definitions 3.1-3.2: the public checks and the classification of a derivative (the
    # evidence-gathering helpers, 367 more mutants, are not a target yet: docs/mutation.md)
    "proofs_check/definitions.py::_classify,_pick,check_drift,check_neighbourhood,"
    "check_sampling,check_drift_distribution": _first(
        "tests/quality/test_definition_controls.py",
        "tests/regressions/test_drift_derivative_input_error.py",
        "tests/regressions/test_neighbourhood_witness_on_an_exact_mdp.py",
        "proofs_check/definitions.py",
    ),
    "tabular_mirror/step.py::mirror_step,_verify": _first(
        "tests/unit/test_step_verification.py",
        "tests/unit/test_mirror_operator.py",
        "tests/unit/test_rowwise_steps.py",
        "tests/regressions/test_user_solver_answers.py",
        "tests/unit/test_step_verification_more.py",
    ),
    "tabular_mirror/algorithm.py::drift_ratio,drift_penalty,weighted_sum,state_drift,"
    "total_drift,mirror_objective,mirror_operator": _first(
        "tests/unit/test_mirror_operator.py",
        "tests/unit/test_step_verification.py",
        "tests/unit/test_step_verification_more.py",
    ),
    "tabular_mirror/drifts.py::_in_mode,*.value,*._scale,*.coefficient_for,*._weights": (
        "tests/unit/test_drift_values.py",
        "tests/unit/test_mirror_operator.py",
        "tests/unit/test_step_verification.py",
    ),
}


# ---------------------------------------------------------------------------- mutants
@dataclasses.dataclass(frozen=True)
class Mutant:
    """One change to one file: bytes ``start:end`` of the source become ``replacement``."""

    path: str  # relative to the root, with forward slashes
    line: int
    scope: str  # the enclosing function or class ("Class.method"), "<module>" at top level
    operator: str
    original: str  # the changed code before ...
    mutated: str  # ... and after (one line each)
    start: int
    end: int
    replacement: str

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """What identifies the mutant across edits elsewhere in the file (not the line)."""
        return (self.path, self.scope, self.operator, self.original, self.mutated)

    @property
    def ident(self) -> str:
        digest = hashlib.sha1("\0".join(self.key).encode()).hexdigest()[:8]
        return f"{self.path}:{self.line}:{digest}"

    def apply(self, source: bytes) -> bytes:
        return source[: self.start] + self.replacement.encode() + source[self.end :]

    def diff(self, source: bytes) -> str:
        before = source.decode().splitlines(keepends=True)
        after = self.apply(source).decode().splitlines(keepends=True)
        lines = difflib.unified_diff(before, after, f"a/{self.path}", f"b/{self.path}", n=1)
        return "".join(lines)

    def describe(self) -> str:
        where = f"{self.path}:{self.line} {self.scope} {self.operator}"
        return f"{where}: {self.original} -> {self.mutated}"


_COMPARE_SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BINOP_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PRAGMA = "pragma: no mutate"


def _precedence(node: ast.AST) -> int:
    """Python's binding strength of an expression's root (higher binds tighter)."""
    if isinstance(node, ast.NamedExpr):
        return 0
    if isinstance(node, ast.Lambda):
        return 1
    if isinstance(node, ast.IfExp):
        return 2
    if isinstance(node, ast.BoolOp):
        return 3 if isinstance(node.op, ast.Or) else 4
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return 5
    if isinstance(node, ast.Compare):
        return 6
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return 7
    return 9


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Generator(ast.NodeVisitor):
    """Walk a module and collect its mutants (in source order)."""

    def __init__(self, path: str, source: bytes, scopes: Sequence[str] | None) -> None:
        self.path = path
        self.source = source
        self.scopes = scopes
        self.lines = source.split(b"\n")
        self.offsets = [0]
        for line in self.lines:
            self.offsets.append(self.offsets[-1] + len(line) + 1)
        self.stack: list[str] = []
        self.loop_depth = 0
        self.mutants: list[Mutant] = []
        self.parents: list[ast.AST] = []

    def visit(self, node: ast.AST) -> Any:
        self.parents.append(node)
        try:
            return super().visit(node)
        finally:
            self.parents.pop()

    # ---------------------------------------------------------------- helpers
    @property
    def scope(self) -> str:
        return ".".join(self.stack) or "<module>"

    def _selected(self) -> bool:
        if self.scopes is None:
            return True
        scope = self.scope
        return any(
            fnmatch.fnmatchcase(scope, pattern)
            or any(
                fnmatch.fnmatchcase(".".join(self.stack[:k]), pattern)
                for k in range(1, len(self.stack))
            )
            for pattern in self.scopes
        )

    def _offset(self, line: int, column: int) -> int:
        return self.offsets[line - 1] + column

    def _span(self, node: ast.AST) -> tuple[int, int]:
        return (
            self._offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
            self._offset(node.end_lineno, node.end_col_offset),  # type: ignore[attr-defined]
        )

    def _skipped_line(self, node: ast.AST) -> bool:
        line = self.lines[node.lineno - 1]  # type: ignore[attr-defined]
        return _PRAGMA.encode() in line

    def add(
        self,
        node: ast.AST,
        operator: str,
        replacement: str,
        original: str | None = None,
        shown: str | None = None,
    ) -> None:
        """A mutant replacing ``node``'s source by ``replacement``."""
        if not self._selected() or self._skipped_line(node):
            return
        start, end = self._span(node)
        text = original if original is not None else _one_line(ast.unparse(node))
        self.mutants.append(
            Mutant(
                self.path,
                node.lineno,  # type: ignore[attr-defined]
                self.scope,
                operator,
                text,
                shown if shown is not None else _one_line(replacement),
                start,
                end,
                replacement,
            )
        )

    def add_expression(
        self, node: ast.expr, operator: str, new: ast.expr, shown: str | None = None
    ) -> None:
        text = ast.unparse(new)
        if _precedence(new) < _precedence(node):
            text = f"({text})"
        self.add(node, operator, text, shown=shown)

    # ---------------------------------------------------------------- scopes
    def _body(self, body: list[ast.stmt]) -> None:
        start = 0
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            if isinstance(body[0].value.value, str):
                start = 1  # a docstring
        for statement in body[start:]:
            self.visit(statement)

    def visit_Module(self, node: ast.Module) -> None:
        self._body(node.body)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        for base in node.bases:
            self.visit(base)
        self.stack.append(node.name)
        saved, self.loop_depth = self.loop_depth, 0
        self._body(node.body)
        self.loop_depth = saved
        self.stack.pop()

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.stack.append(node.name)
        arguments = node.args
        for default in [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)]:
            self.visit(default)
        saved, self.loop_depth = self.loop_depth, 0
        self._body(node.body)
        self.loop_depth = saved
        self.stack.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in node.args.defaults:
            self.visit(default)
        self.visit(node.body)

    # ---------------------------------------------------------------- statements
    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)  # the annotation is not code

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return
        self.visit(node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        swap = _BINOP_SWAPS.get(type(node.op))
        if swap is not None:
            new = ast.AugAssign(node.target, swap(), node.value)
            self.add(node, "binop", ast.unparse(new))
        self.visit(node.value)

    def visit_Raise(self, node: ast.Raise) -> None:
        return  # an exception and its message: prose, not logic

    def visit_Assert(self, node: ast.Assert) -> None:
        self.visit(node.test)

    def visit_Return(self, node: ast.Return) -> None:
        value = node.value
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            self.add(node, "return_none", "return None", shown="return None")
        if value is not None:
            self.visit(value)

    def visit_Continue(self, node: ast.Continue) -> None:
        self.add(node, "loop_toggle", "break")

    def visit_Break(self, node: ast.Break) -> None:
        self.add(node, "loop_toggle", "continue")

    def _loop_body(self, body: list[ast.stmt]) -> None:
        self.loop_depth += 1
        simple = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)
        for statement in body:
            if isinstance(statement, simple):
                self.add(statement, "loop_statement", "pass", shown="pass")
            self.visit(statement)
        self.loop_depth -= 1

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self._loop_body(node.body)
        for statement in node.orelse:
            self.visit(statement)

    def visit_While(self, node: ast.While) -> None:
        self._condition(node.test)
        self.visit(node.test)
        self._loop_body(node.body)
        for statement in node.orelse:
            self.visit(statement)

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            return
        self._condition(test)
        self.visit(test)
        for statement in node.body:
            self.visit(statement)
        for statement in node.orelse:
            self.visit(statement)

    def _condition(self, test: ast.expr) -> None:
        constant = test.value if isinstance(test, ast.Constant) else None
        if constant is not True:
            self.add(test, "if_true", "True")
        if constant is not False:
            self.add(test, "if_false", "False")

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._condition(node.test)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self.visit(node.iter)
        for condition in node.ifs:
            self.visit(condition)

    # ---------------------------------------------------------------- expressions
    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return  # f-strings: messages

    def visit_Call(self, node: ast.Call) -> None:
        self.visit(node.func)
        for argument in node.args:
            self.visit(argument)
        for keyword in node.keywords:
            if (
                keyword.arg == "strict"
                and isinstance(node.func, ast.Name)
                and node.func.id == "zip"
            ):
                continue  # zip's length check: equivalent wherever lengths already agree
            self.visit(keyword.value)

    def visit_Compare(self, node: ast.Compare) -> None:
        for k, op in enumerate(node.ops):
            swap = _COMPARE_SWAPS.get(type(op))
            if swap is None:
                continue
            ops = list(node.ops)
            ops[k] = swap()
            self.add_expression(node, "compare", ast.Compare(node.left, ops, node.comparators))
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        self.add_expression(node, "boolop", ast.BoolOp(other, node.values))
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            self.add_expression(node, "not", node.operand)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        swap = _BINOP_SWAPS.get(type(node.op))
        if swap is not None:
            self.add_expression(node, "binop", ast.BinOp(node.left, swap(), node.right))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        new: Any
        if isinstance(value, bool):
            new = not value
        elif isinstance(value, int):
            new = 1 if value == 0 else 0 if value == 1 else value + 1
        elif isinstance(value, float):
            new = 1.0 if value == 0 else 0.0 if value == 1 else value + 1
        elif isinstance(value, str) and _IDENTIFIER.match(value):
            new = ""
        else:
            return
        original, mutated = self._in_context(node, repr(new))
        self.add(node, "constant", repr(new), original=original, shown=mutated)

    def _in_context(self, node: ast.Constant, replacement: str) -> tuple[str, str]:
        """A constant is shown in its enclosing expression or statement (``0 * x[0]`` ->
        ``1 * x[0]``, not ``0`` -> ``1``), if that is short, so that mutants and the entries of
        the equivalents file say which constant they are."""
        plain = (repr(node.value), replacement)
        ancestors = [a for a in self.parents[:-1] if hasattr(a, "end_col_offset")]
        while ancestors and isinstance(ancestors[-1], ast.UnaryOp):
            ancestors.pop()
        if not ancestors:
            return plain
        parent = ancestors[-1]
        outer_start, outer_end = self._span(parent)
        start, end = self._span(node)
        if not outer_start <= start <= end <= outer_end:
            return plain
        before = self.source[outer_start:outer_end].decode()
        after = (
            self.source[outer_start:start] + replacement.encode() + self.source[end:outer_end]
        ).decode()
        before, after = _one_line(before), _one_line(after)
        return (before, after) if len(before) <= 100 else plain


def generate(
    path: Path | str, scopes: Sequence[str] | None = None, root: Path = ROOT
) -> list[Mutant]:
    """The mutants of one file (only inside ``scopes``, fnmatch patterns of qualnames, if given).

    Mutants whose source does not compile are dropped.
    """
    path = Path(path)
    full = path if path.is_absolute() else root / path
    source = full.read_bytes()
    try:
        relative = full.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        relative = full.as_posix()
    generator = _Generator(relative, source, scopes)
    generator.visit(ast.parse(source, filename=str(full)))
    kept = []
    for mutant in generator.mutants:
        try:
            compile(mutant.apply(source), str(full), "exec")
        except SyntaxError:
            continue
        kept.append(mutant)
    return kept


def parse_target(target: str) -> tuple[str, tuple[str, ...] | None]:
    """``file.py::scope1,scope2`` -> ("file.py", ("scope1", "scope2")); no ``::``: all scopes."""
    path, _, scopes = target.partition("::")
    return path, tuple(s for s in scopes.split(",") if s) or None


# ---------------------------------------------------------------------------- equivalents
@dataclasses.dataclass(frozen=True)
class Equivalent:
    """An entry of the equivalents file: the mutant's key, its line when written, the reason."""

    path: str
    line: int
    scope: str
    operator: str
    original: str
    mutated: str
    reason: str

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.path, self.scope, self.operator, self.original, self.mutated)


_HEADER = re.compile(r"^\[(?P<path>[^:\]]+):(?P<line>\d+) (?P<scope>\S+) (?P<operator>\w+)\]$")


def read_equivalents(path: Path = EQUIVALENT_FILE) -> list[Equivalent]:
    """Parse the equivalents file. Each entry::

        [proofs_check/verdicts.py:412 decide compare]
        original: margin < -fail_allowance
        mutated: margin <= -fail_allowance
        reason: why no test can tell them apart

    Lines starting with ``#`` are comments; a reason may continue on indented lines.
    """
    if not path.exists():
        return []
    entries: list[Equivalent] = []
    fields: dict[str, str] = {}
    header: re.Match[str] | None = None
    last = ""

    def flush() -> None:
        if header is None:
            return
        missing = {"original", "mutated", "reason"} - set(fields)
        if missing:
            raise ValueError(
                f"{path}: entry [{header.group(0)}] lacks {', '.join(sorted(missing))}"
            )
        entries.append(
            Equivalent(
                header["path"],
                int(header["line"]),
                header["scope"],
                header["operator"],
                fields["original"],
                fields["mutated"],
                fields["reason"],
            )
        )

    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.rstrip()
        if not line or line.lstrip().startswith("#"):
            continue
        match = _HEADER.match(line)
        if match:
            flush()
            header, fields, last = match, {}, ""
            continue
        if raw[:1].isspace() and last:
            fields[last] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or name not in ("original", "mutated", "reason") or header is None:
            raise ValueError(f"{path}:{number}: cannot read {raw!r}")
        fields[name] = value.strip()
        last = name
    flush()
    return entries


def match_equivalents(
    mutants: Sequence[Mutant], entries: Sequence[Equivalent]
) -> tuple[dict[Mutant, Equivalent], list[Equivalent]]:
    """Each entry claims the mutant with its key nearest to its line; returns the claims and the
    entries of these files that matched nothing (stale)."""
    by_key: dict[tuple, list[Mutant]] = {}
    for mutant in mutants:
        by_key.setdefault(mutant.key, []).append(mutant)
    claimed: dict[Mutant, Equivalent] = {}
    stale = []
    paths = {m.path for m in mutants}
    for entry in entries:
        if entry.path not in paths:
            continue
        free = [m for m in by_key.get(entry.key, []) if m not in claimed]
        if not free:
            stale.append(entry)
            continue
        claimed[min(free, key=lambda m: abs(m.line - entry.line))] = entry
    return claimed, stale


def equivalent_entry(mutant: Mutant, reason: str = "TODO") -> str:
    """The text of an equivalents-file entry for ``mutant``."""
    return (
        f"[{mutant.path}:{mutant.line} {mutant.scope} {mutant.operator}]\n"
        f"original: {mutant.original}\nmutated: {mutant.mutated}\nreason: {reason}\n"
    )


# ---------------------------------------------------------------------------- running
@contextmanager
def mutated(file: Path, mutant: Mutant, original: bytes) -> Iterator[None]:
    """Write ``mutant`` into ``file`` for the duration of the block; always restore.

    The original is also kept in ``FILE.mutation-backup`` until restored, so that a run killed
    without a chance to clean up (SIGKILL) is repaired by :func:`restore_backups`.
    """
    backup = file.with_name(file.name + ".mutation-backup")
    backup.write_bytes(original)
    try:
        file.write_bytes(mutant.apply(original))
        yield
    finally:
        file.write_bytes(original)
        backup.unlink(missing_ok=True)


def restore_backups(files: Sequence[Path]) -> list[Path]:
    """Put back the originals a killed run left in ``FILE.mutation-backup``."""
    restored = []
    for file in files:
        backup = file.with_name(file.name + ".mutation-backup")
        if backup.exists():
            file.write_bytes(backup.read_bytes())
            backup.unlink()
            restored.append(file)
    return restored


@dataclasses.dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed, survived, timeout, equivalent
    seconds: float
    reason: str = ""  # for equivalents
    output: str = ""  # the tail of pytest's output (survivors: none)


#: The test processes running now (killed with their process group when a run is interrupted).
_ACTIVE: set[subprocess.Popen] = set()
_ACTIVE_LOCK = threading.Lock()


def run_tests(workdir: Path, tests: Sequence[str], timeout: float | None) -> tuple[str, float, str]:
    """Run pytest on ``tests`` in ``workdir``: ("passed" | "failed" | "timeout", seconds, tail)."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(workdir))
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, *PYTEST, *tests]
    began = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    with _ACTIVE_LOCK:
        _ACTIVE.add(process)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        return "timeout", time.perf_counter() - began, ""
    except BaseException:
        _kill(process)
        raise
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(process)
    seconds = time.perf_counter() - began
    tail = "\n".join(output.decode(errors="replace").splitlines()[-15:])
    return ("passed" if process.returncode == 0 else "failed"), seconds, tail


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _scratch_copy(root: Path, destination: Path) -> Path:
    ignore = shutil.ignore_patterns(
        ".git",
        "__pycache__",
        ".hypothesis",
        "*.egg-info",
        ".pytest_cache",
        "*.mutation-backup",
        "notebooks",
        ".ruff_cache",
    )
    shutil.copytree(root, destination, ignore=ignore, symlinks=True)
    return destination


def _imports_from(workdir: Path, files: Sequence[str]) -> None:
    """Check that the tests import the mutated files from ``workdir`` (not another install)."""
    modules = sorted({f.removesuffix(".py").replace("/", ".") for f in files})
    code = (
        "import importlib, sys\nfor m in sys.argv[1:]: print(importlib.import_module(m).__file__)"
    )
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(workdir))
    result = subprocess.run(
        [sys.executable, "-c", code, *modules],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for module, location in zip(modules, result.stdout.split(), strict=True):
        if not Path(location).resolve().is_relative_to(workdir.resolve()):
            raise SystemExit(f"{module} is imported from {location}, not from {workdir}")


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(
    jobs_list: Sequence[tuple[Mutant, Sequence[str]]],
    equivalents: dict[Mutant, Equivalent],
    *,
    jobs: int = 1,
    timeout: float | None = None,
    root: Path = ROOT,
    copy: bool = False,
    progress: Any = print,
) -> list[Outcome]:
    """Run every (mutant, tests) pair; equivalents are not run. Restores files on any exit.

    ``jobs`` > 1 or ``copy``: the mutants are written into scratch copies of ``root`` (one per
    worker), never into ``root`` itself.
    """
    outcomes: list[Outcome] = []
    todo = []
    for mutant, tests in jobs_list:
        if mutant in equivalents:
            outcomes.append(Outcome(mutant, "equivalent", 0.0, equivalents[mutant].reason))
        else:
            todo.append((mutant, tests))
    total = len(todo)
    counter = iter(range(1, total + 1))
    lock = threading.Lock()
    sources = {m.path: (root / m.path).read_bytes() for m, _ in todo}

    def report(outcome: Outcome) -> None:
        with lock:
            outcomes.append(outcome)
            number = next(counter)
            progress(
                f"[{number}/{total}] {outcome.status:8s} {outcome.seconds:5.1f}s "
                f"{outcome.mutant.describe()}"
            )

    def one(workdir: Path, mutant: Mutant, tests: Sequence[str]) -> Outcome:
        file = workdir / mutant.path
        with mutated(file, mutant, sources[mutant.path]):
            result, seconds, tail = run_tests(workdir, tests, timeout)
            if result == "timeout" and timeout is not None:  # a busy machine, or a real hang?
                result, again, tail = run_tests(workdir, tests, 3 * timeout)
                seconds += again
        status = {"passed": "survived", "failed": "killed", "timeout": "timeout"}[result]
        return Outcome(mutant, status, seconds, output=tail if status == "killed" else "")

    previous = None
    if _main_thread():  # Ctrl-C and SIGTERM restore the files (also when SIGINT was ignored)
        previous = (
            signal.signal(signal.SIGTERM, _on_sigterm),
            signal.signal(signal.SIGINT, signal.default_int_handler),
        )
    try:
        if jobs <= 1 and not copy:
            for mutant, tests in todo:
                report(one(root, mutant, tests))
        else:
            with tempfile.TemporaryDirectory(prefix="mutation-") as scratch:
                workdirs = [
                    _scratch_copy(root, Path(scratch) / f"w{k}") for k in range(max(jobs, 1))
                ]
                _imports_from(workdirs[0], sorted({m.path for m, _ in todo}))
                free = list(workdirs)
                free_lock = threading.Lock()

                def task(mutant: Mutant, tests: Sequence[str]) -> None:
                    with free_lock:
                        workdir = free.pop()
                    try:
                        report(one(workdir, mutant, tests))
                    finally:
                        with free_lock:
                            free.append(workdir)

                with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
                    futures = [pool.submit(task, m, t) for m, t in todo]
                    try:
                        for future in concurrent.futures.as_completed(futures):
                            future.result()
                    except BaseException:
                        for future in futures:
                            future.cancel()
                        with _ACTIVE_LOCK:
                            running = list(_ACTIVE)
                        for process in running:  # the workers' tests end now, not at their end
                            _kill(process)
                        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])
    return outcomes


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


# ---------------------------------------------------------------------------- reporting
@dataclasses.dataclass
class ModuleResult:
    target: str
    tests: list[str]
    mutants: int
    killed: int
    survived: int
    timeouts: int
    equivalent: int
    seconds: float
    survivors: list[dict[str, Any]]
    timeouts_list: list[dict[str, Any]]
    equivalents: list[dict[str, Any]]
    source_sha: str = ""  # the mutated file's SHA-1: a record only merges with the same code

    @property
    def score(self) -> float | None:
        counted = self.mutants - self.equivalent
        return None if counted == 0 else (self.killed + self.timeouts) / counted


def summarise(
    target: str, tests: Sequence[str], outcomes: Sequence[Outcome], source: bytes
) -> ModuleResult:
    ordered = sorted(outcomes, key=lambda o: (o.mutant.line, o.mutant.start, o.mutant.operator))

    def record(outcome: Outcome) -> dict[str, Any]:
        mutant = outcome.mutant
        data = {
            "id": mutant.ident,
            "line": mutant.line,
            "scope": mutant.scope,
            "operator": mutant.operator,
            "original": mutant.original,
            "mutated": mutant.mutated,
        }
        if outcome.status == "equivalent":
            data["reason"] = outcome.reason
        else:
            data["diff"] = mutant.diff(source)
        return data

    count = {
        s: sum(o.status == s for o in outcomes)
        for s in ("killed", "survived", "timeout", "equivalent")
    }
    return ModuleResult(
        target,
        list(tests),
        len(outcomes),
        count["killed"],
        count["survived"],
        count["timeout"],
        count["equivalent"],
        round(sum(o.seconds for o in outcomes), 1),
        [record(o) for o in ordered if o.status == "survived"],
        [record(o) for o in ordered if o.status == "timeout"],
        [record(o) for o in ordered if o.status == "equivalent"],
        hashlib.sha1(source).hexdigest(),
    )


def merge(stored: dict[str, Any], rerun: ModuleResult) -> ModuleResult:
    """A full run's record with its survivors (and timeouts) re-run: the mutants it killed stay
    killed (the code is the same, checked by its SHA-1; tests were only added), the re-run ones
    take their new outcome."""
    if stored.get("source_sha") != rerun.source_sha:
        raise SystemExit(
            f"{rerun.target} changed since the recorded run: run it in full (no --survivors)"
        )
    return ModuleResult(
        rerun.target,
        rerun.tests,
        stored["mutants"],
        stored["killed"] + rerun.killed,
        rerun.survived,
        rerun.timeouts,
        stored["equivalent"] + rerun.equivalent,
        round(stored["seconds"] + rerun.seconds, 1),
        rerun.survivors,
        rerun.timeouts_list,
        stored["equivalents"] + rerun.equivalents,
        rerun.source_sha,
    )


def _score_text(result: ModuleResult) -> str:
    score = result.score
    return "-" if score is None else f"{100 * score:.1f} %"


def table(results: Sequence[ModuleResult]) -> str:
    header = ("module", "mutants", "killed", "survived", "timeouts", "equivalent", "score")
    rows = [
        (
            r.target,
            str(r.mutants),
            str(r.killed),
            str(r.survived),
            str(r.timeouts),
            str(r.equivalent),
            _score_text(r),
        )
        for r in results
    ]
    if len(results) > 1:
        total = ModuleResult(
            "total",
            [],
            *(
                sum(getattr(r, f) for r in results)
                for f in ("mutants", "killed", "survived", "timeouts", "equivalent", "seconds")
            ),
            [],
            [],
            [],
        )
        rows.append(
            (
                "total",
                str(total.mutants),
                str(total.killed),
                str(total.survived),
                str(total.timeouts),
                str(total.equivalent),
                _score_text(total),
            )
        )
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def markdown(results: Sequence[ModuleResult], commits: Sequence[str], date: str) -> str:
    """The generated part of the report: table, survivors, timeouts, equivalents.

    ``commits`` gives each module's run (the commit it started from); the tests column names
    a module's first test file, the full selection is in the JSON record.
    """
    out = [
        f"Run on {date}. Score = (killed + timeouts) / (mutants - equivalent).",
        "",
        "| module | mutants | killed | survived | timeouts | equivalent | score | tests | commit |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r, commit in zip(results, commits, strict=True):
        more = f" + {len(r.tests) - 1} more" if len(r.tests) > 1 else ""
        tests = f"`{r.tests[0]}`{more}" if r.tests else ""
        out.append(
            f"| `{r.target}` | {r.mutants} | {r.killed} | {r.survived} | {r.timeouts} | "
            f"{r.equivalent} | {_score_text(r)} | {tests} | {commit} |"
        )
    counted = sum(r.mutants - r.equivalent for r in results)
    if counted:
        killed = sum(r.killed + r.timeouts for r in results)
        out.append(
            f"| **total** | {sum(r.mutants for r in results)} | "
            f"{sum(r.killed for r in results)} | {sum(r.survived for r in results)} | "
            f"{sum(r.timeouts for r in results)} | {sum(r.equivalent for r in results)} | "
            f"{100 * killed / counted:.1f} % | | |"
        )
    out.append("")
    for title, field in (
        ("Surviving mutants", "survivors"),
        ("Timeouts (counted as killed)", "timeouts_list"),
    ):
        entries = [(r, e) for r in results for e in getattr(r, field)]
        out += [f"### {title}", ""]
        if not entries:
            out += ["None.", ""]
            continue
        for r, e in entries:
            out += [
                f"- `{r.target.partition('::')[0]}:{e['line']}` ({e['scope']}, {e['operator']})",
                "",
                "  ```diff",
                *("  " + line for line in e["diff"].splitlines()),
                "  ```",
                "",
            ]
    out += ["### Equivalent mutants", ""]
    entries = [(r, e) for r in results for e in r.equivalents]
    if not entries:
        out += ["None.", ""]
    else:
        out += [
            "| where | operator | original -> mutated | why no test can kill it |",
            "|---|---|---|---|",
        ]
        for r, e in entries:
            change = f"`{e['original']}` -> `{e['mutated']}`".replace("|", "\\|")
            where = f"`{r.target.partition('::')[0]}:{e['line']}` {e['scope']}"
            out.append(f"| {where} | {e['operator']} | {change} | {e['reason']} |")
        out.append("")
    return "\n".join(out)


BEGIN, END = "<!-- mutation-results:begin -->", "<!-- mutation-results:end -->"


def write_report(
    report: Path,
    results: Sequence[ModuleResult],
    commit: str,
    date: str,
    merged_targets: dict[str, bool] | None = None,
) -> None:
    """Update the per-module results kept in ``REPORT.json`` with these runs and render them
    between the markers of ``REPORT`` (the text around them is kept; a new file gets both)."""
    data_file = report.with_suffix(".json")
    merged_targets = merged_targets or {}
    stored: dict[str, Any] = {}
    if data_file.exists():
        stored = json.loads(data_file.read_text())
    for r in results:
        record = dataclasses.asdict(r)
        record.update(commit=commit, date=date)
        previous = stored.get(r.target, {})
        if r.mutants != r.killed + r.survived + r.timeouts + r.equivalent:
            raise ValueError(f"{r.target}: the counts do not add up")
        if previous.get("source_sha") == r.source_sha and merged_targets.get(r.target):
            record["commit"] = f"{previous['commit']}; survivors re-run at {commit}"
        stored[r.target] = record
    ordered = [stored[t] for t in sorted(stored, key=_target_order)]
    reasons = {e.key: e.reason for e in read_equivalents()}  # the reasons as written now
    for r in ordered:
        path = parse_target(r["target"])[0]
        for e in r["equivalents"]:
            key = (path, e["scope"], e["operator"], e["original"], e["mutated"])
            e["reason"] = reasons.get(key, e["reason"])
    data_file.write_text(json.dumps({r["target"]: r for r in ordered}, indent=1) + "\n")
    modules = [
        ModuleResult(**{k: v for k, v in r.items() if k not in ("commit", "date")}) for r in ordered
    ]
    dates = sorted({r["date"] for r in ordered})
    body = markdown(
        modules,
        [r["commit"] for r in ordered],
        dates[-1] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}",
    )
    text = report.read_text() if report.exists() else f"# Mutation testing\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    report.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")


def _target_order(target: str) -> tuple[int, str]:
    keys = list(TARGETS)
    return (keys.index(target), target) if target in keys else (len(keys), target)


def _git(*arguments: str) -> str:
    try:
        return subprocess.run(
            ["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ---------------------------------------------------------------------------- command line
def _tests_for(target: str, override: str | None) -> tuple[str, ...]:
    if override is not None:
        return tuple(shlex.split(override))
    if target in TARGETS:
        return TARGETS[target]
    path = parse_target(target)[0]
    for known, tests in TARGETS.items():
        if parse_target(known)[0] == path:
            return tests
    return _QUALITY


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "targets", nargs="*", help="FILE.py or FILE.py::scope,Class.method (fnmatch)"
    )
    parser.add_argument("--all", action="store_true", help="every target of TARGETS")
    parser.add_argument(
        "--tests",
        help='pytest arguments (default: the target\'s selection), e.g. "tests/unit -k step"',
    )
    parser.add_argument("--jobs", type=int, default=1, help="parallel workers (>1: scratch copies)")
    parser.add_argument(
        "--copy",
        action="store_true",
        help="mutate a scratch copy (keep editing the tree meanwhile)",
    )
    parser.add_argument(
        "--timeout", type=float, help="seconds per mutant (default: 5 x baseline + 10)"
    )
    parser.add_argument("--report", type=Path, help="markdown report to update (plus REPORT.json)")
    parser.add_argument("--equivalent", type=Path, default=EQUIVALENT_FILE, help="equivalents file")
    parser.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    parser.add_argument(
        "--unlisted", action="store_true", help="with --list: equivalents-file entries for them"
    )
    parser.add_argument(
        "--survivors", type=Path, help="only re-run the survivors recorded in this REPORT.json"
    )
    parser.add_argument("--operator", action="append", help="only these operators")
    parser.add_argument("--line", type=int, action="append", help="only mutants on these lines")
    arguments = parser.parse_args(argv)

    # the code and tests as they are now (a scratch copy is taken of this state)
    changed = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/mutation.*")
    commit = _git("rev-parse", "--short", "HEAD") + (" (with local changes)" if changed else "")
    targets = list(arguments.targets) + (list(TARGETS) if arguments.all else [])
    if not targets:
        parser.error("name a file or pass --all")
    entries = read_equivalents(arguments.equivalent)
    plan: list[tuple[str, tuple[str, ...], list[Mutant], dict[Mutant, Equivalent]]] = []
    for target in targets:
        path, scopes = parse_target(target)
        if not (ROOT / path).exists():
            parser.error(f"{path} does not exist under {ROOT}")
        restored = restore_backups([ROOT / path])
        for file in restored:
            print(f"restored {file} from the backup a killed run left behind")
        mutants = generate(path, scopes)
        claims, stale = match_equivalents(mutants, entries)
        if arguments.operator:
            mutants = [m for m in mutants if m.operator in arguments.operator]
        if arguments.line:
            mutants = [m for m in mutants if m.line in arguments.line]
        for entry in stale:
            if scopes is None or any(
                fnmatch.fnmatchcase(entry.scope, p) or entry.scope.startswith(p.rstrip("*"))
                for p in scopes
            ):
                print(
                    f"warning: stale equivalent entry {entry.path}:{entry.line} {entry.scope} "
                    f"{entry.operator}: {entry.original} -> {entry.mutated}"
                )
        if arguments.survivors:
            recorded = json.loads(arguments.survivors.read_text()).get(target, {})
            wanted = {s["id"] for s in recorded.get("survivors", [])} | {
                s["id"] for s in recorded.get("timeouts_list", [])
            }
            mutants = [m for m in mutants if m.ident in wanted]
        plan.append((target, _tests_for(target, arguments.tests), mutants, claims))

    if arguments.list:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the listing quietly
        for target, tests, mutants, claims in plan:
            listed = f"{len(claims)} listed as equivalent"
            print(f"# {target}: {len(mutants)} mutants ({listed}); tests: {' '.join(tests)}")
            for mutant in mutants:
                if arguments.unlisted:
                    if mutant not in claims:
                        print(equivalent_entry(mutant))
                else:
                    mark = " [equivalent]" if mutant in claims else ""
                    change = f"{mutant.original} -> {mutant.mutated}"
                    print(f"{mutant.ident} {mutant.operator}: {change}{mark}")
        return 0

    results = []
    for target, tests, mutants, claims in plan:
        print(f"== {target}: {len(mutants)} mutants, tests: {' '.join(tests)}", flush=True)
        status, seconds, tail = run_tests(ROOT, tests, None)
        if status != "passed":
            print(tail)
            raise SystemExit(f"the tests fail without a mutant ({target}); fix them first")
        timeout = arguments.timeout or 5 * seconds + 10
        print(f"   baseline {seconds:.1f}s, timeout {timeout:.0f}s per mutant", flush=True)
        if arguments.jobs <= 1 and not arguments.copy:
            _imports_from(ROOT, [parse_target(target)[0]])
        try:
            outcomes = run(
                [(m, tests) for m in mutants],
                claims,
                jobs=arguments.jobs,
                timeout=timeout,
                copy=arguments.copy,
                progress=lambda text: print(text, flush=True),
            )
        except KeyboardInterrupt:
            print("interrupted: every file is restored")
            return 130
        source = (ROOT / parse_target(target)[0]).read_bytes()
        results.append(summarise(target, tests, outcomes, source))
        for record in results[-1].survivors:
            where = f"{target.partition('::')[0]}:{record['line']} {record['operator']}"
            print(f"survived: {where}\n{record['diff']}")

    merged: dict[str, bool] = {}
    if arguments.survivors:
        stored = json.loads(arguments.survivors.read_text())
        rerun = len(results)
        missing = [r.target for r in results if r.target not in stored]
        if missing:
            raise SystemExit(f"no recorded run of {', '.join(missing)} in {arguments.survivors}")
        results = [merge(stored[r.target], r) for r in results]
        merged = {r.target: True for r in results}
        print(f"\n{rerun} targets: survivors re-run and merged with {arguments.survivors}")
    print()
    print(table(results))
    if arguments.report and not arguments.line and not arguments.operator:
        date = datetime.date.today().isoformat()
        write_report(arguments.report, results, commit, date, merged)
        print(f"report: {arguments.report} (data: {arguments.report.with_suffix('.json')})")
    elif arguments.report:
        print("report not written: a partial run (--line or --operator)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
