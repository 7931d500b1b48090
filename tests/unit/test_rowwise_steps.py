"""Per-state solvers for a user's drift (issue 14): nu independent of pibar and N = Pi or a ball
separate the mirror objective over states; each state's problem is solved on its simplex, all
states at once, with a certificate that never claims more than its bound.

Oracles: the built-in closed-form and Lagrangian steps (ForwardKL, squared L2) on the same
pieces, their objective values for the true suboptimality, and the re-verification of
:func:`tabular_mirror.mirror_step` for planted wrong answers.

Was: every user drift went to one joint SLSQP over all states (11 s a step on the paper's grid,
1.2 s on a 2 x 2 MDP without a gradient), evaluating the drift off the simplex.
"""

from __future__ import annotations

import numpy as np
import pytest

import mdps
import proofs_check
import tabular_mirror as tm
import tabular_mirror.step as step_module
from proofs_check._common import step_tolerance
from tabular_mirror import drifts
from tabular_mirror import neighbourhoods as nb
from tabular_mirror._steps.rowwise import RowProblems
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.drift_distributions import CandidateVisitation, MaxDriftState, OldVisitation
from tabular_mirror.results import Certificate
from tabular_mirror.sampling import VisitationSampling

GRID = mdps.make("paper-grid")
POLICY = tm.random_policy(GRID, 3)
GARNET = mdps.garnet(6, 3, 2, seed=4, discount=0.9)


def _masked() -> tm.FiniteMDP:
    """A Garnet with mixed feasible sets (action 0 always feasible)."""
    base = mdps.garnet(5, 3, 2, seed=3, discount=0.9)
    mask = np.array([[1, 1, 1], [1, 0, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=bool)
    return tm.FiniteMDP(base.transitions, base.rewards, 0.9, action_mask=mask)


MASKED = _masked()


def kl(policy, candidate):
    """KL(pi[s] || pibar[s]) written by a user (0 log 0 = 0, inf off pi's support)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(policy > 0, policy * np.log(policy / candidate), 0.0)
    return terms.sum(axis=1)


def kl_gradient(policy, candidate):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(policy > 0, -policy / candidate, 0.0)


def squared(policy, candidate):
    return ((candidate - policy) ** 2).sum(axis=1)


def user_kl(gradient: bool = True, convex: bool = True) -> drifts.CallableDrift:
    return drifts.CallableDrift(
        kl, kl_gradient if gradient else None, name="user KL", convex=convex
    )


def describe(step: tm.StepResult) -> str:
    return f"{step.solver}: {step.status}, {step.message}; {step.certificate}"


def pair(user: drifts.Drift, built_in: drifts.Drift, **pieces) -> tuple:
    return (
        MirrorAlgorithm.with_defaults(user, name="user", **pieces),
        MirrorAlgorithm.with_defaults(built_in, name="built-in", **pieces),
    )


def interior(mdp: tm.FiniteMDP, seed: int = 1) -> np.ndarray:
    return (
        tm.interior_policy(mdp, seed) if hasattr(tm, "interior_policy") else tm.uniform_policy(mdp)
    )


# ---------------------------------------------------------------------------- N = Pi
@pytest.mark.parametrize("scale", [2.0, 50.0], ids=["strong-step", "paper-scale"])
@pytest.mark.parametrize("mdp", [GRID, GARNET], ids=["paper-grid", "garnet"])
def test_a_user_forward_kl_with_gradient_is_the_built_in_argmax_certified(mdp, scale):
    user, built_in = pair(drifts.scaled(user_kl(), scale), drifts.scaled(drifts.ForwardKL(), scale))
    policy = tm.uniform_policy(mdp)
    mine, theirs = tm.mirror_step(mdp, user, policy), tm.mirror_step(mdp, built_in, policy)
    assert mine.solver == "rowwise" and mine.converged, describe(mine)
    assert mine.certificate.kind == "frank_wolfe_gap" and mine.certificate.certified
    assert mine.certificate.bound <= mine.certificate.tolerance
    np.testing.assert_allclose(mine.policy, theirs.policy, rtol=0, atol=1e-8)
    assert theirs.objective - mine.objective <= mine.certificate.bound + 1e-12


def test_nu_over_beta_enters_each_row():
    # PPO-KL's pieces: nu = rho_pi (old visitation), beta = rho_pi: c[s] = nu[s] / beta[s] = 1
    # only up to rounding; the rows must carry the ratio, not assume it
    pieces = {"drift_distribution": OldVisitation(), "sampling": VisitationSampling()}
    user, built_in = pair(
        drifts.scaled(user_kl(), 3.0), drifts.scaled(drifts.ForwardKL(), 3.0), **pieces
    )
    policy = tm.random_policy(GARNET, 2)
    mine, theirs = tm.mirror_step(GARNET, user, policy), tm.mirror_step(GARNET, built_in, policy)
    assert mine.converged and mine.solver == "rowwise", describe(mine)
    np.testing.assert_allclose(mine.policy, theirs.policy, rtol=0, atol=1e-8)


def test_without_a_gradient_the_secant_bound_is_valid_and_certifies_only_within_it():
    user, built_in = pair(
        drifts.scaled(user_kl(gradient=False), 2.0), drifts.scaled(drifts.ForwardKL(), 2.0)
    )
    policy = tm.uniform_policy(GRID)
    mine, theirs = tm.mirror_step(GRID, user, policy), tm.mirror_step(GRID, built_in, policy)
    certificate = mine.certificate
    assert mine.solver == "rowwise" and certificate.kind == "frank_wolfe_gap", describe(mine)
    assert "secant" in certificate.detail and "no gradient" in certificate.detail
    # the bound is an upper bound on the true suboptimality (the built-in argmax is certified)
    assert theirs.certificate.certified
    suboptimality = theirs.objective - mine.objective
    assert suboptimality <= certificate.bound + theirs.certificate.bound
    assert certificate.certified == (certificate.bound <= certificate.tolerance)
    assert mine.converged == certificate.certified
    np.testing.assert_allclose(mine.policy, theirs.policy, rtol=0, atol=1e-7)
    # at a tolerance above the bound the same step is certified
    loose = tm.mirror_step(GRID, user, policy, tolerance=10 * certificate.bound)
    assert loose.converged and loose.certificate.certified, describe(loose)


def test_a_drift_not_declared_convex_gets_a_local_certificate_and_no_bound():
    user, built_in = pair(
        drifts.scaled(user_kl(convex=False), 2.0), drifts.scaled(drifts.ForwardKL(), 2.0)
    )
    policy = tm.uniform_policy(GARNET)
    mine, theirs = tm.mirror_step(GARNET, user, policy), tm.mirror_step(GARNET, built_in, policy)
    assert mine.solver == "rowwise", describe(mine)  # not handed to SLSQP
    assert mine.certificate.kind == "local" and mine.certificate.bound is None
    assert not mine.certificate.certified and mine.status == "not_certified"
    assert "starts" in mine.certificate.detail and "not declared convex" in mine.certificate.detail
    # the pieces are convex in fact, so the best start finds the argmax
    np.testing.assert_allclose(mine.policy, theirs.policy, rtol=0, atol=1e-8)


def test_a_non_convex_drift_is_solved_from_several_starts():
    # D = 50 d exp(-10 d), d = |pibar - pi|^2: zero gradient at pi, a barrier that vanishes far
    # away, so the objective has a local maximum near pi and a better one at a vertex
    def barrier(policy, candidate):
        distance = ((candidate - policy) ** 2).sum(axis=1)
        return 50 * distance * np.exp(-10 * distance)

    algorithm = MirrorAlgorithm.with_defaults(drifts.CallableDrift(barrier, name="barrier"))
    policy = tm.uniform_policy(GARNET)
    step = tm.mirror_step(GARNET, algorithm, policy)
    assert step.solver == "rowwise" and step.certificate.kind == "local", describe(step)
    context = step_module.make_context(GARNET, algorithm, policy)
    staying = tm.mirror_objective(algorithm, context, policy)
    # the start at pi alone stops at the local maximum near pi; the best start is better
    problems = RowProblems(algorithm, context)
    near, _, _ = problems.solve(policy)
    assert step.objective > tm.mirror_objective(algorithm, context, near) + 1e-6 > staying


def test_the_convexity_flag_is_read_through_scaled_and_added_drifts():
    assert drifts.scaled(user_kl(), 3).convex
    assert not drifts.scaled(user_kl(convex=False), 3).convex
    assert not drifts.added(user_kl(), user_kl(convex=False)).convex
    step = tm.mirror_step(
        GARNET,
        MirrorAlgorithm.with_defaults(drifts.added(user_kl(), drifts.SquaredEuclidean())),
        tm.uniform_policy(GARNET),
    )
    assert step.solver == "rowwise" and step.certificate.kind == "frank_wolfe_gap"
    assert step.converged, describe(step)


# ---------------------------------------------------------------------------- infeasible actions
@pytest.mark.parametrize("convex", [True, False], ids=["convex", "not-declared-convex"])
def test_infeasible_actions_get_zero_mass(convex):
    user, built_in = pair(
        drifts.scaled(user_kl(convex=convex), 2.0), drifts.scaled(drifts.ForwardKL(), 2.0)
    )
    policy = tm.uniform_policy(MASKED)
    mine, theirs = tm.mirror_step(MASKED, user, policy), tm.mirror_step(MASKED, built_in, policy)
    assert mine.solver == "rowwise", describe(mine)
    assert np.all(mine.policy[~MASKED.action_mask] == 0)
    np.testing.assert_allclose(mine.policy, theirs.policy, rtol=0, atol=1e-8)
    assert mine.converged == convex, describe(mine)


def test_infeasible_actions_without_a_gradient():
    algorithm = MirrorAlgorithm.with_defaults(drifts.scaled(user_kl(gradient=False), 2.0))
    step = tm.mirror_step(MASKED, algorithm, tm.uniform_policy(MASKED))
    assert step.solver == "rowwise", describe(step)
    assert np.all(step.policy[~MASKED.action_mask] == 0)
    assert step.certificate.kind == "frank_wolfe_gap" and step.certificate.bound < np.inf


# ---------------------------------------------------------------------------- balls
BALLS = [
    nb.StateBall("kl", 0.02),
    nb.AverageBall("kl", 0.02, "uniform"),
    nb.StateBall("l2", 0.1),
    nb.AverageBall("l2", 0.01, "uniform"),
]


@pytest.mark.parametrize("ball", BALLS, ids=["state-kl", "average-kl", "state-l2", "average-l2"])
def test_a_ball_with_a_user_drift_is_the_built_in_lagrangian_step(ball):
    user, built_in = pair(
        drifts.scaled(user_kl(), 0.5), drifts.scaled(drifts.ForwardKL(), 0.5), neighbourhood=ball
    )
    policy = tm.random_policy(GARNET, 3)
    mine, theirs = tm.mirror_step(GARNET, user, policy), tm.mirror_step(GARNET, built_in, policy)
    assert mine.solver.startswith("rowwise"), describe(mine)
    assert mine.certificate.kind == "duality_gap" and mine.converged, describe(mine)
    assert mine.neighbourhood_slack >= -1e-9
    assert theirs.objective - mine.objective <= mine.certificate.bound + theirs.certificate.bound
    assert mine.objective - theirs.objective <= theirs.certificate.bound + 1e-9
    if theirs.certificate.certified and ball.divergence == "kl":  # a unique argmax: the rows
        np.testing.assert_allclose(mine.policy, theirs.policy, rtol=0, atol=1e-6)


def test_an_average_ball_uses_one_multiplier():
    ball = nb.AverageBall("kl", 0.01, "uniform")
    algorithm = MirrorAlgorithm.with_defaults(user_kl(), neighbourhood=ball)
    step = tm.mirror_step(GRID, algorithm, tm.uniform_policy(GRID))
    assert step.solver == "rowwise average_ball" and step.converged, describe(step)
    assert "Lagrange multiplier" in step.certificate.detail
    # the constraint is active: the multiplier is positive and the ball's slack ~ 0
    assert 0 <= step.neighbourhood_slack <= 1e-6


def test_a_ball_with_a_drift_not_declared_convex_is_local():
    algorithm = MirrorAlgorithm.with_defaults(
        user_kl(convex=False), neighbourhood=nb.StateBall("kl", 0.02)
    )
    step = tm.mirror_step(GARNET, algorithm, tm.random_policy(GARNET, 3))
    assert step.solver == "rowwise state_ball" and step.certificate.kind == "local"
    assert step.certificate.bound is None and step.neighbourhood_slack >= -1e-9


# ---------------------------------------------------------------------------- general solver
@pytest.mark.parametrize(
    "distribution", [MaxDriftState(), CandidateVisitation()], ids=["max-drift", "candidate"]
)
def test_a_drift_distribution_depending_on_pibar_goes_to_the_general_solver(distribution):
    algorithm = MirrorAlgorithm.with_defaults(
        drifts.CallableDrift(squared, convex=True), drift_distribution=distribution
    )
    small = mdps.garnet(3, 2, 2, seed=4, discount=0.9)
    step = tm.mirror_step(small, algorithm, tm.uniform_policy(small))
    assert step.solver == "slsqp", describe(step)


# ---------------------------------------------------------------------------- verification
ROWWISE = MirrorAlgorithm.with_defaults(drifts.scaled(user_kl(), 2.0))


def _planted(monkeypatch, rows_of) -> tm.StepResult:
    """The rowwise solver replaced by one returning ``rows_of(true rows)`` with zero gaps."""
    real = step_module.best_rows

    def planted(problems, warm=None):
        rows, _ = real(problems, warm)
        return rows_of(rows.copy()), np.zeros(len(rows))

    monkeypatch.setattr(step_module, "best_rows", planted)
    return tm.mirror_step(GARNET, ROWWISE, tm.uniform_policy(GARNET))


def test_a_planted_suboptimal_rowwise_answer_is_rejected(monkeypatch):
    def worse(rows):
        rows[0] = np.roll(rows[0], 1)  # still on the simplex, better than nothing, not the max
        return rows

    step = _planted(monkeypatch, worse)
    assert step.solver == "rowwise" and not step.certificate.certified, describe(step)
    assert step.status == "not_certified" and "Frank-Wolfe bound recomputed" in step.message


def test_a_planted_rowwise_answer_off_the_simplex_is_rejected(monkeypatch):
    def off(rows):
        rows[1] *= 1.01
        return rows

    step = _planted(monkeypatch, off)
    assert not step.certificate.certified and "off the simplex" in step.message, describe(step)


def test_the_honest_rowwise_answer_passes_the_recomputation(monkeypatch):
    step = _planted(monkeypatch, lambda rows: rows)
    assert step.converged and step.certificate.bound == 0.0, describe(step)


# ---------------------------------------------------------------------------- proofs_check
def test_a_local_certificate_never_fails_a_verdict():
    local = Certificate("local", None, 1e-9, False, "rowwise, best of 3 starts")
    tolerance = step_tolerance(GARNET, local, np.full(6, 1 / 6))
    assert tolerance.fail_threshold == np.inf


def test_the_fundamental_theorem_on_a_run_with_local_steps_is_not_failed():
    algorithm = MirrorAlgorithm.with_defaults(drifts.scaled(user_kl(convex=False), 2.0))
    report = proofs_check.check_fundamental_theorem(GARNET, algorithm, tm.uniform_policy(GARNET), 3)
    assert not any(verdict.failed for verdict in report.verdicts), report


# ---------------------------------------------------------------------------- drift shapes
def reverse_kl(policy, candidate):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(candidate > 0, candidate * np.log(candidate / policy), 0.0).sum(axis=1)


def reverse_kl_gradient(policy, candidate):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(candidate / policy) + 1.0


@pytest.mark.parametrize("scale", [0.5, 5.0], ids=["strong-step", "mild-step"])
def test_a_user_reverse_kl_is_the_softmax_step(scale):
    # was: a model step that set an entry to 0 was accepted (a reverse KL is finite there) and
    # the row stopped with an infinite gradient: no bound, 0.5 below the argmax
    user = drifts.CallableDrift(reverse_kl, reverse_kl_gradient, convex=True)
    mine, theirs = (
        tm.mirror_step(GRID, MirrorAlgorithm.with_defaults(drifts.scaled(d, scale)), POLICY)
        for d in (user, drifts.ReverseKL())
    )
    assert mine.solver == "rowwise" and mine.converged, describe(mine)
    assert theirs.objective - mine.objective <= mine.certificate.bound + 1e-12
    np.testing.assert_allclose(mine.policy, theirs.policy, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("function", "gradient", "built_in"),
    [
        (squared, lambda policy, candidate: 2 * (candidate - policy), drifts.SquaredEuclidean()),
        (kl, kl_gradient, drifts.ForwardKL()),
    ],
    ids=["squared-l2", "forward-kl"],
)
@pytest.mark.parametrize("scale", [0.5, 50.0], ids=["strong-step", "paper-scale"])
def test_boundary_and_barrier_drifts_match_the_closed_forms(function, gradient, built_in, scale):
    user = drifts.CallableDrift(function, gradient, convex=True)
    mine, theirs = (
        tm.mirror_step(GRID, MirrorAlgorithm.with_defaults(drifts.scaled(d, scale)), POLICY)
        for d in (user, built_in)
    )
    assert mine.solver == "rowwise" and mine.converged, describe(mine)
    np.testing.assert_allclose(mine.policy, theirs.policy, rtol=0, atol=1e-9)


@pytest.mark.parametrize("ball", BALLS, ids=["state-kl", "average-kl", "state-l2", "average-l2"])
def test_a_ball_with_a_user_drift_without_gradient(ball):
    # was: the rows' differences already contain the ball's term and the gradient subtracted
    # it a second time: the Lagrangian rows stopped far from their maximum (0.016 below the
    # argmax on a one-state MDP; the secant bound, 0.19, stayed valid but useless)
    with_gradient, without = pair(user_kl(), user_kl(gradient=False), neighbourhood=ball)
    policy = tm.random_policy(GARNET, 3)
    exact, mine = (tm.mirror_step(GARNET, a, policy) for a in (with_gradient, without))
    assert exact.converged and mine.solver.startswith("rowwise"), describe(mine)
    assert mine.neighbourhood_slack >= -1e-9
    assert exact.objective - mine.objective <= mine.certificate.bound + exact.certificate.bound
    assert mine.certificate.bound < 1e-5
    np.testing.assert_allclose(mine.policy, exact.policy, rtol=0, atol=1e-8)


@pytest.mark.parametrize("gradient", [True, False], ids=["gradient", "differences"])
@pytest.mark.parametrize(
    "ball",
    [nb.StateBall("kl", 0.02), nb.AverageBall("kl", 0.02, "uniform")],
    ids=["state", "average"],
)
def test_a_user_l2_drift_in_a_kl_ball(ball, gradient):
    # was: the multiplier search warm-started each row solve from the previous answer; the
    # L2 rows without the ball's term put some entries at (nearly) 0, where the KL term is
    # (nearly) infinite, and the solver stayed there: an answer outside the ball (caught by
    # re-verification) or 0.3 below the argmax, with bounds of 1e239
    mdp = mdps.garnet(2, 4, 2, seed=77, discount=0.9)
    policy = tm.interior_policy(mdp, 41)
    user = drifts.CallableDrift(
        squared, (lambda policy, candidate: 2 * (candidate - policy)) if gradient else None,
        convex=True,
    )  # fmt: skip
    mine, theirs = (
        tm.mirror_step(mdp, MirrorAlgorithm.with_defaults(drifts.scaled(d, 0.2212),
                                                          neighbourhood=ball), policy)
        for d in (user, drifts.SquaredEuclidean())
    )  # fmt: skip
    assert mine.solver.startswith("rowwise") and mine.neighbourhood_slack >= -1e-9, describe(mine)
    assert mine.converged or not gradient, describe(mine)
    assert theirs.objective - mine.objective <= mine.certificate.bound + theirs.certificate.bound
    np.testing.assert_allclose(mine.policy, theirs.policy, rtol=0, atol=1e-6)


def test_a_gradient_that_is_nan_on_infeasible_actions():
    # was: re-verification recomputed the Frank-Wolfe gap through the drift's checked
    # gradient, and a user's reverse-KL gradient log(pibar / pi) + 1 is NaN at the infeasible
    # actions (0 / 0), which are not part of the problem: "gradient_function returned NaN"
    user = drifts.CallableDrift(reverse_kl, reverse_kl_gradient, convex=True)
    policy = tm.interior_policy(MASKED, 4)
    mine, theirs = (
        tm.mirror_step(MASKED, MirrorAlgorithm.with_defaults(drifts.scaled(d, 2.0)), policy)
        for d in (user, drifts.ReverseKL())
    )
    assert mine.solver == "rowwise" and mine.converged, describe(mine)
    assert np.all(mine.policy[~MASKED.action_mask] == 0)
    np.testing.assert_allclose(mine.policy, theirs.policy, rtol=0, atol=1e-9)
