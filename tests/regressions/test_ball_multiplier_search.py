"""The KL-ball multiplier search keeps its best certified point.

Found by running `tabular-mirror reproduce` after the multiplier search became a secant in
log lam (commit 00c0df5): the paper's squared-TV x50 drift with the KL ball on the chain MDP
stopped at step 21 with an uncertified step (Frank-Wolfe bound 3.4e-3 after an SLSQP fallback;
before: 50 certified steps). Near lam -> 0 the ball's KL jumps from inf (rows with exact zeros)
to about 0, the secant followed it down to lam = 2e-16, where the Lagrangian rows lose
accuracy; a feasible point it had passed (lam = 6e-8) had a certified gap of 3e-9.
"""

from __future__ import annotations

import tabular_mirror as tm
from mdps.paper import paper_chain
from tabular_mirror import instances


def test_squared_tv_in_the_kl_ball_is_certified_at_every_step():
    algorithm = next(a for a in instances.paper_grid() if a.name == "squared_tv x50, kl_ball")
    mdp = paper_chain()
    trace = tm.mirror_learning(mdp, algorithm, tm.uniform_policy(mdp), 50, strict=True)
    assert trace.iterations == 50 and trace.stop_reason == "iterations"
    assert trace.all_certified
