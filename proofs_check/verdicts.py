"""Verdicts and reports: what a check of the paper's claims returns.

A :class:`Verdict` is one decided inequality (or identity) with the evidence a reader needs to
trust it: the ``margin`` by which it holds (negative when it fails; a Fraction in exact mode),
where it was tightest (``worst_state``, ``worst_iteration``), a reproducible ``witness``, the
``tolerance`` used (0 for exact decisions, otherwise a :class:`Tolerance` that states its
reason) and a one-sentence ``detail``. A :class:`Report` is a tuple of verdicts with a text
table (``render``) and notebook representations.

Examples
--------
>>> v = Verdict("lemma_3_5_mirror_operator", True, 0, 1, 0, None, 0, "holds with equality")
>>> report = Report((v,), title="demo")
>>> report.passed, len(report.failed())
(True, 0)
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = [
    "Tolerance",
    "Verdict",
    "Report",
    "EXACT",
    "decide",
    "number_text",
    "array_text",
    "mdp_witness",
]

#: The tolerance of an exact decision (rational arithmetic, no rounding).
EXACT = 0


@dataclass(frozen=True)
class Tolerance:
    """A float tolerance and why it is large enough (and no larger).

    ``value`` is subtracted from the margin before deciding (a check passes when
    ``margin >= -value``); ``reason`` names the error sources it covers, e.g. "2 x certified
    evaluation error + step certificate bound / (beta_min (1 - gamma))".
    """

    value: float
    reason: str

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return f"{self.value:.3g} ({self.reason})"


def _tolerance_value(tolerance: Any) -> Any:
    if tolerance is None:
        return 0
    if isinstance(tolerance, Tolerance):
        return tolerance.value
    return tolerance


@dataclass(frozen=True)
class Verdict:
    """One decided claim.

    Attributes
    ----------
    name : str
        Which claim, with the paper's number (``theorem_3_6_1_inequality_13``).
    passed : bool
        ``margin >= -tolerance``.
    margin : number
        The slack by which the inequality holds at its tightest point; negative when it
        fails. A Fraction for exact decisions; ``math.inf`` when the claim was vacuous.
    worst_state, worst_iteration : int or None
        Where the margin was attained.
    witness : object
        A reproducible description: a dict with the MDP arrays and policies as nested lists
        (fraction strings in exact mode), or a summary of the path.
    tolerance : 0, None or Tolerance
        0 (or None) for exact decisions; otherwise the float tolerance with its reason.
    detail : str
        One sentence.
    """

    name: str
    passed: bool
    margin: Any
    worst_state: int | None
    worst_iteration: int | None
    witness: Any
    tolerance: Any
    detail: str

    @property
    def exact(self) -> bool:
        """Was the claim decided without a float tolerance?"""
        return not isinstance(self.tolerance, Tolerance) and _tolerance_value(self.tolerance) == 0

    def __str__(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        return f"[{status}] {self.name}: margin {number_text(self.margin)}; {self.detail}"


@dataclass(frozen=True)
class Report:
    """A set of verdicts: ``passed`` iff every verdict passed.

    ``render()`` gives a text table (also ``str(report)``); notebooks show a markdown table.
    Reports add: ``report_a + report_b``.
    """

    verdicts: tuple[Verdict, ...] = field(default_factory=tuple)
    title: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdicts", tuple(self.verdicts))

    @property
    def passed(self) -> bool:
        """All verdicts passed (an empty report passes)."""
        return all(v.passed for v in self.verdicts)

    def failed(self) -> tuple[Verdict, ...]:
        """The verdicts that failed."""
        return tuple(v for v in self.verdicts if not v.passed)

    def __getitem__(self, name: str) -> Verdict:
        """The verdict called ``name`` (KeyError if absent)."""
        for verdict in self.verdicts:
            if verdict.name == name:
                return verdict
        raise KeyError(f"no verdict {name!r}; verdicts: {[v.name for v in self.verdicts]}")

    def names(self) -> tuple[str, ...]:
        """The verdict names, in order."""
        return tuple(v.name for v in self.verdicts)

    def __add__(self, other: Report) -> Report:
        title = " + ".join(t for t in (self.title, other.title) if t)
        return Report(self.verdicts + other.verdicts, title)

    def _rows(self) -> list[tuple[str, ...]]:
        rows = []
        for v in self.verdicts:
            tolerance = "exact" if v.exact else f"{float(_tolerance_value(v.tolerance)):.2g}"
            rows.append(
                (
                    "PASS" if v.passed else "FAIL",
                    v.name,
                    number_text(v.margin),
                    "-" if v.worst_iteration is None else str(v.worst_iteration),
                    "-" if v.worst_state is None else str(v.worst_state),
                    tolerance,
                    v.detail,
                )
            )
        return rows

    _HEADER = ("", "check", "margin", "iter", "state", "tolerance", "detail")

    def render(self, width: int = 60) -> str:
        """A text table: status, check, margin, worst iteration and state, tolerance, detail."""
        rows = self._rows()
        head = f"{self.title}: " if self.title else ""
        summary = (
            f"{head}{'PASSED' if self.passed else 'FAILED'} "
            f"({sum(v.passed for v in self.verdicts)}/{len(self.verdicts)} checks)"
        )
        if not rows:
            return summary
        widths = [
            max(len(self._HEADER[k]), *(len(r[k]) for r in rows)) for k in range(len(rows[0]) - 1)
        ]
        lines = [summary]
        header = "  ".join(h.ljust(w) for h, w in zip(self._HEADER, widths, strict=False))
        lines.append(f"{header}  detail")
        for row in rows:
            cells = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False))
            detail = row[-1] if len(row[-1]) <= width else row[-1][: width - 3] + "..."
            lines.append(f"{cells}  {detail}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render(width=10_000)

    def _repr_markdown_(self) -> str:
        lines = [
            f"**{html.escape(self.title or 'report')}: {'PASSED' if self.passed else 'FAILED'}**",
            "",
            "| " + " | ".join(self._HEADER) + " |",
            "|" + "---|" * len(self._HEADER),
        ]
        for row in self._rows():
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEADER)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self._rows()
        )
        status = "PASSED" if self.passed else "FAILED"
        return (
            f"<p><b>{html.escape(self.title or 'report')}: {status}</b></p>"
            f"<table><tr>{cells}</tr>{body}</table>"
        )


# ---------------------------------------------------------------------------- helpers
def number_text(value: Any) -> str:
    """A number for a table: Fractions as p/q (or a float if the denominator is huge)."""
    if value is None:
        return "-"
    if isinstance(value, Fraction):
        text = str(value)
        return text if len(text) <= 24 else f"{float(value):.6g} (exact)"
    if isinstance(value, int | np.integer):
        return str(int(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return f"{number:.3g}"


def array_text(array: Any) -> Any:
    """An array as nested lists: fraction strings for exact arrays, floats otherwise."""
    array = np.asarray(array)
    if array.dtype == object:
        return np.vectorize(str, otypes=[object])(array).tolist()
    return array.astype(float).tolist()


def mdp_witness(mdp: Any, **policies: Any) -> dict[str, Any]:
    """A reproducible witness: the MDP's arrays and the named policies as nested lists.

    ``tabular_mirror.FiniteMDP(w["transitions"], w["rewards"], w["discount"], w["initial"])``
    rebuilds the MDP (exactly when the strings are fractions).
    """
    transitions = mdp.transitions
    if hasattr(transitions, "toarray"):
        transitions = transitions.toarray().reshape(mdp.num_states, mdp.num_actions, -1)
    witness = {
        "transitions": array_text(transitions),
        "rewards": array_text(mdp.rewards),
        "discount": str(mdp.discount) if mdp.is_exact else float(mdp.discount),
        "initial": array_text(mdp.initial),
        "exact": bool(mdp.is_exact),
    }
    for name, policy in policies.items():
        witness[name] = None if policy is None else array_text(policy)
    return witness


def decide(
    name: str,
    slacks: Any,
    tolerance: Any,
    detail: str,
    witness: Any = None,
    *,
    states: bool = True,
    iterations: Sequence[int] | None = None,
) -> Verdict:
    """A verdict from an array of slacks (each >= 0 means the inequality holds there).

    ``slacks`` is 1-D (over states or iterations) or 2-D (iterations x states). The margin is
    the smallest slack; the verdict passes when ``margin >= -tolerance``. An empty array is a
    vacuous pass with margin +inf.
    """
    array = np.asarray(slacks, dtype=object if _is_exact(slacks) else float)
    if array.size == 0:
        return Verdict(name, True, math.inf, None, None, witness, tolerance, f"{detail} (vacuous)")
    flat = array.reshape(-1)
    index = min(range(flat.size), key=lambda k: _key(flat[k]))
    margin = flat[index]
    worst_state = worst_iteration = None
    if array.ndim == 2:
        worst_iteration, worst_state = divmod(index, array.shape[1])
    elif states:
        worst_state = index
    else:
        worst_iteration = index
    if iterations is not None and worst_iteration is not None:
        worst_iteration = iterations[worst_iteration]
    if isinstance(margin, float) and math.isnan(margin):
        return Verdict(name, False, margin, worst_state, worst_iteration, witness, tolerance,
                       f"{detail}: NaN encountered")  # fmt: skip
    passed = bool(margin >= -_tolerance_value(tolerance))
    return Verdict(name, passed, margin, worst_state, worst_iteration, witness, tolerance, detail)


def _key(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return -math.inf
    return value


def _is_exact(values: Any) -> bool:
    array = np.asarray(values, dtype=object)
    return array.size > 0 and all(isinstance(v, Fraction | int) for v in array.reshape(-1))


def combine(name: str, verdicts: Iterable[Verdict], detail: str) -> Verdict:
    """The worst of several verdicts of the same claim, renamed."""
    verdicts = list(verdicts)
    worst = min(verdicts, key=lambda v: (v.passed, _key(v.margin)))
    return Verdict(
        name,
        all(v.passed for v in verdicts),
        worst.margin,
        worst.worst_state,
        worst.worst_iteration,
        worst.witness,
        worst.tolerance,
        detail,
    )
