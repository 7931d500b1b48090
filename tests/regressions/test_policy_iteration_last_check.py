"""Regression: policy iteration needing exactly ``max_iterations`` improvements was reported as
not converged.

What broke: the loop ran ``max_iterations`` passes, each checking whether the current policy is
stable and otherwise improving it; after the last improvement the loop ended without checking
the final policy, so ``solve(mdp, "policy_iteration", max_iterations=k)`` on an MDP whose
policy iteration takes exactly k improvements returned status "max_iterations" (converged
False, raise_for_status raising) for an optimal, stable policy with error bound 0. Fixed in
``optimal._policy_iteration`` (one more pass that only checks stability).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

import tabular_mirror as tm

#: s0 -> s1 -> s2 (absorbing, reward 1); staying pays 1/10. From "stay" PI improves twice.
CHAIN = tm.FiniteMDP(
    [[[1, 0, 0], [0, 1, 0]], [[0, 1, 0], [0, 0, 1]], [[0, 0, 1], [0, 0, 1]]],
    [[Fraction(1, 10), 0], [Fraction(1, 10), 0], [1, 1]],
    "9/10",
)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float"])
def test_exactly_enough_iterations_converge(exact):
    mdp = CHAIN if exact else CHAIN.to_float()
    needed = tm.solve(mdp, "policy_iteration").iterations
    assert needed == 2
    result = tm.solve(mdp, "policy_iteration", max_iterations=needed, history=True)
    assert result.converged and result.status == "converged", (result.status, result.message)
    assert result.iterations == needed
    assert [record.changed_states for record in result.history] == [1, 1, 0]
    short = tm.solve(mdp, "policy_iteration", max_iterations=needed - 1)
    assert short.status == "max_iterations" and not short.converged
