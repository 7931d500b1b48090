"""gymnasium toy-text imports equal independent constructions (skipped without gymnasium)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import mdps
import tabular_mirror as tm

gymnasium = pytest.importorskip("gymnasium")

TOLERANCE = 1e-12  # gymnasium stores 1/3 as floats; merged rows differ by rounding only


def _assert_same(imported: tm.FiniteMDP, native: tm.FiniteMDP) -> None:
    assert (imported.num_states, imported.num_actions) == (native.num_states, native.num_actions)
    imported, native = imported.to_dense(), native.to_dense()
    assert np.max(np.abs(imported.transitions - native.transitions)) <= TOLERANCE
    assert np.max(np.abs(imported.rewards - native.rewards)) <= TOLERANCE
    assert np.array_equal(imported.initial, native.initial)


CASES = [
    ("FrozenLake-v1", {"map_name": "4x4", "is_slippery": True}, lambda: mdps.frozen_lake(4)),
    ("FrozenLake-v1", {"map_name": "8x8", "is_slippery": True}, lambda: mdps.frozen_lake(8)),
    (
        "FrozenLake-v1",
        {"map_name": "4x4", "is_slippery": False},
        lambda: mdps.frozen_lake(4, slippery=False),
    ),
    ("CliffWalking-v1", {}, lambda: mdps.cliff_walking()),
]


@pytest.mark.parametrize(
    ("env_id", "kwargs", "native"),
    CASES,
    ids=["frozenlake4-slippery", "frozenlake8-slippery", "frozenlake4-deterministic", "cliff"],
)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_import_equals_native(env_id, kwargs, native, sparse):
    imported = mdps.from_gymnasium(
        gymnasium.make(env_id, **kwargs), discount="99/100", sparse=sparse
    )
    assert imported.is_sparse == sparse
    _assert_same(imported, native())


def test_frozen_lake_exact_native_values_match_the_import():
    imported = mdps.from_gymnasium(gymnasium.make("FrozenLake-v1", map_name="4x4"), discount=0.99)
    exact = tm.solve(mdps.frozen_lake(4, exact=True), method="policy_iteration")
    floating = tm.solve(imported, method="policy_iteration")
    assert np.max(np.abs(floating.values - np.array(exact.values, dtype=float))) <= 1e-9


def _taxi_by_hand() -> tm.FiniteMDP:
    """Taxi (Dietterich 2000) from its rules, independently of gymnasium's table."""
    layout = [
        "+---------+",
        "|R: | : :G|",
        "| : | : : |",
        "| : : : : |",
        "| | : | : |",
        "|Y| : |B: |",
        "+---------+",
    ]
    locations = [(0, 0), (0, 4), (4, 0), (4, 3)]

    def encode(row, col, passenger, destination):
        return ((row * 5 + col) * 5 + passenger) * 4 + destination

    transitions = np.zeros((500, 6, 500))
    rewards = np.zeros((500, 6))
    terminal = set()
    for row, col, passenger, destination in itertools.product(
        range(5), range(5), range(5), range(4)
    ):
        state = encode(row, col, passenger, destination)
        for action in range(6):
            new = [row, col, passenger]
            reward = -1
            if action == 0:
                new[0] = min(row + 1, 4)
            elif action == 1:
                new[0] = max(row - 1, 0)
            elif action == 2 and layout[1 + row][2 * col + 2] == ":":
                new[1] = col + 1
            elif action == 3 and layout[1 + row][2 * col] == ":":
                new[1] = col - 1
            elif action == 4:
                if passenger < 4 and (row, col) == locations[passenger]:
                    new[2] = 4
                else:
                    reward = -10
            elif action == 5:
                if passenger == 4 and (row, col) == locations[destination]:
                    new[2], reward = destination, 20
                    terminal.add(encode(row, col, destination, destination))
                elif passenger == 4 and (row, col) in locations:
                    new[2] = locations.index((row, col))
                else:
                    reward = -10
            transitions[state, action, encode(*new, destination)] = 1
            rewards[state, action] = reward
    for state in terminal:
        transitions[state] = 0
        transitions[state, :, state] = 1
        rewards[state] = 0
    initial = np.zeros(500)
    for row, col, passenger, destination in itertools.product(
        range(5), range(5), range(4), range(4)
    ):
        if passenger != destination:
            initial[encode(row, col, passenger, destination)] = 1
    return tm.FiniteMDP(transitions, rewards, 0.99, initial / initial.sum())


def test_taxi_import_equals_independent_construction():
    env = gymnasium.make("Taxi-v4")
    imported = mdps.from_gymnasium(env, discount=0.99, sparse=True)
    assert (imported.num_states, imported.num_actions) == (500, 6)
    native = _taxi_by_hand()
    dense = imported.to_dense()
    assert np.array_equal(dense.transitions, native.transitions)
    assert np.array_equal(dense.rewards, native.rewards)
    assert np.max(np.abs(dense.initial - native.initial)) <= TOLERANCE


def test_missing_gymnasium_raises_missing_dependency(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "gymnasium" or name.startswith("gymnasium."):
            raise ImportError("no gymnasium")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(tm.MissingDependencyError, match="gymnasium"):
        mdps.from_gymnasium(object(), discount=0.9)


def test_environment_without_table_is_rejected():
    class NoTable:
        pass

    with pytest.raises(tm.InvalidParameterError, match="no transition table"):
        mdps.from_gymnasium(NoTable(), discount=0.9)
