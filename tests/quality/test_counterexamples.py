"""The counterexample searches of proofs_check.counterexamples find each known failure and
shrink it small; every shrunk witness is kept below as literal data and re-checked
(docs/counterexamples.md explains each one).

Searches run under a bounded, derandomised hypothesis budget (each a few seconds).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import strategies as st

import proofs_check
import tabular_mirror as tm
from proofs_check import check_step, check_trace
from proofs_check import counterexamples as ce

# ---------------------------------------------------------------------------- stored witnesses
#: (1) TV penalty: pi_0 never moves although action 1 at state 1 is better (exact).
TOTAL_VARIATION = {
    "transitions": [[["1", "0"], ["1", "0"]], [["1", "0"], ["1", "0"]]],
    "rewards": [["0", "0"], ["0", "1"]],
    "discount": "1/2",
    "initial": ["1/2", "1/2"],
    "exact": True,
    "policy": [["1", "0"], ["1", "0"]],
}

#: (2) beta[0] = 0: the adversarial maximiser picks the worst action at state 0.
ZERO_SAMPLING = {
    "transitions": [[[1.0, 0.0]] * 3, [[1.0, 0.0]] * 3],
    "rewards": [[0.0, 0.0, -1.0], [0.0, 0.0, 0.0]],
    "discount": 0.5,
    "initial": [0.5, 0.5],
    "policy": [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
    "sampling": (0.0, 1.0),
}

#: (3) a non-monotone neighbourhood: V decreases at state 0 (and Lemma 3.5 fails there).
NON_MONOTONE = {
    "transitions": [[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]],
    "rewards": [[0.0, -1.0], [0.0, -1.0]],
    "discount": 0.5,
    "initial": [0.5, 0.5],
    "policy": [[1.0, 0.0], [0.0, 1.0]],
}

#: (4) nu = rhobar_pibar: Lemma 3.5 fails at state 0 (V still improves; SLSQP step).
CANDIDATE_VISITATION = {
    "transitions": [[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]],
    "rewards": [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
    "discount": 0.9,
    "initial": [0.5, 0.5],
    "policy": [[1 / 3, 1 / 3, 1 / 3], [0.2, 0.2, 0.6]],
}

#: (4') trust-region learning (nu = max-KL state): Lemma 3.5 fails at state 0, certified step.
TRUST_REGION = {
    "transitions": [
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
        [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
    ],
    "rewards": [[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]],
    "discount": 0.5,
    "initial": [1 / 3, 1 / 3, 1 / 3],
    "policy": [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]],
}

#: (5b) 2 softmax-logit steps (learning rate 1) on the L2 x50 objective: V drops at state 1.
INEXACT_2 = {
    "transitions": [[[1.0, 0.0]] * 3, [[1.0, 0.0]] * 3],
    "rewards": [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
    "discount": 0.5,
    "initial": [0.5, 0.5],
    "policy": [[1 / 3, 1 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3]],
}

#: (5b) 10 steps: a one-state bandit where the iterate overshoots to the worse action.
INEXACT_10 = {
    "transitions": [[[1.0], [1.0]]],
    "rewards": [[0.0, 1.0]],
    "discount": 0.5,
    "initial": [1.0],
    "policy": [[0.5, 0.5]],
}


def _policy(witness):
    policy = witness["policy"]
    if witness.get("exact"):
        return np.array([[Fraction(v) for v in row] for row in policy], dtype=object)
    return np.array(policy, dtype=float)


# ---------------------------------------------------------------------------- regressions
def test_total_variation_stalls_at_a_non_optimal_policy():
    mdp = ce.rebuild(TOTAL_VARIATION)
    trace = tm.mirror_learning(
        mdp, ce.total_variation_algorithm(), _policy(TOTAL_VARIATION), 6, solver=ce.tv_solver
    )
    report = check_trace(
        trace, algorithm=ce.total_variation_algorithm(), options={"solver": ce.tv_solver}
    )
    verdict = report["theorem_3_6_2_value_convergence"]
    assert verdict.failed and "fixed point" in verdict.detail
    assert verdict.margin == -1 and verdict.exact  # V*(1) - V(1) = 1, decided exactly
    assert verdict.worst_iteration == 0  # pi_0 itself is the fixed point
    assert report["theorem_3_6_4_convergence_to_optimal_policy"].failed
    # the diagnosis names the violated hypothesis: TV is not a drift (Def. 3.1(2))
    assert [v.name for v in verdict.violated_hypotheses()] == ["hypothesis_definition_3_1"]
    # every monotonicity claim still holds: TV breaks convergence, not improvement
    assert report["lemma_3_3_monotone_values"].passed


def test_zero_sampling_loses_state_wise_improvement():
    mdp = ce.rebuild(ZERO_SAMPLING)
    algorithm = ce.zero_sampling_algorithm(ZERO_SAMPLING["sampling"])
    report = check_step(mdp, algorithm, _policy(ZERO_SAMPLING), solver=ce.adversarial_solver)
    verdict = report["lemma_3_3_monotone_values"]
    assert verdict.failed and verdict.worst_state == 0
    assert verdict.margin == pytest.approx(-2.0)
    violated = {v.name for v in verdict.violated_hypotheses()}
    assert violated == {"hypothesis_sampling_positive"}, verdict.explanation()


def test_non_monotone_neighbourhood_breaks_lemma_3_5_and_monotonicity():
    mdp = ce.rebuild(NON_MONOTONE)
    report = check_step(
        mdp, ce.non_monotone_algorithm(), _policy(NON_MONOTONE), solver=ce.shift_solver
    )
    assert report["lemma_3_5_mirror_operator"].failed
    verdict = report["lemma_3_3_monotone_values"]
    assert verdict.failed and verdict.worst_state == 0
    assert verdict.margin == pytest.approx(-1.5)
    violated = {v.name for v in verdict.violated_hypotheses()}
    assert violated == {"hypothesis_definition_3_2"}, verdict.explanation()
    assert "monotone" in verdict.violated_hypotheses()[0].detail


def test_candidate_visitation_violation_on_an_uncertified_step_is_inconclusive():
    # was FAIL: the SLSQP step is only a local point (no gap bound), so a violation of Lemma 3.5
    # by 6e-5 cannot be told from a solver artefact: inconclusive, never failed
    mdp = ce.rebuild(CANDIDATE_VISITATION)
    report = check_step(mdp, ce.candidate_visitation_algorithm(4), _policy(CANDIDATE_VISITATION))
    verdict = report["lemma_3_5_mirror_operator"]
    assert verdict.inconclusive and verdict.margin < -1e-5
    assert "not certified" in verdict.reason or "not certified" in str(verdict.tolerance)


def test_trust_region_learning_breaks_lemma_3_5():
    mdp = ce.rebuild(TRUST_REGION)
    report = check_step(mdp, tm.instances.trl(), _policy(TRUST_REGION))
    verdict = report["lemma_3_5_mirror_operator"]
    assert verdict.failed and verdict.margin < -1e-3
    assert verdict.tolerance.value < 1e-6  # the step is certified: not a solver artefact
    violated = {v.name for v in verdict.violated_hypotheses()}
    assert violated == {"hypothesis_nu_independent"}, verdict.explanation()


@pytest.mark.parametrize(
    ("witness", "steps", "state"), [(INEXACT_2, 2, 1), (INEXACT_10, 10, 0)], ids=["k2", "k10"]
)
def test_inexact_steps_break_monotonicity(witness, steps, state):
    mdp = ce.rebuild(witness)
    report = check_step(
        mdp, ce.inexact_algorithm(), _policy(witness), solver=tm.inexact_solver(steps, 1.0)
    )
    verdict = report["lemma_3_3_monotone_values"]
    assert verdict.failed and verdict.worst_state == state
    # decided on the iterates (an inexact step is the algorithm); the diagnosis says why
    assert "hypothesis_exact_argmax" in {v.name for v in verdict.violated_hypotheses()}


def test_one_inexact_step_is_monotone_on_the_witnesses():
    # the drift's gradient vanishes at pi, so the first step is a pure advantage step
    for witness in (INEXACT_2, INEXACT_10):
        report = check_step(
            ce.rebuild(witness),
            ce.inexact_algorithm(),
            _policy(witness),
            solver=tm.inexact_solver(1),
        )
        assert report["lemma_3_3_monotone_values"].passed


def test_non_monotone_shift_is_a_def_3_2_neighbourhood_without_monotonicity():
    from proofs_check import check_neighbourhood

    mdp = ce.rebuild(NON_MONOTONE)
    report = check_neighbourhood(ce.NonMonotoneShift(Fraction(1, 4)), mdp, [[0.5, 0.5]] * 2)
    assert report["definition_3_2_closed_ball"].passed
    assert report["definition_3_2_compact"].passed
    assert report["lemma_3_5_monotone_neighbourhood"].failed


# ---------------------------------------------------------------------------- the searches
#: name -> (search with a budget, budget, the smallest S found, the largest S x A accepted)
SEARCHES = {
    "total_variation": (lambda n: ce.search_total_variation(n, iterations=4), 40, 1, 2),
    "zero_sampling": (ce.search_zero_sampling, 40, 2, 6),
    "non_monotone": (
        lambda n: ce.search_non_monotone(n, names=("lemma_3_3_monotone_values",)),
        60,
        2,
        4,
    ),
    "trust_region": (ce.search_trust_region, 20, 2, 6),
    "inexact_10": (lambda n: ce.search_inexact(10, n), 30, 1, 3),
    "ppo_boundary_stall": (lambda n: ce.search_ppo_boundary_stall(n, interior=False), 30, 1, 2),
}


@pytest.mark.parametrize("name", list(SEARCHES), ids=list(SEARCHES))
def test_search_finds_a_small_counterexample(name):
    search, budget, states, cells = SEARCHES[name]
    result = search(budget)
    assert result.found, result.detail
    num_states, num_actions = result.size
    assert num_states == states and num_states * num_actions <= cells, result
    rebuilt = ce.rebuild(result.witness)
    assert (rebuilt.num_states, rebuilt.num_actions) == result.size
    # generation stops at the first failure in each size pass, within the budget per pass
    assert 1 <= result.examples_generated <= 3 * budget
    assert result.shrink_calls >= 1  # at least hypothesis's replay of the shrunk example
    assert result.shrink_finished is True and "shrinking finished" in result.detail
    assert f"after {result.examples_generated} generated examples" in result.detail
    assert f"{result.shrink_calls} shrink calls" in result.detail
    assert result.seed == 0 and result.max_examples == budget
    # the witness replays: the same check, the same decided failure, at the same place
    replayed = proofs_check.replay(result.witness)
    expected = result.witness["expected"]
    assert replayed.outcome == expected["outcome"] == "failed"
    assert (replayed.worst_iteration, replayed.worst_state) == (
        expected["iteration"],
        expected["state"],
    )
    # and the diagnosis names the dropped hypothesis
    assert result.witness["diagnosis"], result.witness


def test_search_counts_generated_examples_apart_from_shrink_calls():
    # a toy search whose condition records every call: x > 50 fails
    mdp = tm.FiniteMDP([[[1.0]]], [[0.0]], 0.5)
    outcomes = []

    def fails(x):
        outcomes.append(x > 50)
        return {"mdp": mdp, "policies": {}, "x": x} if x > 50 else None

    result = ce._search("toy", st.integers(0, 1000), fails, 100, "x <= 50")
    outcomes.pop()  # _search describes the shrunk example once more, outside hypothesis
    first = outcomes.index(True) + 1
    assert result.found and result.witness["x"] == 51  # shrunk to the boundary
    assert result.examples_generated == first
    assert result.shrink_calls == len(outcomes) - first
    assert result.shrink_calls > 0
    assert result.shrink_finished is True


def test_searches_that_find_nothing_say_so():
    # docs/counterexamples.md: the adaptive-KL search finds nothing in 150 examples
    result = ce.search_adaptive_kl(30)
    assert not result.found and result.witness is None and result.size is None
    assert result.examples_generated == 30 and result.shrink_calls == 0
    assert result.detail.endswith("among 30 generated examples (seed 0; not a proof)")
    assert result.shrink_finished is None
