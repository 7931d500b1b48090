"""One name per idea: the model's predicates are ``is_*``, records carry the field ``exact``.

Issue 11 noted ``FiniteMDP.is_exact`` beside ``Trace.exact``. The decision (README, "Naming"):
properties of the model are predicates named ``is_*`` (``is_exact``, ``is_sparse``); records
(results and traces) state the arithmetic they were computed in as the field ``exact``, beside
``converged`` and ``status``. No aliases: neither spelling exists on the other kind of object.
"""

from __future__ import annotations

from dataclasses import fields

import pytest

import tabular_mirror as tm

RECORDS = [tm.EvaluationResult, tm.SolveResult, tm.Trace]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.__name__)
def test_records_carry_the_field_exact(record):
    names = {f.name for f in fields(record)}
    assert "exact" in names
    assert not hasattr(record, "is_exact")


def test_the_model_has_predicates_and_no_alias():
    mdp = tm.FiniteMDP([[[1]]], [[0]], "1/2")
    assert (mdp.is_exact, mdp.is_sparse) == (True, False)
    assert not hasattr(mdp, "exact")
    assert not hasattr(mdp, "sparse")
