"""evaluate: closed forms, exact results, float results within their certified bounds, the
methods (dense, krylov, sparse_direct) agreeing on a large sparse MDP, and honest statuses.

Oracles: closed forms (MDPtoolbox's "small" MDP, one-state MDPs), then exact Fractions on the
same data. A float MDP obtained by ``to_float()`` is the exact MDP with every entry rounded
(relative error <= u = 2^-53), so float results are compared with exact ones within their
certified bound plus the effect of that rounding (see :func:`data_rounding`).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given

import tabular_mirror as tm
from proofs_check.strategies import mdps_and_policies
from tabular_mirror import evaluation
from tabular_mirror.errors import InvalidParameterError, InvalidPolicyError, NotConvergedError
from tabular_mirror.evaluation import DENSE_STATE_LIMIT

F = Fraction
UNIT_ROUNDOFF = 2.0**-53

SMALL = tm.FiniteMDP(
    [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
)
SMALL_OPTIMAL = [[0, 1], [1, 0]]


def describe(result) -> str:
    return (
        f"status={result.status!r} message={result.message!r} method={result.method!r} "
        f"error_bound={result.error_bound}"
    )


def data_rounding(mdp: tm.FiniteMDP) -> float:
    """Bound on ||V_pi(exact data) - V_pi(data rounded to doubles)||_inf for any policy.

    Rounding P, r, pi and gamma to doubles perturbs r_pi by <= 2.01 u ||r|| and each row of
    gamma P_pi by <= 3.01 u gamma in l1; the resolvent has norm <= 1/(1-gamma), and
    ||V_pi|| <= ||r|| / (1-gamma). A factor 4 covers the second-order terms.
    """
    gamma = float(mdp.discount)
    largest_reward = float(np.abs(np.asarray(mdp.rewards, dtype=float)).max())
    return 4 * UNIT_ROUNDOFF * (largest_reward + largest_reward / (1 - gamma)) / (1 - gamma)


def sparse_random_mdp(num_states: int, num_actions: int, branching: int, seed: int):
    """A float MDP with CSR transitions: ``branching`` distinct successors per (s, a)."""
    rng = np.random.default_rng(seed)
    rows = num_states * num_actions
    columns = np.array([rng.choice(num_states, branching, replace=False) for _ in range(rows)])
    weights = rng.dirichlet(np.ones(branching), size=rows)
    indptr = np.arange(0, rows * branching + 1, branching)
    transitions = sp.csr_matrix(
        (weights.ravel(), columns.ravel(), indptr), shape=(rows, num_states)
    )
    return tm.FiniteMDP(transitions, rng.uniform(size=(num_states, num_actions)), 0.9)


# ------------------------------------------------------------------ closed forms, exact mode


def test_small_mdp_closed_form():
    result = tm.evaluate(SMALL, SMALL_OPTIMAL)
    assert result.converged and result.status == "converged", describe(result)
    assert result.values.tolist() == [F(1825, 43), F(1550, 43)]
    assert result.expected_return == F(1825 + 1550, 86)
    assert sum(result.visitation) == 10
    assert sum(result.normalized_visitation) == 1
    assert result.error_bound == 0 and result.visitation_error_bound == 0 and result.residual == 0
    assert result.method == "exact" and result.exact and result.iterations == 0
    assert all(isinstance(v, Fraction) for v in result.q_values.ravel())
    assert result.message == tm.results.MESSAGES[("converged", "exact")]


@pytest.mark.parametrize(
    ("reward", "discount"),
    [("3", "0"), ("3", "1/2"), ("-2/3", "9/10"), ("1", "999/1000")],
    ids=["gamma_0", "gamma_half", "negative_reward", "gamma_0.999"],
)
def test_one_state_closed_form(reward, discount):
    mdp = tm.FiniteMDP([[[1]]], [[reward]], discount)
    result = tm.evaluate(mdp, [[1]])
    assert result.values[0] == F(reward) / (1 - F(discount))
    assert result.visitation[0] == 1 / (1 - F(discount))
    assert result.advantages[0, 0] == 0


def test_two_state_cycle_closed_form():
    # s0 -> s1 -> s0 deterministically, rewards 1 and 0: V0 = 1/(1 - g^2), V1 = g/(1 - g^2)
    mdp = tm.FiniteMDP([[[0, 1]], [[1, 0]]], [[1], [0]], "1/2", ["1", "0"])
    result = tm.evaluate(mdp, [[1], [1]])
    assert result.values.tolist() == [F(4, 3), F(2, 3)]
    # rho = sum_t g^t 1[s_t = s]: s0 at even t, s1 at odd t
    assert result.visitation.tolist() == [F(4, 3), F(2, 3)]


def test_exact_evaluation_of_a_policy_given_as_strings():
    result = tm.evaluate(SMALL, [["1/2", "1/2"], ["1/3", "2/3"]])
    assert result.exact and all(isinstance(v, Fraction) for v in result.values)
    assert result.policy[1, 1] == F(2, 3)


# ------------------------------------------------------------------ float vs exact


@given(mdps_and_policies(exact=True, initial="any"))
def test_float_agrees_with_exact_within_the_certified_bound(pair):
    mdp, policy = pair
    exact = tm.evaluate(mdp, policy)
    result = tm.evaluate(mdp.to_float(), np.array(policy, dtype=float))
    assert result.converged, describe(result)
    assert not result.exact and result.method == "dense"
    slack = data_rounding(mdp)
    gamma = float(mdp.discount)
    values_error = np.abs(result.values - np.array(exact.values, dtype=float)).max()
    assert values_error <= result.error_bound + slack, (values_error, describe(result))
    q_error = np.abs(result.q_values - np.array(exact.q_values, dtype=float)).max()
    assert q_error <= gamma * result.error_bound + 2 * slack + 1e-15, q_error
    return_error = abs(result.expected_return - float(exact.expected_return))
    assert return_error <= result.error_bound + slack, return_error
    visitation_error = np.abs(result.visitation - np.array(exact.visitation, dtype=float)).sum()
    visitation_slack = 4 * UNIT_ROUNDOFF * (mdp.num_states + 1) / (1 - gamma) ** 2
    assert visitation_error <= result.visitation_error_bound + visitation_slack, visitation_error


def test_float_closed_form_within_bound():
    result = tm.evaluate(SMALL.to_float(), SMALL_OPTIMAL)
    assert result.converged, describe(result)
    error = np.abs(result.values - [1825 / 43, 1550 / 43]).max()
    assert error <= result.error_bound + data_rounding(SMALL)
    assert 0 < result.error_bound < 1e-10


# ------------------------------------------------------------------ methods on a sparse MDP


@pytest.fixture(scope="module")
def large_sparse():
    mdp = sparse_random_mdp(3000, 3, 5, seed=0)
    assert mdp.num_states > DENSE_STATE_LIMIT
    policy = tm.random_policy(mdp, 1)
    results = {
        method: tm.evaluate(mdp, policy, method=method)
        for method in ("auto", "dense", "krylov", "sparse_direct")
    }
    return mdp, policy, results


def test_auto_picks_krylov_for_large_sparse(large_sparse):
    _, _, results = large_sparse
    assert results["auto"].method == "krylov", describe(results["auto"])
    assert results["auto"].iterations > 0


@pytest.mark.parametrize("method", ["auto", "dense", "krylov", "sparse_direct"])
def test_each_method_is_certified(large_sparse, method):
    _, _, results = large_sparse
    result = results[method]
    assert result.converged and result.status == "converged", describe(result)
    assert result.method == ("krylov" if method == "auto" else method)
    assert np.isfinite(result.error_bound) and result.error_bound > 0


@pytest.mark.parametrize(
    ("first", "second"),
    [("dense", "krylov"), ("dense", "sparse_direct"), ("krylov", "sparse_direct")],
    ids=["dense-krylov", "dense-sparse_direct", "krylov-sparse_direct"],
)
def test_methods_agree_within_certified_bounds(large_sparse, first, second):
    _, _, results = large_sparse
    a, b = results[first], results[second]
    values_gap = np.abs(a.values - b.values).max()
    assert values_gap <= a.error_bound + b.error_bound, (values_gap, describe(a), describe(b))
    visitation_gap = np.abs(a.visitation - b.visitation).sum()
    assert visitation_gap <= a.visitation_error_bound + b.visitation_error_bound, visitation_gap
    assert abs(a.expected_return - b.expected_return) <= a.error_bound + b.error_bound


def test_visitation_mass_on_large_sparse(large_sparse):
    mdp, _, results = large_sparse
    for method in ("dense", "krylov", "sparse_direct"):
        result = results[method]
        gap = abs(result.visitation.sum() - 1 / (1 - mdp.discount))
        assert gap <= result.visitation_error_bound, (method, gap)


def test_small_sparse_mdp_is_evaluated_dense():
    mdp = sparse_random_mdp(50, 2, 3, seed=1)
    result = tm.evaluate(mdp, tm.uniform_policy(mdp))
    assert result.method == "dense", describe(result)
    exact = tm.evaluate(mdp, tm.uniform_policy(mdp), method="sparse_direct")
    assert np.abs(result.values - exact.values).max() <= result.error_bound + exact.error_bound


# ------------------------------------------------------------------ honest statuses


def test_unreachable_tolerance_is_not_certified():
    result = tm.evaluate(SMALL.to_float(), SMALL_OPTIMAL, tolerance=1e-300)
    assert not result.converged and result.status == "not_certified", describe(result)
    assert result.message == tm.results.MESSAGES[("not_certified", "bound")]
    assert result.error_bound > 1e-300  # the real bound is reported, not the target
    with pytest.raises(NotConvergedError, match="not_certified") as raised:
        result.raise_for_status()
    assert raised.value.result is result


def test_unreachable_visitation_tolerance_is_not_certified():
    result = tm.evaluate(SMALL.to_float(), SMALL_OPTIMAL, visitation_tolerance=1e-300)
    assert result.status == "not_certified", describe(result)


def test_krylov_with_a_small_budget_reports_what_answered():
    mdp = sparse_random_mdp(300, 2, 4, seed=2)
    policy = tm.uniform_policy(mdp)
    result = tm.evaluate(mdp, policy, method="krylov", max_iterations=1, tolerance=1e-8)
    # GMRES may not certify within the budget; then sparse LU answers, labelled as such
    assert result.method in ("krylov", "sparse_direct"), describe(result)
    assert result.converged == (result.error_bound <= 1e-8), describe(result)
    reference = tm.evaluate(mdp, policy, method="dense")
    gap = np.abs(result.values - reference.values).max()
    assert gap <= result.error_bound + reference.error_bound, (gap, describe(result))


def test_krylov_unreachable_tolerance_is_not_certified():
    mdp = sparse_random_mdp(300, 2, 4, seed=2)
    tight = tm.evaluate(mdp, tm.uniform_policy(mdp), method="krylov", tolerance=1e-300)
    assert tight.status == "not_certified" and not tight.converged, describe(tight)
    assert tight.error_bound > 1e-300


def test_converged_result_raise_for_status_returns_itself():
    result = tm.evaluate(SMALL, SMALL_OPTIMAL)
    assert result.raise_for_status() is result


# ------------------------------------------------------------------ records and errors


def test_result_is_frozen_with_read_only_arrays():
    result = tm.evaluate(SMALL.to_float(), SMALL_OPTIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.values = None
    for name in ("policy", "values", "q_values", "advantages", "visitation"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(result, name)[0] = 0


def test_policy_is_copied_into_the_result():
    policy = np.array([[0.5, 0.5], [1.0, 0.0]])
    result = tm.evaluate(SMALL.to_float(), policy)
    policy[0] = [1.0, 0.0]
    assert result.policy[0, 0] == 0.5


@pytest.mark.parametrize("exact", [False, True], ids=["float", "exact"])
def test_summary_and_repr_render(exact):
    mdp = SMALL if exact else SMALL.to_float()
    result = tm.evaluate(mdp, SMALL_OPTIMAL)
    text = result.summary()
    for name in ("values", "expected_return", "error_bound", "status", "message", "method"):
        assert name in text, text
    assert "converged" in text
    assert repr(result).startswith("EvaluationResult(expected_return=")


def test_summary_shows_large_arrays_by_shape():
    mdp = sparse_random_mdp(50, 2, 3, seed=1)
    assert "array(50,)" in tm.evaluate(mdp, tm.uniform_policy(mdp)).summary()


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(InvalidParameterError, match=r"unknown method 'lu'.*'krylov'"):
        tm.evaluate(SMALL.to_float(), SMALL_OPTIMAL, method="lu")


def test_invalid_policy_is_rejected():
    with pytest.raises(InvalidPolicyError, match=r"policy\[1, :\] sums to 1/2"):
        tm.evaluate(SMALL, [[1, 0], ["1/2", 0]])


# ------------------------------------------------------------------ the small-MDP fast path


def test_the_callers_policy_is_never_made_read_only():
    """The small path keeps the policy without a copy only when it is its own (validated
    here); a policy given with validate=False is copied, the caller's array stays writable."""
    mdp = SMALL.to_float()
    for validate in (True, False):
        policy = np.array([[0.5, 0.5], [1.0, 0.0]])
        result = tm.evaluate(mdp, policy, validate=validate)
        assert policy.flags.writeable and result.policy is not policy
        assert not result.policy.flags.writeable
        policy[0] = [1.0, 0.0]
        assert result.policy[0, 0] == 0.5


def test_large_rewards_use_the_reward_scaled_tolerance():
    """The small path compares its bound with RELATIVE_TOLERANCE first and reads ||r_pi|| only
    when the bound is above it: rewards of 1e9 give bounds above 1e-10 that the default
    tolerance (relative to ||r_pi|| / (1 - gamma)) still certifies, within the true error."""
    exact = tm.FiniteMDP(
        [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
        [[5 * 10**9, 10**10], [-(10**9), 2 * 10**9]],
        "99/100",
    )
    mdp, policy = exact.to_float(), np.array(SMALL_OPTIMAL, dtype=float)
    # the small path itself certifies it (its fallback, LU, would report "dense" as well)
    small = evaluation._evaluate_small(mdp, policy, None, None)
    assert small is not None and small.converged and small.error_bound > 1e-10
    result = tm.evaluate(mdp, policy)
    assert result.converged and result.error_bound == small.error_bound, describe(result)
    truth = np.array(tm.evaluate(exact, SMALL_OPTIMAL).values, dtype=float)
    assert np.abs(result.values - truth).max() <= result.error_bound + data_rounding(exact)


def test_the_small_path_fills_each_field_as_the_general_path():
    """Field by field against LU (the general path): the same quantities within
    their bounds, and bounds of the same size (rewards of 1e6 make the values' bound a million
    times the visitation's, so two swapped fields would show)."""
    rng = np.random.default_rng(3)
    transitions = rng.dirichlet(np.ones(4), size=(4, 3))
    mdp = tm.FiniteMDP(transitions, 1e6 * rng.normal(size=(4, 3)), 0.8)
    policy = tm.random_policy(mdp, 5)
    small = evaluation._evaluate_small(mdp, policy, None, None)
    general = evaluation._evaluate_float(mdp, policy, None, None, "auto", 100, try_small=False)
    assert small is not None and small.converged and general.converged
    bound = small.error_bound + general.error_bound
    for name in ("values", "q_values", "advantages"):
        assert np.abs(getattr(small, name) - getattr(general, name)).max() <= 2 * bound, name
    assert abs(small.expected_return - general.expected_return) <= 2 * bound
    mass = small.visitation_error_bound + general.visitation_error_bound
    assert np.abs(small.visitation - general.visitation).sum() <= 2 * mass
    assert np.allclose(small.normalized_visitation, (1 - 0.8) * small.visitation)
    assert np.array_equal(small.policy, policy)
    for name in ("error_bound", "visitation_error_bound"):
        ratio = getattr(small, name) / getattr(general, name)
        assert 0.01 < ratio < 100, (name, ratio)
    assert small.error_bound > 1e4 * small.visitation_error_bound
    assert small.residual <= small.error_bound and small.method == general.method == "dense"
    assert (small.exact, small.iterations, small.status) == (False, 0, "converged")


def test_result_of_builds_what_the_constructor_builds():
    """``EvaluationResult.of`` / ``StepResult.of`` (the hot path's constructor) give the
    dataclass the same fields as its own __init__, defaults included, and refuse a wrong count."""
    result = tm.evaluate(SMALL.to_float(), SMALL_OPTIMAL)
    values = [getattr(result, f.name) for f in dataclasses.fields(result)]
    built = tm.EvaluationResult.of(*values[:-2])  # the two certified flags at their defaults
    for field in dataclasses.fields(result):
        assert getattr(built, field.name) is getattr(result, field.name) or (
            getattr(built, field.name) == getattr(result, field.name)
        ), field.name
    assert built.values_certified is True and built.visitation_certified is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.values = None
    with pytest.raises(TypeError, match="fields"):
        tm.EvaluationResult.of(*values[:3])
    step = tm.mirror_step(SMALL.to_float(), tm.instances.pmd(1.0), [[0.5, 0.5], [0.5, 0.5]])
    rebuilt = tm.StepResult(**{f.name: getattr(step, f.name) for f in dataclasses.fields(step)})
    again = tm.StepResult.of(*[getattr(rebuilt, f.name) for f in dataclasses.fields(rebuilt)])
    assert [f.name for f in dataclasses.fields(again)] == list(vars(again))
    assert all(getattr(again, n) is getattr(step, n) for n in vars(again))


def test_a_step_result_has_each_field_in_its_place():
    """mirror_step builds its result positionally (StepResult.of): every field holds its own
    quantity, on an algorithm where nu (the old visitation) differs from beta (uniform)."""
    from tabular_mirror import drift_distributions, drifts, neighbourhoods, sampling
    from tabular_mirror.algorithm import MirrorAlgorithm

    mdp = SMALL.to_float()
    algorithm = MirrorAlgorithm(
        drifts.ReverseKL(),
        drift_distributions.OldVisitation(),
        neighbourhoods.Everything(),
        sampling.UniformSampling(),
    )
    policy = np.array([[0.25, 0.75], [0.5, 0.5]])
    step = tm.mirror_step(mdp, algorithm, policy)
    evaluation_of_pi = tm.evaluate(mdp, policy)
    assert np.array_equal(step.old_policy, policy) and not np.array_equal(step.policy, policy)
    assert isinstance(step.evaluation, tm.EvaluationResult)
    assert np.array_equal(step.evaluation.values, evaluation_of_pi.values)
    assert np.array_equal(step.sampling, [0.5, 0.5])
    assert np.allclose(step.drift_weights, evaluation_of_pi.normalized_visitation)
    assert not np.allclose(step.drift_weights, step.sampling)
    assert np.allclose(step.state_drift, tm.divergences.kl(step.policy, policy))
    assert step.drift == pytest.approx(float(step.drift_weights @ step.state_drift))
    gain = float(step.sampling @ (step.policy * evaluation_of_pi.advantages).sum(axis=1))
    assert step.objective == pytest.approx(gain - step.drift)
    ratio = step.drift_weights / step.sampling
    expected = (step.policy * evaluation_of_pi.q_values).sum(axis=1) - ratio * step.state_drift
    assert np.allclose(step.mirror_values, expected)
    assert step.neighbourhood_slack == np.inf and step.solver == "reverse_kl"
    assert step.converged and step.status == "converged" and step.certificate.certified
    assert step.message == tm.results.message_for("converged", "step")
