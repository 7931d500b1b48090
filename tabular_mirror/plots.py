"""Figures of mirror-learning runs (matplotlib, imported lazily; every function returns a Figure).

- :func:`convergence`          eta(pi_n) against eta*, the optimality gap (log scale), the drift
  paid and the improvement against the Theorem 3.6(1) lower bound, several runs per axis
- :func:`paper_figure`         the layout of the paper's Figure 3 (Kuba et al. 2022, section 7)
- :func:`value_polytope`       the value functions of all policies of a 2-state MDP, with runs
- :func:`simplex_trajectory`   policy rows of a 3-action state moving on the 2-simplex
- :func:`gridworld`            a value heatmap with policy arrows

No function calls ``plt.show()``: save with ``figure.savefig(path)``. Exact (Fraction) traces
are plotted through float conversion. Figures are built with ``matplotlib.figure.Figure``
directly (no pyplot state), so they work headless and are garbage collected normally.

References
----------
J. Grudzien Kuba, C. Schroeder de Witt, J. Foerster, "Mirror Learning: A Unifying Framework of
Policy Optimisation", ICML 2022, sections 3 and 7. R. Dadashi, A. A. Taiga, N. Le Roux,
D. Schuurmans, M. G. Bellemare, "The Value Function Polytope in Reinforcement Learning",
ICML 2019.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InvalidParameterError, MissingDependencyError
from .traces import Trace

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .model import FiniteMDP

__all__ = [
    "convergence",
    "paper_figure",
    "value_polytope",
    "simplex_trajectory",
    "gridworld",
    "mdp_title",
]


def _figure(figsize: tuple[float, float], **kwargs: Any) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - matplotlib is a dependency
        raise MissingDependencyError(
            "tabular_mirror.plots needs matplotlib; install it with `pip install matplotlib`"
        ) from error
    return Figure(figsize=figsize, **kwargs)


def _figure_and_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure and axes to draw into: ``ax`` and its figure when given, else a new figure
    of ``figsize`` (constrained layout) with one axes. For the single-panel plots."""
    if ax is None:
        figure = _figure(figsize, layout="constrained")
        return figure, figure.subplots()
    return ax.figure, ax


def _floats(array: Any) -> np.ndarray:
    return np.asarray(array, dtype=float)


def _labelled(traces: Trace | Sequence[Trace] | Mapping[str, Trace]) -> list[tuple[str, Trace]]:
    """Normalise one trace, a sequence of traces or a mapping label -> trace."""
    if isinstance(traces, Trace):
        return [(traces.algorithm, traces)]
    if isinstance(traces, Mapping):
        items = [(str(label), trace) for label, trace in traces.items()]
    else:
        items = [(trace.algorithm, trace) for trace in traces]
    if not items:
        raise InvalidParameterError("traces is empty; give at least one Trace")
    for label, trace in items:
        if not isinstance(trace, Trace):
            raise InvalidParameterError(f"traces[{label!r}] = {trace!r} is not a Trace")
    return items


def _colours(count: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(k % 10) for k in range(count)]


def mdp_title(mdp: Any) -> str:
    r"""A figure title for an MDP: its sizes and discount in the paper's symbols.

    >>> import tabular_mirror as tm
    >>> mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [1, 0]], "9/10")
    >>> mdp_title(mdp)
    'MDP with $S = 2$ states, $A = 2$ actions, $\\gamma = 9/10$ (exact)'
    """
    discount = mdp.discount if mdp.is_exact else f"{float(mdp.discount):g}"
    mode = "exact" if mdp.is_exact else ("float, sparse" if mdp.is_sparse else "float")
    return (
        f"MDP with $S = {mdp.num_states}$ states, $A = {mdp.num_actions}$ actions, "
        f"$\\gamma = {discount}$ ({mode})"
    )


def convergence(
    traces: Trace | Sequence[Trace] | Mapping[str, Trace],
    *,
    title: str | None = None,
    figsize: tuple[float, float] = (11.0, 7.5),
) -> Figure:
    """Four panels of the fundamental theorem (Thm 3.6) for one or several runs.

    (a) eta(pi_n) per iteration with eta* as a dashed line (Thm 3.6(3)); (b) the optimality gap
    eta* - eta(pi_n) on a log scale; (c) the drift paid drift_{pi_n}(pi_{n+1}) and its running
    sum; (d) the improvement eta(pi_{n+1}) - eta(pi_n) (solid) against the Theorem 3.6(1) lower
    bound sum_s d[s] (nu[s]/beta[s]) D_{pi_n}(pi_{n+1} | s) (dashed): solid above dashed is
    inequality (13) aggregated over d.

    Parameters
    ----------
    traces : Trace, sequence of Trace, or mapping label -> Trace
        Runs to overlay (typically several algorithms on one MDP).
    title : str, optional
        Figure title; by default :func:`mdp_title` of the MDP when every run shares one.
    figsize : (float, float)
        Size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Zero values cannot be shown on a log axis: a gap of exactly 0 (the run reached eta*) is
    drawn at the axis floor with a marker, and the text says so.

    Examples
    --------
    >>> import tabular_mirror as tm
    >>> mdp = tm.FiniteMDP([[[0.5, 0.5], [0, 1]], [[0.8, 0.2], [0.1, 0.9]]],
    ...                    [[5, 10], [-1, 2]], 0.9)
    >>> run = tm.mirror_learning(mdp, tm.instances.pmd(0.5), tm.uniform_policy(mdp), 10)
    >>> convergence([run]).axes[0].get_ylabel()
    'expected return eta(pi_n)'
    """
    items = _labelled(traces)
    figure = _figure(figsize, layout="constrained")
    axes = figure.subplots(2, 2, sharex=True)
    (returns_ax, gap_ax), (drift_ax, bound_ax) = axes
    colours = _colours(len(items))
    optima: list[float] = []
    floor_used = False
    limits: list[float] = []
    positive_gaps = [
        g
        for _, trace in items
        if trace.optimality_gaps is not None
        for g in _floats(trace.optimality_gaps)
        if g > 0
    ]
    floor = max(min(positive_gaps) / 10, 1e-16) if positive_gaps else 1e-16
    for (label, trace), colour in zip(items, colours, strict=True):
        steps = np.arange(trace.iterations + 1)
        returns_ax.plot(steps, _floats(trace.returns), color=colour, label=label, lw=1.8)
        if trace.optimal_return is not None:
            optima.append(float(trace.optimal_return))
            gaps = _floats(trace.optimality_gaps)
            shown = np.where(gaps > 0, gaps, np.nan)
            gap_ax.semilogy(steps, shown, color=colour, label=label, lw=1.8)
            zero = np.flatnonzero(gaps <= 0)
            if zero.size:
                floor_used = True
                gap_ax.semilogy(steps[zero[0]], floor, "v", color=colour, ms=7)
        cumulative = _floats(trace.cumulative_drift)
        drift_ax.plot(steps, cumulative, color=colour, lw=1.8, label=label)
        limit = _total_drift_bound(trace)
        if limit is not None:
            drift_ax.axhline(limit, color=colour, ls="--", lw=1.2)
            limits.append(limit)
        if trace.iterations:
            moves = np.arange(trace.iterations)
            improvement = np.diff(_floats(trace.returns))
            bound = _floats(trace.improvement_bounds)
            bound_ax.semilogy(moves, np.where(improvement > 0, improvement, np.nan), color=colour)
            bound_ax.semilogy(moves, np.where(bound > 0, bound, np.nan), color=colour, ls="--")
    for optimum in sorted(set(optima)):
        returns_ax.axhline(optimum, color="black", ls="--", lw=1.2, label="eta* (exact)")
    returns_ax.set_ylabel("expected return eta(pi_n)")
    returns_ax.set_title("(a) return and the optimum (Thm 3.6(3))")
    gap_ax.set_ylabel("optimality gap eta* - eta(pi_n)")
    gap_ax.set_title("(b) optimality gap, log scale")
    if floor_used:
        gap_ax.text(
            0.98,
            0.02,
            "▼ gap exactly 0 from here",
            transform=gap_ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
        )
    drift_ax.set_ylabel("cumulative drift sum_k drift_{pi_k}(pi_{k+1})")
    drift_ax.set_title("(c) drift paid (solid) <= (eta* - eta(pi_0)) / U_beta (dashed)")
    if limits:
        drift_ax.set_ylim(top=1.15 * max(max(limits), drift_ax.get_ylim()[1] / 1.15))
    bound_ax.set_ylabel("eta(pi_{n+1}) - eta(pi_n)")
    bound_ax.set_title("(d) improvement (solid) >= Thm 3.6(1) bound (dashed)")
    for ax in (drift_ax, bound_ax):
        ax.set_xlabel("iteration n")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    returns_ax.legend(fontsize=8, loc="lower right")
    if not gap_ax.lines:
        gap_ax.text(0.5, 0.5, "eta* not computed", transform=gap_ax.transAxes, ha="center")
    if title is None:
        mdps = {id(trace.mdp): trace.mdp for _, trace in items}
        title = mdp_title(next(iter(mdps.values()))) if len(mdps) == 1 else None
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def _total_drift_bound(trace: Trace) -> float | None:
    """(eta* - eta(pi_0)) / U_beta with U_beta = min over the run's steps and states of
    d[s] / beta_{pi_k}[s] (section 6, ineq. (9)); None without eta*, steps, or if some d[s] = 0."""
    if trace.optimal_return is None or not trace.iterations:
        return None
    ratios = _floats(trace.mdp.initial)[None, :] / _floats(trace.sampling)
    smallest = float(ratios.min())
    if smallest <= 0:
        return None
    return (float(trace.optimal_return) - float(trace.returns[0])) / smallest


def paper_figure(
    traces: Mapping[tuple[str, str, str], Trace],
    *,
    environments: Sequence[str] | None = None,
    every: int = 5,
    title: str
    | None = "Mirror learning on the paper's environments (cf. Kuba et al. 2022, Fig. 3)",
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """The layout of the paper's Figure 3: one panel per environment and neighbourhood.

    In each panel, one colour per drift: the mean of V_{pi_n} over the start states, i.e. the
    return eta(pi_n) = sum_s d[s] V_{pi_n}(s) with d uniform (solid), the cumulative drift
    sum_{k<n} drift_{pi_k}(pi_{k+1}) shifted by the initial value eta(pi_0) (dotted), and the
    exact optimum eta* (thin grey line). With uniform d = beta = nu, Theorem 3.6(1) summed over
    iterations says solid >= dotted at every n, and Thm 3.6(3) says solid -> grey.

    Parameters
    ----------
    traces : mapping (environment, drift, neighbourhood) -> Trace
        The runs, e.g. ``{("single-step", "squared_l2", "kl_ball"): trace, ...}``.
    environments : sequence of str, optional
        Row order (default: order of first appearance in ``traces``).
    every : int
        Put a marker every ``every`` iterations (the paper plots every 5).
    title : str or None
        The figure's title.
    figsize : (float, float), optional
        Size in inches (default scales with the number of rows).

    Returns
    -------
    matplotlib.figure.Figure
        Rows are environments, columns neighbourhoods (drift ball left, KL ball right).

    Notes
    -----
    The paper plots "the mean of V over states" with d uniform. Terminal (absorbing, zero-value)
    states are not start states, so the mean is taken with the MDP's d, which the catalogue makes
    uniform over the non-terminal states; for MDPs without terminal states it is the plain mean.
    The drift paid weights states by nu (uniform over all states), so it is at most the
    d-weighted bound and the dotted line stays a valid lower bound.
    """
    if not isinstance(traces, Mapping) or not traces:
        raise InvalidParameterError(
            "traces must be a non-empty mapping (environment, drift, neighbourhood) -> Trace"
        )
    for key in traces:
        if not (isinstance(key, tuple) and len(key) == 3):
            raise InvalidParameterError(
                f"traces key {key!r} is not an (environment, drift, neighbourhood) tuple"
            )
    rows = list(dict.fromkeys(key[0] for key in traces)) if environments is None else environments
    columns = list(dict.fromkeys(key[2] for key in traces))
    order = {"drift_ball": 0, "kl_ball": 1}
    columns.sort(key=lambda name: order.get(name, 2))
    drifts = list(dict.fromkeys(key[1] for key in traces))
    colours = dict(zip(drifts, _colours(len(drifts)), strict=True))
    if figsize is None:
        figsize = (5.2 * len(columns), 3.3 * len(rows) + 0.6)
    figure = _figure(figsize, layout="constrained")
    axes = np.atleast_2d(figure.subplots(len(rows), len(columns), squeeze=False))
    names = {
        "drift_ball": "drift ball (mean drift <= 0.05)",
        "kl_ball": "KL ball (mean KL <= 0.05)",
    }
    for i, environment in enumerate(rows):
        for j, neighbourhood in enumerate(columns):
            ax = axes[i, j]
            optimum = None
            for drift in drifts:
                trace = traces.get((environment, drift, neighbourhood))
                if trace is None:
                    continue
                colour = colours[drift]
                mean = _floats(trace.returns)
                steps = np.arange(len(mean))
                markers = steps[::every] if every else None
                ax.plot(steps, mean, color=colour, lw=1.8, marker="o", ms=3, markevery=markers)
                ax.plot(steps, mean[0] + _floats(trace.cumulative_drift), color=colour, ls=":")
                if trace.optimal_return is not None:
                    optimum = float(trace.optimal_return)
            if optimum is not None:
                ax.axhline(optimum, color="0.35", lw=1.0, ls="-", zorder=0)
            ax.set_title(f"{environment} — {names.get(neighbourhood, neighbourhood)}", fontsize=10)
            ax.set_xlabel("iteration n")
            ax.set_ylabel(r"expected return $\eta(\pi_n)$")
            ax.grid(alpha=0.3)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colours[d], lw=1.8, label=f"{d} x50") for d in drifts]
    handles += [
        Line2D([], [], color="black", lw=1.8, label=r"$\eta(\pi_n) = d \cdot V_{\pi_n}$ (solid)"),
        Line2D(
            [],
            [],
            color="black",
            ls=":",
            label=r"$\eta(\pi_0) + \sum_{k<n} \mathfrak{D}_{\pi_k}(\pi_{k+1})$ (dotted)",
        ),
        Line2D([], [], color="0.35", lw=1.0, label=r"exact optimum $\eta^*$"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=9)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure


def _policy_values(
    transitions: np.ndarray, rewards: np.ndarray, discount: float, policies: np.ndarray
) -> np.ndarray:
    """V_pi for a batch of policies (K, S, A) by dense solves, shape (K, S)."""
    num_states = transitions.shape[0]
    p_pi = np.einsum("ksa,sat->kst", policies, transitions)
    r_pi = np.einsum("ksa,sa->ks", policies, rewards)
    matrices = np.eye(num_states)[None] - discount * p_pi
    return np.linalg.solve(matrices, r_pi[..., None])[..., 0]


def value_polytope(
    mdp: FiniteMDP,
    traces: Trace | Sequence[Trace] | Mapping[str, Trace] | None = None,
    *,
    samples: int = 3000,
    seed: int = 0,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (6.5, 6.0),
) -> Figure:
    """The value polytope {V_pi : pi in Pi} of a 2-state MDP, with mirror-learning trajectories.

    Draws V_pi for ``samples`` random policies (Dirichlet(1) rows) as a light cloud, the line
    segments traced by policies that are deterministic in one state and mix two actions in the
    other (Dadashi et al. 2019: policies differing in one state trace a line; the polytope's
    boundary lies on such segments), the deterministic policies, V*, and for each trace the path
    V_{pi_0}, V_{pi_1}, ... with arrows.

    Parameters
    ----------
    mdp : FiniteMDP
        Must have exactly 2 states (any number of actions).
    traces : Trace, sequence or mapping label -> Trace, optional
        Runs on ``mdp`` to draw.
    samples : int
        Random policies for the cloud.
    seed : int
        Seed of the random policies.
    ax : matplotlib Axes, optional
        Draw into this axes (its figure is returned).
    figsize : (float, float)
        Size of a new figure in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidParameterError
        ``mdp`` does not have 2 states.
    """
    from itertools import combinations, product

    if mdp.num_states != 2:
        raise InvalidParameterError(
            f"value_polytope needs a 2-state MDP (values in the plane); got {mdp.num_states} states"
        )
    model = mdp.to_float().to_dense()
    transitions = _floats(model.transitions)
    rewards = _floats(model.rewards)
    discount = float(model.discount)
    num_actions = mdp.num_actions
    figure, ax = _figure_and_axes(ax, figsize)
    rng = np.random.default_rng(seed)
    cloud = _policy_values(
        transitions, rewards, discount, rng.dirichlet(np.ones(num_actions), size=(samples, 2))
    )
    ax.scatter(cloud[:, 0], cloud[:, 1], s=3, color="tab:blue", alpha=0.15, lw=0)
    eye = np.eye(num_actions)
    mix = np.linspace(0, 1, 60)[:, None]
    for fixed_state in (0, 1):
        other = 1 - fixed_state
        for action, (b, c) in product(range(num_actions), combinations(range(num_actions), 2)):
            batch = np.empty((len(mix), 2, num_actions))
            batch[:, fixed_state] = eye[action]
            batch[:, other] = mix * eye[b] + (1 - mix) * eye[c]
            line = _policy_values(transitions, rewards, discount, batch)
            ax.plot(line[:, 0], line[:, 1], color="tab:blue", lw=0.6, alpha=0.5)
    deterministic = np.array(
        [[eye[a], eye[b]] for a, b in product(range(num_actions), repeat=2)], dtype=float
    )
    corners = _policy_values(transitions, rewards, discount, deterministic)
    ax.scatter(corners[:, 0], corners[:, 1], s=18, color="tab:blue", zorder=3)
    from .optimal import solve

    optimal = _floats(solve(model).values)
    ax.scatter(*optimal, marker="*", s=220, color="gold", edgecolor="black", zorder=6, label="V*")
    if traces is not None:
        items = _labelled(traces)
        for (label, trace), colour in zip(items, _colours(len(items) + 1)[1:], strict=True):
            path = _floats(trace.values)
            ax.plot(path[:, 0], path[:, 1], "-o", color=colour, ms=3.5, lw=1.4, label=label)
            for k in range(min(len(path) - 1, 12)):
                ax.annotate(
                    "",
                    xy=path[k + 1],
                    xytext=path[k],
                    arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.2},
                )
        start = _floats(items[0][1].values[0])
        ax.scatter(*start, marker="s", s=50, color="black", zorder=5, label="V_{pi_0}")
    ax.set_xlabel("V_pi(s=0)")
    ax.set_ylabel("V_pi(s=1)")
    ax.set_title(f"value polytope ({num_actions} actions, gamma={discount:g})")
    ax.grid(alpha=0.3)
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles.insert(
        0,
        Line2D([], [], color="tab:blue", marker="o", ms=3, lw=0.6, label="V_pi of all policies"),
    )
    ax.legend(handles=handles, fontsize=8, loc="best")
    return figure


_SQRT3 = np.sqrt(3.0)
_TRIANGLE = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, _SQRT3 / 2]])


def _barycentric(rows: np.ndarray) -> np.ndarray:
    return rows @ _TRIANGLE


def simplex_trajectory(
    traces: Trace | Sequence[Trace] | Mapping[str, Trace],
    state: int = 0,
    *,
    action_names: Sequence[str] | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (6.0, 5.6),
) -> Figure:
    """Policy rows pi_n[state, :] of a 3-action state on the 2-simplex (a triangle).

    Each vertex is a deterministic action; the path of each run goes from a square (pi_0) to a
    dot (the last policy). Shows the geometry of the steps: GPI jumps to a vertex, PMD bends
    along exponential-family curves, TRPO/PPO take short steps of bounded divergence.

    Parameters
    ----------
    traces : Trace, sequence or mapping label -> Trace
        Runs on MDPs with exactly 3 actions.
    state : int
        The state whose row is drawn.
    action_names : sequence of 3 str, optional
        Vertex labels (default "a=0", "a=1", "a=2").
    ax : matplotlib Axes, optional
        Draw into this axes (its figure is returned).
    figsize : (float, float)
        Size of a new figure in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidParameterError
        A trace whose MDP does not have 3 actions, or ``state`` out of range.
    """
    items = _labelled(traces)
    for label, trace in items:
        shape = np.shape(trace.policies)
        if shape[2] != 3:
            raise InvalidParameterError(
                f"simplex_trajectory needs 3 actions; trace {label!r} has {shape[2]}"
            )
        if not 0 <= state < shape[1]:
            raise InvalidParameterError(
                f"state = {state} is out of range for trace {label!r} with {shape[1]} states"
            )
    names = list(action_names) if action_names is not None else ["a=0", "a=1", "a=2"]
    figure, ax = _figure_and_axes(ax, figsize)
    outline = np.vstack([_TRIANGLE, _TRIANGLE[:1]])
    ax.plot(outline[:, 0], outline[:, 1], color="black", lw=1.2)
    for k in (0.25, 0.5, 0.75):  # iso-probability lines of each action
        for vertex in range(3):
            a, b = (vertex + 1) % 3, (vertex + 2) % 3
            ends = np.zeros((2, 3))
            ends[:, vertex] = k
            ends[0, a], ends[1, b] = 1 - k, 1 - k
            line = _barycentric(ends)
            ax.plot(line[:, 0], line[:, 1], color="0.85", lw=0.7, zorder=0)
    offsets = np.array([[-0.05, -0.05], [0.05, -0.05], [0.0, 0.04]])
    for vertex in range(3):
        x, y = _TRIANGLE[vertex] + offsets[vertex]
        ax.text(x, y, names[vertex], ha="center", va="center", fontsize=11)
    optimal_actions: set[int] = set()
    for (label, trace), colour in zip(items, _colours(len(items)), strict=True):
        rows = _floats(trace.policies)[:, state, :]
        path = _barycentric(rows)
        ax.plot(path[:, 0], path[:, 1], "-", color=colour, lw=1.6, label=label)
        ax.plot(path[:, 0], path[:, 1], "o", color=colour, ms=3)
        ax.plot(*path[0], "s", color=colour, ms=8, mec="black")
        ax.plot(*path[-1], "o", color=colour, ms=9, mec="black")
        if trace.optimal_values is not None:
            from .operators import q_from_values

            q = _floats(q_from_values(trace.mdp, trace.optimal_values))[state]
            optimal_actions.update(np.flatnonzero(q >= q.max() - 1e-9 * max(1, abs(q.max()))))
    for action in sorted(optimal_actions):
        ax.plot(*_TRIANGLE[action], "*", ms=18, color="gold", mec="black", zorder=5)
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], marker="s", ls="", color="0.6", mec="black", label="pi_0"),
        Line2D([], [], marker="o", ls="", color="0.6", mec="black", ms=8, label="last pi_n"),
    ]
    if optimal_actions:
        handles.append(
            Line2D([], [], marker="*", ls="", ms=14, color="gold", mec="black", label="optimal")
        )
    ax.legend(handles=handles, fontsize=8, loc="upper right")
    ax.set_aspect("equal")
    ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(-0.12, _SQRT3 / 2 + 0.1)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel(f"pi_n(. | s={state}) in barycentric coordinates")
    ax.set_ylabel("probability simplex over 3 actions")
    ax.set_title(f"policy trajectories at state {state}")
    return figure


#: Arrow directions (dx, dy) in plot coordinates (y up) for common action names.
_DIRECTIONS = {
    "up": (0.0, 1.0),
    "north": (0.0, 1.0),
    "down": (0.0, -1.0),
    "south": (0.0, -1.0),
    "left": (-1.0, 0.0),
    "west": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "east": (1.0, 0.0),
    "stay": (0.0, 0.0),
    "noop": (0.0, 0.0),
}


def gridworld(
    values: Any,
    policy: Any,
    shape: tuple[int, int],
    walls: Iterable[tuple[int, int]] = (),
    *,
    actions: Sequence[str] = ("up", "right", "down", "left"),
    terminals: Mapping[tuple[int, int], str] | None = None,
    annotate: bool = True,
    title: str = "V_pi with pi's action probabilities",
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """A value heatmap of a grid world with arrows of length proportional to pi(a | s).

    Parameters
    ----------
    values : (S,) array_like
        V_pi (or V*). States enumerate the free cells (not walls) in row-major order from the
        top-left; extra trailing states (e.g. one absorbing terminal state) are ignored.
    policy : (S, A) array_like
        pi; row s is drawn in the cell of state s.
    shape : (int, int)
        (rows, columns) of the grid.
    walls : iterable of (row, column)
        Blocked cells (drawn black, no state).
    actions : sequence of str
        Name of each action: up/down/left/right (or north/south/west/east), stay/noop.
    terminals : mapping (row, column) -> str, optional
        Labels for special cells (e.g. ``{(0, 4): "goal", (4, 0): "bomb"}``).
    annotate : bool
        Write each value in its cell.
    title : str
        Axes title.
    ax : matplotlib Axes, optional
        Draw into this axes (its figure is returned).
    figsize : (float, float), optional
        Size of a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidParameterError
        Fewer values than free cells, an action name without a direction, a policy with the wrong
        number of actions.
    """
    rows, columns = shape
    blocked = {tuple(w) for w in walls}
    cells = [(i, j) for i in range(rows) for j in range(columns) if (i, j) not in blocked]
    values = _floats(values)
    policy = _floats(policy)
    if values.ndim != 1 or len(values) < len(cells):
        raise InvalidParameterError(
            f"values has shape {values.shape}, expected (S,) with S >= {len(cells)} free cells"
        )
    if policy.shape != (len(values), len(actions)):
        raise InvalidParameterError(
            f"policy has shape {policy.shape}, expected ({len(values)}, {len(actions)}) "
            f"(states x actions {tuple(actions)})"
        )
    unknown = [name for name in actions if name.lower() not in _DIRECTIONS]
    if unknown:
        raise InvalidParameterError(
            f"action names {unknown} have no direction; valid names: {', '.join(_DIRECTIONS)}"
        )
    directions = np.array([_DIRECTIONS[name.lower()] for name in actions])
    grid = np.full(shape, np.nan)
    for state, (i, j) in enumerate(cells):
        grid[i, j] = values[state]
    figure, ax = _figure_and_axes(ax, figsize or (1.1 * columns + 2.0, 1.1 * rows + 0.8))
    from matplotlib import colormaps

    cmap = colormaps["viridis"].with_extremes(bad="black")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, origin="upper")
    colourbar = figure.colorbar(image, ax=ax, shrink=0.85)
    colourbar.set_label("V_pi(s)")
    low, high = np.nanmin(grid), np.nanmax(grid)
    middle = (low + high) / 2
    labels = dict(terminals or {})
    for state, (i, j) in enumerate(cells):
        text_colour = "black" if grid[i, j] > middle else "white"
        if (i, j) in labels:
            ax.text(j, i - 0.05, labels[(i, j)], ha="center", va="center", fontsize=9,
                    color=text_colour, weight="bold")  # fmt: skip
        if annotate:
            shown = values[state] if abs(values[state]) > 1e-9 * max(1.0, high - low) else 0.0
            ax.text(j, i + 0.36, f"{shown:.3g}", ha="center", va="center", fontsize=7,
                    color=text_colour)  # fmt: skip
        if (i, j) in labels:
            continue
        for probability, (dx, dy) in zip(policy[state], directions, strict=True):
            if probability < 1e-3:
                continue
            if dx == 0 and dy == 0:
                ax.plot(j, i, "o", color="white", mec="black", ms=3 + 6 * probability)
                continue
            length = 0.4 * probability
            ax.arrow(j, i, dx * length, -dy * length, width=0.03, head_width=0.14,
                     head_length=0.1, length_includes_head=False, color="white", ec="black",
                     lw=0.4)  # fmt: skip
    ax.set_xticks(range(columns))
    ax.set_yticks(range(rows))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(title)
    return figure
