"""User pieces that see what the paper's drift may see: CallableDrift of the rows, of the rows
and the advantages, or of the context; SympyDrift with the advantage as a symbol.

Was: ``CallableDrift`` only received (pi, pibar): a three-argument function was accepted and
then failed with a bare TypeError inside the step; a ``SympyDrift`` with the advantage as a
symbol proved the axioms but could not run.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import sympy

import mdps
import proofs_check
import tabular_mirror as tm
from proofs_check.symbolic import prove_drift
from tabular_mirror import drifts
from tabular_mirror.algorithm import make_context
from tabular_mirror.context import Context
from tabular_mirror.errors import ExactnessError, InvalidParameterError

MDP = mdps.garnet(4, 3, 2, seed=3)
POLICY = tm.random_policy(MDP, 5)
CONTEXT = make_context(MDP, tm.instances.gpi(), POLICY)
CANDIDATE = tm.random_policy(MDP, 6)


def _rows(policy, candidate):
    return ((candidate - policy) ** 2).sum(axis=1)


def _weighted(policy, candidate, advantages):
    return (advantages**2 * (candidate - policy) ** 2).sum(axis=1)


def _of_context(context, candidate):
    return (context.advantages**2 * (candidate - context.policy) ** 2).sum(axis=1)


@pytest.mark.parametrize(
    ("function", "inputs"),
    [
        (_rows, "policy, candidate"),
        (_weighted, "policy, candidate, advantages"),
        (_of_context, "context, candidate"),
        (lambda p, q, a=None: _rows(p, q), "policy, candidate"),
        (lambda context, candidate: _rows(context.policy, candidate), "context, candidate"),
    ],
    ids=["rows", "advantages", "context", "optional-third", "context-lambda"],
)
def test_inputs_are_read_from_the_signature(function, inputs):
    assert drifts.CallableDrift(function).inputs == inputs


def test_each_form_receives_what_it_names():
    expected = (CONTEXT.advantages**2 * (CANDIDATE - POLICY) ** 2).sum(axis=1)
    for function in (_weighted, _of_context):
        drift = drifts.CallableDrift(function)
        np.testing.assert_array_equal(drift.value(CONTEXT, CANDIDATE), expected)
    seen = []
    drifts.CallableDrift(lambda context, candidate: seen.append(context) or _rows(
        context.policy, candidate)).value(CONTEXT, CANDIDATE)  # fmt: skip
    assert isinstance(seen[0], Context) and seen[0] is CONTEXT


def test_the_gradient_takes_the_same_inputs():
    drift = drifts.CallableDrift(
        _weighted, lambda p, q, a: 2 * a**2 * (q - p), name="weighted", convex=True
    )
    np.testing.assert_allclose(
        drift.gradient(CONTEXT, CANDIDATE), 2 * CONTEXT.advantages**2 * (CANDIDATE - POLICY)
    )


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"function": lambda policy: policy}, "takes 1 required positional argument \\(policy\\)"),
        ({"function": lambda a, b, c, d: a}, "takes 4 required positional arguments"),
        ({"function": max}, "cannot be read; pass inputs="),
        ({"function": lambda *rows: rows[0]}, "cannot be read; pass inputs="),
        ({"function": _rows, "gradient_function": lambda p: p}, "gradient_function takes 1"),
        ({"function": _rows, "inputs": "rows"}, "inputs = 'rows' is not one of"),
        ({"function": _rows, "inputs": "policy, candidate, advantages"}, "passes 3"),
        ({"function": lambda p, q, *, scale: p}, "keyword-only argument 'scale'"),
        ({"function": "not a function"}, "is not callable"),
    ],
    ids=["one", "four", "builtin", "star", "gradient", "unknown", "too-many", "kwonly", "str"],
)
def test_a_wrong_signature_is_refused_when_built(kwargs, needle):
    with pytest.raises(InvalidParameterError, match=needle) as error:
        drifts.CallableDrift(**kwargs)
    if "takes" in needle and "gradient" not in needle:  # the message says what is accepted
        assert "(policy, candidate, advantages) or (context, candidate)" in str(error.value)


def test_an_explicit_inputs_serves_a_function_whose_signature_cannot_be_read():
    drift = drifts.CallableDrift(np.frompyfunc(lambda p, q: 0.0, 2, 1), inputs="policy, candidate")
    assert drift.inputs == "policy, candidate"


def test_a_three_argument_drift_runs_a_step():
    # was: accepted, then TypeError: <lambda>() missing 1 required positional argument
    drift = drifts.CallableDrift(_weighted, name="weighted")
    algorithm = tm.MirrorAlgorithm.with_defaults(drift=drifts.scaled(drift, 5.0))
    step = tm.mirror_step(MDP, algorithm, POLICY)
    assert step.objective >= -1e-12 and step.status in ("converged", "not_certified")


def test_trial_value_keeps_nan_and_value_refuses_it():
    drift = drifts.CallableDrift(lambda p, q: np.full(len(p), np.nan), name="nan")
    assert np.isnan(drift.trial_value(CONTEXT, CANDIDATE)).all()
    with pytest.raises(InvalidParameterError, match="nan: function returned NaN"):
        drift.value(CONTEXT, CANDIDATE)


# ---------------------------------------------------------------- SympyDrift with advantages
P = sympy.symbols("p0:3", positive=True)
Q = sympy.symbols("q0:3", positive=True)
A = sympy.symbols("a0:3", real=True)
WEIGHTED = drifts.SympyDrift(
    sum(x**2 * (u - v) ** 2 for x, u, v in zip(A, P, Q, strict=True)), P, Q,
    advantage_symbols=A, name="advantage-weighted L2",
)  # fmt: skip


def test_sympy_drift_with_advantages_runs_vectorised():
    expected = (CONTEXT.advantages**2 * (CANDIDATE - POLICY) ** 2).sum(axis=1)
    np.testing.assert_allclose(WEIGHTED.value(CONTEXT, CANDIDATE), expected, rtol=1e-14)
    np.testing.assert_allclose(
        WEIGHTED.gradient(CONTEXT, CANDIDATE),
        2 * CONTEXT.advantages**2 * (CANDIDATE - POLICY),
        rtol=1e-13,
    )


def test_sympy_drift_with_advantages_is_exact_on_an_exact_mdp():
    mdp = mdps.exact_garnet(3, 3, 2, seed=0)
    context = make_context(mdp, tm.instances.gpi(), tm.uniform_policy(mdp))
    candidate = tm.deterministic_policy(mdp, [0, 1, 2])
    value = WEIGHTED.value(context, candidate)
    assert WEIGHTED.rational and all(isinstance(v, Fraction) for v in value)
    expected = (context.advantages**2 * (candidate - context.policy) ** 2).sum(axis=1)
    assert list(value) == list(expected)
    gradient = WEIGHTED.gradient(context, candidate)
    assert (gradient == 2 * context.advantages**2 * (candidate - context.policy)).all()


def test_an_irrational_sympy_drift_refuses_exact_arithmetic():
    kl = drifts.SympyDrift(sum(u * sympy.log(u / v) for u, v in zip(P, Q, strict=True)), P, Q)
    mdp = mdps.exact_garnet(3, 3, 2, seed=0)
    context = make_context(mdp, tm.instances.gpi(), tm.uniform_policy(mdp))
    assert not kl.rational
    with pytest.raises(ExactnessError, match="not a rational function"):
        kl.value(context, context.policy)


def test_the_zero_gradient_proof_holds_for_every_advantage_and_refutes_a_linear_term():
    assert prove_drift(WEIGHTED).passed
    tilted = drifts.SympyDrift(
        sum(x * (v - u) + (u - v) ** 2 for x, u, v in zip(A, P, Q, strict=True)), P, Q,
        advantage_symbols=A,
    )  # fmt: skip
    verdict = prove_drift(tilted)["definition_3_1_zero_gradient_proved"]
    assert verdict.failed
    point = verdict.witness["point"]  # a rational point and rational advantages
    assert {"p0", "a0", "a1"} <= set(point) and point["value"] != "0"


def test_a_drift_valid_because_advantages_average_to_zero_is_proved():
    # was: refuted ("nonzero at p = (1/3, 2/3), a = (2, 1)"): the prover tried advantages no
    # policy has; A_pi satisfies sum_a pi_a A_a = 0, and (sum_a q_a a_a)^2 is then 0 with a
    # zero gradient at q = p (the numerical check passes it too)
    squared_surrogate = drifts.SympyDrift(
        sum(x * v for x, v in zip(A, Q, strict=True)) ** 2, P, Q, advantage_symbols=A
    )
    report = prove_drift(squared_surrogate)
    assert report.passed, report.render(None)
    assert proofs_check.check_drift(squared_surrogate, MDP, POLICY).passed
    # the same identity does not rescue a first-order term: sum_a a_a q_a itself is refuted,
    # at a point whose a0 is the one the identity gives
    linear = drifts.SympyDrift(
        sum(x * v for x, v in zip(A, Q, strict=True)), P, Q, advantage_symbols=A
    )
    verdict = prove_drift(linear)["definition_3_1_zero_gradient_proved"]
    assert verdict.failed, verdict
    point = {k: sympy.Rational(v) for k, v in verdict.witness["point"].items() if k != "value"}
    assert sum(point[f"p{k}"] * point[f"a{k}"] for k in range(3)) == 0


def test_a_rational_sympy_drift_at_a_pole_is_infinite_in_exact_mode_too():
    # was: AttributeError: 'ComplexInfinity' object has no attribute 'p' (float mode: inf)
    neyman = drifts.SympyDrift(sum((v - u) ** 2 / v for u, v in zip(P, Q, strict=True)), P, Q)
    exact = MDP.to_exact() if not MDP.is_exact else MDP
    policy = tm.uniform_policy(exact)
    context = make_context(exact, tm.instances.gpi(), policy)
    candidate = policy.copy()
    candidate[0] = [Fraction(1), Fraction(0), Fraction(0)]
    values = neyman.value(context, candidate)
    assert values[0] == math.inf and values[1] == 0
    assert proofs_check.check_drift(neyman, exact).outcome != "failed"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"advantage_symbols": P}, "the symbols p0, p1, p2 appear more than once"),
        ({"candidate_symbols": P}, "the symbols p0, p1, p2 appear more than once"),
        ({"advantage_symbols": A[:2]}, "advantage_symbols has 2 symbols"),
        ({"expression": sympy.Symbol("z") * (P[0] - Q[0]) ** 2}, "uses z, which are not"),
        ({"expression": "p0 - q0"}, "is not a sympy expression"),
    ],
    ids=["advantages-are-policy", "candidate-is-policy", "short", "stray-symbol", "string"],
)
def test_a_malformed_sympy_drift_is_refused(kwargs, needle):
    arguments = {"expression": WEIGHTED.expression, "policy_symbols": P,
                 "candidate_symbols": Q, "advantage_symbols": A} | kwargs  # fmt: skip
    with pytest.raises(InvalidParameterError, match=needle):
        drifts.SympyDrift(**arguments)
