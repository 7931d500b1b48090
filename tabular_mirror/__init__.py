"""tabular-mirror: exact tabular verification of mirror learning.

Mirror learning (Kuba, Schroeder de Witt, Foerster, ICML 2022) is the framework in which policy
iteration, TRPO, PPO and mirror-descent methods improve monotonically and converge. This
package computes every quantity of that theory exactly on finite MDPs: values, Q, advantages,
visitation and optimal values, in float arithmetic with certified error bounds or in exact
rational arithmetic.

Core API
--------
FiniteMDP       the validated finite MDP (S, A, P, r, gamma, d)
evaluate        V_pi, Q_pi, A_pi, eta(pi), rho_pi, rhobar_pi of a policy, certified
solve           V* and an optimal policy: policy / value / modified policy iteration, LP
backward_induction   finite horizon: time-dependent optimal values and policies
average_reward  long-run average reward: gain and bias (unichain and multichain)
operators       P_pi, r_pi, T_pi, T*
policies        uniform, deterministic, greedy (documented tie rule), random, validation
mirror_step     the exact, certified mirror-learning update (Kuba et al., Def. 3.4)
mirror_learning a run of updates recorded in a Trace (mirror_learning_steps, run_in_parts:
                the same run one step at a time, or saved in parts for bounded memory)
instances       gpi, trl, trpo, ppo, ppo_kl, pmd, the paper's experiment grid
schedules       iteration-dependent parameters n -> value (constant, geometric, linear, ...)
drifts, drift_distributions, neighbourhoods, sampling   the pieces of an algorithm
batch           the engine vectorised over B same-shaped MDPs (evaluation, steps, runs, claims)
sweep           a grid of batched runs on Dask, Parquet results (``sweep_report``: the summary)
"""

from . import instances, schedules
from ._exact import exact_backend, float_to_fraction_array
from .algorithm import Context, MirrorAlgorithm, mirror_objective, mirror_operator
from .average_reward import average_reward, evaluate_average_reward
from .errors import (
    AlgorithmError,
    ExactnessError,
    InvalidFileError,
    InvalidMDPError,
    InvalidParameterError,
    InvalidPolicyError,
    MissingDependencyError,
    NotConvergedError,
    SlowComputationWarning,
    TabularMirrorError,
)
from .evaluation import evaluate
from .finite_horizon import backward_induction, evaluate_finite_horizon, time_expanded
from .learning import LearningStep, mirror_learning, mirror_learning_steps
from .model import FiniteMDP
from .operators import (
    bellman_operator,
    bellman_optimality_operator,
    policy_rewards,
    policy_transitions,
    q_from_values,
)
from .optimal import solve
from .policies import (
    check_policy,
    deterministic_policy,
    greedy_actions,
    greedy_policy,
    interior_policy,
    policy_actions,
    random_policy,
    uniform_policy,
)
from .results import (
    STATUSES,
    AverageRewardResult,
    Certificate,
    EvaluationResult,
    FiniteHorizonResult,
    IterationRecord,
    SolveResult,
    StepResult,
)
from .step import inexact_solver, inexact_step, mirror_step
from .streaming import RunSummary, load_parts, run_in_parts
from .traces import Trace, load_trace, save_trace

__version__ = "0.1.0"

__all__ = [
    "FiniteMDP",
    "evaluate",
    "solve",
    "backward_induction",
    "evaluate_finite_horizon",
    "time_expanded",
    "average_reward",
    "evaluate_average_reward",
    "FiniteHorizonResult",
    "AverageRewardResult",
    "EvaluationResult",
    "SolveResult",
    "IterationRecord",
    "STATUSES",
    "MirrorAlgorithm",
    "Context",
    "mirror_step",
    "inexact_step",
    "inexact_solver",
    "mirror_learning",
    "mirror_objective",
    "mirror_operator",
    "instances",
    "schedules",
    "StepResult",
    "Certificate",
    "Trace",
    "save_trace",
    "load_trace",
    "policy_transitions",
    "policy_rewards",
    "q_from_values",
    "bellman_operator",
    "bellman_optimality_operator",
    "check_policy",
    "uniform_policy",
    "deterministic_policy",
    "greedy_policy",
    "greedy_actions",
    "policy_actions",
    "random_policy",
    "interior_policy",
    "mirror_learning_steps",
    "LearningStep",
    "run_in_parts",
    "load_parts",
    "RunSummary",
    "exact_backend",
    "float_to_fraction_array",
    "TabularMirrorError",
    "InvalidMDPError",
    "InvalidPolicyError",
    "InvalidParameterError",
    "ExactnessError",
    "InvalidFileError",
    "NotConvergedError",
    "AlgorithmError",
    "MissingDependencyError",
    "SlowComputationWarning",
    "sweep",
    "sweep_report",
]


def __getattr__(name: str):
    """``sweep`` and ``sweep_report`` load lazily: they need dask, pyarrow and pandas."""
    if name in ("sweep", "sweep_report"):
        from . import sweeps

        return getattr(sweeps, name)
    raise AttributeError(f"module 'tabular_mirror' has no attribute {name!r}")
