"""Negative controls of Xiao (2022) Theorem 10's check that the first ones missed.

A mutation run over ``proofs_check/classic.py::_grows,xiao_theorem_10`` (125 mutants) with
tests/quality/test_schedule_controls.py killed 79: the survivors were the hypothesis test's
edges (equality, the theta_rho branch, every pair of steps looked at), an explicitly given
algorithm or eta*, a run of no steps, gamma = 0, rho missing a state that pi* never visits,
pi_0 missing pi*'s action, the allowance's terms and the uncertified step. Each is pinned
here: the check must decide those cases as stated, with the reason or margin it states.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

import tabular_mirror as tm
from proofs_check._common import evaluation_error, recorded_error, value_scale
from proofs_check.classic import _grows, xiao_theorem_10
from proofs_check.lemmas import RunInfo
from tabular_mirror import instances
from tabular_mirror.results import Certificate
from tabular_mirror.schedules import geometric

MDP = tm.FiniteMDP(  # as in test_schedule_controls: pi* unique, pi_0 = uniform interior
    [[[0.5, 0.5], [0, 1], [0.9, 0.1]], [[0.8, 0.2], [0.1, 0.9], [0.5, 0.5]]],
    [[5, 10, 3], [-1, 2, 0]],
    0.9,
)
GROWING = instances.pmd(geometric("1/10", "10/9"))  # eta_{k+1} = eta_k / gamma


@pytest.fixture(scope="module")
def run():
    trace = tm.mirror_learning(MDP, GROWING, tm.uniform_policy(MDP), 8, tol=0.0)
    assert trace.iterations == 8 and trace.all_certified
    return trace


def with_gap(trace: tm.Trace, k: int, gap: float) -> tm.Trace:
    """The trace with eta* - eta(pi_k) = gap."""
    returns = np.array(trace.returns, copy=True)
    returns[k] = float(trace.optimal_return) - gap
    return replace(trace, returns=returns)


# ---------------------------------------------------------------------------- the hypothesis
def test_steps_growing_exactly_by_one_over_gamma_satisfy_it():
    # theta <= 1 switches the theta_rho branch off: only eta_{k+1} gamma >= eta_k decides
    assert _grows([1, 2], Fraction(1, 2), 1.0)[0] is True  # equality
    assert _grows([1, Fraction(19, 10)], Fraction(1, 2), 1.0)[0] is False


def test_every_pair_of_steps_is_looked_at():
    grows, why = _grows([1, 2, Fraction(39, 10)], Fraction(1, 2), 1.0)  # the 2nd pair fails
    assert grows is False and "eta_2 = 3.9" in why
    grows, why = _grows([1, 3, 4.5, 4.6], Fraction(1, 2), 3.0)  # theta branch, then a failure
    assert grows is False and "eta_3 = 4.6" in why


def test_the_theta_branch_is_theta_over_theta_minus_one():
    # eta_{k+1} (theta - 1) >= theta eta_k: with theta = 3, 1.5 after 1 holds with equality
    assert _grows([1, 1.5], Fraction(1, 2), 3.0)[0] is True
    assert _grows([2, 3], Fraction(1, 2), 3.0)[0] is True
    assert _grows([2, 2.9], Fraction(1, 2), 3.0)[0] is False
    grows, why = _grows([1, 1.4], Fraction(1, 2), 3.0)
    assert grows is False and "theta_rho/(theta_rho - 1) eta_0 = 1.5" in why


# ---------------------------------------------------------------------------- what is checked
def test_an_algorithm_given_for_a_run_info_is_the_one_used(run):
    verdict = xiao_theorem_10(RunInfo(run, None), algorithm=GROWING)
    assert verdict.passed, verdict


def test_an_algorithm_given_for_a_trace_overrides_the_provenance(run):
    # the provenance rebuilds GROWING (applicable, passed); the constant step given is not
    verdict = xiao_theorem_10(run, algorithm=instances.pmd(Fraction(1, 10)))
    assert verdict.inconclusive and "do not grow fast enough" in verdict.reason, verdict


def test_a_run_of_no_steps_has_nothing_to_check_and_one_step_is_checked():
    nothing = tm.mirror_learning(MDP, GROWING, tm.uniform_policy(MDP), 0)
    verdict = xiao_theorem_10(nothing)
    assert verdict.inconclusive and "took no steps" in verdict.reason, verdict
    one = tm.mirror_learning(MDP, GROWING, tm.uniform_policy(MDP), 1, tol=0.0)
    assert xiao_theorem_10(one).passed


def test_gamma_zero_is_not_applicable():
    myopic = tm.FiniteMDP(MDP.transitions, MDP.rewards, 0.0)
    trace = tm.mirror_learning(myopic, GROWING, tm.uniform_policy(myopic), 2, tol=0.0)
    verdict = xiao_theorem_10(trace)
    assert verdict.inconclusive and "needs gamma > 0" in verdict.reason, verdict


THREE_STATES = np.array(
    [  # from state 0 the optimal action stays in {0, 1}; state 2 is reached only by action 1
        [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]],
        [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]],
        [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]],
    ]
)
THREE_REWARDS = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])


def test_rho_may_miss_a_state_pi_star_never_visits():
    # pi* takes action 0 in states 0 and 1 and never reaches state 2: rho[2] = 0 is harmless
    mdp = tm.FiniteMDP(THREE_STATES, THREE_REWARDS, 0.9, [0.5, 0.5, 0.0])
    star = np.asarray(tm.solve(mdp).policy, dtype=float)
    assert star[0, 0] == 1 and star[1, 0] == 1
    trace = tm.mirror_learning(mdp, GROWING, tm.uniform_policy(mdp), 4, tol=0.0)
    verdict = xiao_theorem_10(trace)
    assert verdict.passed, verdict


def test_rho_missing_a_visited_state_is_not_applicable():
    # rho without a 1 anywhere, 0 at state 1, which pi* visits from state 0
    mdp = tm.FiniteMDP(THREE_STATES, THREE_REWARDS, 0.9, [0.6, 0.0, 0.4])
    trace = tm.mirror_learning(mdp, GROWING, tm.uniform_policy(mdp), 4, tol=0.0)
    verdict = xiao_theorem_10(trace)
    assert verdict.inconclusive and "rho = d is 0 at state 1" in verdict.reason, verdict


def with_policy0(trace: tm.Trace, policy0: np.ndarray) -> tm.Trace:
    policies = np.array(trace.policies, copy=True)
    policies[0] = policy0
    return replace(trace, policies=policies)


def test_pi_0_without_an_action_of_pi_star_where_pi_star_goes_is_not_applicable(run):
    star = np.asarray(tm.solve(MDP).policy, dtype=float)
    s, a = 0, int(np.argmax(star[0]))
    policy0 = np.full((2, 3), 1 / 3)
    policy0[s] = 0.5
    policy0[s, a] = 0.0  # pi* takes a at s, pi_0 never does: D*_0 infinite
    verdict = xiao_theorem_10(with_policy0(run, policy0))
    assert verdict.inconclusive and "D*_0" in verdict.reason, verdict


def test_pi_0_without_an_action_pi_star_does_not_take_is_checked(run):
    star = np.asarray(tm.solve(MDP).policy, dtype=float)
    other = int(np.argmin(star[0]))
    policy0 = np.full((2, 3), 1 / 3)
    policy0[0] = 0.5
    policy0[0, other] = 0.0  # a zero pi* does not need: D*_0 stays finite
    verdict = xiao_theorem_10(with_policy0(run, policy0))
    assert not verdict.inconclusive, verdict


def test_pi_0_without_pi_star_s_action_at_an_unvisited_state_is_checked():
    # was: D*_0 = NaN (0 x inf at the unvisited state): every slack NaN, undecided
    mdp = tm.FiniteMDP(THREE_STATES, THREE_REWARDS, 0.9, [0.5, 0.5, 0.0])
    trace = tm.mirror_learning(mdp, GROWING, tm.uniform_policy(mdp), 4, tol=0.0)
    star = np.asarray(tm.solve(mdp).policy, dtype=float)
    policy0 = np.full((3, 2), 0.5)
    policy0[2] = 1 - star[2]  # state 2 is never visited by pi* from rho
    verdict = xiao_theorem_10(with_policy0(trace, policy0))
    assert not verdict.inconclusive, verdict


# ---------------------------------------------------------------------------- eta* and allowance
def test_a_given_optimal_return_is_the_one_used(run):
    # eta* 100 higher: every gap grows by 100, the bound's constant too, so the late bounds
    # (contracted by (1 - 1/theta_rho)^k) fall below the gaps
    eta = float(run.optimal_return)
    assert xiao_theorem_10(run, optimal_return=eta).passed
    assert xiao_theorem_10(run, optimal_return=eta + 100).failed


def test_the_trace_s_optimal_return_is_used_when_recorded(run):
    assert xiao_theorem_10(replace(run, optimal_return=float(run.optimal_return) + 100)).failed


def test_without_a_recorded_optimum_it_is_computed():
    trace = tm.mirror_learning(MDP, GROWING, tm.uniform_policy(MDP), 4, tol=0.0, optimum=False)
    assert trace.optimal_return is None
    assert xiao_theorem_10(trace).passed


def test_the_allowance_is_two_recorded_errors_plus_the_evaluation_error_and_rounding(run):
    verdict = xiao_theorem_10(run)
    expected = (
        2 * recorded_error(run, *range(run.iterations + 1))
        + evaluation_error(MDP)
        + 1e-12 * value_scale(MDP)
    )
    assert verdict.tolerance.value == pytest.approx(expected, rel=1e-12)


def test_the_allowance_includes_the_last_policy_s_recorded_error(run):
    bounds = np.array(run.evaluation_error_bounds, dtype=float, copy=True)
    bounds[:] = 1e-12
    bounds[-1] = 0.05  # V_{pi_n}'s certified error, as recorded
    loose = replace(run, evaluation_error_bounds=bounds)
    slack = xiao_theorem_10(loose).margin
    bound_n = float(run.optimal_return) - float(run.returns[-1]) + slack
    verdict = xiao_theorem_10(with_gap(loose, run.iterations, bound_n + 0.09))
    assert not verdict.failed, verdict  # 0.09 < 2 x 0.05: what the recorded error explains
    verdict = xiao_theorem_10(with_gap(loose, run.iterations, bound_n + 0.11))
    assert verdict.failed, verdict


def test_a_violation_on_an_uncertified_run_is_undecided(run):
    bound_3 = float(run.optimal_return) - float(run.returns[3]) + 0.0
    planted = with_gap(run, 3, bound_3 + 10.0)
    assert xiao_theorem_10(planted).failed
    certificates = list(planted.certificates)
    certificates[1] = Certificate("local", None, 1e-9, False, "planted: not certified")
    verdict = xiao_theorem_10(replace(planted, certificates=tuple(certificates)))
    assert verdict.outcome == "inconclusive", verdict
    assert "not certified" in verdict.reason
