"""The small-MDP fast paths compute what the general code computes.

Each shortcut taken for speed on small MDPs is checked against the plain computation:
``kl_from`` (pi's logarithms once) against ``kl``; the forward-KL Newton stopping one
confirming step early against iterating to the last ulp; the average ball's search, which
skips the unconstrained rows (lam = 0) when lam = 1 is already infeasible, against the
monotonicity that justifies it.
"""

from __future__ import annotations

import numpy as np
import pytest

from tabular_mirror import divergences
from tabular_mirror._steps import constrained, separable
from tabular_mirror.errors import ExactnessError


def _rows(seed: int, num_states: int = 7, num_actions: int = 4):
    rng = np.random.default_rng(seed)
    policy = rng.dirichlet(np.ones(num_actions), size=num_states)
    advantages = rng.normal(size=(num_states, num_actions))
    advantages -= (policy * advantages).sum(axis=1, keepdims=True)
    return policy, advantages


@pytest.mark.parametrize("seed", range(5))
def test_kl_from_is_kl(seed):
    policy, _ = _rows(seed)
    other, _ = _rows(seed + 100)
    with_zeros = other.copy()
    with_zeros[0, 1] = 0.0
    with_zeros[0] /= with_zeros[0].sum()
    divergence = divergences.kl_from(policy)
    for candidate in (other, policy, with_zeros):
        expected = divergences.kl(policy, candidate)
        assert np.array_equal(divergence(candidate), expected)
    assert np.isinf(divergence(with_zeros)[0])
    assert np.array_equal(divergence(other.tolist()), divergences.kl(policy, other))  # a list
    # a policy with zeros: every candidate goes through kl itself
    assert np.array_equal(
        divergences.kl_from(with_zeros)(policy), divergences.kl(with_zeros, policy)
    )


def test_kl_from_refuses_exact_arrays():
    from fractions import Fraction

    exact = np.array([[Fraction(1, 2), Fraction(1, 2)]], dtype=object)
    with pytest.raises(ExactnessError, match="KL"):
        divergences.kl_from(exact)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_forward_kl_newton_stop_loses_nothing(seed, scale, monkeypatch):
    """Stopping after a Newton step below NEWTON_STOP x gives the rows of iterating until the
    step is 0 to within a few ulps, with a duality gap at rounding level."""
    policy, advantages = _rows(seed)
    coefficient = scale * np.random.default_rng(seed).uniform(0.5, 2.0, size=len(policy))
    rows, gaps = separable.forward_kl_rows(policy, advantages, coefficient)
    monkeypatch.setattr(separable, "NEWTON_STOP", 0.0)
    reference, reference_gaps = separable.forward_kl_rows(policy, advantages, coefficient)
    assert np.abs(rows - reference).max() <= 1e-14
    # (the gap is a difference of values of size max(|A|, c): rounding relative to that)
    size = max(1.0, float(np.abs(advantages).max()), float(coefficient.max()))
    assert gaps.max() <= 1e-14 * size and reference_gaps.max() <= 1e-14 * size


def test_average_ball_skips_lam_zero_only_when_lam_one_is_infeasible():
    """c(lam) decreases in lam: when c(1) > radius the unconstrained rows are never solved;
    when c(1) <= radius they are, and they are the answer when they fit the ball."""
    policy, advantages = _rows(3)
    beta = np.full(len(policy), 1.0 / len(policy))
    ball = np.ones(len(policy))
    divergence = divergences.kl_from(policy)
    for radius, lam_zero_solved in ((1e-4, False), (10.0, True)):
        asked: list[float] = []

        def rows_for(extra, asked=asked):
            asked.append(float(extra.max()))
            return separable.forward_kl_rows(policy, advantages, extra)

        rows, multiplier, gap, slack = constrained.average_ball(
            rows_for, beta, ball, beta, divergence, radius, gap_tolerance=1e-12
        )
        assert (0.0 in asked) is lam_zero_solved, asked
        assert slack >= 0 and gap <= 1e-12 and np.allclose(rows.sum(axis=1), 1.0)
        if not lam_zero_solved:
            assert asked[0] == 1.0 and multiplier > 0


def test_average_ball_answers_lam_zero_when_the_unconstrained_rows_fit():
    """With a drift of its own (base c = 1) the rows at lam = 0 have a finite KL: inside a
    wide ball they are the answer (multiplier 0), found after lam = 1 was feasible."""
    policy, advantages = _rows(4)
    beta = np.full(len(policy), 1.0 / len(policy))
    asked: list[float] = []

    def rows_for(extra):
        asked.append(float(extra.max()))
        return separable.forward_kl_rows(policy, advantages, 1.0 + extra)

    rows, multiplier, gap, slack = constrained.average_ball(
        rows_for, beta, np.ones(len(policy)), beta, divergences.kl_from(policy), 10.0
    )
    assert asked == [1.0, 0.0] and multiplier == 0.0 and slack > 0
    unconstrained, gaps = separable.forward_kl_rows(policy, advantages, np.ones(len(policy)))
    assert np.array_equal(rows, unconstrained) and gap == float(beta @ gaps)


def test_forward_kl_rows_with_an_underflowing_start_are_finite():
    """c pi_a* below the float range (pi_a* = 1e-300, c = 1e-199) once went to the interior
    Newton, whose start x = c pi_a* was 0: a NaN row with an infinite gap (found by review)."""
    policy = np.array([[1e-300, 1.0], [0.5, 0.5]])
    advantages = np.array([[1.0, 0.0], [0.0, 1.0]])
    rows, gaps = separable.forward_kl_rows(policy, advantages, np.array([1e-199, 1.0]))
    assert np.all(np.isfinite(rows)) and np.all(np.isfinite(gaps))
    assert np.allclose(rows.sum(axis=1), 1.0) and rows.min() >= 0
