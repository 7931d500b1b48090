"""proofs_check: the paper's claims as runnable checks, hypothesis strategies, counterexamples.

Kuba, Schroeder de Witt, Foerster, "Mirror Learning: A Unifying Framework of Policy
Optimisation", ICML 2022. Every claim becomes a function returning a :class:`Verdict`: an
outcome (``passed``, ``failed`` or ``inconclusive``, with the reason), the margin, the worst
state and iteration, the tolerance and why, a witness that :func:`replay` re-runs, and, for a
failed conclusion, the diagnosis (the paper's hypotheses checked at the offending policies).
Verdicts are collected in a :class:`Report`: FAILED if one failed, PASSED if none failed (with
the number of claims left undecided).

A verdict is a claim: a check never passes what its evidence cannot decide and never fails on a
NaN, a solver artefact or a step that is not certified as the argmax.

Run-level checks
----------------
check_trace(trace)                                    every check on a recorded Trace
check_fundamental_theorem(mdp, algorithm, pi0, n)     run mirror_learning, then check_trace
check_step(mdp, algorithm, policy)                    Lemmas 3.3, 3.5 and ineq. (13), one step

Definitions and classic results
-------------------------------
definitions.check_drift / check_neighbourhood / check_sampling / check_drift_distribution
symbolic.prove_drift (sympy proofs for SympyDrift), classic.* (PDL, TRPO bound, PI count,
NPG rate, Xiao's Theorems 8 and 10), counterexamples.* (the searches of docs/counterexamples.md).

Your own algorithm
------------------
One call checks an algorithm on generated MDPs (hypothesis, shrinking to the smallest failure)
and on the named examples::

    import proofs_check
    report = proofs_check.check_algorithm(my_algorithm, examples=50)
    assert report.outcome != "failed", report.render()
    proofs_check.replay(report.failed()[0].witness)   # if something failed: the same failure

or, in pytest, parametrise the shipped property suite with your algorithm::

    from proofs_check.suite import paper_claims_test
    test_my_algorithm = paper_claims_test(my_algorithm)

Set ``TABULAR_MIRROR_PROFILE=thorough`` for 10^4 examples per property (the library registers
its own hypothesis profiles: :mod:`proofs_check.profiles`; see docs/proofs_check.md).
"""

from . import profiles
from .counterexamples import SEARCHES
from .definitions import (
    check_drift,
    check_drift_distribution,
    check_neighbourhood,
    check_sampling,
)
from .diagnosis import diagnose
from .fundamental import check_fundamental_theorem, check_trace
from .lemmas import check_step, lemma_3_3
from .piece_strategies import algorithms, drifts, neighbourhoods, samplings
from .strategies import discounts, distributions, mdps, mdps_and_policies, policies
from .suite import check_algorithm, paper_claims_test
from .verdicts import OUTCOMES, Report, Tolerance, Verdict
from .witness import load_witness, register_piece, replay, save_witness

__all__ = [
    "OUTCOMES",
    "Verdict",
    "Report",
    "Tolerance",
    "replay",
    "save_witness",
    "load_witness",
    "register_piece",
    "diagnose",
    "profiles",
    "check_trace",
    "check_fundamental_theorem",
    "check_step",
    "lemma_3_3",
    "check_drift",
    "check_neighbourhood",
    "check_sampling",
    "check_drift_distribution",
    "check_algorithm",
    "paper_claims_test",
    "SEARCHES",
    "discounts",
    "distributions",
    "mdps",
    "mdps_and_policies",
    "policies",
    "drifts",
    "neighbourhoods",
    "samplings",
    "algorithms",
]
