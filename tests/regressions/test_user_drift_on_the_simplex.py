"""A user's drift is only ever evaluated on the simplex (issue 14).

Was: user drifts went to one joint SLSQP, which evaluates the objective off the simplex (entries
below 0, rows not summing to 1); a square root of a KL drift crashed the step with
"user drift: function returned NaN". The per-state solvers keep every trial point on each
state's simplex (face), and a NaN or inf at a trial point only rejects that point.
"""

from __future__ import annotations

import numpy as np
import pytest

import mdps
import tabular_mirror as tm
from tabular_mirror import drifts
from tabular_mirror import neighbourhoods as nb
from tabular_mirror.algorithm import MirrorAlgorithm


def _masked() -> tm.FiniteMDP:
    base = mdps.garnet(5, 3, 2, seed=3, discount=0.9)
    mask = np.array([[1, 1, 1], [1, 0, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=bool)
    return tm.FiniteMDP(base.transitions, base.rewards, 0.9, action_mask=mask)


TWO = tm.FiniteMDP([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.1, 0.9]]], [[1, 0], [0, 2]], 0.9)
MDPS = {"2x2": TWO, "garnet": mdps.garnet(6, 3, 2, seed=4, discount=0.9), "masked": _masked()}


class Recorder:
    """sqrt(KL(pi || pibar)) written naively: NaN where a KL of rounding rounds below 0 or a
    row leaves the simplex, inf on the boundary of pi's support; every call recorded."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def __call__(self, policy, candidate):
        self.seen.append(np.array(candidate, dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(policy > 0, policy * np.log(policy / candidate), 0.0)
            return np.sqrt(terms.sum(axis=1))

    def assert_on_the_simplex(self) -> None:
        assert self.seen
        rows = np.concatenate(self.seen)
        assert rows.min() >= 0, f"a call with an entry {rows.min()}"
        worst = np.abs(rows.sum(axis=1) - 1).max()
        assert worst <= 1e-12, f"a call with a row summing to 1 {worst:+.3g}"


NEIGHBOURHOODS = {
    "Pi": nb.Everything(),
    "state-kl-ball": nb.StateBall("kl", 0.05),
    "average-kl-ball": nb.AverageBall("kl", 0.05, "uniform"),
}


@pytest.mark.parametrize("region", NEIGHBOURHOODS, ids=list(NEIGHBOURHOODS))
@pytest.mark.parametrize("name", MDPS, ids=list(MDPS))
def test_a_square_root_of_kl_drift_runs_and_is_only_evaluated_on_the_simplex(name, region):
    mdp = MDPS[name]
    recorder = Recorder()
    drift = drifts.scaled(drifts.CallableDrift(recorder, name="sqrt KL"), 3.0)
    algorithm = MirrorAlgorithm.with_defaults(drift, neighbourhood=NEIGHBOURHOODS[region])
    trace = tm.mirror_learning(mdp, algorithm, tm.uniform_policy(mdp), 3)
    recorder.assert_on_the_simplex()
    assert trace.iterations == 3
    for certificate in trace.certificates:  # not declared convex: no bound is claimed
        assert certificate.kind == "local" and certificate.bound is None, certificate
        assert "per-state projected gradient" in certificate.detail
    if mdp.has_infeasible_actions:
        assert np.all(np.asarray(trace.policies)[:, ~mdp.action_mask] == 0)


def test_a_nan_gradient_claims_no_bound():
    # the derivative of sqrt(KL) at pibar = pi is 0 / 0: the user's gradient returns NaN there
    recorder = Recorder()

    def gradient(policy, candidate):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -policy / candidate / (2 * recorder(policy, candidate)[:, None])

    drift = drifts.CallableDrift(recorder, gradient, name="sqrt KL", convex=True)
    step = tm.mirror_step(TWO, MirrorAlgorithm.with_defaults(drift), tm.uniform_policy(TWO))
    recorder.assert_on_the_simplex()
    assert step.certificate.kind == "local" and not step.certificate.certified
    assert "gradient is not finite" in step.certificate.detail
