"""Atomic file writes and memory estimates: no half-written file, no surprise allocation.

Every file the project writes goes through :func:`atomic_path`: the content is written to a
temporary name in the destination's folder, flushed, and only then renamed over the destination
with :func:`os.replace` (atomic on POSIX and Windows when both names are on one file system).
An interrupted write (Ctrl-C, a full disk, a crash) leaves the previous file, or no file,
never a truncated one.

:func:`check_allocation` estimates the bytes of a dense allocation before it is made and raises
the project's error naming the size and the sparse alternative when it exceeds the budget.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: Largest dense array (bytes) built without an explicit request: 2 GiB.
DENSE_BUDGET = 2 * 1024**3


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path`` atomically.

    The temporary file ``.NAME.XXXX.tmp`` lives in the destination's folder (so the rename
    never crosses file systems). On any exception, KeyboardInterrupt included, it is removed
    and ``path`` is left as it was.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as temporary:
    ...     _ = temporary.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    descriptor, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else "."
    )
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as handle:  # the bytes reach the disk before the rename
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


def format_bytes(size: float) -> str:
    """``1.5 GiB``-style text for a byte count.

    >>> format_bytes(16 * 1024**4 * 0.9)
    '14.4 TiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def check_allocation(
    shape: tuple[int, ...],
    item_bytes: int,
    what: str,
    alternative: str,
    error: type[Exception],
    budget: float = DENSE_BUDGET,
) -> None:
    """Raise ``error`` before allocating a dense array of ``shape`` larger than ``budget``.

    Parameters
    ----------
    shape : the array's shape.
    item_bytes : bytes per entry (8 for float64; about 100 for a Fraction object array).
    what : what would be built, for the message ("dense transitions (S, A, S)").
    alternative : what to do instead, for the message ("use sparse=true").
    error : the project's error type to raise.
    budget : the largest allowed size in bytes (default :data:`DENSE_BUDGET`).
    """
    size = float(item_bytes)
    for extent in shape:
        size *= float(extent)
    if size > budget:
        dims = " x ".join(str(int(extent)) for extent in shape)
        raise error(
            f"{what} of shape {dims} would need {format_bytes(size)} of memory (more than the "
            f"{format_bytes(budget)} allowed for a dense array); {alternative}"
        )
