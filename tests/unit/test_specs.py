"""Algorithm spec strings: parsing, building, and one-line errors."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tabular_mirror import instances
from tabular_mirror.errors import InvalidParameterError
from tabular_mirror.specs import ALGORITHMS, make_algorithm, parse_spec, spec_help


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("gpi", instances.gpi()),
        ("trl", instances.trl()),
        ("trl:coefficient=10", instances.trl(10)),
        ("trpo", instances.trpo()),
        ("trpo:delta=0.01", instances.trpo(Fraction(1, 100))),
        ("ppo", instances.ppo()),
        ("ppo:epsilon=0.2", instances.ppo(Fraction(1, 5))),
        ("pmd:step=1", instances.pmd(1)),
        ("ppo_kl:tau=1,reverse=true", instances.ppo_kl(1, reverse=True)),
        ("ppo_kl:tau=2", instances.ppo_kl(2)),
        (
            "paper:drift=squared_l2,neighbourhood=kl_ball",
            instances.paper_experiment("squared_l2", "kl_ball"),
        ),
        (
            " paper : drift = zero , neighbourhood = drift_ball , scale = 10 ",
            instances.paper_experiment("zero", "drift_ball", 10),
        ),
        ("PPO-KL:reverse=no", instances.ppo_kl(reverse=False)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_spec_builds_the_instance(spec, expected):
    assert make_algorithm(spec) == expected


def test_numbers_are_exact():
    assert parse_spec("trpo:delta=0.01") == ("trpo", {"delta": Fraction(1, 100)})
    assert parse_spec("pmd:step=3") == ("pmd", {"step": 3})
    assert parse_spec("paper:drift=zero,neighbourhood=kl_ball,radius=1/20")[1]["radius"] == (
        Fraction(1, 20)
    )


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "empty"),
        ("sac", "valid names: gpi"),
        ("ppo:eps=0.2", "valid parameters: epsilon"),
        ("ppo:epsilon", "not key=value"),
        ("ppo:epsilon=", "not key=value"),
        ("ppo:epsilon=abc", "not a number"),
        ("ppo:epsilon=0.1,epsilon=0.2", "given twice"),
        ("ppo_kl:reverse=maybe", "not a boolean"),
        ("gpi:delta=1", "valid parameters: none"),
        ("paper:drift=zero", "missing neighbourhood"),
        ("paper:drift=hellinger,neighbourhood=kl_ball", "valid choices"),
        ("trpo:delta=0", "must be > 0"),
        ("pmd:step=-1", "must be > 0"),
        ("trpo:delta=1/0", "not a number"),
    ],
    ids=lambda value: value or "empty",
)
def test_bad_spec_is_one_clear_error(spec, fragment):
    with pytest.raises(InvalidParameterError, match=fragment) as info:
        make_algorithm(spec)
    assert "\n" not in str(info.value)


def test_help_lists_every_name():
    text = spec_help()
    for name in ALGORITHMS:
        assert f"  {name} " in text
