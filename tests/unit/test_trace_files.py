"""Saved traces cannot lie: every damaged, truncated, edited or foreign file is an
InvalidFileError naming the file and the problem; writes are atomic; version-1 files still load.

Edits meant to reach one particular check are *resealed* (the checksum recomputed), so the
check itself is what refuses them, not the checksum; unsealed edits test the checksum.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import tempfile
import zipfile
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import tabular_mirror as tm
from tabular_mirror import instances, traces
from tabular_mirror.errors import InvalidFileError, InvalidMDPError, InvalidParameterError
from tabular_mirror.results import Certificate

# ---------------------------------------------------------------------------- traces


@functools.cache
def float_trace() -> tm.Trace:
    rng = np.random.default_rng(0)
    transitions = rng.dirichlet(np.ones(4), size=(4, 3))
    mdp = tm.FiniteMDP(transitions, rng.normal(size=(4, 3)), 0.9)
    return tm.mirror_learning(mdp, instances.ppo(), tm.uniform_policy(mdp), 3)


@functools.cache
def sparse_trace() -> tm.Trace:
    dense = float_trace().mdp
    mdp = tm.FiniteMDP(sp.csr_matrix(np.asarray(dense.transition_matrix)), dense.rewards, 0.9)
    return tm.mirror_learning(mdp, instances.pmd(1.0), tm.uniform_policy(mdp), 2)


def exact_mdp() -> tm.FiniteMDP:
    return tm.FiniteMDP(
        [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
    )


@functools.cache
def exact_trace() -> tm.Trace:
    return tm.mirror_learning(exact_mdp(), instances.ppo(), tm.uniform_policy(exact_mdp()), 3)


@functools.cache
def optimal_trace() -> tm.Trace:
    return tm.mirror_learning(exact_mdp(), instances.gpi(), tm.uniform_policy(exact_mdp()), 10)


TRACES = {
    "float": float_trace,
    "sparse": sparse_trace,
    "exact": exact_trace,
    "exact_optimal": optimal_trace,
}


def replaced(trace: tm.Trace, **changes) -> tm.Trace:
    values = {name: getattr(trace, name) for name in trace.__dataclass_fields__}
    values.update(changes)
    return tm.Trace(**values)


# ---------------------------------------------------------------------------- file surgery
def read_npz(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return json.loads(str(arrays.pop("metadata"))), arrays


def write_npz(path: Path, metadata: dict, arrays: dict[str, np.ndarray]) -> None:
    with path.open("wb") as handle:
        np.savez_compressed(handle, metadata=np.array(json.dumps(metadata)), **arrays)


def reseal(metadata: dict, arrays: dict[str, np.ndarray]) -> None:
    if "checksum" in metadata:
        metadata["checksum"] = traces._checksum(metadata, arrays)


def edited(path: Path, edit, *, seal: bool = True, name: str = "edited") -> Path:
    """A copy of the trace file at ``path`` with ``edit(metadata, arrays)`` applied (for a
    .json trace, ``arrays`` is empty and the metadata is the whole document)."""
    target = path.with_name(name + path.suffix)
    if path.suffix == ".json":
        document = json.loads(path.read_text())
        edit(document, {})
        if seal:
            reseal(document, {})
        target.write_text(json.dumps(document))
        return target
    metadata, arrays = read_npz(path)
    edit(metadata, arrays)
    if seal:
        reseal(metadata, arrays)
    write_npz(target, metadata, arrays)
    return target


def invalid(path, *fragments: str) -> InvalidFileError:
    """Loading ``path`` raises InvalidFileError naming the file and each fragment."""
    with pytest.raises(InvalidFileError) as caught:
        tm.load_trace(path)
    error = caught.value
    message = str(error)
    assert error.path == Path(path), message
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return error


@pytest.fixture(params=list(TRACES), ids=list(TRACES))
def saved(request, tmp_path) -> tuple[tm.Trace, Path]:
    trace = TRACES[request.param]()
    return trace, tm.save_trace(trace, tmp_path / request.param)


@pytest.fixture
def float_file(tmp_path) -> Path:
    return tm.save_trace(float_trace(), tmp_path / "float")


@pytest.fixture
def exact_file(tmp_path) -> Path:
    return tm.save_trace(exact_trace(), tmp_path / "exact")


@pytest.fixture(params=["float", "exact"], ids=["npz", "json"])
def either_file(request, tmp_path) -> Path:
    return tm.save_trace(TRACES[request.param](), tmp_path / request.param)


def on_metadata(edit):
    """An edit of the metadata, whichever the file kind."""
    return lambda metadata, arrays: edit(metadata)


# ---------------------------------------------------------------------------- round trips
def test_round_trip_is_bit_for_bit(saved):
    trace, path = saved
    loaded = tm.load_trace(path)
    assert loaded == trace
    assert loaded.certificates == trace.certificates
    assert loaded.mdp.is_sparse == trace.mdp.is_sparse
    if not trace.exact:
        for name in traces._ARRAY_FIELDS:
            assert getattr(loaded, name).tobytes() == np.asarray(getattr(trace, name)).tobytes()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left


@pytest.mark.parametrize("mode", ["float", "exact"], ids=["float", "exact"])
def test_round_trip_without_steps_and_without_optimum(mode, tmp_path):
    mdp = float_trace().mdp if mode == "float" else exact_mdp()
    trace = tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 0, optimum=False)
    assert trace.iterations == 0 and trace.optimal_values is None
    assert tm.load_trace(tm.save_trace(trace, tmp_path / "empty")) == trace


@pytest.mark.parametrize("reason", ["not_certified", "left_support"])
@pytest.mark.parametrize("mode", ["float", "exact"], ids=["float", "exact"])
def test_a_stop_after_a_step_is_refused_without_steps(mode, reason, tmp_path):
    mdp = float_trace().mdp if mode == "float" else exact_mdp()
    trace = tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 0, optimum=False)
    path = tm.save_trace(trace, tmp_path / "empty")
    edit = on_metadata(lambda m: m.__setitem__("stop_reason", reason))
    invalid(edited(path, edit), f"stop_reason is '{reason}', but no step was taken")


@pytest.mark.parametrize("mode", ["float", "exact"], ids=["float", "exact"])
def test_infinite_drifts_round_trip(mode, tmp_path):
    # a drift leaving the support is +inf; the objective and [M V](s) then are -inf
    trace = float_trace() if mode == "float" else exact_trace()
    state_drifts = np.array(trace.state_drifts, copy=True)
    state_drifts[0, 1] = float("inf")
    objectives = np.array(trace.objectives, copy=True)
    objectives[0] = -float("inf")
    infinite = replaced(trace, state_drifts=state_drifts, objectives=objectives)
    assert tm.load_trace(tm.save_trace(infinite, tmp_path / "inf")) == infinite


def test_suffix_rules_are_unchanged(tmp_path):
    assert tm.save_trace(float_trace(), tmp_path / "a.json").name == "a.npz"
    assert tm.save_trace(exact_trace(), tmp_path / "b.npz").name == "b.json"
    assert tm.save_trace(float_trace(), tmp_path / "c").name == "c.npz"
    assert tm.save_trace(float_trace(), str(tmp_path / "d.npz")).name == "d.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.json", "c.npz", "d.npz"]


def test_the_format_is_version_3_with_a_checksum(float_file, exact_file):
    metadata, _ = read_npz(float_file)
    document = json.loads(exact_file.read_text())
    for record in (metadata, document):
        assert record["format"] == "tabular-mirror trace 3"
        assert record["checksum"].startswith("sha256:") and len(record["checksum"]) == 71


# ---------------------------------------------------------------------------- the path
def test_missing_file(tmp_path):
    invalid(tmp_path / "nothing.npz", "does not exist")


def test_a_directory_is_not_a_file(tmp_path):
    (tmp_path / "folder.npz").mkdir()
    invalid(tmp_path / "folder.npz", "not a regular file")


@pytest.mark.parametrize("suffix", [".txt", ".npy", ""], ids=["txt", "npy", "none"])
def test_wrong_suffix(suffix, tmp_path, float_file):
    target = tmp_path / f"trace{suffix}"
    target.write_bytes(float_file.read_bytes())
    invalid(target, "suffix", ".npz (float) or .json (exact)")


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_empty_file(suffix, tmp_path):
    (tmp_path / f"empty{suffix}").write_bytes(b"")
    invalid(tmp_path / f"empty{suffix}", "is empty")


def test_a_path_that_is_not_a_path():
    with pytest.raises(InvalidFileError, match="not a file path"):
        tm.load_trace(42)


def test_max_bytes_must_be_positive(float_file):
    with pytest.raises(InvalidParameterError, match="max_bytes"):
        tm.load_trace(float_file, max_bytes=0)


# ---------------------------------------------------------------------------- the container
@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999], ids=str)
def test_truncated_file(fraction, either_file):
    data = either_file.read_bytes()
    either_file.write_bytes(data[: max(1, int(len(data) * fraction))])
    invalid(either_file)


@pytest.mark.parametrize("suffix", [".npz", ".json"])
@pytest.mark.parametrize("seed", [0, 1, 2], ids=str)
def test_random_bytes(suffix, seed, tmp_path):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(np.random.default_rng(seed).bytes(2000))
    invalid(path)


def test_an_npz_of_other_arrays(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.ones(3))
    invalid(tmp_path / "other.npz", "no member 'metadata.npy'", "not a tabular-mirror trace")


def test_a_zip_with_other_members(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as archive:
        archive.writestr("readme.txt", "hello")
    invalid(tmp_path / "other.npz", "'readme.txt'", "not a .npy array")


def test_a_saved_mdp_is_not_a_trace(tmp_path):
    from mdps import io as mdp_io

    float_path = mdp_io.save(float_trace().mdp, tmp_path / "mdp.npz")
    exact_path = mdp_io.save(exact_mdp(), tmp_path / "mdp.json")
    invalid(float_path, "no member 'metadata.npy'")
    invalid(exact_path, "format is 'tabular-mirror-mdp'", "not a trace file")


def test_a_zip_member_with_a_pickle_is_refused(tmp_path, float_file):
    metadata, arrays = read_npz(float_file)
    target = tmp_path / "pickled.npz"
    with target.open("wb") as handle:
        members = {"metadata": np.array(json.dumps(metadata)), **arrays}
        members["policies"] = np.array([{"a": 1}], dtype=object)
        np.savez(handle, **members)
    invalid(target, "'policies.npy'", "dtype object, expected float64")


def test_a_damaged_member_fails_its_crc(tmp_path, float_file):
    # an uncompressed archive: a flipped data byte reaches the CRC-32 check, not zlib
    metadata, arrays = read_npz(float_file)
    target = tmp_path / "stored.npz"
    with target.open("wb") as handle:
        np.savez(handle, metadata=np.array(json.dumps(metadata)), **arrays)
    data = bytearray(target.read_bytes())
    start = data.find(np.asarray(float_trace().returns).tobytes())
    assert start > 0
    data[start + 3] ^= 0x40
    target.write_bytes(bytes(data))
    invalid(target, "'returns.npy'", "damaged", "CRC")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"format": NaN}', "constant NaN"),
        ('{"format": "tabular-mirror trace 2", "format": "x"}', "key 'format' twice"),
        ("[1, 2, 3]", "expected a JSON object"),
        ('"tabular-mirror trace 2"', "expected a JSON object"),
        ("{}", "no 'format' key"),
        ("{" * 10, "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"format": "tabular-mirror trace 2", "x": ' + "[" * 200 + "]" * 200 + "}", "nests"),
        ('{"format": ' + "1" * 5000 + "}", "not valid JSON"),
    ],
    ids=[
        "nan-constant",
        "duplicate-key",
        "a-list",
        "a-string",
        "no-format",
        "truncated",
        "recursion",
        "deep",
        "huge-int",
    ],
)
def test_malformed_json(text, fragment, tmp_path):
    path = tmp_path / "trace.json"
    path.write_text(text)
    invalid(path, fragment)


def test_not_utf8(tmp_path, exact_file):
    data = exact_file.read_bytes()
    exact_file.write_bytes(data[:20] + b"\xff\xfe" + data[20:])
    invalid(exact_file, "not UTF-8", "0xff", "offset 20")


# ---------------------------------------------------------------------------- format and checksum
@pytest.mark.parametrize(
    "tag, fragment",
    [
        ("tabular-mirror trace 4", "format version 4"),
        ("tabular-mirror trace 99", "reads versions 1, 2, 3"),
        ("tabular-mirror mdp 1", "not a trace file"),
        (2, "expected a string"),
    ],
    ids=["v4", "v99", "other", "number"],
)
def test_wrong_format_tag(tag, fragment, either_file):
    target = edited(either_file, on_metadata(lambda m: m.__setitem__("format", tag)))
    invalid(target, fragment)


def test_edit_of_a_json_trace_is_a_checksum_mismatch(exact_file):
    def edit(document, arrays):
        document["arrays"]["returns"][0] = "1/7"

    invalid(edited(exact_file, edit, seal=False), "modified after it was written", "checksum")


@pytest.mark.parametrize("member", ["returns", "mdp_rewards", "optimal_values"], ids=str)
def test_edit_of_an_npz_array_is_a_checksum_mismatch(member, float_file):
    def edit(metadata, arrays):
        arrays[member] = np.array(arrays[member], copy=True)
        arrays[member].flat[0] = np.nextafter(arrays[member].flat[0], np.inf)  # one ulp

    invalid(edited(float_file, edit, seal=False), "modified after it was written: checksum")


def test_edit_of_npz_metadata_is_a_checksum_mismatch(float_file):
    edit = on_metadata(lambda m: m.__setitem__("algorithm", "TRPO"))
    invalid(edited(float_file, edit, seal=False), "checksum mismatch")


@pytest.mark.parametrize(
    "checksum, fragment",
    [("sha256:abc", "64 hexadecimal"), (None, "expected a string"), ("md5:00", "sha256")],
    ids=["short", "null", "md5"],
)
def test_malformed_checksum(checksum, fragment, either_file):
    edit = on_metadata(lambda m: m.__setitem__("checksum", checksum))
    invalid(edited(either_file, edit, seal=False), "checksum", fragment)


def test_missing_checksum_in_version_2(either_file):
    edit = on_metadata(lambda m: m.pop("checksum"))
    invalid(edited(either_file, edit, seal=False), "no key 'checksum'")


# ---------------------------------------------------------------------------- keys and types
METADATA_EDITS = {
    "certified-no": (
        lambda m: m["certificates"][0].__setitem__("certified", "no"),
        "certificates[0].certified is 'no' (a string), expected true or false",
    ),
    "certificates-number": (
        lambda m: m.__setitem__("certificates", 5),
        "certificates is 5 (a number), expected a list",
    ),
    "certificate-missing-key": (
        lambda m: m["certificates"][1].pop("detail"),
        "certificates[1] has no key 'detail'",
    ),
    "certificate-extra-key": (
        lambda m: m["certificates"][1].__setitem__("proof", "trust me"),
        "certificates[1] has the unexpected key 'proof'",
    ),
    "certificate-kind": (
        lambda m: m["certificates"][0].__setitem__("kind", "divine"),
        "certificates[0].kind is 'divine', expected one of exact, duality_gap",
    ),
    "bound-not-a-number": (
        lambda m: m["certificates"][0].__setitem__("bound", "small"),
        "certificates[0].bound = 'small' is not a number",
    ),
    "bound-a-json-number": (
        lambda m: m["certificates"][0].__setitem__("bound", 0),
        "certificates[0].bound is 0 (a number), expected a number written as a string",
    ),
    "bound-nan": (
        lambda m: m["certificates"][0].__setitem__("bound", "nan"),
        "certificates[0].bound",
    ),
    "certified-beyond-tolerance": (
        lambda m: m["certificates"][0].update(bound="1", tolerance="0", certified=True),
        "certificates[0] claims certified = true, but its bound 1",
    ),
    "too-few-certificates": (
        lambda m: m["certificates"].pop(),
        "certificates has 2 entries, expected one per step (3)",
    ),
    "stop-reason": (
        lambda m: m.__setitem__("stop_reason", "bored"),
        "stop_reason is 'bored', expected one of iterations, optimal, not_certified",
    ),
    "stop-reason-optimal": (
        lambda m: m.__setitem__("stop_reason", "optimal"),
        "stop_reason is 'optimal', but max_advantages[3]",
    ),
    "algorithm-number": (
        lambda m: m.__setitem__("algorithm", 3),
        "algorithm is 3 (a number), expected a string",
    ),
    "missing-key": (lambda m: m.pop("stop_reason"), "has no key 'stop_reason'"),
    "unexpected-key": (lambda m: m.__setitem__("note", "hi"), "unexpected key 'note'"),
    "exact-string": (lambda m: m.__setitem__("exact", "yes"), "exact is 'yes' (a string)"),
    "tolerance-null": (lambda m: m.__setitem__("tolerance", None), "tolerance is null"),
    "tolerance-negative": (
        lambda m: m.__setitem__("tolerance", "-1"),
        "tolerance is -1",
    ),
    "shapes-a-string": (
        lambda m: m["shapes"].__setitem__("policies", "4, 4, 3"),
        "shapes.policies is '4, 4, 3' (a string), expected a list",
    ),
    "shapes-inconsistent": (
        lambda m: m["shapes"].__setitem__("values", [3, m["mdp"]["shape"][0]]),
        "shapes.values is [3,",
    ),
    "shapes-negative": (
        lambda m: m["shapes"].__setitem__("drifts", [-1]),
        "shapes.drifts[0] is -1 (a number), expected an integer >= 0",
    ),
    "mdp-shape": (lambda m: m["mdp"].__setitem__("shape", [2]), "mdp.shape is [2]"),
    "mdp-no-states": (lambda m: m["mdp"].__setitem__("shape", [0, 2]), "mdp.shape[0] (S)"),
}


@pytest.mark.parametrize("name", list(METADATA_EDITS), ids=list(METADATA_EDITS))
def test_metadata_keys_and_types(name, either_file):
    edit, fragment = METADATA_EDITS[name]
    invalid(edited(either_file, on_metadata(edit)), fragment)


def test_exact_flag_of_a_json_trace(exact_file):
    edit = on_metadata(lambda m: m.__setitem__("exact", False))
    invalid(edited(exact_file, edit), "exact is false, but a .json trace holds an exact run")


def test_exact_flag_of_an_npz_trace(float_file):
    edit = on_metadata(lambda m: m.__setitem__("exact", True))
    invalid(edited(float_file, edit), "exact is true, but an .npz trace holds a float run")


# ---------------------------------------------------------------------------- exact arrays
def set_entry(*keys, value):
    def edit(document, arrays):
        target = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


EXACT_EDITS = {
    "nan-policy": (("arrays", "policies", 1, 0, 0), "nan", "arrays.policies[1, 0, 0] is nan"),
    "float-text": (("arrays", "values", 0, 0), "0.5", "arrays.values[0, 0] = '0.5' is not"),
    "number-not-string": (("arrays", "returns", 0), 3, "arrays.returns[0] is 3 (a number)"),
    "list-is-a-number": (("arrays", "values", 1), 7, "arrays.values[1] is 7 (a number)"),
    "row-too-short": (("arrays", "policies", 0, 1), ["1"], "arrays.policies[0, 1] is ['1']"),
    "zero-denominator": (("arrays", "drifts", 0), "1/0", "arrays.drifts[0] = '1/0'"),
    "inf-value": (("arrays", "values", 0, 1), "inf", "but no infinity or NaN can occur there"),
    "minus-inf-drift": (("arrays", "drifts", 0), "-inf", "but only +inf can occur there"),
    "off-simplex": (("arrays", "policies", 2, 1, 0), "1/3", "policies[2, 1, :] sums to"),
    "negative-entry": (
        ("arrays", "policies", 1, 0),
        ["-1/2", "3/2"],
        "policies[1, 0, 0] = -1/2 is negative",
    ),
    "time-nan": (("arrays", "step_times", 0), "nan", "arrays.step_times[0] is nan"),
    "time-negative": (("arrays", "step_times", 0), "-1.0", "step_times[0] is -1.0"),
    "optimal-values-number": (("optimal_values",), 1, "optimal_values is 1 (a number)"),
    "optimal-return-only": (("optimal_values",), None, "optimal_return is stored without"),
    "discount": (("mdp", "discount"), "3/2", "not a valid FiniteMDP: discount = 3/2"),
    "transitions-row": (("mdp", "transitions", 0, 0, 0), "1/3", "not a valid FiniteMDP"),
    "reward-float": (("mdp", "rewards", 0, 0), "5.5", "mdp.rewards[0, 0] = '5.5'"),
}


@pytest.mark.parametrize("name", list(EXACT_EDITS), ids=list(EXACT_EDITS))
def test_exact_entries(name, exact_file):
    keys, value, fragment = EXACT_EDITS[name]
    invalid(edited(exact_file, set_entry(*keys, value=value)), fragment)


def test_an_invalid_mdp_keeps_its_cause(exact_file):
    error = invalid(edited(exact_file, set_entry("mdp", "discount", value="3/2")))
    assert isinstance(error.__cause__, InvalidMDPError)


# ---------------------------------------------------------------------------- float arrays
def set_array(name, index, value):
    def edit(metadata, arrays):
        arrays[name] = np.array(arrays[name], copy=True)
        arrays[name][index] = value

    return edit


def replace_array(name, make):
    def edit(metadata, arrays):
        arrays[name] = make(arrays[name])

    return edit


def drop_member(name):
    return lambda metadata, arrays: arrays.pop(name)


NAN = float("nan")
INF = float("inf")
FLOAT_EDITS = {
    "nan-policy": (set_array("policies", (1, 2, 0), NAN), "policies[1, 2, 0] is NaN"),
    "nan-value": (set_array("values", (0, 1), NAN), "values[0, 1] is NaN"),
    "nan-drift": (set_array("drifts", 0, NAN), "drifts[0] is NaN"),
    "inf-return": (set_array("returns", 2, INF), "returns[2] is inf, but no infinity"),
    "minus-inf-drift": (set_array("state_drifts", (0, 1), -INF), "but only +inf can occur"),
    "plus-inf-objective": (set_array("objectives", 1, INF), "but only -inf can occur"),
    "nan-optimal-return": (set_array("optimal_return", (), NAN), "optimal_return is NaN"),
    "negative-time": (set_array("step_times", 1, -0.5), "step_times[1] is -0.5"),
    "off-simplex": (
        set_array("policies", (2, 0, 0), 0.5),
        "policies[2, 0, :] sums to",
    ),
    "negative-policy": (
        replace_array("policies", lambda p: np.where(np.arange(3) == 0, -0.25, 0.625) + 0 * p),
        "policies[0, 0, 0] = -0.25 is negative",
    ),
    "wrong-shape": (
        replace_array("values", lambda v: v[:-1]),
        "'values.npy' has shape (3, 4), expected (4, 4)",
    ),
    "wrong-dtype": (
        replace_array("returns", lambda r: r.astype(np.float32)),
        "'returns.npy' has dtype float32, expected float64",
    ),
    "strings": (
        replace_array("drifts", lambda d: d.astype(str)),
        "'drifts.npy' has dtype <U",
    ),
    "missing-member": (drop_member("sampling"), "has no member 'sampling.npy'"),
    "extra-member": (
        lambda m, a: a.__setitem__("notes", np.zeros(2)),
        "unexpected member 'notes.npy'",
    ),
    "optimal-values-alone": (drop_member("optimal_return"), "optimal_values is stored without"),
    "no-transitions": (drop_member("mdp_transitions"), "no member 'mdp_transitions.npy'"),
    "dense-and-sparse": (
        lambda m, a: a.__setitem__("mdp_data", np.ones(3)),
        "both dense 'mdp_transitions.npy' and sparse 'mdp_data.npy'",
    ),
    "mdp-row": (set_array("mdp_transitions", (0, 0, 0), 2.0), "not a valid FiniteMDP"),
    "mdp-nan-reward": (set_array("mdp_rewards", (1, 1), NAN), "rewards[1, 1] is nan"),
    "discount": (
        lambda m, a: m["mdp"].__setitem__("discount", "1.5"),
        "discount = 1.5 is outside [0, 1]",
    ),
    "discount-text": (
        lambda m, a: m["mdp"].__setitem__("discount", "ninety percent"),
        "mdp.discount = 'ninety percent' is not a number",
    ),
    "row-tolerance": (
        lambda m, a: m["mdp"].__setitem__("row_tolerance", "-1e-3"),
        "mdp.row_tolerance is -0.001",
    ),
    "bound-minus-inf": (
        lambda m, a: m["certificates"][0].__setitem__("bound", "-inf"),
        "certificates[0].bound is -inf, expected a finite number",
    ),
}


@pytest.mark.parametrize("name", list(FLOAT_EDITS), ids=list(FLOAT_EDITS))
def test_float_entries(name, float_file):
    edit, fragment = FLOAT_EDITS[name]
    invalid(edited(float_file, edit), fragment)


def test_float_policies_within_tolerance_load(float_file):
    # the stated tolerance is 1e-9 on each row; a 1e-12 wobble is inside it
    policies = np.array(float_trace().policies, copy=True)
    policies[1, 0, 0] += 1e-12
    target = edited(float_file, replace_array("policies", lambda p: policies))
    assert tm.load_trace(target).policies[1, 0, 0] == policies[1, 0, 0]
    policies[1, 0, 0] += 1e-6
    invalid(edited(float_file, replace_array("policies", lambda p: policies)), "tolerance 1e-09")


def test_an_infinite_certificate_bound_loads(float_file):
    edit = on_metadata(lambda m: m["certificates"][0].update(bound="inf", certified=False))
    assert tm.load_trace(edited(float_file, edit)).certificates[0].bound == INF


SPARSE_EDITS = {
    "index-out-of-range": (
        set_array("mdp_indices", 0, 99),
        "mdp_indices has an entry outside [0, S) = [0, 4)",
    ),
    "negative-index": (set_array("mdp_indices", 0, -1), "mdp_indices has an entry outside"),
    "indptr": (set_array("mdp_indptr", 0, 1), "mdp_indptr is not a CSR row pointer"),
    "unsorted": (
        replace_array("mdp_indices", lambda i: np.concatenate([i[:4][::-1], i[4:]])),
        "not strictly increasing within a row",
    ),
    "indices-float": (
        replace_array("mdp_indices", lambda i: i.astype(float)),
        "'mdp_indices.npy' has dtype float64, expected int32 or int64",
    ),
    "indices-length": (
        replace_array("mdp_indices", lambda i: i[:-1]),
        "'mdp_indices.npy' has shape",
    ),
    "missing-indptr": (drop_member("mdp_indptr"), "no member 'mdp_indptr.npy'"),
}


@pytest.mark.parametrize("name", list(SPARSE_EDITS), ids=list(SPARSE_EDITS))
def test_sparse_mdp_structure(name, tmp_path):
    path = tm.save_trace(sparse_trace(), tmp_path / "sparse")
    edit, fragment = SPARSE_EDITS[name]
    invalid(edited(path, edit), fragment)


# ---------------------------------------------------------------------------- sizes
def test_json_declaring_a_million_states_is_refused_before_reading(exact_file):
    edit = on_metadata(lambda m: m["mdp"].__setitem__("shape", [10**6, 2]))
    invalid(edited(exact_file, edit), "S = 1000000 states", "TiB in memory", "max_bytes")


@pytest.mark.parametrize("steps", [10**9, 10**40], ids=["billion", "astronomical"])
def test_npz_declaring_absurd_steps_is_refused(steps, float_file):
    def edit(metadata):
        states, actions = metadata["mdp"]["shape"]
        metadata["shapes"] = {
            name: [(steps + 1 if name in traces._PER_POLICY else steps), states, actions][
                : traces._NDIM[name]
            ]
            for name in traces._ARRAY_FIELDS
        }

    invalid(edited(float_file, on_metadata(edit)), f"declares {steps} steps", "max_bytes")


def test_a_member_header_declaring_a_huge_array_is_refused(tmp_path):
    # an .npy header promising 10^12 float64s (8 TB) with 16 bytes behind it: refused from the
    # header, before anything is read or allocated (sparse data may have any length)
    metadata, arrays = read_npz(tm.save_trace(sparse_trace(), tmp_path / "sparse"))
    target = tmp_path / "huge.npz"
    write_npz(target, metadata, {k: v for k, v in arrays.items() if k != "mdp_data"})
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr("mdp_data.npy", header.getvalue() + bytes(16))
    invalid(target, "'mdp_data.npy' of shape (1000000000000,)", "7.28 TiB", "max_bytes")


def test_a_member_shorter_than_its_header_says(tmp_path, float_file):
    metadata, arrays = read_npz(float_file)
    target = tmp_path / "short.npz"
    write_npz(target, metadata, {k: v for k, v in arrays.items() if k != "returns"})
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (4,)}
    )
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr("returns.npy", header.getvalue() + bytes(16))
    invalid(target, "'returns.npy' holds", "expected")


def test_a_member_twice(tmp_path, float_file):
    target = tmp_path / "twice.npz"
    target.write_bytes(float_file.read_bytes())
    with pytest.warns(UserWarning), zipfile.ZipFile(target, "a") as archive:
        archive.writestr("returns.npy", b"")
    invalid(target, "'returns.npy' twice")


def test_max_bytes_applies_to_ordinary_files(float_file, exact_file):
    with pytest.raises(InvalidFileError, match="max_bytes"):
        tm.load_trace(float_file, max_bytes=1000)
    with pytest.raises(InvalidFileError, match="max_bytes"):
        tm.load_trace(exact_file, max_bytes=len(exact_file.read_bytes()) + 1)


# ---------------------------------------------------------------------------- version 1
def save_trace_version_1(trace: tm.Trace, path: Path) -> Path:
    """``save_trace`` as it was in format version 1 (before the checksum), verbatim."""

    def exact_strings(array):
        return np.vectorize(str, otypes=[object])(array).tolist() if np.size(array) else []

    def mdp_record(mdp):
        if mdp.is_exact:
            return {
                "transitions": exact_strings(mdp.transitions),
                "rewards": exact_strings(mdp.rewards),
                "discount": str(mdp.discount),
                "initial": exact_strings(mdp.initial),
                "shape": [mdp.num_states, mdp.num_actions],
            }
        return {"discount": repr(float(mdp.discount)), "shape": [mdp.num_states, mdp.num_actions]}

    def certificate_record(certificate):
        def text(value):
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

    fields = traces._ARRAY_FIELDS
    metadata = {
        "format": "tabular-mirror trace 1",
        "algorithm": trace.algorithm,
        "exact": trace.exact,
        "stop_reason": trace.stop_reason,
        "tolerance": str(trace.tolerance) if trace.exact else repr(float(trace.tolerance)),
        "certificates": [certificate_record(c) for c in trace.certificates],
        "mdp": mdp_record(trace.mdp),
        "shapes": {name: list(np.shape(getattr(trace, name))) for name in fields},
    }
    if trace.exact:
        path = path.with_suffix(".json")
        metadata["arrays"] = {name: exact_strings(getattr(trace, name)) for name in fields}
        metadata["optimal_values"] = (
            None if trace.optimal_values is None else exact_strings(trace.optimal_values)
        )
        metadata["optimal_return"] = (
            None if trace.optimal_return is None else str(trace.optimal_return)
        )
        path.write_text(json.dumps(metadata))
        return path
    path = path.with_suffix(".npz")
    arrays = {name: np.asarray(getattr(trace, name), dtype=float) for name in fields}
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


@pytest.mark.parametrize("name", list(TRACES), ids=list(TRACES))
def test_version_1_files_written_by_the_old_code_still_load(name, tmp_path):
    trace = TRACES[name]()
    path = save_trace_version_1(trace, tmp_path / name)
    # version 1 recorded neither the run's provenance nor its evaluation errors
    assert tm.load_trace(path) == replace(trace, provenance=None, evaluation_error_bounds=None)


def test_version_1_files_are_fully_validated(tmp_path):
    path = save_trace_version_1(float_trace(), tmp_path / "old")
    invalid(edited(path, set_array("policies", (0, 0, 0), NAN)), "policies[0, 0, 0] is NaN")
    edit = on_metadata(lambda m: m["certificates"][0].__setitem__("certified", "no"))
    invalid(edited(path, edit), "certificates[0].certified is 'no'")
    invalid(edited(path, on_metadata(lambda m: m.__setitem__("checksum", "sha256:" + "0" * 64))))


def test_version_1_cannot_detect_a_consistent_edit(tmp_path):
    # the documented limit: without a checksum, a well-formed consistent edit loads
    path = save_trace_version_1(exact_trace(), tmp_path / "old")
    edit = on_metadata(lambda m: m.__setitem__("algorithm", "renamed"))
    assert tm.load_trace(edited(path, edit)).algorithm == "renamed"


# ---------------------------------------------------------------------------- saving
def test_save_refuses_a_trace_that_would_not_load(tmp_path):
    policies = np.full_like(float_trace().policies, NAN)
    with pytest.raises(InvalidParameterError, match=r"policies\[0, 0, 0\] is NaN"):
        tm.save_trace(replaced(float_trace(), policies=policies), tmp_path / "nan")
    with pytest.raises(InvalidParameterError, match="stop_reason is 'bored'"):
        tm.save_trace(replaced(exact_trace(), stop_reason="bored"), tmp_path / "bored")
    certificate = Certificate("exact", Fraction(1), Fraction(0), True, "a lie")
    lie = (certificate, *exact_trace().certificates[1:])
    with pytest.raises(InvalidParameterError, match="claims certified"):
        tm.save_trace(replaced(exact_trace(), certificates=lie), tmp_path / "lie")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_lossy_exact_trace(tmp_path):
    values = np.array(exact_trace().values, copy=True)
    values[0, 0] = 0.5  # a float inside an exact trace
    with pytest.raises(InvalidParameterError, match=r"arrays.values\[0, 0\] = '0.5'"):
        tm.save_trace(replaced(exact_trace(), values=values), tmp_path / "lossy")
    with pytest.raises(InvalidParameterError, match=r"expected a tabular_mirror\.Trace"):
        tm.save_trace("not a trace", tmp_path / "x")


def test_save_keeps_the_row_tolerance_of_a_loose_mdp(tmp_path):
    # a float MDP built with row_tolerance=1e-8 loads back with it (exact rows are exact)
    dense = float_trace().mdp
    transitions = np.array(dense.transitions, copy=True)
    transitions[0, 0, 0] += 5e-9  # accepted with row_tolerance=1e-8, not with the default
    mdp = tm.FiniteMDP(transitions, dense.rewards, 0.9, row_tolerance=1e-8)
    trace = tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 1)
    assert tm.load_trace(tm.save_trace(trace, tmp_path / "loose")) == trace


@pytest.mark.parametrize("mode", ["float", "exact"], ids=["npz", "json"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_an_interrupted_write_leaves_nothing_behind(mode, existing, tmp_path, monkeypatch):
    trace = float_trace() if mode == "float" else exact_trace()
    target = tmp_path / ("trace.npz" if mode == "float" else "trace.json")
    before = b""
    if existing:
        before = tm.save_trace(trace, target).read_bytes()
    writer = "_write_npz" if mode == "float" else "_write_json"
    original = getattr(traces, writer)

    def fail_halfway(handle, *arguments):
        buffer = io.BytesIO()
        original(buffer, *arguments)
        handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(traces, writer, fail_halfway)
    with pytest.raises(OSError, match="simulated"):
        tm.save_trace(trace, target)
    if existing:
        assert target.read_bytes() == before
        assert tm.load_trace(target) == trace
    assert sorted(p.name for p in tmp_path.iterdir()) == ([target.name] if existing else [])


def test_an_interrupt_during_the_replace_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupted(source, destination):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tm.save_trace(float_trace(), tmp_path / "trace")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- fuzzing
# Damaged copies of saved traces: the only outcomes are InvalidFileError or the very trace that
# was saved. Resealed edits (checksum recomputed) and damaged version-1 files (no checksum)
# reach the validation itself: the only outcomes are InvalidFileError or a trace that saves
# and loads back equal (nothing loads that save_trace would refuse to write).
SOURCES = {
    "float": (float_trace, tm.save_trace),
    "sparse": (sparse_trace, tm.save_trace),
    "exact": (exact_trace, tm.save_trace),
    "exact_optimal": (optimal_trace, tm.save_trace),
    "float_v1": (float_trace, save_trace_version_1),
    "exact_v1": (exact_trace, save_trace_version_1),
}
CURRENT = [name for name in SOURCES if not name.endswith("_v1")]


@functools.cache
def source_file(name: str) -> tuple[str, bytes]:
    make, save = SOURCES[name]
    with tempfile.TemporaryDirectory() as folder:
        path = save(make(), Path(folder) / name)
        return path.suffix, path.read_bytes()


def load_bytes(data: bytes, suffix: str) -> tm.Trace | InvalidFileError:
    """Load ``data`` as a trace file: the Trace, or the InvalidFileError (checked to name the
    file). Any other exception fails the test."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"damaged{suffix}"
        path.write_bytes(data)
        try:
            return tm.load_trace(path)
        except InvalidFileError as error:
            assert error.path == path and str(path) in str(error), str(error)
            return error


def assert_invalid_or_original(outcome, name: str) -> None:
    if name.endswith("_v1"):  # no checksum: a damaged byte may give another valid trace
        assert_invalid_or_round_trips(outcome)
    elif not isinstance(outcome, InvalidFileError):
        assert outcome == SOURCES[name][0](), f"a damaged file loaded as another trace: {outcome!r}"


def assert_invalid_or_round_trips(outcome) -> None:
    if not isinstance(outcome, InvalidFileError):
        with tempfile.TemporaryDirectory() as folder:
            assert tm.load_trace(tm.save_trace(outcome, Path(folder) / "again")) == outcome


@given(name=st.sampled_from(list(SOURCES)), data=st.data())
def test_fuzz_truncated_files(name, data):
    suffix, content = source_file(name)
    cut = data.draw(st.integers(0, len(content) - 1), label="cut")
    assert_invalid_or_original(load_bytes(content[:cut], suffix), name)


@given(name=st.sampled_from(list(SOURCES)), data=st.data())
def test_fuzz_flipped_bytes(name, data):
    suffix, content = source_file(name)
    damaged = bytearray(content)
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        position = data.draw(st.integers(0, len(content) - 1), label="position")
        damaged[position] ^= data.draw(st.integers(1, 255), label="mask")
    assert_invalid_or_original(load_bytes(bytes(damaged), suffix), name)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["1/2", "0", "1", "-1", "inf", "-inf", "nan", "1/0", "0.5", "1e999"])
    | st.sampled_from(["optimal", "not_certified", "exact", "tabular-mirror trace 1"]),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
KEY_NAMES = st.sampled_from(
    [*traces._TOP_KEYS, *traces._EXACT_KEYS, *traces._CERTIFICATE_KEYS, "checksum", "x"]
) | st.text(max_size=6)


def node_paths(document) -> list[tuple]:
    """The path (keys and indices) of every node below the root."""
    paths, stack = [], [((), document)]
    while stack:
        prefix, node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            paths.append((*prefix, key))
            if isinstance(child, dict | list):
                stack.append(((*prefix, key), child))
    return sorted(paths, key=repr)


def renumbered(value, data):
    """The same kind of number, slightly different: an int +- delta, "p/q" with another p, a
    float's text one step away; other values are replaced by a drawn JSON value."""
    delta = data.draw(st.sampled_from([-2, -1, 1, 2, 10**6]), label="delta")
    if isinstance(value, int) and not isinstance(value, bool):
        return value + delta
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+(/[0-9]+)?", value):
        numerator, _, denominator = value.partition("/")
        return f"{int(numerator) + delta}" + (f"/{denominator}" if denominator else "")
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            return repr(number * (1 + delta * 2.0**-40) if number else float(delta))
    return data.draw(JSON_VALUES, label="value")


def edit_json(document, data) -> None:
    """One damage, drawn: delete a key or item, insert one, retype a value, edit a number."""
    paths = node_paths(document)
    path = data.draw(st.sampled_from(paths), label="path")
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    operation = data.draw(
        st.sampled_from(["delete", "insert", "retype", "renumber"]), label="operation"
    )
    if operation == "delete":
        del parent[key]
    elif operation == "insert":
        target = parent[key] if isinstance(parent[key], dict | list) else parent
        value = data.draw(JSON_VALUES, label="value")
        if isinstance(target, dict):
            target[data.draw(KEY_NAMES, label="key")] = value
        else:
            target.insert(data.draw(st.integers(0, len(target)), label="at"), value)
    elif operation == "retype":
        parent[key] = data.draw(JSON_VALUES, label="value")
    else:
        parent[key] = renumbered(parent[key], data)


def edited_bytes(name: str, edit, seal: bool) -> bytes:
    suffix, content = source_file(name)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"source{suffix}"
        path.write_bytes(content)
        return edited(path, edit, seal=seal).read_bytes()


@given(name=st.sampled_from(CURRENT), data=st.data())
def test_fuzz_json_edits_are_detected(name, data):
    edit = on_metadata(lambda metadata: edit_json(metadata, data))
    damaged = edited_bytes(name, edit, seal=False)
    assert_invalid_or_original(load_bytes(damaged, source_file(name)[0]), name)


@given(name=st.sampled_from(list(SOURCES)), data=st.data())
def test_fuzz_resealed_json_edits_are_validated(name, data):
    edit = on_metadata(lambda metadata: edit_json(metadata, data))
    damaged = edited_bytes(name, edit, seal=True)
    assert_invalid_or_round_trips(load_bytes(damaged, source_file(name)[0]))


FLOATS = st.floats() | st.sampled_from([0.0, -0.0, 1.0, -1e-12, 1e-12, 1e300, float("nan")])


def edit_arrays(arrays, data) -> None:
    """Change one entry of a member to a drawn float, its dtype, or its shape."""
    name = data.draw(st.sampled_from(sorted(arrays)), label="member")
    array = np.array(arrays[name], copy=True)
    operation = data.draw(st.sampled_from(["entry", "dtype", "shape"]), label="operation")
    if operation == "entry" and array.size:
        index = data.draw(st.integers(0, array.size - 1), label="index")
        value = data.draw(FLOATS, label="value")
        if array.dtype.kind == "f":
            array.flat[index] = value
        elif np.isfinite(value):
            array.flat[index] = int(np.clip(value, -(2**31), 2**31 - 1))
    elif operation == "dtype":
        kind = data.draw(st.sampled_from(["float32", "int64", "int32", "float64", "<U3"]))
        array = array.astype(kind)
    else:
        array = array.reshape(-1)[: data.draw(st.integers(0, array.size), label="size")]
    arrays[name] = array


@given(
    name=st.sampled_from(["float", "sparse", "float_v1"]),
    seal=st.booleans(),
    data=st.data(),
)
def test_fuzz_npz_array_edits(name, seal, data):
    damaged = edited_bytes(name, lambda metadata, arrays: edit_arrays(arrays, data), seal)
    outcome = load_bytes(damaged, ".npz")
    if seal:
        assert_invalid_or_round_trips(outcome)
    else:
        assert_invalid_or_original(outcome, name)
