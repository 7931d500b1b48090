"""Shared evidence for the negative controls of tests/quality: a real run to plant violations in.

The run is the one of test_checker_controls.py (squared L2 x2, nu = beta = d uniform, N = Pi,
gamma = 9/10, 4 exact steps from the uniform policy), in exact and in float arithmetic. Every
slack of the valid run is >= 0; a control overwrites one recorded quantity so that a chosen
slack is exactly -DELTA (or a known float amount) and asserts the checker finds it there.

The traces here carry no provenance and no recorded evaluation errors (as a version-1 file):
allowances are then those of a default evaluation (1e-10 x the value scale), and check_trace
uses only the algorithm it is given. test_recorded_evidence.py plants both where it needs them.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from fractions import Fraction

import tabular_mirror as tm
from proofs_check import fundamental, lemmas
from proofs_check.drift_bounds import drift_bound_8
from tabular_mirror import drifts
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.drift_distributions import SameAsSampling
from tabular_mirror.neighbourhoods import Everything
from tabular_mirror.sampling import UniformSampling

DELTA = Fraction(1, 7)
MDP = tm.FiniteMDP(
    [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
)
ALGORITHM = MirrorAlgorithm(
    drifts.scaled(drifts.SquaredEuclidean(), 2),
    SameAsSampling(),
    Everything(),
    UniformSampling(),
    "L2 x2",
)


@functools.cache
def exact_trace() -> tm.Trace:
    trace = tm.mirror_learning(MDP, ALGORITHM, tm.uniform_policy(MDP), 4)
    assert trace.exact and trace.iterations == 4 and trace.all_certified
    return anonymous(trace)


@functools.cache
def float_trace() -> tm.Trace:
    mdp = MDP.to_float()
    trace = tm.mirror_learning(mdp, ALGORITHM, tm.uniform_policy(mdp), 4)
    assert not trace.exact and trace.iterations == 4 and trace.all_certified
    return anonymous(trace)


def anonymous(trace: tm.Trace) -> tm.Trace:
    """The trace without its provenance and recorded evaluation errors."""
    return replace(trace, provenance=None, evaluation_error_bounds=None)


def set_entry(array, index, value):
    """A copy of a (possibly object) array with one entry replaced."""
    out = array.copy()
    out[index] = value
    return out


def with_certificate(trace: tm.Trace, n: int, certificate) -> tm.Trace:
    """The trace with step n's certificate replaced."""
    certificates = list(trace.certificates)
    certificates[n] = certificate
    return replace(trace, certificates=tuple(certificates))


def value_scale(mdp) -> float:
    """max(1, max |r| / (1 - gamma)), as the checks compute it (100 for MDP)."""
    import numpy as np

    rewards = np.abs(np.asarray(mdp.rewards, dtype=float)).max()
    return max(1.0, rewards / (1 - float(mdp.discount)))


def base_allowance(mdp) -> float:
    """2 x the certified evaluation error + rounding: the allowance of any float step."""
    return 2 * 1e-10 * value_scale(mdp) + 1e-12 * value_scale(mdp)


def per_step_checks() -> tuple:
    """The trace-level checks of one claim per step (each takes a trace and ``tolerance=``)."""
    return (
        lemmas.lemma_3_5_on_trace,
        lemmas.lemma_3_3_on_trace,
        fundamental.inequality_13,
        fundamental.return_inequality,
        drift_bound_8,
    )
