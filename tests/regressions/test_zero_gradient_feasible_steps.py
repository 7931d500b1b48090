"""Regression: Def. 3.1(2)'s zero-gradient check stepped outside the simplex. It took quotients
(D(pi + t v) - D(pi)) / t at fixed steps t = 1e-2 .. 1e-6 along v = e_a - e_b, so at a policy
with an entry of 2e-4 the move pi[s, b] - t went negative for t >= 1e-3: the forward KL and the
squared Hellinger distance (and a learned drift built from logarithms) returned NaN there and the
check reported ``FAIL ... nan`` (later ``INCONCLUSIVE``) for valid shipped drifts. Found by
running check_drift on a researcher's policy (issue 10). Steps are now exact moves no longer
than the natural scale min(pi[s, a], pi[s, b]); the drifts pass."""

import numpy as np
import pytest

import proofs_check
import tabular_mirror as tm
from tabular_mirror import drifts

MDP = tm.FiniteMDP(
    np.random.default_rng(0).dirichlet(np.ones(2), size=(2, 3)),
    np.random.default_rng(1).normal(size=(2, 3)),
    0.5,
)
POLICY = np.array([[2e-4, 0.5, 0.5 - 2e-4], [0.3, 0.3, 0.4]])


def _learned(policy, candidate):
    """sum_a w_a pi_a (r - 1 - log r), r = pibar / pi: a weighted Bregman drift."""
    weights = np.array([1.0, 0.5, 2.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = candidate / policy
        terms = np.where(policy > 0, weights * policy * (ratio - 1 - np.log(ratio)), 0.0)
    return terms.sum(axis=1)


DRIFTS = {
    "forward_kl": drifts.ForwardKL(),
    "squared_hellinger": drifts.SquaredHellinger(),
    "learned": drifts.CallableDrift(_learned, name="learned Bregman drift"),
}


@pytest.mark.parametrize("name", list(DRIFTS), ids=list(DRIFTS))
def test_entry_below_the_old_steps_passes(name):
    verdict = proofs_check.check_drift(DRIFTS[name], MDP, POLICY)["definition_3_1_zero_gradient"]
    assert verdict.passed, verdict
    assert np.isfinite(verdict.margin), verdict
    steps = verdict.witness["steps"]
    assert max(steps) <= 1e-4  # no step beyond min(pi[0, 0], .) / 2 = 1e-4 along that direction


def test_old_quotients_left_the_simplex():
    # what the old check evaluated: pi + 1e-2 (e_1 - e_0) has pi[0, 0] = 2e-4 - 1e-2 < 0
    context = proofs_check.definitions._context(MDP, POLICY, drifts.ForwardKL())
    direction = np.zeros_like(POLICY)
    direction[:, 1], direction[:, 0] = 1.0, -1.0
    quotients = proofs_check.definitions.difference_quotients(
        drifts.ForwardKL(), context, direction, (1e-2,)
    )
    assert np.isnan(quotients[0, 0])  # now refused (NaN) instead of evaluated off the simplex
    assert np.isfinite(quotients[0, 1])
