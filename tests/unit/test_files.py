"""Atomic writes and allocation estimates (tabular_mirror._files)."""

from __future__ import annotations

import pytest

from tabular_mirror._files import atomic_path, check_allocation, format_bytes, write_text
from tabular_mirror.errors import InvalidMDPError


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, OSError], ids=["ctrl_c", "disk"])
def test_an_interrupted_write_keeps_the_old_file(tmp_path, interruption):
    target = write_text(tmp_path / "figure3.csv", "old run\n")
    with pytest.raises(interruption), atomic_path(target) as temporary:
        temporary.write_text("half of the new ru")
        raise interruption
    assert target.read_text() == "old run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["figure3.csv"]


def test_a_finished_write_replaces_the_file(tmp_path):
    target = write_text(tmp_path / "out.txt", "old")
    with atomic_path(target) as temporary:
        assert temporary.parent == target.parent and temporary != target
        temporary.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_check_allocation_names_the_size_and_the_alternative():
    with pytest.raises(
        InvalidMDPError, match=r"1000000 x 2 x 1000000 would need 14\.6 TiB.*sparse"
    ):
        check_allocation((10**6, 2, 10**6), 8, "dense P", "keep it sparse", InvalidMDPError)
    check_allocation((1000, 2, 1000), 8, "dense P", "keep it sparse", InvalidMDPError)


@pytest.mark.parametrize(
    ("size", "text"), [(512, "512 B"), (1536, "1.5 KiB"), (3 * 1024**3, "3.0 GiB")], ids=str
)
def test_format_bytes(size, text):
    assert format_bytes(size) == text
