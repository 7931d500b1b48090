"""check_neighbourhood's witnesses replay on an exact MDP.

Found by mutation testing (docs/mutation.md): check_neighbourhood converts pi to floats for its
bisections and recorded that float pi in the witness's arguments next to the exact MDP, so
proofs_check.replay of any of its four verdicts on an exact MDP raised ExactnessError ("policy
is a float array; an exact MDP needs exact values") instead of re-running the check. The
verdicts were right; their witnesses did not replay. The arguments now hold pi as given (exact
for an exact MDP; the uniform policy of the MDP by default).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import proofs_check
import tabular_mirror as tm
from tabular_mirror.neighbourhoods import StateBall

MDP = tm.FiniteMDP(
    [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]], [[5, 10], [-1, 2]], "9/10"
)
POLICY = [["1/5", "4/5"], ["1/2", "1/2"]]


@pytest.mark.parametrize("policy", [None, POLICY], ids=["default", "given"])
def test_every_verdict_of_check_neighbourhood_replays_on_an_exact_mdp(policy):
    report = proofs_check.check_neighbourhood(StateBall("tv", Fraction(1, 10)), MDP, policy)
    assert report.passed and not report.inconclusive(), report
    expected = tm.uniform_policy(MDP) if policy is None else np.array(
        [[Fraction(x) for x in row] for row in POLICY], dtype=object
    )  # fmt: skip
    for verdict in report.verdicts:
        recorded = verdict.witness["arguments"]["policy"]
        assert recorded["exact"] and recorded["array"] == [[str(x) for x in r] for r in expected]
        replayed = proofs_check.replay(verdict.witness)
        assert (replayed.name, replayed.outcome, replayed.margin) == (
            verdict.name,
            verdict.outcome,
            verdict.margin,
        )


def test_the_float_check_is_unchanged():
    exact = proofs_check.check_neighbourhood(StateBall("tv", Fraction(1, 10)), MDP, POLICY)
    floats = proofs_check.check_neighbourhood(
        StateBall("tv", Fraction(1, 10)), MDP.to_float(), [[0.2, 0.8], [0.5, 0.5]]
    )
    for a, b in zip(exact.verdicts, floats.verdicts, strict=True):
        assert (a.name, a.outcome, a.margin) == (b.name, b.outcome, b.margin)
