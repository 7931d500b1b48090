"""mdps.make: names, parameter parsing, discount everywhere, errors that list valid choices."""

from __future__ import annotations

import inspect
from fractions import Fraction

import pytest

import mdps
import tabular_mirror as tm
from mdps.registry import REGISTRY, parse_spec

REQUIRED = {
    "garnet": "S=6,A=2,b=2,seed=0",
    "random-dense": "S=4,A=2,seed=0",
    "exact-garnet": "S=4,A=2,b=2,seed=0",
    "random-exact": "S=3,A=2,seed=0",
}


def _spec(name: str, extra: str = "") -> str:
    parts = [p for p in (REQUIRED.get(name, ""), extra) if p]
    return f"{name}:{','.join(parts)}" if parts else name


def test_available_lists_the_registry_including_the_paper_environments():
    names = mdps.available()
    assert names == tuple(REGISTRY)
    assert {"paper-grid", "paper-chain", "paper-bandit", "garnet", "forest"} <= set(names)


@pytest.mark.parametrize("name", list(REGISTRY), ids=list(REGISTRY))
def test_every_entry_builds_and_accepts_discount(name):
    assert "discount" in inspect.signature(REGISTRY[name]).parameters
    mdp = mdps.make(_spec(name, "discount=1/2"))
    assert isinstance(mdp, tm.FiniteMDP)
    assert mdp.discount == Fraction(1, 2)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("forest:S=1000,discount=0.95", ("forest", {"S": 1000, "discount": 0.95})),
        ("forest:p=1/10,exact=true", ("forest", {"p": Fraction(1, 10), "exact": True})),
        (
            "forest:discount=0.95,exact=true",
            ("forest", {"discount": Fraction(19, 20), "exact": True}),
        ),
        ("bandit:means=1|0|1/2", ("bandit", {"means": (1, 0, Fraction(1, 2))})),
        ("garnet:reward_law=normal", ("garnet", {"reward_law": "normal"})),
        (" paper-grid ", ("paper-grid", {})),
        ("chain:p=1e-1,sparse=False", ("chain", {"p": 0.1, "sparse": False})),
    ],
    ids=["int-float", "fraction-bool", "decimal-exact", "list", "string", "bare", "sci"],
)
def test_parse_spec(spec, expected):
    assert parse_spec(spec) == expected


def test_make_matches_direct_calls():
    assert mdps.make("garnet:S=50,A=4,b=3,seed=0") == mdps.garnet(50, 4, 3, seed=0)
    assert mdps.make("forest:S=1000,discount=0.95") == mdps.forest(1000, discount=0.95)
    assert mdps.make("forest:S=100,sparse=true").is_sparse
    assert mdps.make("paper-grid:exact=true") == mdps.paper_grid(exact=True)
    assert mdps.make("paper-chain") == mdps.paper_chain()
    assert mdps.make("paper-bandit:exact=true") == mdps.paper_bandit(exact=True)
    assert mdps.make("frozen-lake:size=8,slippery=false") == mdps.frozen_lake(8, slippery=False)
    assert mdps.make("small:discount=0.9,exact=true") == mdps.small(exact=True)


def test_unknown_name_lists_valid_names():
    with pytest.raises(tm.InvalidParameterError, match=r"valid names: .*paper-grid"):
        mdps.make("gridd")


def test_unknown_parameter_lists_valid_parameters():
    with pytest.raises(tm.InvalidParameterError, match="valid parameters: S, r1, r2, p"):
        mdps.make("forest:states=10")


def test_missing_required_parameter_is_named():
    with pytest.raises(tm.InvalidParameterError, match="garnet needs S, A, b, seed"):
        mdps.make("garnet")


@pytest.mark.parametrize("spec", ["", "forest:S", "forest:S=1,S=2", "forest:=3"], ids=str)
def test_malformed_specs(spec):
    with pytest.raises(tm.InvalidParameterError):
        mdps.make(spec)


def test_float_discount_with_exact_builder_is_an_exactness_error():
    with pytest.raises(tm.ExactnessError):
        mdps.small(discount=0.9, exact=True)


def test_package_exports():
    assert set(mdps.__all__) >= {"make", "available", "from_gymnasium", "paper_grid", "garnet"}
    for name in mdps.__all__:
        assert hasattr(mdps, name), name
