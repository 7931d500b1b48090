"""Negative controls for the classic oracles (proofs_check.classic) and the symbolic proofs:
evidence planted to violate each claim by a known amount must fail with that margin.

The oracles evaluate policies with ``tabular_mirror.evaluate`` and run ``mirror_learning``;
the controls wrap those so that one number is off by exactly 1/7 (exact MDPs), and check that
the verdict fails with margin -1/7 (or the planted count) at the planted place.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import sympy

import tabular_mirror as tm
from proofs_check import classic, symbolic
from tabular_mirror import drifts

DELTA = Fraction(1, 7)
MDP = tm.FiniteMDP(
    [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
)
POLICY = tm.uniform_policy(MDP)
CANDIDATE = tm.deterministic_policy(MDP, [1, 0])


def _shift_return_of(monkeypatch, target, amount):
    """tm.evaluate, except that eta(target) is moved by ``amount``."""
    real = tm.evaluate

    def planted(mdp, policy, **options):
        result = real(mdp, policy, **options)
        if np.array_equal(np.asarray(result.policy), np.asarray(target)):
            return replace(result, expected_return=result.expected_return + amount)
        return result

    monkeypatch.setattr(tm, "evaluate", planted)


def test_performance_difference_is_exact_and_fails_by_the_planted_amount(monkeypatch):
    held = classic.performance_difference(MDP, POLICY, CANDIDATE)
    assert held.passed and held.margin == 0 and held.exact
    _shift_return_of(monkeypatch, CANDIDATE, DELTA)
    verdict = classic.performance_difference(MDP, POLICY, CANDIDATE)
    assert verdict.failed and verdict.margin == -DELTA


def test_trpo_bound_fails_by_the_planted_amount(monkeypatch):
    held = classic.trpo_lower_bound(MDP, POLICY, CANDIDATE)
    assert held.passed and held.margin >= 0
    _shift_return_of(monkeypatch, CANDIDATE, -(held.margin + DELTA))
    verdict = classic.trpo_lower_bound(MDP, POLICY, CANDIDATE)
    assert verdict.failed and verdict.margin == -DELTA


def test_policy_iteration_count_fails_when_the_run_is_too_long(monkeypatch):
    held = classic.policy_iteration_count(MDP)
    assert held.passed
    real = tm.mirror_learning

    def stubborn(mdp, algorithm, policy0, iterations, **options):
        # a run that used every iteration it was given and did not reach the optimum
        trace = real(mdp, algorithm, policy0, 1, **options)
        padded = np.concatenate([trace.drifts, np.zeros(iterations - 1, dtype=object)])
        return replace(trace, drifts=padded, stop_reason="iterations")

    monkeypatch.setattr(tm, "mirror_learning", stubborn)
    verdict = classic.policy_iteration_count(MDP)
    assert verdict.failed and verdict.margin == -1  # bound + 1 iterations used


@pytest.mark.parametrize("check", [classic.npg_rate, classic.xiao_theorem_8])
def test_rate_bounds_fail_when_the_return_is_planted_below_them(monkeypatch, check):
    held = check(MDP, 1.0, 4)
    assert held.passed
    real = tm.mirror_learning

    def slow(mdp, algorithm, policy0, iterations, **options):
        trace = real(mdp, algorithm, policy0, iterations, **options)
        returns = trace.returns.copy()
        returns[-1] = returns[-1] - 1e6  # far below every rate bound
        return replace(trace, returns=returns)

    monkeypatch.setattr(tm, "mirror_learning", slow)
    verdict = check(MDP, 1.0, 4)
    assert verdict.failed and verdict.margin < -1e5


def test_symbolic_refutation_names_its_point():
    p, q = sympy.symbols("p0:2", positive=True), sympy.symbols("q0:2", positive=True)
    # zero at p and zero gradient: proved
    square = drifts.SympyDrift((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2, p, q)
    assert symbolic.prove_drift(square).passed
    # D(p, p) = p0 != 0: refuted at a rational point of the simplex, exactly
    shifted = drifts.SympyDrift((p[0] - q[0]) ** 2 + p[0], p, q)
    zero = symbolic.prove_drift(shifted)["definition_3_1_zero_at_policy_proved"]
    assert zero.failed and zero.witness["point"]["value"] == "1/2"
    # a cubic has zero gradient at q = p: proved, not refuted
    cubic = drifts.SympyDrift((p[0] - q[0]) ** 2 * (1 + q[0]), p, q)
    assert symbolic.prove_drift(cubic)["definition_3_1_zero_gradient_proved"].passed
