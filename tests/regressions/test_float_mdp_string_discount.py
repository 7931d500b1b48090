"""Regression: a float MDP rejected a string discount such as "9/10" (the docstring allows str)."""

import pytest

import tabular_mirror as tm


def test_float_mdp_accepts_a_fraction_string_discount():
    mdp = tm.FiniteMDP([[[1.0]]], [[0.0]], "9/10", exact=False)
    assert mdp.discount == pytest.approx(0.9) and isinstance(mdp.discount, float)


def test_float_mdp_rejects_a_non_numeric_string_discount():
    with pytest.raises(tm.InvalidMDPError, match="discount"):
        tm.FiniteMDP([[[1.0]]], [[0.0]], "nine tenths", exact=False)
