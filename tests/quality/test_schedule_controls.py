"""Negative controls of the checks on scheduled runs (tabular_mirror.schedules).

- Xiao (2022), Theorem 10 (PMD with geometrically increasing steps): a run whose recorded
  delta_k exceeds the bound by a planted amount fails at that k with that margin; at the
  bound it passes; when the hypotheses do not hold (steps growing too slowly, another
  algorithm, rho not covering d^{pi*}_rho) it is "not applicable", even on planted evidence.
- Per-step claims on a scheduled run: a planted Lemma 3.3 violation at step k fails at step k
  with the planted margin, diagnosed with the algorithm of step k.
- Theorem 3.6 (2)-(4) on a run whose schedule changed the algorithm is never passed and never
  failed (a run that reached the optimum, a planted certified fixed point); with a constant
  schedule (one algorithm) it is decided as usual.

The oracle of the Xiao bound is computed here independently from its definition
(known_rates.md section 5): pi* by policy iteration, d^{pi*}_rho its normalised visitation,
theta_rho = max_s d^{pi*}_rho / rho / (1 - gamma), D*_0 = sum_s d^{pi*}_rho KL(pi* || pi_0).
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

import proofs_check
import tabular_mirror as tm
from proofs_check import fundamental, lemmas
from proofs_check.classic import XIAO_10, xiao_theorem_10
from tabular_mirror import drifts, instances
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.schedules import constant, geometric, inverse_time

DELTA = Fraction(1, 7)
EXACT_MDP = tm.FiniteMDP(
    [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
)
MDP = tm.FiniteMDP(  # 3 actions, so pi_0 = uniform is interior and pi* is unique
    [[[0.5, 0.5], [0, 1], [0.9, 0.1]], [[0.8, 0.2], [0.1, 0.9], [0.5, 0.5]]],
    [[5, 10, 3], [-1, 2, 0]],
    0.9,
)
GROWING = instances.pmd(geometric("1/10", "10/9"))  # eta_{k+1} = eta_k / gamma
ITERATIONS = 12


def l2_algorithm(factor) -> MirrorAlgorithm:
    return instances.custom(drifts.scaled(drifts.SquaredEuclidean(), factor), name="L2 scheduled")


def xiao_bounds(trace: tm.Trace, eta_0: float) -> list[float]:
    """(1 - 1/theta_rho)^k (delta_0 + D*_0 / (gamma eta_0)) for k = 0..n, from the definitions."""
    mdp = trace.mdp
    gamma = float(mdp.discount)
    solved = tm.solve(mdp)
    star = np.asarray(solved.policy, dtype=float)
    visitation = np.asarray(tm.evaluate(mdp, star).normalized_visitation, dtype=float)
    rho = np.asarray(mdp.initial, dtype=float)
    theta = float(np.max(visitation / rho)) / (1 - gamma)
    policy0 = np.asarray(trace.policies[0], dtype=float)
    kl = [
        sum(p * np.log(p / q) for p, q in zip(star[s], policy0[s], strict=True) if p > 0)
        for s in range(mdp.num_states)
    ]
    divergence = float(np.dot(visitation, kl))
    delta_0 = float(solved.expected_return) - float(trace.returns[0])
    constant_term = delta_0 + divergence / (gamma * eta_0)
    return [(1 - 1 / theta) ** k * constant_term for k in range(trace.iterations + 1)]


@pytest.fixture(scope="module")
def growing_trace():
    trace = tm.mirror_learning(MDP, GROWING, tm.uniform_policy(MDP), ITERATIONS, tol=0.0)
    assert trace.iterations == ITERATIONS and trace.all_certified
    return trace


def planted_gap(trace: tm.Trace, k: int, excess: float) -> tm.Trace:
    """The trace with delta_k = bound_k + excess (eta(pi_k) lowered accordingly)."""
    bound = xiao_bounds(trace, 0.1)[k]
    returns = np.array(trace.returns, copy=True)
    returns[k] = float(trace.optimal_return) - bound - excess
    return replace(trace, returns=returns)


# ---------------------------------------------------------------------------- Xiao, Theorem 10
def test_the_valid_run_passes(growing_trace):
    verdict = xiao_theorem_10(growing_trace)
    assert verdict.passed, verdict
    slacks = [b - (float(growing_trace.optimal_return) - float(r))
              for b, r in zip(xiao_bounds(growing_trace, 0.1), growing_trace.returns,
                              strict=True)]  # fmt: skip
    assert verdict.margin == pytest.approx(min(slacks), abs=1e-9)
    assert "theta_rho" in verdict.detail


@pytest.mark.parametrize("k", [1, 5, ITERATIONS], ids=lambda k: f"k{k}")
def test_a_planted_violation_fails_at_its_iteration(growing_trace, k):
    verdict = xiao_theorem_10(planted_gap(growing_trace, k, 0.25))
    assert verdict.failed, verdict
    assert verdict.worst_iteration == k
    assert verdict.margin == pytest.approx(-0.25, abs=1e-9)
    assert verdict.name == XIAO_10


def test_at_the_bound_it_passes(growing_trace):
    verdict = xiao_theorem_10(planted_gap(growing_trace, 4, 0.0))
    assert verdict.passed and abs(verdict.margin) < 1e-9, verdict


def test_a_violation_within_rounding_is_not_a_failure(growing_trace):
    verdict = xiao_theorem_10(planted_gap(growing_trace, 4, 1e-13))
    assert not verdict.failed, verdict


def test_the_failure_replays(growing_trace):
    planted = planted_gap(growing_trace, 3, 0.25)
    report = proofs_check.check_trace(planted, verify=False)
    verdict = report[XIAO_10]
    assert verdict.failed and verdict.worst_iteration == 3
    assert verdict.witness["expected"]["outcome"] == "failed"


@pytest.mark.parametrize(
    ("algorithm", "fragment"),
    [
        (instances.pmd(constant(1)), "do not grow fast enough"),
        (instances.pmd(geometric(1, "21/20")), "do not grow fast enough"),
        (instances.pmd(inverse_time(1, 1)), "do not grow fast enough"),
        (instances.ppo_kl(geometric(1, "1/2")), "policy mirror descent with the KL drift"),
        (l2_algorithm(geometric(1, "1/2")), "policy mirror descent with the KL drift"),
    ],
    ids=["constant", "too-slow", "shrinking", "ppo_kl", "l2"],
)
def test_hypotheses_that_do_not_hold_make_it_not_applicable(algorithm, fragment):
    trace = tm.mirror_learning(MDP, algorithm, tm.uniform_policy(MDP), 6, tol=0.0)
    for evidence in (trace, planted_gap(trace, 2, 5.0)):  # even a planted gap never fails
        verdict = xiao_theorem_10(evidence)
        assert verdict.inconclusive, verdict
        assert verdict.reason.startswith("not applicable") and fragment in verdict.reason


def test_rho_without_the_support_of_pi_star_is_not_applicable():
    mdp = tm.FiniteMDP(MDP.transitions, MDP.rewards, 0.9, [1.0, 0.0])
    trace = tm.mirror_learning(mdp, GROWING, tm.uniform_policy(mdp), 4, tol=0.0)
    verdict = xiao_theorem_10(trace)
    assert verdict.inconclusive and "theta_rho is infinite" in verdict.reason, verdict


def test_an_unknown_algorithm_is_undecided_not_applied(growing_trace):
    verdict = xiao_theorem_10(replace(growing_trace, provenance=None))
    assert verdict.inconclusive and "not known" in verdict.reason


# ---------------------------------------------------------------------------- per step
@pytest.fixture(scope="module")
def exact_scheduled_trace():
    algorithm = l2_algorithm(geometric(8, "1/2"))
    trace = tm.mirror_learning(EXACT_MDP, algorithm, tm.uniform_policy(EXACT_MDP), 4, tol=0)
    assert trace.exact and trace.all_certified and trace.schedule.changes
    return trace


@pytest.mark.parametrize(("k", "s"), [(0, 0), (1, 1), (3, 0)], ids=["k0s0", "k1s1", "k3s0"])
def test_a_planted_lemma_3_3_violation_fails_at_its_step(exact_scheduled_trace, k, s):
    trace = exact_scheduled_trace
    values = trace.values.copy()
    values[k + 1] = values[k + 1].copy()
    values[k + 1][s] = trace.values[k][s] - DELTA
    planted = replace(trace, values=values)
    report = proofs_check.check_trace(planted, verify=False)
    verdict = report["lemma_3_3_monotone_values"]
    assert verdict.failed and verdict.margin == -DELTA, verdict
    assert (verdict.worst_iteration, verdict.worst_state) == (k, s)
    assert verdict.diagnosis  # the hypotheses at pi_k, with the algorithm of step k
    assert lemmas.lemma_3_3_on_trace(planted).margin == -DELTA


def test_the_run_holds_every_per_step_claim(exact_scheduled_trace):
    report = proofs_check.check_trace(exact_scheduled_trace)
    for name in ("lemma_3_5_mirror_operator", "lemma_3_3_monotone_values",
                 "theorem_3_6_1_inequality_13", "theorem_3_6_1_return_monotone",
                 "drift_bound_8_step", "drift_bound_9_total"):  # fmt: skip
        assert report[name].passed and report[name].exact, report[name]


def test_the_diagnosis_uses_the_algorithm_of_the_step(exact_scheduled_trace):
    run = lemmas.RunInfo(exact_scheduled_trace, l2_algorithm(geometric(8, "1/2")))
    assert run.algorithm_at(2).drift.factor == 2
    assert run.algorithm_at(0).drift.factor == 8


# ---------------------------------------------------------------------------- Theorem 3.6
CONVERGENCE = (
    "theorem_3_6_2_value_convergence",
    "theorem_3_6_3_return_convergence",
    "theorem_3_6_4_convergence_to_optimal_policy",
)


def assert_not_applicable(report):
    for name in CONVERGENCE:
        verdict = report[name]
        assert verdict.inconclusive, verdict
        assert verdict.reason.startswith("not applicable: the algorithm changed"), verdict
        assert "drift.factor" in verdict.reason


def test_a_scheduled_run_that_reached_the_optimum_is_not_passed():
    # the same run with one algorithm passes (2)-(4): it reaches the optimum
    trace = tm.mirror_learning(MDP, GROWING, tm.uniform_policy(MDP), 60)
    assert trace.stop_reason == "optimal"
    assert_not_applicable(proofs_check.check_trace(trace))
    fixed = tm.mirror_learning(MDP, instances.pmd(10), tm.uniform_policy(MDP), 60)
    assert fixed.stop_reason == "optimal"
    report = proofs_check.check_trace(fixed)
    assert all(report[name].passed for name in CONVERGENCE)


@pytest.mark.parametrize("k", [0, 2], ids=["k0", "k2"])
def test_a_planted_fixed_point_of_a_scheduled_run_is_not_failed(exact_scheduled_trace, k):
    trace = exact_scheduled_trace
    objectives = trace.objectives.copy()
    objectives[k] = Fraction(0)  # the control that fails Theorem 3.6 on a one-algorithm run
    planted = replace(trace, objectives=objectives)
    report = proofs_check.check_trace(planted, verify=False)
    assert_not_applicable(report)
    for check in (fundamental.value_convergence, fundamental.return_convergence,
                  fundamental.limit_optimal):  # fmt: skip
        assert check(planted).inconclusive


def test_the_same_planted_fixed_point_fails_with_a_constant_schedule():
    algorithm = l2_algorithm(constant(2))
    trace = tm.mirror_learning(EXACT_MDP, algorithm, tm.uniform_policy(EXACT_MDP), 4, tol=0)
    assert not trace.schedule.changes
    objectives = trace.objectives.copy()
    objectives[1] = Fraction(0)
    verdict = fundamental.value_convergence(replace(trace, objectives=objectives))
    assert verdict.failed and verdict.worst_iteration == 1, verdict
