"""Round trips: CSV long table, npz (dense and sparse), JSON (exact), MDPtoolbox layouts."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import mdps
import tabular_mirror as tm

FLOAT_MDPS = {
    "small": lambda: mdps.small(),
    "garnet": lambda: mdps.garnet(12, 3, 4, seed=0, reward_law="normal"),
    "deep-sea": lambda: mdps.deep_sea(4, seed=1, deterministic=False),
    "frozen-lake": lambda: mdps.frozen_lake(4),
}
EXACT_MDPS = {
    "small": lambda: mdps.small(exact=True),
    "exact-garnet": lambda: mdps.exact_garnet(6, 2, 3, seed=0),
    "paper-grid": lambda: mdps.paper_grid(exact=True),
    "riverswim": lambda: mdps.riverswim(exact=True),
}
SPARSE_MDPS = {
    "forest": lambda: mdps.forest(20, discount=0.95, sparse=True),
    "garnet": lambda: mdps.garnet(30, 2, 3, seed=4, sparse=True),
}


# ------------------------------------------------------------------------------------ CSV
@pytest.mark.parametrize("build", FLOAT_MDPS.values(), ids=FLOAT_MDPS.keys())
def test_csv_round_trip_float(tmp_path, build):
    mdp = build()
    path = mdps.to_csv(mdp, tmp_path / "mdp.csv")
    again = mdps.from_csv(path, discount=mdp.discount, initial=mdp.initial)
    assert not again.is_exact
    assert again == mdp.to_dense()


@pytest.mark.parametrize("build", EXACT_MDPS.values(), ids=EXACT_MDPS.keys())
def test_csv_round_trip_exact(tmp_path, build):
    mdp = build()
    path = mdps.to_csv(mdp, tmp_path / "mdp.csv")
    again = mdps.from_csv(path, discount=mdp.discount, initial=mdp.initial)
    assert again.is_exact
    assert again == mdp


@pytest.mark.parametrize("build", SPARSE_MDPS.values(), ids=SPARSE_MDPS.keys())
def test_csv_of_sparse_mdp(tmp_path, build):
    mdp = build()
    again = mdps.from_csv(mdps.to_csv(mdp, tmp_path / "m.csv"), discount=mdp.discount)
    assert again == mdp.to_dense()


def test_csv_header_and_fraction_strings(tmp_path):
    path = mdps.to_csv(mdps.small(exact=True), tmp_path / "small.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "state,action,next_state,probability,reward"
    assert "1,1,0,1/10,2" in lines


def test_csv_merges_duplicates_and_reduces_rewards(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text(
        "state,action,next_state,probability,reward\n"
        "0,0,0,1/4,4\n0,0,0,1/4,0\n0,0,1,1/2,2\n1,0,1,1,-1\n"
    )
    mdp = mdps.from_csv(path, discount="1/2")
    assert mdp.is_exact
    assert list(mdp.transitions[0, 0]) == [Fraction(1, 2), Fraction(1, 2)]
    assert mdp.rewards[0, 0] == 2 and mdp.rewards[1, 0] == -1


def test_csv_float_mode_reads_fraction_literals(tmp_path):
    # one decimal makes the table float; its fraction literals are read as their values
    path = tmp_path / "mixed.csv"
    path.write_text(
        "state,action,next_state,probability,reward\n0,0,0,1/4,1/3\n0,0,1,0.75,1/3\n1,0,1,1,0.5\n"
    )
    mdp = mdps.from_csv(path, discount=0.5)
    assert not mdp.is_exact
    assert mdp.transitions[0, 0].tolist() == [0.25, 0.75]
    assert mdp.rewards[:, 0].tolist() == [1 / 3, 0.5]


def test_csv_float_mode_rejects_a_zero_denominator(tmp_path):
    path = tmp_path / "zero.csv"
    path.write_text("state,action,next_state,probability,reward\n0,0,0,1/0,0.5\n")
    with pytest.raises(tm.InvalidFileError, match="denominator 0"):
        mdps.from_csv(path, discount=0.5)


def test_csv_rejects_a_wrong_header(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("s,a,t,p,r\n0,0,0,1,0\n")
    with pytest.raises(tm.InvalidFileError, match="header"):
        mdps.from_csv(path, discount=0.5)


# ------------------------------------------------------------------------- save and load
@pytest.mark.parametrize(
    "build",
    [*FLOAT_MDPS.values(), *SPARSE_MDPS.values()],
    ids=[*FLOAT_MDPS.keys(), *(f"sparse-{k}" for k in SPARSE_MDPS)],
)
def test_npz_round_trip_is_lossless(tmp_path, build):
    mdp = build()
    path = mdps.save(mdp, tmp_path / "mdp")
    assert path.suffix == ".npz"
    again = mdps.load(path)
    assert again == mdp
    assert again.is_sparse == mdp.is_sparse


@pytest.mark.parametrize("build", EXACT_MDPS.values(), ids=EXACT_MDPS.keys())
def test_json_round_trip_is_exact(tmp_path, build):
    mdp = build()
    path = mdps.save(mdp, tmp_path / "mdp.json")
    again = mdps.load(path)
    assert again.is_exact and again == mdp
    assert tm.solve(again).values.tolist() == tm.solve(mdp).values.tolist()


@pytest.mark.parametrize(
    ("mdp", "name"),
    [(mdps.small(exact=True), "x.npz"), (mdps.small(), "x.json")],
    ids=["exact-as-npz", "float-as-json"],
)
def test_save_rejects_a_suffix_of_the_other_mode(tmp_path, mdp, name):
    with pytest.raises(tm.InvalidParameterError, match="saved as"):
        mdps.save(mdp, tmp_path / name)


def test_load_rejects_unknown_suffix(tmp_path):
    with pytest.raises(tm.InvalidParameterError, match="suffix"):
        mdps.load(tmp_path / "mdp.txt")


# --------------------------------------------------------------------------- MDPtoolbox
ROUND_TRIP = {
    "float": lambda: mdps.forest(5, discount=0.9),
    "exact": lambda: mdps.riverswim(exact=True),
    "sparse": lambda: mdps.garnet(15, 3, 2, seed=0, sparse=True),
}


@pytest.mark.parametrize("layout", ["python", "matlab"])
@pytest.mark.parametrize("build", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_mdptoolbox_round_trip(layout, build):
    mdp = build()
    P, R = mdps.to_mdptoolbox(mdp, layout=layout)
    again = mdps.from_mdptoolbox(P, R, mdp.discount, layout=layout)
    assert again.is_exact == mdp.is_exact
    if mdp.is_sparse and layout == "python":
        assert again.is_sparse
    assert again.to_dense() == mdp.to_dense()


def test_mdptoolbox_axes():
    mdp = mdps.small(exact=True)
    P, _ = mdps.to_mdptoolbox(mdp)
    assert P.shape == (2, 2, 2) and P[1, 0, 1] == 1 and P[0, 1, 0] == Fraction(4, 5)
    M, _ = mdps.to_mdptoolbox(mdp, layout="matlab")
    assert M[1, 0, 0] == Fraction(4, 5) and M[1, 0, 1] == Fraction(1, 10)


def test_mdptoolbox_reward_shapes():
    mdp = mdps.small()
    P, R = mdps.to_mdptoolbox(mdp)
    state_rewards = mdps.from_mdptoolbox(P, np.array([1.0, -2.0]), 0.9)
    assert state_rewards.rewards.tolist() == [[1.0, 1.0], [-2.0, -2.0]]
    per_transition = np.stack([np.tile(R[:, a][:, None], (1, 2)) for a in range(2)])
    assert mdps.from_mdptoolbox(P, per_transition, 0.9) == mdp
    matlab = np.transpose(per_transition, (1, 2, 0))
    assert mdps.from_mdptoolbox(np.transpose(P, (1, 2, 0)), matlab, 0.9, layout="matlab") == mdp
    with pytest.raises(tm.InvalidParameterError, match="python, matlab"):
        mdps.from_mdptoolbox(P, R, 0.9, layout="fortran")


@pytest.mark.parametrize(
    ("example", "native"),
    [
        ("small", lambda: mdps.small()),
        ("forest", lambda: mdps.forest()),
    ],
    ids=["small", "forest"],
)
def test_pymdptoolbox_examples_equal_the_catalogue(example, native):
    toolbox = pytest.importorskip("mdptoolbox.example")
    P, R = getattr(toolbox, example)()
    assert mdps.from_mdptoolbox(P, R, "9/10") == native()


def test_pymdptoolbox_sparse_forest():
    toolbox = pytest.importorskip("mdptoolbox.example")
    P, R = toolbox.forest(S=50, is_sparse=True)
    imported = mdps.from_mdptoolbox(list(P), R, 0.9)
    assert imported.is_sparse
    assert imported.to_dense() == mdps.forest(50, discount=0.9)
