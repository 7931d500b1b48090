"""Figures build headless, label their axes, carry legends, and never call show()."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

import tabular_mirror as tm
from tabular_mirror import instances, plots
from tabular_mirror.errors import InvalidParameterError

TWO_STATES = tm.FiniteMDP(
    [[[0.5, 0.5], [0, 1], [0.9, 0.1]], [[0.8, 0.2], [0.1, 0.9], [0.5, 0.5]]],
    [[5, 10, 3], [-1, 2, 0]],
    0.9,
)
POLICY0 = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])


@pytest.fixture(scope="module")
def runs():
    algorithms = (instances.gpi(), instances.pmd(0.5), instances.ppo(0.2))
    return {a.name: tm.mirror_learning(TWO_STATES, a, POLICY0, 8) for a in algorithms}


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    import matplotlib.pyplot as plt

    def forbidden(*args, **kwargs):
        raise AssertionError("plots must not call show()")

    monkeypatch.setattr(plt, "show", forbidden)


def labelled(ax) -> bool:
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel()) and bool(ax.get_title())


def test_convergence(runs, tmp_path):
    figure = plots.convergence(runs)
    assert isinstance(figure, Figure)
    returns_ax, gap_ax, drift_ax, bound_ax = figure.axes
    # every panel's labels and title as drawn (the top row shares the bottom row's x axis)
    assert [(ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) for ax in figure.axes] == [
        ("", "expected return eta(pi_n)", "(a) return and the optimum (Thm 3.6(3))"),
        ("", "optimality gap eta* - eta(pi_n)", "(b) optimality gap, log scale"),
        (
            "iteration n",
            "cumulative drift sum_k drift_{pi_k}(pi_{k+1})",
            "(c) drift paid (solid) <= (eta* - eta(pi_0)) / U_beta (dashed)",
        ),
        (
            "iteration n",
            "eta(pi_{n+1}) - eta(pi_n)",
            "(d) improvement (solid) >= Thm 3.6(1) bound (dashed)",
        ),
    ]
    # every run shares the MDP: its sizes and discount, not the FiniteMDP repr (issue 11)
    assert figure.get_suptitle() == plots.mdp_title(TWO_STATES)
    assert "num_states" not in figure.get_suptitle()
    legend = [text.get_text() for text in returns_ax.get_legend().get_texts()]
    assert legend == [*runs, "eta* (exact)"]
    assert gap_ax.get_yscale() == "log" and bound_ax.get_yscale() == "log"
    # each run's lines carry its own data
    returns = {line.get_label(): line for line in returns_ax.lines}
    gaps = {line.get_label(): line for line in gap_ax.lines}
    drifts = {line.get_label(): line for line in drift_ax.lines}
    for label, trace in runs.items():
        steps = np.arange(trace.iterations + 1)
        np.testing.assert_array_equal(returns[label].get_xdata(), steps)
        np.testing.assert_allclose(returns[label].get_ydata(), np.asarray(trace.returns, float))
        gap = np.asarray(trace.optimality_gaps, float)
        np.testing.assert_allclose(gaps[label].get_ydata(), np.where(gap > 0, gap, np.nan))
        np.testing.assert_allclose(
            drifts[label].get_ydata(), np.asarray(trace.cumulative_drift, float)
        )
    optimum = float(next(iter(runs.values())).optimal_return)
    np.testing.assert_allclose(returns["eta* (exact)"].get_ydata(), [optimum, optimum])
    # (d): a solid improvement and a dashed bound line per run, one point per move
    moves = [line.get_xdata().size for line in bound_ax.lines]
    assert moves == [trace.iterations for trace in runs.values() for _ in "ab"]
    assert [line.get_linestyle() for line in bound_ax.lines] == ["-", "--"] * len(runs)
    figure.savefig(tmp_path / "convergence.png")
    assert (tmp_path / "convergence.png").stat().st_size > 0


def test_convergence_accepts_one_trace_and_a_list(runs):
    trace = next(iter(runs.values()))
    assert len(plots.convergence(trace).axes) == 4
    assert len(plots.convergence(list(runs.values())).axes) == 4


def test_convergence_exact_trace():
    exact = TWO_STATES.to_exact(limit_denominator=100)
    trace = tm.mirror_learning(exact, instances.gpi(), tm.uniform_policy(exact), 5)
    assert len(plots.convergence(trace).axes) == 4


def test_paper_figure(runs, tmp_path):
    traces = {
        ("two-state", drift, neighbourhood): trace
        for (drift, neighbourhood), trace in zip(
            [("zero", "drift_ball"), ("squared_l2", "drift_ball"), ("zero", "kl_ball")],
            runs.values(),
            strict=True,
        )
    }
    figure = plots.paper_figure(traces)
    assert len(figure.axes) == 2
    assert all(labelled(ax) for ax in figure.axes)
    assert "drift ball" in figure.axes[0].get_title()
    assert "KL ball" in figure.axes[1].get_title()
    assert figure.legends
    figure.savefig(tmp_path / "paper.svg")


def test_paper_figure_rejects_bad_keys(runs):
    with pytest.raises(InvalidParameterError, match="tuple"):
        plots.paper_figure({"gpi": next(iter(runs.values()))})


def test_value_polytope(runs, tmp_path):
    figure = plots.value_polytope(TWO_STATES, runs, samples=300)
    (ax,) = figure.axes
    assert labelled(ax)
    assert ax.get_legend() is not None
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(runs) <= set(labels)
    figure.savefig(tmp_path / "polytope.png")


def test_value_polytope_needs_two_states():
    three = tm.FiniteMDP(np.full((3, 2, 3), 1 / 3), np.zeros((3, 2)), 0.5)
    with pytest.raises(InvalidParameterError, match="2-state"):
        plots.value_polytope(three)


def test_simplex_trajectory(runs, tmp_path):
    figure = plots.simplex_trajectory(runs, state=1)
    (ax,) = figure.axes
    assert labelled(ax)
    assert ax.get_legend() is not None
    figure.savefig(tmp_path / "simplex.pdf")


def test_simplex_needs_three_actions():
    mdp = tm.FiniteMDP([[[1.0], [1.0]]], [[0, 1]], 0.5)
    trace = tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 2)
    with pytest.raises(InvalidParameterError, match="3 actions"):
        plots.simplex_trajectory(trace)


def test_gridworld(tmp_path):
    shape, walls = (3, 4), [(1, 1)]
    count = 11
    values = np.linspace(-5, 1, count + 1)  # one trailing absorbing state is ignored
    policy = np.full((count + 1, 4), 0.25)
    figure = plots.gridworld(values, policy, shape, walls, terminals={(0, 3): "goal"})
    ax = figure.axes[0]
    assert labelled(ax)
    assert figure.axes[1].get_ylabel() == "V_pi(s)"  # the colour bar
    figure.savefig(tmp_path / "grid.png")


@pytest.mark.parametrize(
    ("values", "policy", "actions", "fragment"),
    [
        (np.zeros(3), np.full((3, 4), 0.25), ("up", "right", "down", "left"), "free cells"),
        (np.zeros(4), np.full((4, 3), 1 / 3), ("up", "right", "down", "left"), "policy has shape"),
        (np.zeros(4), np.full((4, 2), 0.5), ("up", "jump"), "no direction"),
    ],
    ids=["too-few-values", "wrong-policy-shape", "unknown-action"],
)
def test_gridworld_errors(values, policy, actions, fragment):
    with pytest.raises(InvalidParameterError, match=fragment):
        plots.gridworld(values, policy, (2, 2), actions=actions)


def test_single_panel_plots_draw_into_a_given_axes(runs):
    figure = Figure()
    left, middle, right = figure.subplots(1, 3)
    assert plots.value_polytope(TWO_STATES, runs, samples=50, ax=left) is figure
    assert plots.simplex_trajectory(runs, ax=middle) is figure
    assert plots.gridworld(np.zeros(4), np.full((4, 4), 0.25), (2, 2), ax=right) is figure
    assert left.get_title() == "value polytope (3 actions, gamma=0.9)"
    assert middle.get_title() == "policy trajectories at state 0"
    assert right.get_title() == "V_pi with pi's action probabilities"
    assert len(figure.axes) == 4  # no new axes but gridworld's colour bar
