"""Theorem 3.6(1) on every named instance: state-wise monotone improvement, eta nondecreasing,
and the proof's inequality (13) V_{n+1}(s) >= V_n(s) + (nu[s]/beta[s]) D_{pi_n}(pi_{n+1} | s).

Small random MDPs (S <= 4, A <= 3) from local hypothesis strategies: ``proofs_check.strategies``
was not committed when this suite was written; switch to its ``mdps``/``policies`` once it is.
Float runs allow 1e-9 (relative to the value scale); exact runs allow nothing.
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tabular_mirror as tm
from tabular_mirror import drifts, instances
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.drift_distributions import SameAsSampling
from tabular_mirror.neighbourhoods import Everything
from tabular_mirror.sampling import UniformSampling

# ------------------------------------------------------------------ local strategies (see note)


@st.composite
def small_problems(draw, max_states: int = 4, max_actions: int = 3):
    """(float MDP, interior policy) with S <= max_states, A <= max_actions."""
    num_states = draw(st.integers(1, max_states))
    num_actions = draw(st.integers(2, max_actions))
    seed = draw(st.integers(0, 2**32 - 1))
    discount = draw(st.sampled_from([0.5, 0.9, 0.99]))
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.full(num_states, 0.5), size=(num_states, num_actions))
    rewards = rng.normal(size=(num_states, num_actions))
    mdp = tm.FiniteMDP(transitions, rewards, discount)
    policy = rng.dirichlet(np.ones(num_actions), size=num_states) * 0.9 + 0.1 / num_actions
    return mdp, policy


@st.composite
def exact_problems(draw, max_states: int = 3, max_actions: int = 3):
    """(exact MDP, exact policy) with small denominators."""
    num_states = draw(st.integers(1, max_states))
    num_actions = draw(st.integers(2, max_actions))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)

    def row(size):
        counts = rng.integers(0, 5, size=size) + (np.arange(size) == rng.integers(size))
        return [Fraction(int(c), int(counts.sum())) for c in counts]

    transitions = [[row(num_states) for _ in range(num_actions)] for _ in range(num_states)]
    rewards = [
        [Fraction(int(v), 2) for v in rng.integers(-4, 5, num_actions)] for _ in range(num_states)
    ]
    mdp = tm.FiniteMDP(transitions, rewards, "3/4")
    policy = np.array([row(num_actions) for _ in range(num_states)], dtype=object)
    return mdp, policy


# ------------------------------------------------------------------ the checks


def check_monotone(trace: tm.Trace, tolerance, inequality_13: bool = True) -> None:
    """V_{n+1} >= V_n - tol state by state, eta nondecreasing, inequality (13) up to tol."""
    values, returns = trace.values, trace.returns
    where = f"{trace!r}; certificates: {[c.kind for c in trace.certificates]}"
    for n in range(trace.iterations):
        certificate = trace.certificates[n]
        gain = values[n + 1] - values[n]
        assert all(g >= -tolerance for g in gain), (
            f"step {n}: V decreased by {min(gain)} (certificate {certificate}); {where}"
        )
        assert returns[n + 1] >= returns[n] - tolerance, (
            f"step {n}: eta {returns[n]} -> {returns[n + 1]} ({certificate}); {where}"
        )
        if not inequality_13:
            continue
        ratio = [
            (w / b if w != 0 else 0 * b)
            for w, b in zip(trace.drift_weights[n], trace.sampling[n], strict=True)
        ]
        bound = [
            (r * d if r != 0 else 0 * r) for r, d in zip(ratio, trace.state_drifts[n], strict=True)
        ]
        for s, (g, b) in enumerate(zip(gain, bound, strict=True)):
            assert g >= b - tolerance, (
                f"step {n}, state {s}: inequality (13) fails: V gain {g} < (nu/beta) D = {b} "
                f"({certificate}); {where}"
            )


def float_tolerance(mdp: tm.FiniteMDP) -> float:
    scale = max(1.0, float(np.abs(mdp.rewards).max()) / (1 - float(mdp.discount)))
    return 1e-9 * scale


INSTANCES = {
    "gpi": instances.gpi,
    "trpo": lambda: instances.trpo(0.02),
    "ppo": instances.ppo,
    "ppo_kl_forward": lambda: instances.ppo_kl(1.0),
    "ppo_kl_reverse": lambda: instances.ppo_kl(1.0, reverse=True),
    "pmd": lambda: instances.pmd(1.0),
    **{
        f"paper_{cell.name.replace(' x50, ', '_')}": (lambda cell=cell: cell)
        for cell in instances.paper_grid()
    },
}


# was xfail: near the simplex boundary the squared-TV-in-KL-ball step was worse than staying at
# pi and broke inequality (13); mirror_step now falls back to SLSQP when a specialised solver
# cannot certify its step and keeps the better candidate
INSTANCE_PARAMS = list(INSTANCES)


@pytest.mark.parametrize("name", INSTANCE_PARAMS, ids=list(INSTANCES))
@given(problem=small_problems())
def test_instance_improves_monotonically(name, problem):
    mdp, policy = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        trace = tm.mirror_learning(mdp, INSTANCES[name](), policy, 4, optimum=False)
    check_monotone(trace, float_tolerance(mdp))


@settings(max_examples=5)
@given(problem=small_problems(max_states=3, max_actions=2))
def test_trl_improves_monotonically(problem):
    # the trust-region solver is the slowest: tiny MDPs, two iterations, the classic C.
    # Inequality (13) is not asserted: TRL's nu (the max-KL state) depends on pibar, outside
    # the proof's assumptions, and (13) does fail (see the next test).
    mdp, policy = problem
    trace = tm.mirror_learning(mdp, instances.trl(), policy, 2, optimum=False)
    check_monotone(trace, float_tolerance(mdp), inequality_13=False)


def test_trl_can_violate_inequality_13():
    """A probe of the paper's loose spot (spec section 3): with nu depending on pibar the
    proof's inequality (13) can fail although every step is certified and V still improves.

    The trust-region step equalises KL(pi[s] || pibar[s]) over the states at the common radius,
    so the max-KL states tie up to rounding and nu's point mass lands on one of them by the
    rounding of their KL values (np.argmax; "lowest index on ties" holds for exact ties only).
    Whether (13) fails for one seed therefore depends on the last bits of the step (seed 4 did
    by 5.6e-3 at its first step until the small evaluation was compiled, and no longer does); over
    random MDPs it fails often: the probe asks for one of the first 20 seeds."""
    violations = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        num_states, num_actions = 3, 2
        mdp = tm.FiniteMDP(
            rng.dirichlet(np.full(num_states, 0.5), size=(num_states, num_actions)),
            rng.normal(size=(num_states, num_actions)),
            0.5,
        )
        policy = rng.dirichlet(np.ones(num_actions), size=num_states) * 0.9 + 0.05
        trace = tm.mirror_learning(mdp, instances.trl(), policy, 2, optimum=False)
        if not trace.all_certified:
            continue
        check_monotone(trace, float_tolerance(mdp), inequality_13=False)  # V still improves
        try:
            check_monotone(trace, float_tolerance(mdp))
        except AssertionError as error:
            assert "inequality (13) fails" in str(error)
            violations.append(seed)
    assert len(violations) >= 3, violations


def _exact_custom(drift):
    return MirrorAlgorithm(drift, SameAsSampling(), Everything(), UniformSampling())


EXACT_INSTANCES = {
    "gpi": instances.gpi,
    "ppo": instances.ppo,
    "squared_l2": lambda: _exact_custom(drifts.scaled(drifts.SquaredEuclidean(), 2)),
    "squared_tv": lambda: _exact_custom(drifts.scaled(drifts.SquaredTV(), 2)),
}


@pytest.mark.parametrize("name", list(EXACT_INSTANCES), ids=list(EXACT_INSTANCES))
@settings(max_examples=10)
@given(problem=exact_problems())
def test_exact_runs_improve_exactly(name, problem):
    mdp, policy = problem
    trace = tm.mirror_learning(mdp, EXACT_INSTANCES[name](), policy, 3, optimum=False)
    assert trace.exact and all(c.kind == "exact" for c in trace.certificates), trace.certificates
    assert all(isinstance(v, Fraction) for v in trace.values.ravel())
    check_monotone(trace, 0)
