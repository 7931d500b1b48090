"""tabular_mirror.batch: the mirror-learning engine vectorised over B same-shaped float MDPs.

Sweeps ask *where* a guarantee breaks, over 10^4-10^6 small MDPs; the per-MDP path spends most
of its time in Python overhead there. This package runs the same mathematics on a stacked batch:

MDPBatch               B same-shaped float MDPs, validated once; ``batch.mdp(b)`` is member b
evaluate_batch         V, Q, A, eta, rho, rhobar of B policies (batched LAPACK), each certified
solve_batch            V*, eta* by policy iteration over the batch, certified
mirror_step_batch      the exact mirror step of every member, each with its own certificate
inexact_step_batch     k gradient steps instead of the argmax (certificate kind "inexact")
mirror_learning_batch  B runs of n iterations -> BatchTrace
check_batch            Lemmas 3.3 / 3.5, inequality (13), stall and convergence decided per
                       member: passed / failed / inconclusive, margins, replayable witnesses
batch_plan             which pieces the batched engine runs (GPI, PMD / NPG, forward and reverse
                       KL, squared L2 / TV, PPO clip, TRPO and the paper's balls)

Batches of random MDPs come from :mod:`mdps.batches` (``garnet_batch``, ``random_dense_batch``,
``make_batch``). Results agree with the per-MDP path within the certified bounds
(``tests/unit/test_batch.py`` compares them member by member).
"""

from .claims import CLAIMS, OUTCOMES, BatchClaims, check_batch
from .evaluation import (
    BatchEvaluation,
    BatchOptimum,
    check_policies,
    evaluate_batch,
    random_policies,
    solve_batch,
    uniform_policies,
)
from .learning import STOP_REASONS, BatchTrace, mirror_learning_batch
from .model import MDPBatch
from .pieces import SUPPORTED, BatchPlan, batch_plan
from .step import BatchStep, inexact_step_batch, mirror_step_batch

__all__ = [
    "MDPBatch",
    "BatchEvaluation",
    "BatchOptimum",
    "BatchStep",
    "BatchTrace",
    "BatchClaims",
    "BatchPlan",
    "evaluate_batch",
    "solve_batch",
    "mirror_step_batch",
    "inexact_step_batch",
    "mirror_learning_batch",
    "check_batch",
    "batch_plan",
    "check_policies",
    "uniform_policies",
    "random_policies",
    "CLAIMS",
    "OUTCOMES",
    "STOP_REASONS",
    "SUPPORTED",
]
