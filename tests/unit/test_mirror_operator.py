"""tabular_mirror.algorithm's arithmetic of the mirror operator, entry by entry: nu/beta with
0/0 = 0 and nu/0 = inf, (nu/beta) D with 0 x anything = 0, weighted sums that skip zero weights,
in exact Fractions (types kept) and in floats, and the objective and operator assembled from
them. The checkers read these numbers (inequality (13)'s bound, Lemma 3.5's mirror values), so
each convention is pinned. Mutation testing (docs/mutation.md) found each assertion missing.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import tabular_mirror as tm
from tabular_mirror import drifts
from tabular_mirror.algorithm import (
    MirrorAlgorithm,
    drift_penalty,
    drift_ratio,
    make_context,
    mirror_objective,
    mirror_operator,
    state_drift,
    total_drift,
    weighted_sum,
)
from tabular_mirror.drift_distributions import FixedDrift
from tabular_mirror.neighbourhoods import Everything
from tabular_mirror.sampling import FixedSampling

F = Fraction
INF = math.inf


def exact(*values):
    return np.array([v if isinstance(v, float) else F(v) for v in values], dtype=object)


def floats(*values):
    return np.array(values, dtype=float)


# ---------------------------------------------------------------------------- drift_ratio
def test_drift_ratio_exact():
    ratio = drift_ratio(exact(F(1, 2), 0, F(1, 3), F(1, 2), 0), exact(F(1, 4), 0, 0, 1, F(1, 2)))
    assert ratio.dtype == object
    assert list(ratio) == [2, 0, INF, F(1, 2), 0]
    assert [type(r) for r in ratio] == [F, F, float, F, F]


def test_drift_ratio_float():
    ratio = drift_ratio(floats(0.5, 0.0, 1 / 3, 0.5, 1.0), floats(0.25, 0.0, 0.0, 1.0, 2.0))
    assert ratio.dtype == float
    assert list(ratio) == [2.0, 0.0, INF, 0.5, 0.5]


# ---------------------------------------------------------------------------- drift_penalty
def test_drift_penalty_exact():
    weights = exact(F(1, 2), 0, F(1, 2), F(1, 2), F(1, 2), F(1, 4))
    sampling = exact(F(1, 4), F(1, 2), 0, F(1, 2), F(1, 4), F(1, 2))
    # ratios 2, 0, inf, 1, 2, 1/2
    values = exact(F(1, 3), 5, 0, F(1, 5), 1, 6)
    penalty = drift_penalty(weights, sampling, values)
    assert penalty.dtype == object
    assert list(penalty) == [F(2, 3), 0, 0, F(1, 5), 2, 3]
    assert all(type(p) is F for p in penalty)


def test_drift_penalty_float():
    weights = floats(0.5, 0.0, 0.5, 0.5, 0.5, 0.25)
    sampling = floats(0.25, 0.5, 0.0, 0.5, 0.25, 0.5)
    values = floats(1 / 3, INF, 0.0, 0.2, 1.0, 6.0)  # 0 x inf = 0 where nu = 0
    penalty = drift_penalty(weights, sampling, values)
    assert penalty.dtype == float
    assert list(penalty) == [2 / 3, 0.0, 0.0, 0.2, 2.0, 3.0]


@pytest.mark.parametrize(
    ("weights", "sampling", "values", "expected"),
    [((0.5, 0.0), (0.5, 0.5), (1.0, INF), [1.0, 0.0]),  # finite ratio, an infinite drift
     ((0.5, 0.5), (0.5, 0.0), (1.0, 0.0), [1.0, 0.0])],  # an infinite ratio, finite drifts
    ids=["infinite-drift", "infinite-ratio"],
)  # fmt: skip
def test_drift_penalty_masks_when_either_factor_is_infinite(weights, sampling, values, expected):
    """0 x inf is 0 whichever factor is the infinite one (the plain product would be NaN):
    one infinite array is enough to need the masked product."""
    with np.errstate(all="raise"):  # the masked product computes no 0 x inf
        penalty = drift_penalty(floats(*weights), floats(*sampling), floats(*values))
    assert list(penalty) == expected


# ---------------------------------------------------------------------------- weighted_sum
def test_weighted_sum_exact():
    total = weighted_sum(exact(F(1, 2), 0, F(1, 4), 1), exact(F(1, 3), INF, 2, F(1, 5)))
    assert total == F(1, 6) + F(1, 2) + F(1, 5) and type(total) is F
    zero = weighted_sum(exact(0, 0), exact(INF, 1))
    assert zero == 0 and type(zero) is F
    one = weighted_sum(exact(1), exact(F(3, 7)))
    assert one == F(3, 7) and type(one) is F


def test_weighted_sum_float():
    assert weighted_sum(floats(0.5, 0.0, 0.5), floats(1.0, INF, 3.0)) == 2.0
    assert weighted_sum(floats(1.0), floats(0.25)) == 0.25
    assert type(weighted_sum(floats(1.0), floats(0.25))) is float


# ---------------------------------------------------------------------------- assembled
#: beta = (1/4, 3/4), nu = (1/2, 1/2): ratios 2 and 2/3.
MDP = tm.FiniteMDP(
    [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
)
ALGORITHM = MirrorAlgorithm(
    drifts.scaled(drifts.SquaredEuclidean(), 3),
    FixedDrift(("1/2", "1/2")),
    Everything(),
    FixedSampling(("1/4", "3/4")),
    "fixed",
)
CANDIDATE = np.array([[F(1, 3), F(2, 3)], [F(1, 5), F(4, 5)]], dtype=object)


@pytest.fixture(scope="module")
def context():
    return make_context(MDP, ALGORITHM, tm.uniform_policy(MDP))


def _drift():
    return [3 * sum((c - F(1, 2)) ** 2 for c in row) for row in CANDIDATE]


def test_state_drift_and_total(context):
    values, weights = state_drift(ALGORITHM, context, CANDIDATE)
    assert list(values) == _drift() and list(weights) == [F(1, 2), F(1, 2)]
    assert total_drift(ALGORITHM, context, CANDIDATE) == sum(F(1, 2) * d for d in _drift())


def test_mirror_objective_and_operator(context):
    beta = [F(1, 4), F(3, 4)]
    gain = [sum(c * a for c, a in zip(row, adv, strict=True))
            for row, adv in zip(CANDIDATE, context.advantages, strict=True)]  # fmt: skip
    drift = _drift()
    objective = sum(b * g for b, g in zip(beta, gain, strict=True)) - sum(
        F(1, 2) * d for d in drift
    )
    assert mirror_objective(ALGORITHM, context, CANDIDATE) == objective
    expected_q = [sum(c * q for c, q in zip(row, qs, strict=True))
                  for row, qs in zip(CANDIDATE, context.q_values, strict=True)]  # fmt: skip
    ratio = [F(1, 2) / b for b in beta]
    operator = mirror_operator(ALGORITHM, context, CANDIDATE)
    assert list(operator) == [q - r * d for q, r, d in zip(expected_q, ratio, drift, strict=True)]
    # staying at pi: M^pi V_pi = V_pi, objective 0
    assert list(mirror_operator(ALGORITHM, context, context.policy)) == list(
        context.evaluation.values
    )
    assert mirror_objective(ALGORITHM, context, context.policy) == 0
