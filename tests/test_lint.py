"""The house style is enforced: ``ruff check`` and ``ruff format --check`` pass on the repo."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    try:
        import ruff  # noqa: F401
    except ImportError:
        if shutil.which("ruff") is None:
            pytest.skip("ruff is not installed (it is in the test extras)")
        return ["ruff"]
    return [sys.executable, "-m", "ruff"]


PYTHON_TREES = ["tabular_mirror", "mdps", "proofs_check", "tests", "benchmarks", "tools"]


@pytest.mark.parametrize(
    "arguments", [["check", *PYTHON_TREES], ["format", "--check", *PYTHON_TREES]], ids=str
)
def test_ruff(arguments):
    result = subprocess.run(
        [*_ruff(), *arguments], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
