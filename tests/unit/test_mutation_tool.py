"""tools/mutation.py, the mutation tester of the checkers: it generates the expected mutants,
a toy test suite kills them (a hang is a timeout), files are restored after an exception, the
equivalents file is read and matched, and the classic survivor of issue 10 is generated."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


TOY = textwrap.dedent(
    '''
    """A toy module."""

    LIMIT = 3


    def sign(x: int) -> str:
        """Docstrings and annotations are not mutated."""
        if x < 0:
            return "negative"
        return "positive" if x > 0 else "zero"


    def count(values, limit=LIMIT):
        total = 0
        for value in values:
            if value is None:
                continue
            total += 1
        return total < limit and not total == 0


    def spin(n):
        while n > 0:
            n -= 1
        return n
    '''
)

TOY_TESTS = textwrap.dedent(
    """
    from toy import count, sign, spin


    def test_sign():
        assert sign(-1) == "negative"
        assert sign(0) == "zero"
        assert sign(2) == "positive"


    def test_count():
        assert count([1, None, 2]) is True
        assert count([None]) is False
        assert count([None, 1]) is True
        assert count([1, 2, 3, 4]) is False
        assert count([1, 2, 3], limit=4) is True


    def test_spin():
        assert spin(2) == 0
    """
)


@pytest.fixture
def toy(tmp_path):
    (tmp_path / "toy.py").write_text(TOY)
    (tmp_path / "test_toy.py").write_text(TOY_TESTS)
    return tmp_path


def _changes(mutants):
    return {(m.scope, m.operator, m.original, m.mutated) for m in mutants}


def test_the_expected_mutants_are_generated(tool, toy):
    mutants = tool.generate(toy / "toy.py", root=toy)
    changes = _changes(mutants)
    expected = {
        ("sign", "compare", "x < 0", "x <= 0"),
        ("sign", "if_true", "x < 0", "True"),
        ("sign", "if_false", "x < 0", "False"),
        ("sign", "constant", "x < 0", "x < 1"),  # a constant in its context
        ("sign", "constant", 'return "negative"', "return ''"),
        ("sign", "return_none", "return 'negative'", "return None"),
        ("sign", "if_false", "x > 0", "False"),  # a conditional expression
        ("count", "loop_toggle", "continue", "break"),
        ("count", "loop_statement", "total += 1", "pass"),
        ("count", "binop", "total += 1", "total -= 1"),
        ("count", "compare", "value is None", "value is not None"),
        (
            "count",
            "boolop",
            "total < limit and (not total == 0)",
            "(total < limit or not total == 0)",
        ),
        ("count", "not", "not total == 0", "total == 0"),
        ("<module>", "constant", "LIMIT = 3", "LIMIT = 4"),
        ("spin", "binop", "n -= 1", "n += 1"),
    }
    assert expected <= changes, expected - changes
    # no docstring, annotation or f-string is touched, and every mutant compiles
    assert not any("Docstrings" in m.original or m.original == "'A toy module.'" for m in mutants)
    source = (toy / "toy.py").read_bytes()
    for mutant in mutants:
        compile(mutant.apply(source), "toy.py", "exec")
        assert mutant.diff(source).count("\n-") >= 1


def test_a_lower_precedence_replacement_is_parenthesised(tool, toy):
    source = (toy / "toy.py").read_bytes()
    (boolop,) = [m for m in tool.generate(toy / "toy.py", root=toy) if m.operator == "boolop"]
    assert b"return (total < limit or not total == 0)" in boolop.apply(source)


def test_scopes_restrict_the_mutants(tool, toy):
    mutants = tool.generate(toy / "toy.py", ["spin"], root=toy)
    assert mutants and {m.scope for m in mutants} == {"spin"}
    assert tool.parse_target("a.py::f,C.*") == ("a.py", ("f", "C.*"))
    assert tool.parse_target("a.py") == ("a.py", None)


def test_the_toy_suite_kills_its_mutants_in_copies_and_a_hang_is_a_timeout(tool, toy):
    mutants = tool.generate(toy / "toy.py", root=toy)
    chosen = [
        m
        for m in mutants
        if (m.operator, m.original, m.mutated)
        in {
            ("compare", "x < 0", "x <= 0"),
            ("loop_toggle", "continue", "break"),
            ("not", "not total == 0", "total == 0"),
            ("binop", "n -= 1", "n += 1"),  # never ends
        }
    ]
    assert len(chosen) == 4
    before = (toy / "toy.py").read_bytes()
    hangs = [m for m in chosen if m.operator == "binop"]
    outcomes = tool.run(
        [(m, ["-q", "test_toy.py"]) for m in chosen if m not in hangs],
        {},
        jobs=2,  # two scratch copies of the toy tree: the tree itself is never written
        timeout=120,
        root=toy,
        progress=lambda text: None,
    )
    # the hang, in place, with a short timeout (retried once with 3 s; a slow start would also
    # be a timeout)
    outcomes += tool.run([(m, ["-q", "test_toy.py"]) for m in hangs], {}, timeout=1, root=toy,
                         progress=lambda text: None)  # fmt: skip
    status = {o.mutant.operator: o.status for o in outcomes}
    killed = {"compare": "killed", "loop_toggle": "killed", "not": "killed"}
    assert status == {**killed, "binop": "timeout"}
    assert (toy / "toy.py").read_bytes() == before
    assert not list(toy.glob("*.mutation-backup"))


def test_a_surviving_mutant_survives_and_an_equivalent_one_is_not_run(tool, toy):
    mutants = tool.generate(toy / "toy.py", root=toy)
    # LIMIT 3 -> 4 survives the toy suite (no test counts to exactly 3 with the default)
    (limit,) = [m for m in mutants if m.scope == "<module>"]
    (spin,) = [m for m in mutants if m.operator == "if_true" and m.scope == "spin"]
    entries = [tool.Equivalent("toy.py", 20, "spin", "if_true", "n > 0", "True", "planted")]
    claims, stale = tool.match_equivalents(mutants, entries)
    assert list(claims) == [spin] and not stale
    jobs = [(limit, ["-q", "test_toy.py"]), (spin, ["test_toy.py"])]
    outcomes = tool.run(jobs, claims, root=toy, progress=lambda text: None)  # in place
    assert {o.status for o in outcomes} == {"survived", "equivalent"}
    result = tool.summarise("toy.py", ["test_toy.py"], outcomes, (toy / "toy.py").read_bytes())
    assert (result.mutants, result.survived, result.equivalent, result.score) == (2, 1, 1, 0.0)
    assert "-LIMIT = 3\n+LIMIT = 4" in result.survivors[0]["diff"]


def test_the_file_is_restored_after_an_exception(tool, toy):
    file = toy / "toy.py"
    original = file.read_bytes()
    (mutant,) = [m for m in tool.generate(file, root=toy) if m.scope == "<module>"]
    with pytest.raises(RuntimeError, match="boom"), tool.mutated(file, mutant, original):
        assert file.read_bytes() != original
        assert (toy / "toy.py.mutation-backup").read_bytes() == original
        raise RuntimeError("boom")
    assert file.read_bytes() == original
    assert not (toy / "toy.py.mutation-backup").exists()
    # a run killed without cleaning up left a mutant and its backup: the next start repairs it
    file.write_bytes(mutant.apply(original))
    (toy / "toy.py.mutation-backup").write_bytes(original)
    assert tool.restore_backups([file]) == [file]
    assert file.read_bytes() == original


def test_the_equivalents_file_is_read(tool, tmp_path):
    text = textwrap.dedent(
        """
        # a comment
        [proofs_check/verdicts.py:12 decide compare]
        original: a | b < c
        mutated: a | b <= c
        reason: the first line,
            continued
        """
    )
    (tmp_path / "eq.txt").write_text(text)
    (entry,) = tool.read_equivalents(tmp_path / "eq.txt")
    assert entry.key == ("proofs_check/verdicts.py", "decide", "compare", "a | b < c", "a | b <= c")
    assert entry.line == 12 and entry.reason == "the first line, continued"
    (tmp_path / "bad.txt").write_text("[x.py:1 f compare]\noriginal: a\n")
    with pytest.raises(ValueError, match="lacks mutated, reason"):
        tool.read_equivalents(tmp_path / "bad.txt")


def test_the_shipped_equivalents_file_parses(tool):
    for entry in tool.read_equivalents():
        assert entry.reason and entry.reason != "TODO", entry


def test_the_classic_survivor_of_issue_10_is_generated(tool):
    mutants = tool.generate("proofs_check/lemmas.py", ["over_steps"])
    assert ("over_steps", "if_true", "not verdicts", "True") in _changes(mutants)
    assert ("over_steps", "not", "not verdicts", "verdicts") in _changes(mutants)


def test_a_rerun_of_the_survivors_merges_only_with_the_same_code(tool):
    full = tool.ModuleResult("m.py", ["t"], 10, 6, 3, 1, 0, 5.0, [{"id": "a"}] * 3, [{"id": "b"}],
                             [], "sha")  # fmt: skip
    stored = dict(vars(full))
    rerun = tool.ModuleResult("m.py", ["t", "u"], 4, 2, 1, 0, 1, 1.0, [{"id": "a"}], [],
                              [{"id": "c", "reason": "r"}], "sha")  # fmt: skip
    merged = tool.merge(stored, rerun)
    assert (merged.mutants, merged.killed, merged.survived, merged.timeouts) == (10, 8, 1, 0)
    assert merged.equivalent == 1 and merged.equivalents == [{"id": "c", "reason": "r"}]
    assert merged.score == 8 / 9 and merged.tests == ["t", "u"]
    with pytest.raises(SystemExit, match="changed since the recorded run"):
        tool.merge({**stored, "source_sha": "other"}, rerun)
