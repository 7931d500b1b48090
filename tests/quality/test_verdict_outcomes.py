"""proofs_check.verdicts decides and reports exactly what it documents: the three outcomes at
their thresholds (boundaries included), NaN and empty evidence, where a margin was attained,
which verdict a set reports, and every rendering of a report (text table, markdown, HTML,
JSON) with its exact cells. Mutation testing (docs/mutation.md) found each assertion missing.
"""

from __future__ import annotations

import dataclasses
import json
import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

import tabular_mirror as tm
from proofs_check import verdicts
from proofs_check.verdicts import (
    EXACT,
    OUTCOMES,
    Report,
    Tolerance,
    Verdict,
    array_text,
    combine,
    decide,
    held,
    mdp_witness,
    number_text,
    worst,
)

NAN = float("nan")


def verdict(outcome="passed", margin=0, *, name="claim", reason="", tolerance=0, **fields):
    if outcome == "inconclusive" and not reason:
        reason = "undecided"
    return Verdict(name, outcome, margin, fields.pop("state", None), fields.pop("iteration", None),
                   fields.pop("witness", None), tolerance, fields.pop("detail", "d"), reason,
                   **fields)  # fmt: skip


# ---------------------------------------------------------------------------- Tolerance
def test_tolerance_thresholds_and_text():
    assert OUTCOMES == ("passed", "inconclusive", "failed") and EXACT == 0
    plain = Tolerance(0.5, "why")
    assert plain.fail_threshold == 0.5 and float(plain) == 0.5
    assert Tolerance(1, "r", 2).fail_threshold == 2
    assert str(Tolerance(0.00123456, "x")) == "0.00123 (x)"
    assert str(Tolerance(1, "r", 2)) == "1 (r); refuted only beyond 2"
    assert str(Tolerance(0.5, "band", math.inf)) == "0.5 (band); refuted only beyond never"
    assert str(Tolerance(3, "same", 3)) == "3 (same)"  # an equal fail value says nothing more
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.value = 1


@pytest.mark.parametrize(
    ("tolerance", "thresholds"),
    [(None, (0, 0)), (0.25, (0.25, 0.25)), (Tolerance(1, "r"), (1, 1)),
     (Tolerance(1, "r", 3), (1, 3))],
    ids=["none", "number", "tolerance", "band"],
)  # fmt: skip
def test_thresholds(tolerance, thresholds):
    assert verdicts._thresholds(tolerance) == thresholds


# ---------------------------------------------------------------------------- Verdict
def test_a_verdict_checks_its_outcome_and_reason():
    with pytest.raises(tm.InvalidParameterError, match="outcome = 'bogus'"):
        verdict("bogus")
    with pytest.raises(tm.InvalidParameterError, match="outcome"):
        verdict(True)
    with pytest.raises(tm.InvalidParameterError, match="without a reason"):
        Verdict("c", "inconclusive", 0, None, None, None, 0, "d")
    assert verdict("failed").failed and not verdict("failed").passed
    assert verdict("passed").passed and not verdict("passed").inconclusive
    assert verdict("inconclusive").inconclusive and not verdict("inconclusive").failed
    part = verdict("failed", name="h")
    assert isinstance(verdict("failed", diagnosis=[part]).diagnosis, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        part.name = "x"


@pytest.mark.parametrize(
    ("outcome", "reason", "not_applicable"),
    [("inconclusive", "not applicable: the algorithm changed", True),
     ("inconclusive", "undecided: not applicable later", False),
     ("inconclusive", "Not applicable", False),
     ("passed", "not applicable: but it passed", False),
     ("failed", "not applicable: but it failed", False)],
    ids=["not-applicable", "elsewhere", "case", "passed", "failed"],
)  # fmt: skip
def test_not_applicable_is_an_inconclusive_verdict_with_that_reason(
    outcome, reason, not_applicable
):
    assert verdict(outcome, reason=reason).not_applicable is not_applicable


@pytest.mark.parametrize(
    ("tolerance", "exact"),
    [(0, True), (None, True), (Fraction(0), True), (1, False), (1e-9, False),
     (Tolerance(0, "float"), False)],
    ids=["zero", "none", "fraction", "one", "float", "tolerance"],
)  # fmt: skip
def test_exact_means_no_float_allowance(tolerance, exact):
    assert verdict(tolerance=tolerance).exact is exact


def test_explanation_and_text():
    ok = verdict("passed", name="h1", detail="fine")
    bad = verdict("failed", name="h2", detail="broken")
    worse = verdict("failed", name="h3", detail="also broken")
    assert verdict(detail="plain").explanation() == "plain"
    assert verdict("inconclusive", detail="open", reason="why").explanation() == "open [why]"
    failed = verdict("failed", detail="claim fails", diagnosis=(ok, bad, worse))
    assert failed.violated_hypotheses() == (bad, worse)
    assert failed.explanation() == "claim fails Diagnosis: h2: broken; h3: also broken"
    held_all = verdict("failed", detail="claim fails", diagnosis=(ok,))
    assert held_all.explanation() == (
        "claim fails Diagnosis: every hypothesis checked held at the offending policies"
    )
    assert verdict("passed", detail="fine", diagnosis=(ok,)).explanation() == "fine"
    assert str(verdict("passed", Fraction(1, 3), name="x", detail="holds")) == (
        "[PASS] x: margin 1/3; holds"
    )
    assert str(verdict("inconclusive", None, name="y", detail="open", reason="r")) == (
        "[INCONCLUSIVE] y: margin -; open [r]"
    )
    assert str(verdict("failed", -2, name="z", detail="no")).startswith("[FAIL] z: margin -2; ")


def test_verdict_to_dict():
    part = verdict("failed", -1, name="h")
    record = verdict(
        "failed", Fraction(-1, 7), name="c", state=1, iteration=2, witness={"w": 1},
        tolerance=Tolerance(0.5, "r", math.inf), detail="d", reason="because",
        diagnosis=(part,),
    ).to_dict()  # fmt: skip
    assert record == {
        "name": "c",
        "outcome": "failed",
        "margin": "-1/7",
        "worst_state": 1,
        "worst_iteration": 2,
        "tolerance": {"value": 0.5, "fail_value": "inf", "reason": "r"},
        "detail": "d",
        "reason": "because",
        "diagnosis": [part.to_dict()],
        "witness": {"w": 1},
    }


# ---------------------------------------------------------------------------- Report
PASSED = verdict("passed", Fraction(1, 3), name="lemma_a", state=1, iteration=0, detail="holds")
FAILED = verdict("failed", -0.25, name="claim_b", iteration=2, detail="fails | here",
                 tolerance=Tolerance(1e-9, "why"))  # fmt: skip
OPEN = verdict("inconclusive", None, name="claim_c", state=0, detail="open",
               reason="cannot tell", tolerance=Tolerance(0.5, "band", math.inf))  # fmt: skip
REPORT = Report((PASSED, FAILED, OPEN), "demo")


def test_report_outcome_and_queries():
    assert Report((PASSED,)).outcome == "passed" and Report((PASSED,)).passed
    assert REPORT.outcome == "failed" and not REPORT.passed
    assert Report((OPEN,)).outcome == "inconclusive" and not Report((OPEN,)).passed
    assert Report(()).outcome == "inconclusive"
    assert Report((PASSED,)).complete and not Report(()).complete
    assert not Report((PASSED, OPEN)).complete
    assert REPORT.failed() == (FAILED,) and REPORT.inconclusive() == (OPEN,)
    assert REPORT.counts() == {"passed": 1, "failed": 1, "inconclusive": 1}
    assert Report((PASSED, PASSED)).counts() == {"passed": 2, "failed": 0, "inconclusive": 0}
    assert REPORT["claim_b"] is FAILED and REPORT["lemma_a"] is PASSED
    with pytest.raises(KeyError, match="no verdict 'nope'"):
        REPORT["nope"]
    assert REPORT.names() == ("lemma_a", "claim_b", "claim_c")
    assert isinstance(Report([PASSED]).verdicts, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        REPORT.title = "x"


def test_reports_add():
    both = Report((PASSED,), "a") + Report((FAILED,), "b")
    assert both.verdicts == (PASSED, FAILED) and both.title == "a + b"
    assert (Report((PASSED,)) + Report((OPEN,), "b")).title == "b"


def test_report_summary():
    assert REPORT.summary() == "demo: FAILED (1 passed, 1 failed, 1 inconclusive of 3 claims)"
    assert Report((PASSED,)).summary() == (
        "PASSED (1 passed, 0 failed, 0 inconclusive of 1 claims)"
    )


def test_report_render():
    lines = [
        "demo: FAILED (1 passed, 1 failed, 1 inconclusive of 3 claims)",
        "              check    margin  iter  state  tolerance  detail",
        "PASS          lemma_a  1/3     0     1      exact      holds",
        "FAIL          claim_b  -0.25   2     -      1e-09      fails | here",
        "INCONCLUSIVE  claim_c  -       -     0      0.5        open [cannot tell]",
    ]
    assert REPORT.render() == "\n".join(lines)
    assert str(REPORT) == "\n".join(lines) == REPORT.render(None)
    cut = REPORT.render(width=10).splitlines()
    assert cut[3].endswith("fails |...") and cut[4].endswith("open [c...")
    assert cut[2].endswith("holds")
    # exactly the width: not cut
    assert REPORT.render(width=12).splitlines()[3].endswith("fails | here")
    one = Report((verdict("passed", 1, name="only", detail="x" * 61),))
    assert one.render().splitlines()[-1].endswith(" " + "x" * 57 + "...")  # cut at 60
    assert one.render(61).splitlines()[-1].endswith(" " + "x" * 61)
    assert one.render().splitlines()[1] == "      check  margin  iter  state  tolerance  detail"
    assert Report((), "empty").render() == (
        "empty: INCONCLUSIVE (0 passed, 0 failed, 0 inconclusive of 0 claims)"
    )


def test_report_markdown_and_html():
    assert REPORT._repr_markdown_() == "\n".join(
        [
            "**demo: FAILED (1 passed, 1 failed, 1 inconclusive of 3 claims)**",
            "",
            "|  | check | margin | iter | state | tolerance | detail |",
            "|---|---|---|---|---|---|---|",
            "| PASS | lemma_a | 1/3 | 0 | 1 | exact | holds |",
            "| FAIL | claim_b | -0.25 | 2 | - | 1e-09 | fails \\| here |",
            "| INCONCLUSIVE | claim_c | - | - | 0 | 0.5 | open [cannot tell] |",
        ]
    )
    assert Report((PASSED,))._repr_markdown_().splitlines()[0] == (
        "**report: PASSED (1 passed, 0 failed, 0 inconclusive of 1 claims)**"
    )
    html = Report((PASSED, FAILED), "t")._repr_html_()
    assert html == (
        "<p><b>t: FAILED (1 passed, 1 failed, 0 inconclusive of 2 claims)</b></p><table><tr>"
        "<th></th><th>check</th><th>margin</th><th>iter</th><th>state</th><th>tolerance</th>"
        "<th>detail</th></tr><tr><td>PASS</td><td>lemma_a</td><td>1/3</td><td>0</td>"
        "<td>1</td><td>exact</td><td>holds</td></tr><tr><td>FAIL</td><td>claim_b</td>"
        "<td>-0.25</td><td>2</td><td>-</td><td>1e-09</td><td>fails | here</td></tr></table>"
    )


class _Opaque:
    def __str__(self):
        return "opaque"


def test_report_json():
    witness = {
        "f": Fraction(1, 3),
        "i": np.int64(2),
        "x": np.float64(0.5),
        "a": np.array([1.0, 2.0]),
        "e": np.array([Fraction(1, 2)], dtype=object),
        "o": _Opaque(),
    }
    report = Report((verdict("passed", 1, witness=witness),), "j")
    data = json.loads(report.to_json())
    assert data["verdicts"][0]["witness"] == {
        "f": "1/3", "i": 2, "x": 0.5, "a": [1.0, 2.0], "e": ["1/2"], "o": "opaque",
    }  # fmt: skip
    assert data["title"] == "j" and data["outcome"] == "passed"
    assert data["counts"] == {"passed": 1, "failed": 0, "inconclusive": 0}
    assert report.to_dict()["verdicts"] == [report.verdicts[0].to_dict()]


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(None, None), (Fraction(-2, 3), "-2/3"), (3, 3), (np.int64(4), 4), (0.5, 0.5),
     (np.float64(0.25), 0.25), (math.inf, "inf"), (-math.inf, "-inf"), (NAN, "nan")],
    ids=["none", "fraction", "int", "np-int", "float", "np-float", "inf", "-inf", "nan"],
)  # fmt: skip
def test_json_numbers(value, encoded):
    assert verdicts._json_number(value) == encoded
    assert type(verdicts._json_number(value)) is type(encoded)
    assert verdicts._json_tolerance(value) == encoded


def test_json_default():
    assert verdicts.json_default(Fraction(1, 3)) == "1/3"
    assert (
        verdicts.json_default(np.int64(2)) == 2 and type(verdicts.json_default(np.int64(2))) is int
    )
    single = verdicts.json_default(np.float32(0.5))
    assert single == 0.5 and type(single) is float
    assert verdicts.json_default(np.array([Fraction(1, 2)], dtype=object)) == ["1/2"]
    assert verdicts.json_default(math.inf) == "inf" and verdicts.json_default(-math.inf) == "-inf"
    assert verdicts.json_default(NAN) == "nan"
    assert verdicts.json_default(_Opaque()) == "opaque"
    assert json.loads(Report((verdict(witness={"s": np.float32(0.25)}),)).to_json())["verdicts"][0][
        "witness"
    ] == {"s": 0.25}


def test_json_tolerance():
    assert verdicts._json_tolerance(Tolerance(Fraction(1, 2), "r")) == {
        "value": "1/2", "fail_value": "1/2", "reason": "r",
    }  # fmt: skip


# ---------------------------------------------------------------------------- texts
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (Fraction(1, 3), "1/3"),
        (Fraction(1, 10**21), "1/1000000000000000000000"),  # 24 characters: kept
        (Fraction(1, 10**22), "1e-22 (exact)"),  # 25 characters: shortened
        (3, "3"),
        (12345, "12345"),
        (np.int64(-7), "-7"),
        (0.5, "0.5"),
        (np.float64(1 / 3), "0.333"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        ("text", "text"),
    ],
    ids=["none", "fraction", "fraction-24", "fraction-25", "int", "large-int", "np-int", "float",
         "np-float", "inf", "-inf", "string"],
)  # fmt: skip
def test_number_text(value, text):
    assert number_text(value) == text


def test_array_text():
    exact = np.array([[Fraction(1, 2), Fraction(1, 2)]], dtype=object)
    assert array_text(exact) == [["1/2", "1/2"]]
    assert array_text(np.array([[1, 2]])) == [[1.0, 2.0]]
    assert isinstance(array_text(np.array([1]))[0], float)


def test_mdp_witness_dense_exact_and_sparse():
    exact = tm.FiniteMDP([[[1, 0], ["1/2", "1/2"]], [[0, 1], [0, 1]]], [[0, 1], [2, "1/3"]],
                         "9/10", ["1/4", "3/4"])  # fmt: skip
    policy = tm.uniform_policy(exact)
    witness = mdp_witness(exact, policy=policy, other=None)
    assert witness == {
        "num_states": 2,
        "num_actions": 2,
        "transitions": [[["1", "0"], ["1/2", "1/2"]], [["0", "1"], ["0", "1"]]],
        "rewards": [["0", "1"], ["2", "1/3"]],
        "discount": "9/10",
        "initial": ["1/4", "3/4"],
        "exact": True,
        "policy": [["1/2", "1/2"], ["1/2", "1/2"]],
        "other": None,
    }
    assert "action_mask" not in witness  # every action feasible: no mask stored
    masked = tm.FiniteMDP(exact.transitions, exact.rewards, "9/10", ["1/4", "3/4"],
                          action_mask=[[True, True], [True, False]])  # fmt: skip
    assert mdp_witness(masked)["action_mask"] == [[True, True], [True, False]]
    floats = exact.to_float()
    witness = mdp_witness(floats)
    assert witness["discount"] == 0.9 and witness["exact"] is False
    assert witness["transitions"][0][1] == [0.5, 0.5]
    transitions = sp.csr_matrix(np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.0, 1.0]]))
    sparse = tm.FiniteMDP(transitions, np.zeros((2, 2)), 0.5)
    witness = mdp_witness(sparse)
    assert "transitions" not in witness
    assert witness["transitions_sparse"] == [
        [0, 0, 1.0], [1, 0, 0.5], [1, 1, 0.5], [2, 1, 1.0], [3, 1, 1.0],
    ]  # fmt: skip


def test_held():
    assert held(True) == "passed" and held(1) == "passed"
    assert held(False) == "failed" and held(0) == "failed"


# ---------------------------------------------------------------------------- decide
def test_decide_outcomes_at_the_thresholds():
    band = Tolerance(1.0, "band", 2.0)
    assert decide("x", [0.0], 0, "d").passed  # 0 passes an exact claim
    assert decide("x", [Fraction(0)], EXACT, "d").passed
    assert decide("x", [-1.0], band, "d").passed  # exactly the pass allowance
    at_fail = decide("x", [-2.0], band, "d")  # exactly the fail allowance: not refuted
    assert at_fail.inconclusive and at_fail.margin == -2.0
    assert decide("x", [-2.0 - 1e-9], band, "d").failed
    assert decide("x", [Fraction(-1, 10**9)], 0, "d").failed
    assert decide("x", [-0.5], 0.5, "d").passed and decide("x", [-0.6], 0.5, "d").failed
    assert decide("x", [1.0], None, "d").passed and decide("x", [-1.0], None, "d").failed


def test_decide_inconclusive_reasons():
    band = Tolerance(1.0, "band", 2.0)
    default = decide("x", [-1.5], band, "d")
    assert default.reason == (
        "the violation 1.5 is within the evidence's uncertain allowance (1 (band); refuted only "
        "beyond 2)"
    )
    assert decide("x", [-1.5], band, "d", undecided="mine").reason == "mine"
    empty = decide("x", [], 0, "d")
    assert empty.inconclusive and empty.reason == "nothing to check" and empty.margin is None
    assert decide("x", [], 0, "d", empty="no steps").reason == "no steps"
    assert decide("x", [5.0], 0, "d", empty="no steps").passed  # one slack is not empty


def test_decide_margin_place_and_type():
    exact = decide("x", [Fraction(1, 2), Fraction(-1, 7), Fraction(3)], 0, "d", witness={"w": 0})
    assert exact.failed and exact.margin == Fraction(-1, 7) and type(exact.margin) is Fraction
    assert (exact.worst_state, exact.worst_iteration) == (1, None) and exact.witness == {"w": 0}
    single = decide("x", [Fraction(-1, 7)], 0, "d")
    assert type(single.margin) is Fraction
    assert exact.name == "x" and exact.detail == "d" and exact.tolerance == 0
    over_iterations = decide("x", [3.0, -1.0, 2.0], 0, "d", states=False)
    assert (over_iterations.worst_state, over_iterations.worst_iteration) == (None, 1)
    renamed = decide("x", [3.0, -1.0, 2.0], 0, "d", states=False, iterations=[5, 6, 7])
    assert (renamed.worst_state, renamed.worst_iteration) == (None, 6)
    states = decide("x", [3.0, -1.0], 0, "d", iterations=[5, 6])  # 1-D over states
    assert (states.worst_state, states.worst_iteration) == (1, None)
    grid = decide("x", [[1.0, 2.0, 3.0], [4.0, 0.5, 6.0]], 0, "d")
    assert grid.passed and (grid.worst_iteration, grid.worst_state) == (1, 1)
    cube = decide("x", np.ones((2, 2, 2)) - np.eye(2)[None], 0, "d")  # 3-D: flat index
    assert cube.margin == 0 and cube.worst_state == 0


def test_decide_nan():
    every = decide("x", [NAN, NAN], 0, "d")
    assert every.inconclusive and math.isnan(every.margin) and every.worst_state == 0
    assert every.reason == "every slack is NaN: no number decides the claim"
    grid_every = decide("x", [[NAN, NAN], [NAN, NAN]], 0, "d")
    assert (grid_every.worst_iteration, grid_every.worst_state) == (0, 0)
    one = decide("x", [1.0, NAN, 0.5], 0, "d")
    assert one.inconclusive and one.margin == 0.5 and one.worst_state == 2
    assert one.reason == "NaN in the slacks (1 entries, first at state 1)"
    grid = decide("x", [[1.0, 2.0], [NAN, 3.0], [4.0, NAN]], 0, "d", iterations=[7, 8, 9])
    assert grid.reason == "NaN in the slacks (2 entries, first at iteration 8, state 0)"
    steps = decide("x", [1.0, NAN], 0, "d", states=False)
    assert steps.reason == "NaN in the slacks (1 entries, first at iteration 1)"
    assert decide("x", [NAN, -1.0], 0, "d").failed  # a decided violation still fails
    assert decide("x", [np.float64(NAN), 1.0], 0, "d").inconclusive


# ---------------------------------------------------------------------------- worst / combine
def test_worst_prefers_failed_then_undecided_then_the_smallest_margin():
    failed = verdict("failed", -1, name="f")
    undecided = verdict("inconclusive", -5, name="u")
    passed = verdict("passed", -10, name="p")
    assert worst([undecided, failed, passed]) is failed
    assert worst([failed, undecided]) is failed and worst([undecided, failed]) is failed
    assert worst([passed, undecided]) is undecided
    small, large = verdict("passed", 1, name="s"), verdict("passed", 2, name="l")
    assert worst([large, small]) is small
    nan, none, number = (
        verdict("inconclusive", NAN, name="nan"),
        verdict("inconclusive", None, name="none"),
        verdict("inconclusive", 0.5, name="number"),
    )
    assert worst([nan, none, number]) is number  # NaN and None margins sort last
    assert worst([none, nan]) is none


def test_combine():
    first = verdict("inconclusive", 1, name="a", reason="first")
    second = verdict("inconclusive", 2, name="b", reason="second")
    failed = verdict("failed", -1, name="c")
    passed = verdict("passed", 0, name="d")
    one = combine("all", [passed, first], "combined")
    assert one.inconclusive and one.reason == "first"
    assert one.name == "all" and one.detail == "combined" and one.margin == 1
    two = combine("all", [second, first, passed], "combined")
    assert two.reason == "first (and 1 more undecided)"
    assert combine("all", [first, second, failed], "c").reason == ""
    assert combine("all", [passed], "c").passed
