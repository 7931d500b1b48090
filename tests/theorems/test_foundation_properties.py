"""The foundation's mathematics as properties on generated MDPs (spec section 1).

- T_pi and T* are monotone gamma-contractions in the sup norm; V_pi is the fixed point of T_pi.
- sum_a pi[s, a] A_pi[s, a] = 0; sum_s rho_pi[s] = 1/(1-gamma); rho_pi . r_pi = eta(pi).
- The performance-difference identity
  eta(pibar) - eta(pi) = sum_s rho_pibar[s] sum_a pibar[s, a] A_pi[s, a]
  (Kakade and Langford 2002; Kuba et al. 2022, section 2).
- Policy, value and modified policy iteration and the LP agree on V*.

Exact mode asserts equalities of Fractions (no tolerance). Float mode asserts the documented
certified bounds, plus, when a float MDP is the rounding of an exact one, the effect of that
rounding on values (:func:`data_rounding`). Exact MDPs are kept small with discounts <= 3/4 so
that exact value iteration stays fast.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tabular_mirror as tm
from proofs_check.strategies import mdps, mdps_and_policies, policies

UNIT_ROUNDOFF = 2.0**-53

#: Small exact MDPs: exact value iteration needs about log(tol)/log(gamma) rational sweeps.
SMALL_EXACT = dict(
    exact=True,
    num_states=st.integers(1, 4),
    num_actions=st.integers(1, 3),
    discount=st.sampled_from(["1/2", "0", "1/4", "3/4"]),
    initial=st.sampled_from(["uniform", "any"]),
)


def describe(result) -> str:
    return f"status={result.status!r} message={result.message!r} method={result.method!r}"


def data_rounding(mdp: tm.FiniteMDP) -> float:
    """Bound on how far rounding an exact MDP (and policy) to doubles moves any V_pi or V*.

    The rounding perturbs r_pi by <= 2.01 u ||r|| and each row of gamma P_pi by <= 3.01 u gamma
    in l1; (I - gamma P_pi)^{-1} has norm <= 1/(1-gamma) and ||V|| <= ||r||/(1-gamma).
    """
    gamma = float(mdp.discount)
    largest = float(np.abs(np.asarray(mdp.rewards, dtype=float)).max())
    return 4 * UNIT_ROUNDOFF * (largest + largest / (1 - gamma)) / (1 - gamma)


@st.composite
def value_pairs(draw, mdp: tm.FiniteMDP, ordered: bool = False):
    """Two value vectors V, W of length S (W >= V entrywise when ``ordered``)."""
    if mdp.is_exact:
        entry = st.fractions(-10, 10, max_denominator=8)
        gap = st.fractions(0, 10, max_denominator=8)
    else:
        entry = st.floats(-10, 10, allow_subnormal=False)
        gap = st.floats(0, 10, allow_subnormal=False)
    dtype = object if mdp.is_exact else float
    size = mdp.num_states
    first = np.array(draw(st.lists(entry, min_size=size, max_size=size)), dtype=dtype)
    if ordered:
        second = first + np.array(draw(st.lists(gap, min_size=size, max_size=size)), dtype=dtype)
    else:
        second = np.array(draw(st.lists(entry, min_size=size, max_size=size)), dtype=dtype)
    return first, second


def sup_norm(vector) -> object:
    return max(abs(v) for v in vector)


def float_slack(mdp, *vectors) -> float:
    """Rounding allowance of one float Bellman application on these vectors."""
    scale = float(np.abs(np.asarray(mdp.rewards, dtype=float)).max())
    scale += max(float(np.abs(v).max()) for v in vectors)
    return 16 * (mdp.num_states + 2) * UNIT_ROUNDOFF * scale


# ------------------------------------------------------------------ Bellman operators


@st.composite
def operator_cases(draw, ordered: bool):
    mdp, policy = draw(mdps_and_policies(exact=st.booleans(), sparse=st.booleans()))
    return mdp, policy, draw(value_pairs(mdp, ordered))


@given(operator_cases(ordered=False))
def test_bellman_operators_are_gamma_contractions(case):
    mdp, policy, (first, second) = case
    distance = sup_norm(first - second)
    slack = 0 if mdp.is_exact else float_slack(mdp, first, second)
    for operator in (
        lambda v: tm.bellman_operator(mdp, policy, v),
        lambda v: tm.bellman_optimality_operator(mdp, v),
    ):
        image_distance = sup_norm(operator(first) - operator(second))
        assert image_distance <= mdp.discount * distance + slack, (image_distance, distance)


@given(operator_cases(ordered=True))
def test_bellman_operators_are_monotone(case):
    mdp, policy, (lower, upper) = case
    slack = 0 if mdp.is_exact else float_slack(mdp, lower, upper)
    for operator in (
        lambda v: tm.bellman_operator(mdp, policy, v),
        lambda v: tm.bellman_optimality_operator(mdp, v),
    ):
        low, high = operator(lower), operator(upper)
        assert all(h - lo >= -slack for lo, h in zip(low, high, strict=True)), (low, high)


@given(mdps_and_policies(exact=True, initial="any"))
def test_values_are_the_fixed_point_of_the_policy_operator(pair):
    mdp, policy = pair
    result = tm.evaluate(mdp, policy)
    assert np.all(tm.bellman_operator(mdp, policy, result.values) == result.values)


@given(mdps_and_policies(sparse=st.booleans()))
def test_float_values_are_a_near_fixed_point(pair):
    mdp, policy = pair
    result = tm.evaluate(mdp, policy)
    assert result.converged, describe(result)
    # ||T_pi V - V|| <= ||T_pi V - V_pi|| + ||V_pi - V|| <= (1 + gamma) error_bound
    residual = np.abs(tm.bellman_operator(mdp, policy, result.values) - result.values).max()
    bound = (1 + mdp.discount) * result.error_bound + float_slack(mdp, result.values)
    assert residual <= bound, (residual, bound, describe(result))


# ------------------------------------------------------------------ evaluation identities


@given(mdps_and_policies(exact=True, initial="any"))
def test_exact_evaluation_identities(pair):
    mdp, policy = pair
    result = tm.evaluate(mdp, policy)
    assert result.exact and result.error_bound == 0, describe(result)
    # sum_a pi A_pi = 0 in every state
    assert all(value == 0 for value in (policy * result.advantages).sum(axis=1))
    # the improper visitation has mass 1/(1-gamma); the normalised one is a distribution
    assert sum(result.visitation) == 1 / (1 - mdp.discount)
    assert sum(result.normalized_visitation) == 1
    assert all(v >= 0 for v in result.visitation)
    # rho_pi . r_pi = eta(pi) = d . V_pi
    assert (result.visitation * tm.policy_rewards(mdp, policy)).sum() == result.expected_return
    assert (mdp.initial * result.values).sum() == result.expected_return
    # Q = r + gamma P V and A = Q - V
    assert np.all(result.q_values == tm.q_from_values(mdp, result.values))
    assert np.all(result.advantages == result.q_values - result.values[:, None])


@st.composite
def policy_pairs(draw, **options):
    mdp = draw(mdps(**options))
    return mdp, draw(policies(mdp)), draw(policies(mdp))


@given(policy_pairs(exact=True, initial="any"))
def test_performance_difference_identity_exact(case):
    mdp, policy, candidate = case
    old, new = tm.evaluate(mdp, policy), tm.evaluate(mdp, candidate)
    surrogate = (new.visitation * (candidate * old.advantages).sum(axis=1)).sum()
    assert new.expected_return - old.expected_return == surrogate


@given(policy_pairs(sparse=st.booleans(), initial=st.sampled_from(["uniform", "any"])))
def test_performance_difference_identity_float(case):
    mdp, policy, candidate = case
    old, new = tm.evaluate(mdp, policy), tm.evaluate(mdp, candidate)
    assert old.converged and new.converged, (describe(old), describe(new))
    per_state = (candidate * old.advantages).sum(axis=1)
    surrogate = (new.visitation * per_state).sum()
    gap = abs(new.expected_return - old.expected_return - surrogate)
    # certified: eta errors, visitation l1 error times max |A|, A's error (1+gamma) eps_old
    # times the visitation mass, plus the rounding of the sums
    horizon = 1 / (1 - mdp.discount)
    largest = float(np.abs(old.advantages).max())
    bound = (
        new.error_bound
        + old.error_bound
        + new.visitation_error_bound * largest
        + (horizon + new.visitation_error_bound) * (1 + mdp.discount) * old.error_bound
        + 64 * (mdp.num_states + 2) * UNIT_ROUNDOFF * (horizon * largest + abs(new.expected_return))
    )
    assert gap <= bound, (gap, bound)


@given(mdps_and_policies(exact=True, initial="any"))
def test_float_evaluation_within_its_bound_of_the_exact_one(pair):
    mdp, policy = pair
    exact = tm.evaluate(mdp, policy)
    result = tm.evaluate(mdp.to_float(), np.array(policy, dtype=float))
    assert result.converged, describe(result)
    error = np.abs(result.values - np.array(exact.values, dtype=float)).max()
    assert error <= result.error_bound + data_rounding(mdp), (error, describe(result))


# ------------------------------------------------------------------ optimal values


@given(mdps(**SMALL_EXACT))
def test_methods_agree_on_optimal_values_exactly(mdp):
    reference = tm.solve(mdp, "policy_iteration")
    assert reference.converged and reference.residual == 0, describe(reference)
    optimal = reference.values
    # V* is the fixed point of T*: no advantage is positive
    assert np.all(tm.bellman_optimality_operator(mdp, optimal) == optimal)
    lp = tm.solve(mdp, "linear_programming")
    assert lp.converged and np.all(lp.values == optimal), describe(lp)
    for method in ("value_iteration", "modified_policy_iteration"):
        result = tm.solve(mdp, method)
        assert result.converged, describe(result)
        assert all(v <= w for v, w in zip(result.values, optimal, strict=True))
        assert sup_norm(optimal - result.values) <= result.error_bound, describe(result)
        if result.residual == 0:  # its greedy policy is optimal: the values are V* exactly
            assert np.all(result.values == optimal), describe(result)


@given(mdps(**SMALL_EXACT), st.sampled_from(tm.optimal.METHODS))
def test_float_solvers_within_their_bound_of_exact_optimal_values(mdp, method):
    optimal = np.array(tm.solve(mdp, "policy_iteration").values, dtype=float)
    result = tm.solve(mdp.to_float(), method)
    assert result.converged, describe(result)
    error = np.abs(result.values - optimal).max()
    assert error <= result.error_bound + data_rounding(mdp), (error, describe(result))


@given(mdps(sparse=st.booleans(), initial=st.sampled_from(["uniform", "positive"])))
def test_float_solvers_agree_within_their_bounds(mdp):
    results = {method: tm.solve(mdp, method) for method in tm.optimal.METHODS}
    reference = results["policy_iteration"]
    for method, result in results.items():
        assert result.converged, (method, describe(result))
        gap = np.abs(result.values - reference.values).max()
        assert gap <= result.error_bound + reference.error_bound, (method, gap, describe(result))


@given(mdps(**SMALL_EXACT), st.data())
def test_optimal_values_dominate_every_policy(mdp, data):
    optimal = tm.solve(mdp, "policy_iteration").values
    values = tm.evaluate(mdp, data.draw(policies(mdp))).values
    assert all(v <= w for v, w in zip(values, optimal, strict=True))
    assert isinstance(optimal[0], Fraction)
