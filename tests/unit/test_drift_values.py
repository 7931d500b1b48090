"""Every shipped drift's value D_pi(pibar | s) against its closed form, state by state, in exact
Fractions (types kept) and floats, including the negative controls' values and the adaptive
and trust-region coefficients at their thresholds. The checkers decide inequality (13) and
Definition 3.1 from these numbers. Mutation testing (docs/mutation.md) found each assertion
missing.
"""

from __future__ import annotations

import math
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
import sympy

from tabular_mirror import drifts
from tabular_mirror.drifts import _in_mode

F = Fraction

#: pi and pibar on 2 states x 3 actions (S != A, so rows and columns cannot be confused).
PI = [[F(1, 2), F(3, 10), F(1, 5)], [F(1, 3), F(1, 3), F(1, 3)]]
BAR = [[F(7, 10), F(1, 10), F(1, 5)], [F(1, 2), F(1, 4), F(1, 4)]]
ADVANTAGES = [[F(1), F(2), F(-1)], [F(-3), F(1, 2), F(5)]]


def exact(rows):
    return np.array(rows, dtype=object)


def floats(rows):
    return np.array(rows, dtype=float)


def context(policy, advantages=ADVANTAGES, discount=0.9):
    array = exact if policy.dtype == object else floats
    return SimpleNamespace(policy=policy, advantages=array(advantages),
                           mdp=SimpleNamespace(discount=discount))  # fmt: skip


def closed_form(function):
    return [function(p, q) for p, q in zip(PI, BAR, strict=True)]


def kl(p, q):
    return sum(float(a) * math.log(float(a) / float(b)) for a, b in zip(p, q, strict=True) if a)


def tv(p, q):
    return sum(abs(a - b) for a, b in zip(p, q, strict=True)) / 2


def l2(p, q):
    return sum((a - b) ** 2 for a, b in zip(p, q, strict=True))


def chi2(p, q):
    return sum((b - a) ** 2 / a for a, b in zip(p, q, strict=True))


def hellinger(p, q):
    return sum((math.sqrt(a) - math.sqrt(b)) ** 2 for a, b in zip(p, q, strict=True)) / 2


CLOSED_FORMS = {
    "forward_kl": (drifts.ForwardKL(), kl),
    "reverse_kl": (drifts.ReverseKL(), lambda p, q: kl(q, p)),
    "squared_tv": (drifts.SquaredTV(), lambda p, q: tv(p, q) ** 2),
    "squared_l2": (drifts.SquaredEuclidean(), l2),
    "chi_squared": (drifts.ChiSquared(), chi2),
    "squared_hellinger": (drifts.SquaredHellinger(), hellinger),
    "total_variation": (drifts.TotalVariation(), tv),
    "scaled_l2": (drifts.scaled(drifts.SquaredEuclidean(), 3), lambda p, q: 3 * l2(p, q)),
    "sum": (
        drifts.added(drifts.SquaredEuclidean(), drifts.SquaredTV()),
        lambda p, q: l2(p, q) + tv(p, q) ** 2,
    ),
}


@pytest.mark.parametrize("name", list(CLOSED_FORMS), ids=list(CLOSED_FORMS))
def test_float_values_match_the_closed_form(name):
    drift, function = CLOSED_FORMS[name]
    values = drift.value(context(floats(PI)), floats(BAR))
    assert values.shape == (2,)
    assert values == pytest.approx([float(v) for v in closed_form(function)], rel=1e-12)


@pytest.mark.parametrize(
    "name", ["squared_tv", "squared_l2", "chi_squared", "total_variation", "scaled_l2", "sum"]
)
def test_rational_drifts_are_exact(name):
    drift, function = CLOSED_FORMS[name]
    values = drift.value(context(exact(PI)), exact(BAR))
    assert list(values) == closed_form(function)
    assert all(type(v) is F for v in values)


def test_in_mode():
    assert _in_mode(F(1, 5), floats(PI)) == 0.2 and type(_in_mode(F(1, 5), floats(PI))) is float
    assert _in_mode(0.2, exact(PI)) == F(0.2) and type(_in_mode(0.2, exact(PI))) is F
    assert _in_mode(F(1, 5), exact(PI)) == F(1, 5)
    assert _in_mode(3, exact(PI)) == 3 and type(_in_mode(3, exact(PI))) is int


def test_zero_drift():
    values = drifts.ZeroDrift().value(context(exact(PI)), exact(BAR))
    assert list(values) == [0, 0] and all(type(v) is F for v in values)
    one_action = exact([[F(1)], [F(1)]])
    assert list(drifts.ZeroDrift().value(context(one_action, [[0], [0]]), one_action)) == [0, 0]


# ---------------------------------------------------------------------------- PPO clip
#: eps = 1/5: state 0 clips to [0.4, 0.6] x [0.24, 0.36] x [0.16, 0.24]; state 1 to
#: [4/15, 2/5] per action. Terms (pibar - clip(pibar)) A: state 0: (0.1)(1), (-0.14)(2), 0;
#: state 1: (0.1)(-3) ... see below.
PPO_PI = [[F(1, 2), F(3, 10), F(1, 5)], [F(1, 3), F(1, 3), F(1, 3)], [F(1, 2), F(1, 2), F(0)]]
PPO_BAR = [[F(7, 10), F(1, 10), F(1, 5)], [F(1, 2), F(7, 20), F(3, 20)],
           [F(11, 20), F(1, 4), F(1, 5)]]  # fmt: skip
PPO_ADVANTAGES = [[F(1), F(2), F(-1)], [F(-3), F(1, 2), F(5)], [F(4), F(-1, 2), F(3, 2)]]


def _ppo_closed_form(epsilon):
    out = []
    for p_row, q_row, a_row in zip(PPO_PI, PPO_BAR, PPO_ADVANTAGES, strict=True):
        total = F(0)
        for p, q, a in zip(p_row, q_row, a_row, strict=True):
            clipped = min(max(q, p * (1 - epsilon)), p * (1 + epsilon))
            total += max((q - clipped) * a, F(0))
        out.append(total)
    return out


def test_ppo_clip_value():
    expected = _ppo_closed_form(F(1, 5))
    # state 0: action 0 is 1/10 above its clip with A = 1; action 1 is 7/50 below with A = 2
    # (no drift). State 1: nothing pays. State 2: action 1 is 3/20 below its clip with
    # A = -1/2 (3/40) and action 2, never taken by pi, pays pibar A = 3/10.
    assert expected == [F(1, 10), F(0), F(3, 8)]
    ppo = drifts.PPOClip()
    values = ppo.value(context(exact(PPO_PI), PPO_ADVANTAGES), exact(PPO_BAR))
    assert list(values) == expected and all(type(v) is F for v in values)
    floats_values = ppo.value(context(floats(PPO_PI), PPO_ADVANTAGES), floats(PPO_BAR))
    assert floats_values == pytest.approx([float(v) for v in expected], rel=1e-12, abs=1e-15)
    inside = exact([[F(21, 40), F(3, 10), F(7, 40)]])  # every ratio in [1 - eps, 1 + eps]
    quiet = ppo.value(context(exact(PPO_PI[:1]), PPO_ADVANTAGES[:1]), inside)
    assert list(quiet) == [0]
    wide = drifts.PPOClip(F(1, 2))
    assert list(wide.value(context(exact(PPO_PI), PPO_ADVANTAGES), exact(PPO_BAR))) == (
        _ppo_closed_form(F(1, 2))
    )


@pytest.mark.parametrize(
    ("advantage", "expected"), [(F(1, 2), F(1, 10)), (F(-1, 2), F(0)), (F(0), F(0))], ids=str
)
def test_ppo_clip_small_terms_count_and_negative_ones_do_not(advantage, expected):
    # both actions leave their clip [2/5, 3/5] by 1/10, with advantages a and -a: each term is
    # a/10, kept when positive (however small), dropped when negative
    pi, bar = exact([[F(1, 2), F(1, 2)]]), exact([[F(7, 10), F(3, 10)]])
    values = drifts.PPOClip().value(context(pi, [[advantage, -advantage]]), bar)
    assert list(values) == [expected]


# ---------------------------------------------------------------------------- negative controls
def test_linear_penalty():
    default = drifts.LinearPenalty(coefficient=3.0)
    values = default.value(context(floats(PI)), floats(BAR))
    expected = [3 * sum((q - p) * w for p, q, w in zip(pr, qr, range(3), strict=True))
                for pr, qr in zip(PI, BAR, strict=True)]  # fmt: skip
    assert values == pytest.approx([float(v) for v in expected], rel=1e-12)
    weighted = drifts.LinearPenalty(coefficient=2.0, weights=(5, -1, 2))
    values = weighted.value(context(floats(PI)), floats(BAR))
    assert values.dtype == float
    expected = [2 * sum((q - p) * w for p, q, w in zip(pr, qr, (5, -1, 2), strict=True))
                for pr, qr in zip(PI, BAR, strict=True)]  # fmt: skip
    assert values == pytest.approx([float(v) for v in expected], rel=1e-12)


def test_linear_penalty_exact():
    weighted = drifts.LinearPenalty(coefficient=0.5, weights=(0.25, 1, 2))
    values = weighted.value(context(exact(PI)), exact(BAR))
    expected = [F(1, 2) * sum((q - p) * w for p, q, w in zip(pr, qr, (F(1, 4), 1, 2), strict=True))
                for pr, qr in zip(PI, BAR, strict=True)]  # fmt: skip
    assert list(values) == expected and all(type(v) is F for v in values)
    default = drifts.LinearPenalty(coefficient=3)
    values = default.value(context(exact(PI)), exact(BAR))
    assert list(values) == [3 * sum((q - p) * w for p, q, w in zip(pr, qr, range(3), strict=True))
                            for pr, qr in zip(PI, BAR, strict=True)]  # fmt: skip


@pytest.mark.parametrize(
    ("mean", "scale"),
    [(0.75, 3.0), (0.7500001, 6.0), (0.5 / 1.5, 3.0), (0.5 / 1.5 - 1e-9, 1.5), (0.5, 3.0),
     (0.4, 3.0), (0.6, 3.0)],
    ids=["at-upper", "above", "at-lower", "below", "target", "between-low", "between-high"],
)  # fmt: skip
def test_adaptive_kl_scale(mean, scale):
    adaptive = drifts.AdaptiveKLPenalty(coefficient=3.0, target=0.5)
    assert adaptive._scale(np.array([mean])) == scale


def test_adaptive_kl_value():
    adaptive = drifts.AdaptiveKLPenalty(coefficient=3.0, target=0.5)
    kls = np.array([kl(p, q) for p, q in zip(PI, BAR, strict=True)])
    assert kls.mean() < 0.5 / 1.5  # small steps: half the coefficient
    values = adaptive.value(context(floats(PI)), floats(BAR))
    assert values == pytest.approx(1.5 * kls, rel=1e-12)


# ---------------------------------------------------------------------------- trust region
def test_trust_region_coefficient():
    assert drifts.TrustRegionKL(2).coefficient_for(context(floats(PI))) == 2.0
    classic = drifts.TrustRegionKL().coefficient_for(context(floats(PI), discount=0.9))
    assert classic == pytest.approx(4 * 0.9 * 5 / (1 - 0.9) ** 2, rel=1e-12)  # max |A| = 5


def test_trust_region_value():
    policy = floats(PI)
    values = drifts.TrustRegionKL(1).value(context(policy), floats(BAR))
    assert values == pytest.approx([kl(p, q) for p, q in zip(PI, BAR, strict=True)], rel=1e-12)
    scaled = drifts.TrustRegionKL(3).value(context(policy), floats(BAR))
    assert scaled == pytest.approx(3 * values, rel=1e-12)
    # pi optimal (A = 0): C = 0 and no penalty, not 0 x inf, even leaving pi's support
    leaving = floats([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    zero = drifts.TrustRegionKL().value(context(policy, [[0, 0, 0], [0, 0, 0]]), leaving)
    assert list(zero) == [0.0, 0.0]
    assert np.isinf(drifts.TrustRegionKL(1).value(context(policy), leaving)).all()


# ---------------------------------------------------------------------------- user drifts
def test_callable_drift():
    drift = drifts.CallableDrift(lambda p, q: ((p - q) ** 2).sum(axis=1), name="mine")
    values = drift.value(context(floats(PI)), floats(BAR))
    assert values == pytest.approx(CLOSED_FORMS["squared_l2"][0].value(context(floats(PI)),
                                                                        floats(BAR)))  # fmt: skip
    broken = drifts.CallableDrift(lambda p, q: np.zeros(3), name="mine")
    with pytest.raises(drifts.InvalidParameterError, match=r"mine: function returned shape"):
        broken.value(context(floats(PI)), floats(BAR))


def test_sympy_drift_value():
    p = sympy.symbols("p0:3")
    q = sympy.symbols("q0:3")
    drift = drifts.SympyDrift(sum((a - b) ** 2 for a, b in zip(p, q, strict=True)), p, q)
    expected = closed_form(CLOSED_FORMS["squared_l2"][1])
    values = drift.value(context(exact(PI)), exact(BAR))
    assert list(values) == expected and all(type(v) is F for v in values)
    approximate = drift.value(context(floats(PI)), floats(BAR))
    assert approximate.shape == (2,)
    assert approximate == pytest.approx([float(v) for v in expected], rel=1e-12)


def test_sympy_drift_float_candidate_in_an_exact_context():
    """A float candidate next to an exact pi (the float fallback of a check on an exact MDP)
    is evaluated in floats: every column is converted, so a logarithm never meets a Fraction."""
    p = sympy.symbols("p0:3")
    q = sympy.symbols("q0:3")
    drift = drifts.SympyDrift(sum(a * sympy.log(a / b) for a, b in zip(p, q, strict=True)), p, q)
    values = drift.value(context(exact(PI)), floats(BAR))
    assert values.dtype == float
    assert values == pytest.approx(closed_form(kl), rel=1e-12)
