"""Regression: a trace file whose policies were all NaN loaded, and ``check`` passed it.

What broke: ``load_trace`` validated nothing. A saved trace with every policy entry NaN (or
off the simplex, or ``"certified": "no"``, or a made-up ``stop_reason``) loaded as a Trace,
and ``tabular-mirror check`` on that file reported ``PASSED 9/9``. Now every such file is an
InvalidFileError naming the file and the entry, whether it carries a valid checksum
(version 2, resealed after the edit) or none (version 1).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import instances, traces
from tabular_mirror.cli import main
from tabular_mirror.errors import InvalidFileError


def _nan_trace_file(folder, version: int):
    mdp = tm.FiniteMDP(
        [[[0.5, 0.5], [0, 1], [0.9, 0.1]], [[0.8, 0.2], [0.1, 0.9], [0.5, 0.5]]],
        [[5, 10, 3], [-1, 2, 0]],
        0.9,
    )
    path = tm.save_trace(
        tm.mirror_learning(mdp, instances.pmd(0.5), tm.uniform_policy(mdp), 6), folder / "run"
    )
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(str(arrays.pop("metadata")))
    arrays["policies"] = np.full_like(arrays["policies"], np.nan)
    if version == 1:
        metadata["format"] = "tabular-mirror trace 1"
        del metadata["checksum"], metadata["mdp"]["row_tolerance"]
        del metadata["provenance"], metadata["evaluation_error_bounds"]
        del metadata["schedule"]  # version 3's key
    else:  # a correct checksum over the NaN content: the validation itself must refuse it
        metadata["checksum"] = traces._checksum(metadata, arrays)
    with path.open("wb") as handle:
        np.savez_compressed(handle, metadata=np.array(json.dumps(metadata)), **arrays)
    return path


@pytest.mark.parametrize("version", [1, 2], ids=["v1", "v2-sealed"])
def test_nan_policies_do_not_load(version, tmp_path):
    path = _nan_trace_file(tmp_path, version)
    with pytest.raises(InvalidFileError, match=r"policies\[0, 0, 0\] is NaN") as caught:
        tm.load_trace(path)
    assert caught.value.path == path and str(path) in str(caught.value)


@pytest.mark.parametrize("version", [1, 2], ids=["v1", "v2-sealed"])
def test_check_refuses_the_nan_trace(version, tmp_path, capsys):
    path = _nan_trace_file(tmp_path, version)
    assert main(["check", str(path)]) != 0
    output = capsys.readouterr()
    assert "PASSED" not in output.out
    assert "policies[0, 0, 0] is NaN" in output.err
