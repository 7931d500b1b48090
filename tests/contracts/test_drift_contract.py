"""Definition 3.1 on every shipped drift; every negative control must fail an axiom.

Axioms checked per drift (Kuba et al. 2022, Def. 3.1, and the continuity of section 3):
value shape (S,), nonnegativity, D_pi(pi | s) = 0, the gradient (where provided) against
central finite differences, zero one-sided directional derivatives at pibar = pi along simplex
directions (both signs, shrinking steps: the quotient must go to 0), continuity along a segment.

Local builders below stand in for ``proofs_check.strategies`` (not committed when this suite
was written); replace them with ``mdps`` / ``policies`` strategies once it lands.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy

import proofs_check
import tabular_mirror as tm
from tabular_mirror import drifts
from tabular_mirror.algorithm import Context

# ------------------------------------------------------------------ local builders (see note)


def random_mdp(seed: int, num_states: int = 4, num_actions: int = 3) -> tm.FiniteMDP:
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.ones(num_states), size=(num_states, num_actions))
    return tm.FiniteMDP(transitions, rng.normal(size=(num_states, num_actions)), 0.9)


def interior_policy(rng: np.random.Generator, num_states: int, num_actions: int) -> np.ndarray:
    return rng.dirichlet(np.full(num_actions, 2.0), size=num_states) * 0.9 + 0.1 / num_actions


def context_for(mdp: tm.FiniteMDP, policy: np.ndarray) -> Context:
    return Context(mdp, policy, tm.evaluate(mdp, policy))


def simplex_direction(rng: np.random.Generator, policy: np.ndarray) -> np.ndarray:
    """A direction v with rows summing to 0, scaled so that policy +- v stays in the simplex."""
    v = rng.normal(size=policy.shape)
    v -= v.mean(axis=1, keepdims=True)
    scale = np.abs(v).max(axis=1, keepdims=True)
    return v / scale * policy.min(axis=1, keepdims=True) * 0.5


# ------------------------------------------------------------------ the axioms


def nonnegativity_violation(drift, context, candidates) -> float:
    """The most negative D_pi(pibar | s) over the candidates (0 if none is negative)."""
    return min(0.0, *(float(np.min(drift.value(context, c))) for c in candidates))


def directional_quotients(drift, context, direction, steps) -> np.ndarray:
    """max_s |(D_pi(pi + h v | s) - D_pi(pi | s)) / h| for each step h (one-sided)."""
    base = drift.value(context, context.policy)
    return np.array(
        [
            float(np.max(np.abs((drift.value(context, context.policy + h * direction) - base) / h)))
            for h in steps
        ]
    )


def largest_jump(drift, context, start, end, points) -> float:
    """max over consecutive grid points of |D(p_k+1) - D(p_k)| along the segment start -> end."""
    values = np.array(
        [drift.value(context, start + t * (end - start)) for t in np.linspace(0, 1, points)]
    )
    return float(np.abs(np.diff(values, axis=0)).max())


def continuity_ratio(drift, context, start, end) -> float:
    """Largest jump on a 10^4-point grid over that on a 10^2 grid: about 1/100 if continuous."""
    coarse = largest_jump(drift, context, start, end, 101)
    fine = largest_jump(drift, context, start, end, 10_001)
    return fine / max(coarse, 1e-300)


STEPS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


def _sympy_drift(num_actions: int) -> drifts.SympyDrift:
    p = sympy.symbols(f"p0:{num_actions}")
    q = sympy.symbols(f"q0:{num_actions}")
    return drifts.SympyDrift(sum((a - b) ** 2 for a, b in zip(p, q, strict=True)), p, q)


def _callable_drift() -> drifts.CallableDrift:
    return drifts.CallableDrift(
        lambda policy, candidate: ((candidate - policy) ** 4).sum(axis=1),
        lambda policy, candidate: 4 * (candidate - policy) ** 3,
        name="quartic",
        convex=True,
    )


EXTRA_DRIFTS = {
    "scaled_l2_x50": lambda: drifts.scaled(drifts.SquaredEuclidean(), 50),
    "scaled_kl_half": lambda: drifts.scaled(drifts.ForwardKL(), Fraction(1, 2)),
    "added_tv_kl": lambda: drifts.added(drifts.SquaredTV(), drifts.ReverseKL()),
    "added_l2_hellinger": lambda: drifts.added(
        drifts.SquaredEuclidean(), drifts.SquaredHellinger()
    ),
    "trust_region_kl_fixed": lambda: drifts.TrustRegionKL(coefficient=3.0),
    "ppo_clip_eps_0.1": lambda: drifts.PPOClip(0.1),
    "callable_quartic": _callable_drift,
    "sympy_squared_l2": lambda: _sympy_drift(3),
}
ALL_DRIFTS = {**drifts.DRIFTS, **EXTRA_DRIFTS}
SEEDS = (0, 1, 2)


def _describe(drift) -> str:
    return f"{drift!r} (is_drift={drift.is_drift})"


@pytest.fixture(params=SEEDS, ids=lambda s: f"seed{s}")
def setting(request):
    rng = np.random.default_rng(100 + request.param)
    mdp = random_mdp(request.param)
    policy = interior_policy(rng, mdp.num_states, mdp.num_actions)
    return rng, mdp, context_for(mdp, policy)


@pytest.mark.parametrize("name", list(ALL_DRIFTS), ids=list(ALL_DRIFTS))
def test_value_shape_nonnegative_and_zero_at_pi(name, setting):
    rng, mdp, context = setting
    drift = ALL_DRIFTS[name]()
    assert drift.is_drift, _describe(drift)
    at_pi = np.asarray(drift.value(context, context.policy), dtype=float)
    assert at_pi.shape == (mdp.num_states,), f"{_describe(drift)}: shape {at_pi.shape}"
    np.testing.assert_allclose(at_pi, 0.0, atol=1e-14, err_msg=f"{_describe(drift)}: D(pi|pi)")
    candidates = [
        rng.dirichlet(np.ones(mdp.num_actions), size=mdp.num_states) for _ in range(20)
    ] + [interior_policy(rng, mdp.num_states, mdp.num_actions) for _ in range(20)]
    for candidate in candidates:
        values = np.asarray(drift.value(context, candidate), dtype=float)
        assert values.shape == (mdp.num_states,), f"{_describe(drift)}: shape {values.shape}"
    violation = nonnegativity_violation(drift, context, candidates)
    assert violation >= -1e-14, f"{_describe(drift)}: D_pi(pibar|s) = {violation} < 0"


@pytest.mark.parametrize("name", list(ALL_DRIFTS), ids=list(ALL_DRIFTS))
def test_gradient_matches_finite_differences(name, setting):
    rng, mdp, context = setting
    drift = ALL_DRIFTS[name]()
    candidate = interior_policy(rng, mdp.num_states, mdp.num_actions)
    gradient = drift.gradient(context, candidate)
    if gradient is None:
        pytest.skip(f"{drift!r} provides no gradient")
    direction = simplex_direction(rng, candidate)
    h = 1e-6
    numeric = (
        np.asarray(drift.value(context, candidate + h * direction), dtype=float)
        - np.asarray(drift.value(context, candidate - h * direction), dtype=float)
    ) / (2 * h)
    analytic = (np.asarray(gradient, dtype=float) * direction).sum(axis=1)
    np.testing.assert_allclose(
        analytic, numeric, rtol=1e-5, atol=1e-7, err_msg=f"{_describe(drift)}: gradient"
    )


@pytest.mark.parametrize("sign", [1, -1], ids=["plus_v", "minus_v"])
@pytest.mark.parametrize("name", list(ALL_DRIFTS), ids=list(ALL_DRIFTS))
def test_zero_directional_derivative_at_pi(name, sign, setting):
    rng, _, context = setting
    drift = ALL_DRIFTS[name]()
    direction = sign * simplex_direction(rng, context.policy)
    quotients = directional_quotients(drift, context, direction, STEPS)
    # the one-sided quotient must go to 0 (it is O(h) for the smooth drifts, 0 for PPO clip)
    assert quotients[-1] <= 1e-4 * max(1.0, quotients[0]), (
        f"{_describe(drift)}: quotients {quotients} do not go to 0"
    )


@pytest.mark.parametrize("name", list(ALL_DRIFTS), ids=list(ALL_DRIFTS))
def test_continuous_along_a_segment(name, setting):
    rng, mdp, context = setting
    drift = ALL_DRIFTS[name]()
    end = interior_policy(rng, mdp.num_states, mdp.num_actions)
    ratio = continuity_ratio(drift, context, context.policy, end)
    assert ratio < 0.05, f"{_describe(drift)}: jumps do not shrink with the grid ({ratio})"


# ------------------------------------------------------------------ negative controls


def failed_axioms(drift, context, rng) -> list[str]:
    """Which of nonnegativity, zero derivative, continuity the drift fails on this context."""
    num_states, num_actions = context.policy.shape
    failures = []
    candidates = [rng.dirichlet(np.ones(num_actions), size=num_states) for _ in range(50)]
    if nonnegativity_violation(drift, context, candidates) < -1e-12:
        failures.append("nonnegativity")
    for _ in range(5):
        direction = simplex_direction(rng, context.policy)
        for sign in (1, -1):
            quotients = directional_quotients(drift, context, sign * direction, STEPS)
            if quotients[-1] > 1e-4 * max(1.0, quotients[0]):
                failures.append("zero derivative")
                break
        else:
            continue
        break
    for end in candidates[:10]:
        if continuity_ratio(drift, context, context.policy, end) >= 0.05:
            failures.append("continuity")
            break
    return failures


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("total_variation", "zero derivative"),
        ("linear_penalty", "nonnegativity"),
        ("adaptive_kl", "continuity"),
    ],
    ids=["total_variation", "linear_penalty", "adaptive_kl"],
)
def test_negative_controls_fail_an_axiom(name, expected, setting):
    rng, _, context = setting
    drift = drifts.NEGATIVE_CONTROLS[name]()
    assert not drift.is_drift, f"{drift!r} is registered as a drift"
    failures = failed_axioms(drift, context, rng)
    assert expected in failures, f"{drift!r} failed {failures}, expected {expected!r} among them"


def test_every_negative_control_is_covered():
    assert set(drifts.NEGATIVE_CONTROLS) == {"total_variation", "linear_penalty", "adaptive_kl"}


# ------------------------------------------------------------------ exact mode

RATIONAL = {
    "zero": drifts.ZeroDrift,
    "squared_tv": drifts.SquaredTV,
    "squared_l2": drifts.SquaredEuclidean,
    "chi_squared": drifts.ChiSquared,
    "ppo_clip": lambda: drifts.PPOClip(Fraction(1, 5)),
    "ppo_clip_float_epsilon": drifts.PPOClip,  # default epsilon = 0.2, a float
    "scaled_tv_x50": lambda: drifts.scaled(drifts.SquaredTV(), 50),
    "scaled_l2_float_half": lambda: drifts.scaled(drifts.SquaredEuclidean(), 0.5),
    "added_l2_chi": lambda: drifts.added(drifts.SquaredEuclidean(), drifts.ChiSquared()),
    "sympy_squared_l2": lambda: _sympy_drift(3),
}


def exact_setting():
    mdp = tm.FiniteMDP(
        [[["1/2", "1/4", "1/4"], ["1/3", "1/3", "1/3"]]] * 3,
        [[1, -2], ["1/2", 3], [0, "-1/3"]],
        "9/10",
    )
    policy = np.array([[Fraction(1, 3), Fraction(2, 3)]] * 3, dtype=object)
    candidate = np.array(
        [[Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 5), Fraction(4, 5)], [1, 0]],
        dtype=object,
    )
    candidate[2] = [Fraction(1), Fraction(0)]
    return mdp, Context(mdp, policy, tm.evaluate(mdp, policy)), candidate


@pytest.mark.parametrize("name", list(RATIONAL), ids=list(RATIONAL))
def test_rational_drifts_give_fractions(name):
    mdp, context, candidate = exact_setting()
    drift = RATIONAL[name]()
    if name == "sympy_squared_l2":
        drift = _sympy_drift(2)
    assert drift.rational, f"{drift!r} is not marked rational"
    values = drift.value(context, candidate)
    kinds = [type(v).__name__ for v in values]
    assert all(isinstance(v, Fraction) for v in values), f"{drift!r}: {kinds} for exact input"
    floats = np.asarray(
        drift.value(
            context.__class__(
                mdp.to_float(),
                np.asarray(context.policy, dtype=float),
                tm.evaluate(mdp.to_float(), np.asarray(context.policy, dtype=float)),
            ),
            np.asarray(candidate, dtype=float),
        ),
        dtype=float,
    )
    np.testing.assert_allclose(np.asarray(values, dtype=float), floats, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------ proofs_check.check_drift
# The checker itself on every drift: valid drifts pass Def. 3.1 (all four verdicts) where they
# apply, down to entries of 1e-12; KL-type drifts only in the interior (spec: "drifts only on
# the interior of Pi"); drifts that need support are checked at pi mixed with uniform and say so.

#: KL-type drifts without ``needs_support``: a drift in the interior only (derivative toward an
#: action pi never takes is nonzero), so they are checked at interior policies only.
INTERIOR_ONLY = {
    "forward_kl",
    "squared_hellinger",
    "trust_region_kl",
    "scaled_kl_half",
    "added_l2_hellinger",
    "trust_region_kl_fixed",
    "ppo_clip",  # at a face: a drift only where A_pi <= 0 at the zeros (quality controls)
    "ppo_clip_eps_0.1",
}
FACE_DRIFTS = [name for name in ALL_DRIFTS if name not in INTERIOR_ONLY]


def tiny_policy(rng: np.random.Generator, num_states: int, num_actions: int) -> np.ndarray:
    """An interior policy with one entry per row pushed down to 1e-12 .. 1e-6."""
    policy = interior_policy(rng, num_states, num_actions)
    columns = rng.integers(num_actions, size=num_states)
    policy[np.arange(num_states), columns] = 10.0 ** rng.uniform(-12, -6, num_states)
    return policy / policy.sum(axis=1, keepdims=True)


def face_policy(rng: np.random.Generator, num_states: int, num_actions: int) -> np.ndarray:
    """A policy with one zero per row (a face of Pi) and a 1e-12 entry in the first row."""
    policy = interior_policy(rng, num_states, num_actions)
    policy[np.arange(num_states), rng.integers(num_actions, size=num_states)] = 0.0
    row = policy[0]
    row[int(np.argmax(row > 0))] = 1e-12
    return policy / policy.sum(axis=1, keepdims=True)


def assert_definition_3_1(report) -> None:
    """Every verdict of check_drift passed (none merely undecided)."""
    assert report.complete, report.render(None)


@pytest.mark.parametrize("name", list(ALL_DRIFTS), ids=list(ALL_DRIFTS))
def test_check_drift_passes_with_entries_down_to_1e_12(name, setting):
    rng, mdp, _ = setting
    policy = tiny_policy(rng, mdp.num_states, mdp.num_actions)
    assert policy.min() < 1e-6
    report = proofs_check.check_drift(ALL_DRIFTS[name](), mdp, policy, samples=8)
    assert_definition_3_1(report)


@pytest.mark.parametrize("name", FACE_DRIFTS, ids=FACE_DRIFTS)
def test_check_drift_at_a_face_checks_the_given_policy(name, setting):
    rng, mdp, _ = setting
    policy = face_policy(rng, mdp.num_states, mdp.num_actions)
    drift = ALL_DRIFTS[name]()
    report = proofs_check.check_drift(drift, mdp, policy, samples=8)
    assert_definition_3_1(report)
    verdict = report["definition_3_1_zero_gradient"]
    mixed = "checked_policy" in verdict.witness
    assert mixed is drift.needs_support, verdict.witness.keys()
    assert ("mixed with 1/10 uniform" in verdict.detail) is drift.needs_support, verdict.detail
    if not drift.needs_support:
        # a one-sided direction at the face was checked (mass toward a zero entry)
        assert verdict.witness["directions"] > 0


@pytest.mark.parametrize(
    ("name", "claim"),
    [
        ("total_variation", "definition_3_1_zero_gradient"),
        ("linear_penalty", "definition_3_1_zero_gradient"),
        ("linear_penalty", "definition_3_1_nonnegative"),
        ("adaptive_kl", "drift_continuity"),
    ],
    ids=["total_variation", "linear_penalty_gradient", "linear_penalty_sign", "adaptive_kl"],
)
def test_check_drift_fails_every_negative_control(name, claim, setting):
    _, mdp, context = setting
    report = proofs_check.check_drift(drifts.NEGATIVE_CONTROLS[name](), mdp, context.policy)
    assert report[claim].failed, report.render(None)
