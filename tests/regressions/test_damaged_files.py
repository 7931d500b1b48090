"""Issue 11: damaged, hand-edited or foreign files raised foreign exceptions or were accepted.

``mdps.load`` and ``mdps.from_csv`` raised BadZipFile, EOFError, zlib.error, JSONDecodeError,
KeyError, RecursionError, IndexError, OverflowError and MemoryError (a JSON declaring 10^6
states, a CSV row naming state 99999); an exact JSON with a JSON-number discount was read as a
binary fraction, a transition index of -1 wrapped around, a duplicate entry overwrote the
first; a CSV with a 6th column was read and "1_0" became 10. Every case is now the project's
error, and writes are atomic.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import mdps
from tabular_mirror.errors import (
    ExactnessError,
    InvalidFileError,
    InvalidMDPError,
    InvalidParameterError,
    TabularMirrorError,
)

HEADER = "state,action,next_state,probability,reward\n"


@pytest.fixture
def exact_json(tmp_path):
    return mdps.save(mdps.make("small:exact=true"), tmp_path / "small.json")


@pytest.fixture
def float_npz(tmp_path):
    return mdps.save(mdps.make("small"), tmp_path / "small.npz")


def _edit_json(path, change):
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    return path


JSON_EDITS = [
    # read as the binary fraction of 0.9, no ExactnessError
    ("discount_json_number", lambda d: d.update(discount=0.9), ExactnessError, "JSON number"),
    # -1 wrapped around to the last state
    ("index_minus_one", lambda d: d["transitions"][0].__setitem__(0, -1), InvalidFileError,
     "state = -1"),
    # a duplicate entry silently overwrote the first
    ("duplicate_entry", lambda d: d["transitions"].append(list(d["transitions"][0])),
     InvalidFileError, "repeats"),
    # KeyError
    ("missing_rewards", lambda d: d.pop("rewards"), InvalidFileError, "rewards"),
    # MemoryError: a dense (10^6, 2, 10^6) object array was attempted
    ("huge_declared_size", lambda d: d.update(num_states=10**6), InvalidFileError, "TiB"),
    ("text_size", lambda d: d.update(num_states="2"), InvalidFileError, "num_states"),
    ("not_a_fraction", lambda d: d.update(discount="nine tenths"), InvalidFileError,
     "not a fraction"),
    ("wrong_version", lambda d: d.update(version=99), InvalidFileError, "version"),
    ("row_off_simplex", lambda d: d["transitions"][0].__setitem__(3, "1"), InvalidMDPError,
     "sums to"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "error", "fragment"),
    [pytest.param(c, e, f, id=name) for name, c, e, f in JSON_EDITS],
)
def test_hand_edited_exact_json(exact_json, change, error, fragment):
    _edit_json(exact_json, change)
    with pytest.raises(error, match=fragment):
        mdps.load(exact_json)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path):
    path.write_bytes(b"\x00\xff" * 50)


def _deep_json(path):  # RecursionError inside json
    path.write_text("[" * 100_000 + "]" * 100_000)


def _flip_compressed_byte(path):  # zlib.error or a CRC error inside the archive
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF
    path.write_bytes(bytes(data))


def _foreign_npz(path):
    np.savez(path, something=np.arange(3))


def _npz_text_member(path):
    with np.load(path) as archive:
        members = dict(archive)
    members["rewards"] = np.array([["a", "b"], ["c", "d"]])
    np.savez(path, **members)


def _npz_member_missing(path):
    with np.load(path) as archive:
        members = dict(archive)
    members.pop("initial")
    np.savez(path, **members)


DAMAGE = [
    ("json_truncated", "json", _truncate),  # JSONDecodeError
    ("json_garbage", "json", _garbage),  # UnicodeDecodeError
    ("json_recursion", "json", _deep_json),  # RecursionError
    ("npz_truncated", "npz", _truncate),  # BadZipFile / EOFError
    ("npz_garbage", "npz", _garbage),  # BadZipFile
    ("npz_flipped_byte", "npz", _flip_compressed_byte),  # zlib.error / BadZipFile
    ("npz_foreign", "npz", _foreign_npz),
    ("npz_text_member", "npz", _npz_text_member),
    ("npz_member_missing", "npz", _npz_member_missing),  # KeyError
]


@pytest.mark.parametrize(("kind", "damage"), [pytest.param(k, d, id=n) for n, k, d in DAMAGE])
def test_damaged_files_raise_invalid_file_error(exact_json, float_npz, kind, damage):
    path = exact_json if kind == "json" else float_npz
    damage(path)
    with pytest.raises(InvalidFileError) as raised:
        mdps.load(path)
    assert raised.value.path == path


CSV_CASES = [
    # IndexError on a row with four fields
    ("short_row", "0,0,0,1\n", InvalidFileError, "4 fields"),
    # a sixth column was silently ignored
    ("sixth_column", "0,0,0,1,0,7\n", InvalidFileError, "6 fields"),
    # int("1_0") == 10
    ("underscore_index", "0,0,1_0,1,0\n", InvalidFileError, "'1_0'"),
    ("negative_index", "0,0,-1,1,0\n", InvalidFileError, "'-1'"),
    ("decimal_index", "0,0,0.0,1,0\n", InvalidFileError, "'0.0'"),
    ("underscore_number", "0,0,0,1_0/1_0,0\n", InvalidFileError, "'1_0/1_0'"),
    ("nan_probability", "0,0,0,nan,0\n", InvalidFileError, "'nan'"),
    # OverflowError converting 2^70 to int64
    ("huge_index", f"0,0,{2**70},1,0\n", InvalidFileError, "state"),
    # a 74.5 GiB dense allocation: exact tables say the size; float ones are built sparse,
    # and the empty rows are named
    ("far_state_exact", "0,0,0,1,0\n99999,0,99999,1,0\n", InvalidParameterError, "74.5 GiB"),
    ("far_state_float", "0,0,0,1.0,0\n99999,0,99999,1,0\n", InvalidMDPError, "sums to 0"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "error", "fragment"), [pytest.param(r, e, f, id=n) for n, r, e, f in CSV_CASES]
)
def test_bad_csv_tables(tmp_path, rows, error, fragment):
    path = tmp_path / "table.csv"
    path.write_text(HEADER + rows)
    with pytest.raises(error, match=fragment):
        mdps.from_csv(path, discount=0.5)


def test_csv_exact_table_with_a_decimal_is_an_exactness_error(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text(HEADER + "0,0,0,1,0.5\n")
    with pytest.raises(ExactnessError, match=r"line 2: reward = '0\.5'"):
        mdps.from_csv(path, discount="1/2", exact=True)


def test_an_interrupted_save_leaves_the_previous_file(tmp_path, monkeypatch):
    # a write interrupted half-way used to leave a truncated file under the final name
    path = mdps.save(mdps.make("small"), tmp_path / "small.npz")
    before = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mdps.save(mdps.make("forest:S=5"), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.npz"]  # no temporary left


def test_zip_member_damage_is_still_named(float_npz):
    # a structurally valid zip with a damaged member (the CRC check fails on read)
    with zipfile.ZipFile(float_npz) as archive:
        names = archive.namelist()
    assert "rewards.npy" in names
    data = bytearray(float_npz.read_bytes())
    start = data.find(b"rewards.npy")
    data[start + 60 : start + 64] = b"\x00\x00\x00\x00"
    float_npz.write_bytes(bytes(data))
    with pytest.raises(TabularMirrorError):
        mdps.load(float_npz)
