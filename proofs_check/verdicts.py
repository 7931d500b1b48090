"""Verdicts and reports: what a check of the paper's claims returns.

A :class:`Verdict` is one claim decided on evidence, with one of three outcomes:

- ``"passed"``: the evidence shows the claim holds (within a stated tolerance);
- ``"failed"``: the evidence shows it does not, by more than every error the evidence carries;
- ``"inconclusive"``: the evidence cannot decide (a step that is not certified as the argmax, a
  NaN, a finite run that neither reached the optimum nor stalled, a claim that does not apply);
  ``reason`` says why.

A check never passes what it cannot decide and never fails on a NaN, a solver artefact or an
uncertified step. Every verdict carries the ``margin`` by which the claim holds at its tightest
point (negative when it fails; a Fraction in exact mode), where that was (``worst_state``,
``worst_iteration``), a ``witness`` (a dict that :func:`proofs_check.replay` re-runs), the
``tolerance`` (0 for exact decisions, otherwise a :class:`Tolerance` stating its reason) and a
one-sentence ``detail``. A failed conclusion of a theorem also carries its ``diagnosis``: the
theorem's hypotheses checked at the offending policies (a failed one names the loose spot).

A :class:`Report` is a tuple of verdicts: FAILED if one failed; PASSED if none failed and at
least one passed (its text says how many claims were left undecided); INCONCLUSIVE if none was
decided.

Examples
--------
>>> held = Verdict("lemma_3_5_mirror_operator", "passed", 0, 1, 0, None, 0, "holds with equality")
>>> open_ = Verdict("theorem_3_6_3_return_convergence", "inconclusive", 0.5, None, 3, None, 0,
...                 "eta* not reached after 3 iterations", reason="a finite run in progress")
>>> report = Report((held, open_), title="demo")
>>> report.outcome, report.passed, len(report.inconclusive())
('passed', True, 1)
>>> print(report.render().splitlines()[0])
demo: PASSED (1 passed, 0 failed, 1 inconclusive of 2 claims)
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np

from tabular_mirror.errors import InvalidParameterError

__all__ = [
    "OUTCOMES",
    "Tolerance",
    "Verdict",
    "Report",
    "EXACT",
    "decide",
    "combine",
    "worst",
    "held",
    "number_text",
    "array_text",
    "mdp_witness",
]

#: The three outcomes of a verdict, from best to worst.
OUTCOMES = ("passed", "inconclusive", "failed")

#: The tolerance of an exact decision (rational arithmetic, no rounding).
EXACT = 0

_STATUS = {"passed": "PASS", "failed": "FAIL", "inconclusive": "INCONCLUSIVE"}


@dataclass(frozen=True)
class Tolerance:
    """The allowance of a float decision, and why it is large enough (and no larger).

    A claim with margin m *passes* when ``m >= -value``. It *fails* only when
    ``m < -fail_value``; ``fail_value`` defaults to ``value`` (a decided band with no gap) and
    is larger when the evidence carries an error that cannot be certified small enough to pass
    (a step whose optimality gap is bounded but above its tolerance); ``math.inf`` means the
    evidence can never refute the claim (a step with no valid gap bound). Between the two
    thresholds the verdict is inconclusive.

    ``reason`` names the error sources covered, e.g. "2 x certified evaluation error + step
    certificate bound / (beta_min (1 - gamma))".
    """

    value: Any
    reason: str
    fail_value: Any = None

    @property
    def fail_threshold(self) -> Any:
        """The allowance below which the claim is refuted (``value`` unless set)."""
        return self.value if self.fail_value is None else self.fail_value

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        text = f"{float(self.value):.3g} ({self.reason})"
        if self.fail_value is not None and self.fail_value != self.value:
            bound = (
                "never" if math.isinf(float(self.fail_value)) else f"{float(self.fail_value):.3g}"
            )
            text += f"; refuted only beyond {bound}"
        return text


def _thresholds(tolerance: Any) -> tuple[Any, Any]:
    """(pass allowance, fail allowance) of a tolerance (0, None, a number or a Tolerance)."""
    if tolerance is None:
        return 0, 0
    if isinstance(tolerance, Tolerance):
        return tolerance.value, tolerance.fail_threshold
    return tolerance, tolerance


@dataclass(frozen=True)
class Verdict:
    """One claim decided on evidence.

    Attributes
    ----------
    name : str
        Which claim, with the paper's number (``theorem_3_6_1_inequality_13``).
    outcome : {"passed", "failed", "inconclusive"}
        Passed when ``margin >= -tolerance``; failed when the margin is below every error the
        evidence carries; inconclusive otherwise (see ``reason``).
    margin : number
        The slack by which the claim holds at its tightest point; negative when it does not.
        A Fraction for exact decisions; ``math.inf`` when the claim was vacuous; NaN or None
        when no number decides it.
    worst_state, worst_iteration : int or None
        Where the margin was attained.
    witness : dict or None
        What reproduces the verdict: the MDP's arrays (fraction strings in exact mode),
        policies, the algorithm and the options; :func:`proofs_check.replay` re-runs it.
    tolerance : 0, None or Tolerance
        0 (or None) for exact decisions; otherwise the float allowance with its reason.
    detail : str
        One sentence: the claim and what was observed.
    reason : str
        Why the verdict is inconclusive (required then); for a failure, optionally what the
        diagnosis found.
    diagnosis : tuple of Verdict
        For a failed conclusion: the theorem's hypotheses checked at the offending policies.
    """

    name: str
    outcome: str
    margin: Any
    worst_state: int | None
    worst_iteration: int | None
    witness: Any
    tolerance: Any
    detail: str
    reason: str = ""
    diagnosis: tuple[Verdict, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.outcome, str) or self.outcome not in OUTCOMES:
            raise InvalidParameterError(
                f"Verdict {self.name!r}: outcome = {self.outcome!r}, expected one of "
                f"{', '.join(OUTCOMES)}"
            )
        if self.outcome == "inconclusive" and not self.reason:
            raise InvalidParameterError(
                f"Verdict {self.name!r} is inconclusive without a reason; say why the evidence "
                "cannot decide"
            )
        object.__setattr__(self, "diagnosis", tuple(self.diagnosis))

    @property
    def passed(self) -> bool:
        """The evidence shows the claim holds."""
        return self.outcome == "passed"

    @property
    def failed(self) -> bool:
        """The evidence shows the claim does not hold."""
        return self.outcome == "failed"

    @property
    def inconclusive(self) -> bool:
        """The evidence cannot decide the claim (``reason`` says why)."""
        return self.outcome == "inconclusive"

    @property
    def not_applicable(self) -> bool:
        """Inconclusive because the claim's hypotheses do not hold for this input (its reason
        starts with "not applicable": a theorem about one drift on a run whose schedule changed
        it); nothing about the claim is left to decide."""
        return self.outcome == "inconclusive" and self.reason.startswith("not applicable")

    @property
    def exact(self) -> bool:
        """Was the claim decided without a float tolerance?"""
        value, _ = _thresholds(self.tolerance)
        return not isinstance(self.tolerance, Tolerance) and value == 0

    def violated_hypotheses(self) -> tuple[Verdict, ...]:
        """The diagnosis verdicts that failed: the hypotheses violated at the offending point."""
        return tuple(v for v in self.diagnosis if v.failed)

    def explanation(self) -> str:
        """detail, then the reason (inconclusive) and the violated hypotheses (failed)."""
        text = self.detail
        if self.reason:
            text += f" [{self.reason}]"
        violated = self.violated_hypotheses()
        if violated:
            text += " Diagnosis: " + "; ".join(f"{v.name}: {v.detail}" for v in violated)
        elif self.failed and self.diagnosis:
            text += " Diagnosis: every hypothesis checked held at the offending policies"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (numbers as strings for Fractions; the witness as it is)."""
        return {
            "name": self.name,
            "outcome": self.outcome,
            "margin": _json_number(self.margin),
            "worst_state": self.worst_state,
            "worst_iteration": self.worst_iteration,
            "tolerance": _json_tolerance(self.tolerance),
            "detail": self.detail,
            "reason": self.reason,
            "diagnosis": [v.to_dict() for v in self.diagnosis],
            "witness": self.witness,
        }

    def __str__(self) -> str:
        return f"[{_STATUS[self.outcome]}] {self.name}: margin {number_text(self.margin)}; " + (
            self.explanation()
        )


@dataclass(frozen=True)
class Report:
    """A set of verdicts.

    ``outcome``: "failed" if a verdict failed, "passed" if none failed and one passed,
    "inconclusive" if nothing was decided. ``render()`` gives a text table (also ``str``) whose
    first line counts passed, failed and inconclusive claims; notebooks show a table. Reports
    add: ``report_a + report_b``.
    """

    verdicts: tuple[Verdict, ...] = field(default_factory=tuple)
    title: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdicts", tuple(self.verdicts))

    @property
    def outcome(self) -> str:
        """ "failed" if any verdict failed; "passed" if none failed and one passed; else
        "inconclusive" (also for an empty report: nothing was checked)."""
        if any(v.failed for v in self.verdicts):
            return "failed"
        if any(v.passed for v in self.verdicts):
            return "passed"
        return "inconclusive"

    @property
    def passed(self) -> bool:
        """Nothing failed and something passed (some claims may be undecided: see
        :meth:`inconclusive` and :attr:`complete`)."""
        return self.outcome == "passed"

    @property
    def complete(self) -> bool:
        """Every claim was decided and passed (what ``--strict`` asks for)."""
        return bool(self.verdicts) and all(v.passed for v in self.verdicts)

    def failed(self) -> tuple[Verdict, ...]:
        """The verdicts that failed."""
        return tuple(v for v in self.verdicts if v.failed)

    def inconclusive(self) -> tuple[Verdict, ...]:
        """The verdicts the evidence could not decide."""
        return tuple(v for v in self.verdicts if v.inconclusive)

    def counts(self) -> dict[str, int]:
        """How many verdicts have each outcome."""
        return {
            o: sum(v.outcome == o for v in self.verdicts)
            for o in ("passed", "failed", "inconclusive")
        }

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

    def summary(self) -> str:
        """ "PASSED (7 passed, 0 failed, 2 inconclusive of 9 claims)"."""
        counts = self.counts()
        head = f"{self.title}: " if self.title else ""
        return (
            f"{head}{self.outcome.upper()} ({counts['passed']} passed, {counts['failed']} "
            f"failed, {counts['inconclusive']} inconclusive of {len(self.verdicts)} claims)"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record of the report."""
        return {
            "title": self.title,
            "outcome": self.outcome,
            "counts": self.counts(),
            "verdicts": [v.to_dict() for v in self.verdicts],
        }

    def to_json(self) -> str:
        """The report as JSON text (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), default=json_default)

    def _rows(self) -> list[tuple[str, ...]]:
        rows = []
        for v in self.verdicts:
            value, _ = _thresholds(v.tolerance)
            tolerance = "exact" if v.exact else f"{float(value):.2g}"
            rows.append(
                (
                    _STATUS[v.outcome],
                    v.name,
                    number_text(v.margin),
                    "-" if v.worst_iteration is None else str(v.worst_iteration),
                    "-" if v.worst_state is None else str(v.worst_state),
                    tolerance,
                    v.explanation(),
                )
            )
        return rows

    _HEADER = ("", "check", "margin", "iter", "state", "tolerance", "detail")

    def render(self, width: int | None = 60) -> str:
        """A text table: outcome, check, margin, worst iteration and state, tolerance, detail.

        ``width`` cuts the detail column (None: never cut).
        """
        rows = self._rows()
        if not rows:
            return self.summary()
        widths = [
            max(len(self._HEADER[k]), *(len(r[k]) for r in rows)) for k in range(len(rows[0]) - 1)
        ]
        lines = [self.summary()]
        header = "  ".join(h.ljust(w) for h, w in zip(self._HEADER, widths, strict=False))
        lines.append(f"{header}  detail")
        for row in rows:
            cells = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False))
            detail = row[-1]
            if width is not None and len(detail) > width:
                detail = detail[: width - 3] + "..."
            lines.append(f"{cells}  {detail}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render(width=None)

    def _repr_markdown_(self) -> str:
        lines = [
            f"**{html.escape(self.summary() if self.title else 'report: ' + self.summary())}**",
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
        return f"<p><b>{html.escape(self.summary())}</b></p><table><tr>{cells}</tr>{body}</table>"


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
    rebuilds the MDP (exactly when the strings are fractions). A sparse MDP is stored as its
    nonzero entries (``transitions_sparse``: [row, column, value] with row = s * A + a), never
    densified; floats are stored as JSON numbers, which round-trip bit for bit.
    """
    transitions = mdp.transitions
    witness: dict[str, Any] = {
        "num_states": int(mdp.num_states),
        "num_actions": int(mdp.num_actions),
    }
    if hasattr(transitions, "tocoo"):
        coo = transitions.tocoo()
        witness["transitions_sparse"] = [
            [int(r), int(c), float(v)] for r, c, v in zip(coo.row, coo.col, coo.data, strict=True)
        ]
    else:
        witness["transitions"] = array_text(transitions)
    witness.update(
        rewards=array_text(mdp.rewards),
        discount=str(mdp.discount) if mdp.is_exact else float(mdp.discount),
        initial=array_text(mdp.initial),
        exact=bool(mdp.is_exact),
    )
    if mdp.has_infeasible_actions:  # which actions each state allows
        witness["action_mask"] = mdp.action_mask.tolist()
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
    undecided: str | None = None,
    empty: str | None = None,
) -> Verdict:
    """A verdict from an array of slacks (each >= 0 means the inequality holds there).

    ``slacks`` is 1-D (over states or iterations) or 2-D (iterations x states). The margin is
    the smallest finite slack. Passed when ``margin >= -pass allowance``; failed when
    ``margin < -fail allowance`` (see :class:`Tolerance`); otherwise inconclusive with the
    reason ``undecided`` (default: the tolerance's reason). A NaN slack never fails a claim: if
    nothing else failed, the verdict is inconclusive and names where the NaN was.
    An empty array is inconclusive with reason ``empty`` ("nothing to check" by default).
    """
    array = np.asarray(slacks, dtype=object if _is_exact(slacks) else float)
    if array.size == 0:
        return Verdict(
            name, "inconclusive", None, None, None, witness, tolerance, detail,
            reason=empty or "nothing to check",
        )  # fmt: skip
    flat = array.reshape(-1)
    finite = [k for k in range(flat.size) if not _is_nan(flat[k])]
    nans = [k for k in range(flat.size) if _is_nan(flat[k])]

    def place(index: int) -> tuple[int | None, int | None]:
        state = iteration = None
        if array.ndim == 2:
            iteration, state = divmod(index, array.shape[1])
        elif states:
            state = index
        else:
            iteration = index
        if iterations is not None and iteration is not None:
            iteration = iterations[iteration]
        return state, iteration

    pass_allowance, fail_allowance = _thresholds(tolerance)
    if not finite:
        state, iteration = place(nans[0])
        return Verdict(
            name, "inconclusive", math.nan, state, iteration, witness, tolerance, detail,
            reason="every slack is NaN: no number decides the claim",
        )  # fmt: skip
    index = min(finite, key=lambda k: flat[k])
    margin = flat[index]
    state, iteration = place(index)
    if margin < -fail_allowance:
        outcome, reason = "failed", ""
    elif nans:
        nan_state, nan_iteration = place(nans[0])
        where = ", ".join(
            f"{label} {value}"
            for label, value in (("iteration", nan_iteration), ("state", nan_state))
            if value is not None
        )
        outcome = "inconclusive"
        reason = f"NaN in the slacks ({len(nans)} entries, first at {where or 'index 0'})"
    elif margin >= -pass_allowance:
        outcome, reason = "passed", ""
    else:
        outcome = "inconclusive"
        reason = undecided or (
            f"the violation {number_text(-margin)} is within the evidence's uncertain "
            f"allowance ({tolerance})"
        )
    return Verdict(name, outcome, margin, state, iteration, witness, tolerance, detail, reason)


def held(condition: Any) -> str:
    """ "passed" if ``condition`` else "failed": the outcome of a claim decided outright."""
    return "passed" if bool(condition) else "failed"


def _is_nan(value: Any) -> bool:
    return isinstance(value, float | np.floating) and math.isnan(value)


def _is_exact(values: Any) -> bool:
    array = np.asarray(values, dtype=object)
    return array.size > 0 and all(isinstance(v, Fraction | int) for v in array.reshape(-1))


def _severity(verdict: Verdict) -> int:
    return {"failed": 0, "inconclusive": 1, "passed": 2}[verdict.outcome]


def _margin_key(value: Any) -> Any:
    if value is None or _is_nan(value):
        return math.inf
    return value


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The verdict to report for a set: a failure first, then an undecided one, then the
    passing one with the smallest margin."""
    return min(verdicts, key=lambda v: (_severity(v), _margin_key(v.margin)))


def combine(name: str, verdicts: Iterable[Verdict], detail: str) -> Verdict:
    """The worst of several verdicts of the same claim (see :func:`worst`), renamed.

    The outcome is "failed" if any failed, else "inconclusive" if any was (with its reason and
    how many were), else "passed".
    """
    verdicts = list(verdicts)
    chosen = worst(verdicts)
    reason = chosen.reason
    undecided = sum(v.inconclusive for v in verdicts)
    if chosen.inconclusive and undecided > 1:
        reason = f"{reason} (and {undecided - 1} more undecided)"
    return replace(chosen, name=name, detail=detail, reason=reason)


def _json_number(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, int | np.integer):
        return int(value)
    number = float(value)
    return repr(number) if not math.isfinite(number) else number


def _json_tolerance(tolerance: Any) -> Any:
    if isinstance(tolerance, Tolerance):
        return {
            "value": _json_number(tolerance.value),
            "fail_value": _json_number(tolerance.fail_threshold),
            "reason": tolerance.reason,
        }
    return _json_number(tolerance)


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: Fractions as "p/q", numpy scalars and arrays
    as numbers and lists, non-finite floats by repr; anything else by str."""
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return array_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return str(value)
