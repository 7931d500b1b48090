"""tabular_mirror.mirror_step's certificate logic and _verify's re-checks, on planted answers.

A solver's answer is certified only with a bound within the tolerance (and never when inexact);
a specialised solver that cannot certify is followed by the general one; and whatever the
solver says, the answer is re-checked: exact Fractions on the simplex, on the simplex within
1e-9 in float, inside N(pi), a finite objective no worse than staying at pi beyond the step's
own allowance. A failed re-check downgrades the status and the certificate. Every answer below
is planted through ``solver=`` (or a patched ``_solve``) so that each branch is hit with a
known outcome. Mutation testing (docs/mutation.md) found each assertion missing.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import drifts
from tabular_mirror import step as step_module
from tabular_mirror.algorithm import (
    MirrorAlgorithm,
    make_context,
    mirror_objective,
    mirror_operator,
)
from tabular_mirror.drift_distributions import SameAsSampling
from tabular_mirror.neighbourhoods import Everything, Neighbourhood
from tabular_mirror.results import Certificate, message_for
from tabular_mirror.sampling import UniformSampling

F = Fraction
EXACT = tm.FiniteMDP(
    [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
)
FLOAT = EXACT.to_float()
L2 = MirrorAlgorithm(drifts.scaled(drifts.SquaredEuclidean(), 2), SameAsSampling(), Everything(),
                     UniformSampling(), "L2 x2")  # fmt: skip


@dataclass(frozen=True)
class Slack(Neighbourhood):
    """A neighbourhood whose slack is a planted constant."""

    value: float = 0.0

    def slack(self, context, candidate):
        return self.value


def with_neighbourhood(neighbourhood):
    return MirrorAlgorithm(L2.drift, SameAsSampling(), neighbourhood, UniformSampling(), "L2")


def uniform(mdp):
    return tm.uniform_policy(mdp)


def answer(candidate, certificate=None):
    """A solver= returning the planted candidate (and certificate)."""

    def solver(algorithm, context):
        return candidate if certificate is None else (candidate, certificate)

    solver.__name__ = "planted"
    return solver


def exact_rows(rows):
    return np.array([[F(x) for x in row] for row in rows], dtype=object)


def argmax(mdp):
    return BEST[mdp.is_exact]


#: The certified argmax from the uniform policy (computed once, before any patching).
BEST = {m.is_exact: tm.mirror_step(m, L2, tm.uniform_policy(m)).policy for m in (EXACT, FLOAT)}


# ---------------------------------------------------------------------------- arguments
def test_arguments_are_checked():
    with pytest.raises(tm.InvalidParameterError, match="unknown choice 'best'"):
        tm.mirror_step(EXACT, L2, uniform(EXACT), choice="best")
    with pytest.raises(tm.InvalidParameterError, match="is not a MirrorAlgorithm"):
        tm.mirror_step(EXACT, "L2", uniform(EXACT))
    with pytest.raises(tm.InvalidParameterError, match="tolerance"):
        tm.mirror_step(FLOAT, L2, uniform(FLOAT), tolerance=-1.0)
    zero = tm.mirror_step(FLOAT, L2, uniform(FLOAT), tolerance=0)
    assert zero.certificate.tolerance == 0.0
    with pytest.raises(tm.InvalidPolicyError):
        tm.mirror_step(FLOAT, L2, np.array([[0.6, 0.6], [0.5, 0.5]]))
    nearly = np.array([[0.5 + 1e-9, 0.5], [0.5, 0.5]])  # off by 1e-9 > the row tolerance 1e-10
    assert tm.mirror_step(FLOAT, L2, nearly, validate=False).policy.shape == (2, 2)


def test_an_evaluation_must_be_the_policys_own():
    policy = uniform(FLOAT)
    own = tm.evaluate(FLOAT, policy)
    assert tm.mirror_step(FLOAT, L2, policy, evaluation=own).converged
    other = tm.evaluate(FLOAT, np.array([[1.0, 0.0], [0.5, 0.5]]))
    exact = tm.evaluate(EXACT, uniform(EXACT))
    wide = tm.FiniteMDP(np.full((2, 3, 2), 0.5), np.zeros((2, 3)), 0.5)
    for wrong in (other, exact, tm.evaluate(wide, uniform(wide))):
        with pytest.raises(tm.InvalidParameterError, match="not the evaluation of `policy`"):
            tm.mirror_step(FLOAT, L2, policy, evaluation=wrong)


def test_the_default_tolerance():
    assert tm.mirror_step(EXACT, L2, uniform(EXACT)).certificate.tolerance == 0
    small = tm.FiniteMDP(FLOAT.transitions, FLOAT.rewards / 1000, 0.9)  # max |A| < 1
    context = make_context(small, L2, uniform(small))
    assert np.abs(context.advantages).max() < 1
    assert tm.mirror_step(small, L2, uniform(small)).certificate.tolerance == 1e-9
    context = make_context(FLOAT, L2, uniform(FLOAT))
    largest = float(np.abs(context.advantages).max())
    assert largest > 1
    tolerance = tm.mirror_step(FLOAT, L2, uniform(FLOAT)).certificate.tolerance
    assert tolerance == pytest.approx(1e-9 * largest, rel=1e-12)
    given = tm.mirror_step(FLOAT, L2, uniform(FLOAT), tolerance=F(1, 4)).certificate.tolerance
    assert type(given) is float and given == 0.25
    exact = tm.mirror_step(EXACT, L2, uniform(EXACT), tolerance=0.25).certificate.tolerance
    assert type(exact) is F and exact == F(1, 4)


# ---------------------------------------------------------------------------- certificates
@pytest.mark.parametrize(
    ("claimed", "certified"),
    [
        (Certificate("duality_gap", 1e-12, None, True, "mine"), True),
        (Certificate("duality_gap", 1e-3, None, True, "mine"), False),  # above the tolerance
        (Certificate("duality_gap", None, None, True, "mine"), False),  # no bound
        (Certificate("inexact", 0.0, None, True, "mine"), False),  # inexact by design
        (Certificate("duality_gap", 0.0, None, False, "mine"), False),  # not claimed
    ],
    ids=["within", "above", "no-bound", "inexact", "not-claimed"],
)
def test_a_solvers_claim_is_rechecked(claimed, certified):
    step = tm.mirror_step(FLOAT, L2, uniform(FLOAT), solver=answer(argmax(FLOAT), claimed))
    assert step.certificate.certified is certified
    assert step.certificate.kind == claimed.kind and step.certificate.detail == "mine"
    assert step.certificate.tolerance == pytest.approx(1e-9 * 1.1652542372881356, rel=1e-6)
    assert step.solver == "planted"


def test_a_bound_equal_to_the_tolerance_certifies():
    claimed = Certificate("duality_gap", 0.5, None, True, "mine")
    step = tm.mirror_step(FLOAT, L2, uniform(FLOAT), tolerance=0.5,
                          solver=answer(argmax(FLOAT), claimed))  # fmt: skip
    assert step.certificate.certified and step.converged


def test_an_answer_without_a_certificate():
    best = tm.mirror_step(FLOAT, L2, uniform(FLOAT), solver=answer(argmax(FLOAT)))
    assert best.certificate.kind == "frank_wolfe_gap" and best.certificate.certified
    assert best.certificate.detail == "user solver" and best.certificate.bound <= 1e-9
    staying = tm.mirror_step(FLOAT, L2, uniform(FLOAT), solver=answer(uniform(FLOAT)))
    assert staying.certificate.kind == "frank_wolfe_gap" and not staying.certificate.certified
    assert staying.certificate.bound > 1e-3 and staying.status == "not_certified"
    # a Frank-Wolfe gap exactly equal to the tolerance certifies
    gap = staying.certificate.bound
    at_gap = tm.mirror_step(FLOAT, L2, uniform(FLOAT), tolerance=gap, solver=answer(uniform(FLOAT)))
    assert at_gap.certificate.bound == gap and at_gap.certificate.certified
    exact = tm.mirror_step(EXACT, L2, uniform(EXACT), solver=answer(argmax(EXACT)))
    assert exact.certificate.kind == "local" and exact.certificate.bound is None
    assert not exact.certificate.certified
    nameless = functools.partial(lambda algorithm, context: argmax(FLOAT))
    assert tm.mirror_step(FLOAT, L2, uniform(FLOAT), solver=nameless).solver == "user solver"


def test_the_built_in_solvers_certify():
    exact = tm.mirror_step(EXACT, L2, uniform(EXACT))
    assert exact.certificate.kind == "exact" and exact.certificate.bound == 0
    assert exact.certificate.certified and exact.status == "converged" and exact.converged
    assert exact.message == message_for("converged", "step")
    assert exact.solver == "squared_l2"
    floats = tm.mirror_step(FLOAT, L2, uniform(FLOAT))
    assert floats.certificate.kind == "kkt_residual" and floats.certificate.certified
    assert floats.solver == "squared_l2" and floats.certificate.detail == "closed form (squared_l2)"


@pytest.fixture
def planted_solve(monkeypatch):
    """Replace the automatic choice of solver by a planted answer."""

    def plant(result):
        monkeypatch.setattr(step_module, "_solve", lambda algorithm, context, choice: result)

    return plant


def test_an_exact_answer_needs_bound_zero(planted_solve):
    rows = argmax(EXACT)
    planted_solve((rows, "exact", F(1, 10), "planted", "slsqp"))
    step = tm.mirror_step(EXACT, L2, uniform(EXACT))
    assert not step.certificate.certified and step.status == "not_certified"
    assert step.message == message_for("not_certified", "step")
    planted_solve((rows, "exact", F(0), "planted", "slsqp"))
    assert tm.mirror_step(EXACT, L2, uniform(EXACT)).certificate.certified


@pytest.mark.parametrize(
    ("bound", "certified"), [(0.0, True), (1e-3, False), (None, False)], ids=str
)
def test_a_gap_bound_certifies_within_the_tolerance(planted_solve, bound, certified):
    planted_solve((argmax(FLOAT), "duality_gap", bound, "planted", "slsqp"))
    step = tm.mirror_step(FLOAT, L2, uniform(FLOAT))
    assert step.certificate.certified is certified
    assert step.certificate.kind == "duality_gap" and step.solver == "slsqp"


def test_a_gap_bound_equal_to_the_tolerance_certifies(planted_solve):
    tolerance = tm.mirror_step(FLOAT, L2, uniform(FLOAT)).certificate.tolerance
    planted_solve((argmax(FLOAT), "duality_gap", tolerance, "planted", "slsqp"))
    assert tm.mirror_step(FLOAT, L2, uniform(FLOAT)).certificate.certified


def test_an_exact_certificate_needs_bound_zero_in_float_mode_too(planted_solve):
    planted_solve((argmax(FLOAT), "exact", 1e-12, "planted", "slsqp"))  # within the tolerance
    assert not tm.mirror_step(FLOAT, L2, uniform(FLOAT)).certificate.certified


def test_an_uncertified_specialised_answer_is_followed_by_the_general_solver(planted_solve):
    planted_solve((uniform(FLOAT), "duality_gap", 1.0, "planted", "squared_l2"))
    step = tm.mirror_step(FLOAT, L2, uniform(FLOAT))
    assert step.solver == "slsqp"
    assert "fallback after squared_l2 (planted) was not certified" in step.certificate.detail
    assert np.allclose(step.policy, argmax(FLOAT), atol=1e-5)
    # a certified one is not
    planted_solve((argmax(FLOAT), "duality_gap", 0.0, "planted", "squared_l2"))
    kept = tm.mirror_step(FLOAT, L2, uniform(FLOAT))
    assert kept.solver == "squared_l2" and kept.certificate.detail == "planted"


def test_the_fallbacks_bound_certifies_within_the_tolerance(planted_solve, monkeypatch):
    planted_solve((uniform(FLOAT), "duality_gap", 1.0, "planted", "squared_l2"))
    tolerance = tm.mirror_step(FLOAT, L2, uniform(FLOAT)).certificate.tolerance
    for bound, certified in ((tolerance, True), (2 * tolerance, False), (None, False)):
        monkeypatch.setattr(
            step_module, "_fallback",
            lambda *args, bound=bound: (argmax(FLOAT), "duality_gap", bound, "fb", "slsqp"),
        )  # fmt: skip
        assert tm.mirror_step(FLOAT, L2, uniform(FLOAT)).certificate.certified is certified


# ---------------------------------------------------------------------------- _verify
def problems(step):
    return step.certificate.detail.partition("; failed re-verification: ")[2]


def assert_rejected(step, problem):
    assert step.status == "not_certified" and not step.converged, step
    assert not step.certificate.certified
    assert problem in problems(step), step.certificate.detail
    assert step.message.startswith(message_for("not_certified", "verification") + " ")
    assert step.message.endswith(problems(step))


def test_an_exact_answer_must_be_fractions_on_the_simplex():
    half = answer(np.array([[0.5, 0.5], [0.5, 0.5]]))
    assert_rejected(tm.mirror_step(EXACT, L2, uniform(EXACT), solver=half),
                    "the exact step returned non-Fraction entries")  # fmt: skip
    mixed = np.array([[F(1, 2), 0.5], [F(1, 2), F(1, 2)]], dtype=object)
    assert_rejected(tm.mirror_step(EXACT, L2, uniform(EXACT), solver=answer(mixed)),
                    "the exact step returned non-Fraction entries")  # fmt: skip
    negative = exact_rows([[F(3, 2), F(-1, 2)], [F(1, 2), F(1, 2)]])
    assert_rejected(tm.mirror_step(EXACT, L2, uniform(EXACT), solver=answer(negative)),
                    "a row is off the simplex")  # fmt: skip
    heavy = exact_rows([[1, 1], [F(1, 2), F(1, 2)]])
    assert_rejected(tm.mirror_step(EXACT, L2, uniform(EXACT), solver=answer(heavy)),
                    "a row is off the simplex")  # fmt: skip
    face = exact_rows([[0, 1], [F(1, 2), F(1, 2)]])  # zeros are on the simplex
    step = tm.mirror_step(EXACT, L2, uniform(EXACT), solver=answer(face))
    assert "failed re-verification" not in step.certificate.detail


@pytest.mark.parametrize(
    ("rows", "accepted"),
    [
        ([[1.0 + 1e-12, -1e-12], [0.5, 0.5]], True),  # exactly -1e-12: accepted
        ([[1.0 + 1e-11, -1e-11], [0.5, 0.5]], False),
        ([[0.5 + 5e-10, 0.5], [0.5, 0.5]], True),  # sum 1 + 5e-10
        ([[0.5 + 2e-9, 0.5], [0.5, 0.5]], False),  # sum 1 + 2e-9
        ([[0.5 - 2e-9, 0.5], [0.5, 0.5]], False),  # sum 1 - 2e-9
        ([[0.0, 1.0], [1.0, 0.0]], True),
    ],
    ids=["zero-ish", "negative", "sum-inside", "sum-above", "sum-below", "vertex"],
)
def test_a_float_answer_must_be_on_the_simplex_within_1e_9(rows, accepted):
    step = tm.mirror_step(FLOAT, L2, uniform(FLOAT), solver=answer(np.array(rows)))
    if accepted:
        assert "off the simplex" not in step.certificate.detail
    else:
        assert_rejected(step, "a row is off the simplex")


@pytest.mark.parametrize(
    ("mdp", "slack", "accepted"),
    [(EXACT, F(0), True), (EXACT, F(-1, 10**12), False), (EXACT, F(1, 2), True),
     (FLOAT, -1e-9, True), (FLOAT, -2e-9, False), (FLOAT, -1e-8, False)],
    ids=["exact-zero", "exact-negative", "exact-inside", "float-at-1e-9", "float-beyond",
         "float-far"],
)  # fmt: skip
def test_an_answer_must_be_inside_n(mdp, slack, accepted):
    algorithm = with_neighbourhood(Slack(slack))
    step = tm.mirror_step(mdp, algorithm, uniform(mdp), solver=answer(argmax(mdp)))
    assert step.neighbourhood_slack == slack
    if accepted:
        assert "outside N(pi)" not in step.certificate.detail
    else:
        assert_rejected(step, f"outside N(pi) (slack {slack})")


def test_an_answer_with_mass_on_an_infeasible_action_is_rejected():
    masked = tm.FiniteMDP(FLOAT.transitions, FLOAT.rewards, 0.9,
                          action_mask=[[True, True], [True, False]])  # fmt: skip
    start = np.array([[0.5, 0.5], [1.0, 0.0]])
    onto = np.array([[0.5, 0.5], [0.75, 0.25]])
    step = tm.mirror_step(masked, L2, start, solver=answer(onto))
    assert_rejected(step, "mass 0.25 on the infeasible action 1 of state 1")
    kept = tm.mirror_step(masked, L2, start, solver=answer(np.array([[0.25, 0.75], [1.0, 0.0]])))
    assert "infeasible" not in kept.certificate.detail
    assert (
        "infeasible"
        not in tm.mirror_step(FLOAT, L2, uniform(FLOAT), solver=answer(onto)).certificate.detail
    )


def test_the_objective_and_mirror_values_are_recomputed_from_the_pieces():
    candidate = exact_rows([[F(1, 3), F(2, 3)], [F(1, 4), F(3, 4)]])
    step = tm.mirror_step(EXACT, L2, uniform(EXACT), solver=answer(candidate))
    context = make_context(EXACT, L2, uniform(EXACT))
    beta = context.sampling_weights
    gain = [sum(c * a for c, a in zip(row, adv, strict=True))
            for row, adv in zip(candidate, context.advantages, strict=True)]  # fmt: skip
    drift = [2 * sum((c - p) ** 2 for c, p in zip(row, old, strict=True))
             for row, old in zip(candidate, uniform(EXACT), strict=True)]  # fmt: skip
    objective = sum(b * g for b, g in zip(beta, gain, strict=True)) - sum(
        b * d for b, d in zip(beta, drift, strict=True)
    )
    assert step.objective == objective == mirror_objective(L2, context, candidate)
    assert type(step.objective) is F
    assert list(step.state_drift) == drift
    assert step.drift == sum(b * d for b, d in zip(beta, drift, strict=True))
    expected = [sum(c * q for c, q in zip(row, qs, strict=True)) - d
                for row, qs, d in zip(candidate, context.q_values, drift, strict=True)]  # fmt: skip
    assert list(step.mirror_values) == expected
    assert list(step.mirror_values) == list(mirror_operator(L2, context, candidate))


def test_an_infinite_objective_is_rejected():
    forward = MirrorAlgorithm(drifts.ForwardKL(), SameAsSampling(), Everything(),
                              UniformSampling(), "KL")  # fmt: skip
    vertex = np.array([[1.0, 0.0], [0.5, 0.5]])  # KL(pi || pibar) = inf at state 0
    step = tm.mirror_step(FLOAT, forward, uniform(FLOAT), solver=answer(vertex))
    assert_rejected(step, "objective is -inf")
    assert math.isinf(step.objective)


def test_an_answer_worse_than_staying_beyond_its_allowance_is_rejected():
    worse = exact_rows([[F(3, 5), F(2, 5)], [F(3, 5), F(2, 5)]])
    context = make_context(EXACT, L2, uniform(EXACT))
    loss = mirror_objective(L2, context, worse)
    assert -1 < loss < 0  # worse than staying (objective 0), by less than 1
    step = tm.mirror_step(EXACT, L2, uniform(EXACT), solver=answer(worse))
    assert_rejected(step, f"objective {loss} is below staying at pi (0)")
    # an exact step gets no allowance, whatever tolerance it was given
    loose = tm.mirror_step(EXACT, L2, uniform(EXACT), tolerance=F(1, 4), solver=answer(worse))
    assert -F(1, 4) < loss and "is below staying at pi" in problems(loose)
    # staying itself is not worse than staying
    same = tm.mirror_step(EXACT, L2, uniform(EXACT), solver=answer(uniform(EXACT)))
    assert "below staying" not in same.certificate.detail


@pytest.mark.parametrize(
    ("bound", "accepted"),
    [(None, False), (1e-4, False), (2e-3, True), (0.0, False)],
    ids=["no-bound", "small-bound", "bound-covers", "bound-zero"],
)
def test_a_float_answer_may_fall_short_of_staying_by_its_bound_and_the_tolerance(bound, accepted):
    context = make_context(FLOAT, L2, uniform(FLOAT))
    direction = np.array([[1.0, -1.0], [1.0, -1.0]])
    # a step along the worse direction, losing about 1e-3 of objective
    for t in np.geomspace(1e-6, 1e-1, 200):
        candidate = uniform(FLOAT) + t * direction
        loss = -mirror_objective(L2, context, candidate)
        if loss > 1e-3:
            break
    assert 1e-3 < loss < 2e-3
    claimed = Certificate("duality_gap", bound, None, False, "mine")
    step = tm.mirror_step(FLOAT, L2, uniform(FLOAT), tolerance=1e-4,
                          solver=answer(candidate, claimed))  # fmt: skip
    if accepted:
        assert "below staying" not in step.certificate.detail
    else:
        assert_rejected(step, "is below staying at pi")
    # within the tolerance alone
    tight = tm.mirror_step(FLOAT, L2, uniform(FLOAT), tolerance=2e-3,
                           solver=answer(candidate, claimed))  # fmt: skip
    assert "below staying" not in tight.certificate.detail


def test_statuses_and_messages():
    by_design = Certificate("inexact", 0.0, None, False, "k steps")
    inexact = tm.mirror_step(FLOAT, L2, uniform(FLOAT), solver=answer(argmax(FLOAT), by_design))
    assert inexact.status == "not_certified" and not inexact.converged
    assert inexact.message == message_for("not_certified", "inexact")
    assert "failed re-verification" not in inexact.certificate.detail
    uncertified = tm.mirror_step(FLOAT, L2, uniform(FLOAT), solver=answer(uniform(FLOAT)))
    assert uncertified.message == message_for("not_certified", "step")
    assert "failed re-verification" not in uncertified.certificate.detail
    certified = tm.mirror_step(FLOAT, L2, uniform(FLOAT))
    assert certified.status == "converged" and certified.converged is True
    assert certified.message == message_for("converged", "step")
