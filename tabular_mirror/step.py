"""The exact mirror step: pi_new in argmax_{pibar in N(pi)} of the mirror objective, certified.

Kuba et al. (2022), Definition 3.4:

    pi_new in argmax_{pibar in N(pi)} sum_s beta[s] sum_a pibar[s,a] A_pi[s,a] - drift_pi(pibar).

:func:`mirror_step` picks an exact solver from the pieces' types, then re-verifies the answer
independently of the solver (rows on the simplex, inside N(pi), objective recomputed from the
pieces and no worse than staying at pi) and downgrades the status if any check fails.

Solvers (vectorised over states; ``nu`` independent of pibar unless said otherwise):

========================================  ================================  ==================
pieces                                     solver                            certificate
========================================  ================================  ==================
zero drift, N = Pi (GPI)                   greedy, tie rule ``choice``        exact
reverse KL, N = Pi (PMD / NPG / MDPO)      softmax closed form                duality gap
forward KL, N = Pi (PPO-KL forward)        1-D Newton root per state          duality gap
squared L2 / squared TV, N = Pi            projection / mass transfer         exact (KKT)
PPO clip, N = Pi                           per-state LP by greedy filling     duality gap
zero or same-family drift, average ball    one Lagrange multiplier            duality gap
  (TRPO, the paper's drift and KL balls)
zero or same-family drift, state balls     per-state multipliers              duality gap
trust-region KL, nu = max-drift state      epigraph + bisection on radius     duality gap
any other drift (your own), beta > 0,      per-state projected gradient on    Frank-Wolfe gap
  N = Pi                                   each simplex, all states at once   (convex), else local
any other drift, state / average ball      the multipliers over those rows    duality gap
  of a known divergence                                                       (convex), else local
anything else (nu depends on pibar, ...)   SLSQP                              Frank-Wolfe gap if
                                                                              concave, else local
========================================  ================================  ==================

A drift's ``convex`` flag (False unless declared: ``CallableDrift(..., convex=True)``) decides
whether a first-order bound is claimed: only a convex drift makes each row concave, so only
then is a per-state Frank-Wolfe gap an upper bound on the step's suboptimality. The per-state
solver evaluates a user's drift only at points of each state's simplex (a NaN or inf there
rejects the point) and, for a drift not declared convex, keeps the best of several starts.

In exact mode the rational steps (GPI, squared L2, squared TV, PPO clip, with N = Pi) return
exact Fractions with certificate ``exact``; the others raise ExactnessError. The argmax can be
a set; ``choice`` picks "closest" (to pi in L2: the default, and policy iteration's "keep the
current action"), "vertex", or "adversarial" (a maximiser the theory must survive).

Infeasible actions (``mdp.action_mask``): each state's simplex is the face of its feasible
actions. The row solvers run on each face (states grouped by feasibility pattern, the solver
applied to the feasible columns; :mod:`tabular_mirror._steps.faces`), SLSQP fixes infeasible
entries at 0, and re-verification rejects a step with mass on an infeasible action. Drifts
and neighbourhoods see rows that are 0 on the infeasible actions for both pi and pibar, so
they act on the face (a drift that needs pi > 0 needs it on the feasible actions only).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np

from ._rows import dot, row_sum
from ._steps.constrained import average_ball, family_rows, state_ball, trust_region
from ._steps.faces import mdp_faces, on_faces, restrict
from ._steps.families import ball_family, drift_family
from ._steps.general import frank_wolfe_gap, general_step
from ._steps.inexact import PARAMETRISATIONS, inexact_rows
from ._steps.rowwise import (
    DRIFT_ULPS,
    RowProblems,
    best_rows,
    lagrangian_rows,
    starts,
    total_bound,
)
from ._steps.separable import CHOICES, kl_combined_rows, solve_rows
from ._validate import choice as check_choice
from ._validate import positive_number, whole_number
from .algorithm import (
    Context,
    MirrorAlgorithm,
    drift_penalty,
    drift_ratio,
    make_context,
    mirror_objective,
    state_drift,
    weighted_sum,
)
from .divergences import kl, kl_from
from .drift_distributions import MaxDriftState
from .errors import ExactnessError, InvalidParameterError
from .model import FiniteMDP, check_mdp, require_discounted
from .neighbourhoods import AverageBall, Everything, StateBall
from .policies import check_policy
from .results import Certificate, EvaluationResult, StepResult, message_for

__all__ = ["mirror_step", "inexact_step", "Solver", "describe_solver"]

#: A custom solver: ``solver(algorithm, context) -> candidate`` or ``(candidate, Certificate)``.
Solver = Callable[[MirrorAlgorithm, Context], Any]

RATIONAL_FAMILIES = ("zero", "squared_l2", "squared_tv", "ppo_clip")


def mirror_step(
    mdp: FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy: Any,
    *,
    choice: str = "closest",
    solver: Solver | None = None,
    evaluation: EvaluationResult | None = None,
    tolerance: float | None = None,
    validate: bool = True,
) -> StepResult:
    """One mirror-learning update of ``policy`` under ``algorithm``, with a certificate.

    Parameters
    ----------
    mdp : FiniteMDP
    algorithm : MirrorAlgorithm
        The pieces (drift D, drift distribution nu, neighbourhood N, sampling beta).
    policy : (S, A) array_like
        pi = pi_old.
    choice : {"closest", "vertex", "adversarial"}
        Which maximiser to return when the argmax is a set.
    solver : callable, optional
        Replace the automatic choice: ``solver(algorithm, context)`` returning a candidate or
        ``(candidate, Certificate)``; the answer is re-verified like any other.
    evaluation : EvaluationResult, optional
        The evaluation of ``policy`` if already computed (saves one solve).
    tolerance : float, optional
        Certification tolerance on the optimality gap (float mode); default
        1e-9 * max(1, max |A_pi|).

    Returns
    -------
    StepResult
        ``policy`` (pi_new), ``objective``, ``certificate`` and the quantities the theorems
        talk about (drift paid, mirror operator values, neighbourhood slack).

    Raises
    ------
    InvalidParameterError
        Unknown choice; a drift that needs pi > 0 given a policy with zeros; a sampling
        distribution with a zero.
    ExactnessError
        An exact MDP with a step whose argmax is irrational (KL drifts, balls, SLSQP).
    """
    check_mdp(mdp)
    require_discounted(mdp, "mirror_step")
    check_choice(choice, "choice", CHOICES)
    if not isinstance(algorithm, MirrorAlgorithm):
        raise InvalidParameterError(f"algorithm = {algorithm!r} is not a MirrorAlgorithm")
    if algorithm.schedules:  # one step needs one algorithm: the schedules' values at some n
        raise InvalidParameterError(
            f"algorithm {algorithm.name!r} has scheduled parameters "
            f"({', '.join(path for path, _ in algorithm.schedules)}): take the step of "
            "iteration n with algorithm.at(n)"
        )
    if tolerance is not None:
        tolerance = positive_number(tolerance, "tolerance", allow_zero=True)
    if validate:
        policy = check_policy(mdp, policy)
    _check_support(algorithm, policy, mdp)
    if evaluation is not None and (
        evaluation.exact != mdp.is_exact
        or np.shape(evaluation.policy) != np.shape(policy)
        or not np.array_equal(np.asarray(evaluation.policy), np.asarray(policy))
    ):
        raise InvalidParameterError(
            "evaluation is not the evaluation of `policy` on `mdp` (different policy, or exact "
            "and float mixed); pass evaluate(mdp, policy) or leave it out"
        )
    return _step(mdp, algorithm, policy, choice, solver, evaluation, tolerance)


def _step(
    mdp: FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy: np.ndarray,
    choice: str,
    solver: Solver | None,
    evaluation: EvaluationResult | None,
    tolerance: Any,
) -> StepResult:
    """:func:`mirror_step` on validated arguments (the public function checks them once;
    :func:`tabular_mirror.mirror_learning` calls this directly for every step)."""
    context = make_context(mdp, algorithm, policy, evaluation)
    if tolerance is None:
        if mdp.is_exact:
            tolerance = 0
        else:
            advantages = context.advantages
            scale = max(1.0, float(advantages.max()), -float(advantages.min()))
            tolerance = 1e-9 * scale
    else:
        tolerance = Fraction(tolerance) if mdp.is_exact else float(tolerance)
    if solver is not None:
        answer = solver(algorithm, context)
        _check_answer(answer[0] if isinstance(answer, tuple) else answer, mdp, solver)
        if isinstance(answer, tuple):
            candidate, claimed = answer
            # a solver's own claim is re-checked: certified only with a bound within tolerance
            within = (
                claimed.kind != "inexact"
                and claimed.bound is not None
                and claimed.bound <= tolerance
            )
            certificate = replace(
                claimed, tolerance=tolerance, certified=bool(claimed.certified and within)
            )
        else:
            candidate = answer
            bound = None if mdp.is_exact else frank_wolfe_gap(algorithm, context, candidate)
            kind = "local" if bound is None else "frank_wolfe_gap"
            certificate = Certificate(
                kind,
                bound,
                tolerance,
                bool(bound is not None and bound <= tolerance),
                "user solver",
            )
        name = getattr(solver, "__name__", "user solver")
    else:
        candidate, kind, bound, detail, name = _solve(algorithm, context, choice)
        certified = bool(
            (kind == "exact" and bound == 0)
            or (kind != "exact" and bound is not None and bound <= tolerance)
        )
        # a rowwise answer is not handed to SLSQP: it would evaluate a user's drift off the
        # simplex (where it may be NaN), and its own bound is already the best evidence
        if not certified and name != "slsqp" and not name.startswith("rowwise"):
            candidate, kind, bound, detail, name = _fallback(
                algorithm, context, candidate, kind, bound, detail, name
            )
            certified = bool(bound is not None and bound <= tolerance)
        certificate = Certificate(kind, bound, tolerance, certified, detail)
    return _verify(algorithm, context, np.asarray(candidate), certificate, name, tolerance)


def _fallback(
    algorithm: MirrorAlgorithm,
    context: Context,
    candidate: np.ndarray,
    kind: str,
    bound: Any,
    detail: str,
    name: str,
) -> tuple[np.ndarray, str, Any, str, str]:
    """A specialised solver could not certify its answer (numerical trouble near the simplex
    boundary): also run the general solver from that answer and keep the better of the two,
    with the best valid bound. Both candidates are feasible; the objective decides."""
    from .algorithm import mirror_objective

    other, other_kind, other_bound, other_detail = general_step(algorithm, context, candidate)
    mine = mirror_objective(algorithm, context, candidate)
    theirs = mirror_objective(algorithm, context, other)
    # a dual bound of the first solver bounds (optimum - mine); shift it to the better point
    bounds = [b for b in (bound, other_bound) if b is not None]
    if theirs > mine and algorithm.neighbourhood.contains(context, other, 1e-12):
        shifted = [other_bound] if other_bound is not None else []
        if bound is not None:
            shifted.append(max(bound - (theirs - mine), 0.0))
        best_bound = min(shifted) if shifted else None
        note = f"{other_detail}; fallback after {name} ({detail}) was not certified"
        return other, other_kind if best_bound == other_bound else kind, best_bound, note, "slsqp"
    best_bound = min(bounds) if bounds else None
    return candidate, kind, best_bound, f"{detail}; SLSQP fallback was not better", name


#: Most gradient steps :func:`inexact_step` takes (the paper's code takes 1000).
MAX_GRADIENT_STEPS = 1_000_000


def inexact_step(
    mdp: FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy: Any,
    steps: int,
    *,
    learning_rate: float = 1.0,
    parametrisation: str = "softmax",
    evaluation: EvaluationResult | None = None,
) -> StepResult:
    """An *approximate* mirror step: ``steps`` gradient steps instead of the argmax.

    Practical implementations (and the paper's own code, with 1000 softmax-logit steps)
    approximate the argmax; the theory does not cover them. The result's certificate has kind
    ``"inexact"`` and, when the objective is concave and N has a linear oracle, a Frank-Wolfe
    bound on how far the step is from the argmax. Use it as ``solver=`` of
    :func:`mirror_learning` via :func:`inexact_solver` to study when monotonicity breaks.

    Parameters
    ----------
    steps : number of gradient steps (0 <= steps <= 10^6; 0 returns pi).
    learning_rate : step size on the objective's gradient divided by beta[s].
    parametrisation : "softmax" (logits) or "projected" (the simplex directly).
    """
    return mirror_step(
        mdp,
        algorithm,
        policy,
        solver=inexact_solver(steps, learning_rate, parametrisation),
        evaluation=evaluation,
    )


def inexact_solver(
    steps: int, learning_rate: float = 1.0, parametrisation: str = "softmax"
) -> Solver:
    """A ``solver=`` for :func:`mirror_step` / :func:`mirror_learning` taking k gradient steps."""
    check_choice(parametrisation, "parametrisation", PARAMETRISATIONS)
    steps = whole_number(steps, "steps", maximum=MAX_GRADIENT_STEPS)
    learning_rate = float(positive_number(learning_rate, "learning_rate"))

    def solver(algorithm: MirrorAlgorithm, context: Context) -> tuple[np.ndarray, Certificate]:
        if context.mdp.is_exact:
            raise ExactnessError("inexact gradient steps are float computations; use to_float()")
        candidate = inexact_rows(algorithm, context, steps, learning_rate, parametrisation)
        bound = frank_wolfe_gap(algorithm, context, candidate)
        detail = f"{steps} {parametrisation} gradient steps, learning rate {learning_rate}"
        return candidate, Certificate("inexact", bound, None, False, detail)

    solver.__name__ = f"inexact({steps} {parametrisation} steps)"
    # what rebuilds this solver (proofs_check's witnesses store it)
    solver.spec = {  # type: ignore[attr-defined]
        "inexact": {
            "steps": steps,
            "learning_rate": learning_rate,
            "parametrisation": parametrisation,
        }
    }
    return solver


def describe_solver(solver: Solver | None) -> str | None:
    """A text that names a custom step solver well enough to rebuild it, for a trace's record.

    None for the library's own solvers; the JSON of ``solver.spec`` for solvers that carry
    their parameters (:func:`inexact_solver`); ``"module:qualname"`` for a module-level
    function; otherwise ``"<name>"`` (a closure or a bound method: not rebuildable).
    """
    if solver is None:
        return None
    spec = getattr(solver, "spec", None)
    if isinstance(spec, dict):
        import json

        return json.dumps(spec, sort_keys=True)
    module = getattr(solver, "__module__", None)
    qualname = getattr(solver, "__qualname__", "")
    if module and qualname and "<" not in qualname:
        import importlib

        try:
            found: Any = importlib.import_module(module)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            found = None
        if found is solver:
            return f"{module}:{qualname}"
    return f"<{getattr(solver, '__name__', type(solver).__name__)}>"


def _zeros_on_the_face(policy: np.ndarray, mdp: FiniteMDP) -> np.ndarray:
    """Where pi is 0 on a feasible action (a drift that needs pi > 0 needs it there only)."""
    zero = np.asarray(policy <= 0, dtype=bool)
    if mdp.has_infeasible_actions:
        zero &= mdp.action_mask
    return zero


def _check_support(algorithm: MirrorAlgorithm, policy: np.ndarray, mdp: FiniteMDP) -> None:
    if algorithm.drift.needs_support:
        if policy.dtype == np.float64 and policy.min() > 0:  # interior: nothing to find
            return
        zero = _zeros_on_the_face(policy, mdp)
        if zero.any():
            s, a = (int(i) for i in np.argwhere(zero)[0])
            raise InvalidParameterError(
                f"policy[{s}, {a}] = 0, but the drift {algorithm.drift!r} needs pi > 0 "
                "everywhere (it is infinite off pi's support, so the update could never move "
                "mass there); start from an interior policy (on the feasible actions)"
            )


def _solve(
    algorithm: MirrorAlgorithm, context: Context, choice: str
) -> tuple[np.ndarray, str, Any, str, str]:
    """Pick the exact solver from the pieces: (candidate, kind, bound, detail, solver name)."""
    exact = context.mdp.is_exact
    policy = context.policy
    advantages = context.advantages
    beta = context.sampling_weights
    family = drift_family(algorithm.drift, context)
    neighbourhood = algorithm.neighbourhood
    independent = not algorithm.drift_distribution.depends_on_candidate
    faces = mdp_faces(context.mdp)

    if family is not None and independent:
        name, factor, epsilon = family
        if not exact:
            factor = float(factor)
            epsilon = None if epsilon is None else float(epsilon)
        else:  # a float parameter enters exact arithmetic at its exact binary value
            factor = Fraction(factor)
            epsilon = None if epsilon is None else Fraction(epsilon)
        nu = algorithm.drift_distribution.weights(context, policy, None)
        if not exact and beta.min() > 0:  # every state sampled (the theory's beta > 0)
            # no drift term for the zero family: a ball's family carries the row problem
            coefficient = (0.0 if name == "zero" else factor) * (nu / beta)
            unsampled = None
        else:
            ratio = drift_ratio(nu, beta)  # 0/0 = 0, nu/0 = inf (unsampled states)
            unsampled = np.asarray(ratio == np.inf, dtype=bool)
            coefficient = factor * np.where(unsampled, 0 * beta, ratio)
            if name == "zero":
                coefficient = coefficient * 0
        if unsampled is not None and unsampled.any() and isinstance(neighbourhood, Everything):
            # a state with beta = 0 but nu > 0 pays an infinite price for moving: it stays
            rows, kind, bound, detail, solver = _solve_separable(
                context, name, coefficient, epsilon, choice, exact, faces
            )
            rows = np.array(rows)
            rows[unsampled] = np.asarray(policy)[unsampled]
            return rows, kind, bound, detail + "; unsampled states with drift weight stay", solver
        if isinstance(neighbourhood, Everything):
            return _solve_separable(context, name, coefficient, epsilon, choice, exact, faces)
        ball = ball_family(neighbourhood)
        if not exact and ball is not None and name in ("zero", ball[0]):
            rows_for = family_rows(
                ball[0],
                np.asarray(policy, float),
                np.asarray(advantages, float),
                np.asarray(coefficient, float),
                choice,
                epsilon,
                faces,
            )
            return _ball_step(algorithm, context, ball, rows_for)
        interior = bool(np.all(restrict(faces, np.asarray(policy, dtype=float)) > 0))
        if (
            not exact
            and ball is not None
            and ball[0] == "forward_kl"
            and (name == "squared_l2" or (name == "squared_tv" and interior))
        ):
            policy_float = np.asarray(policy, float)
            advantages_float = np.asarray(advantages, float)
            alpha = np.asarray(coefficient, float)

            def combined(
                p: np.ndarray, a: np.ndarray, al: np.ndarray, ka: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
                return kl_combined_rows(name, p, a, al, ka, choice)

            def rows_for(kappa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                return on_faces(faces, combined, policy_float, advantages_float, alpha, kappa)

            return _ball_step(algorithm, context, ball, rows_for)
    if (
        family is not None
        and family[0] == "forward_kl"
        and isinstance(algorithm.drift_distribution, MaxDriftState)
        and isinstance(neighbourhood, Everything)
        and not exact
    ):
        policy_float = np.asarray(policy, dtype=float)

        def kl_rows(candidate: np.ndarray) -> np.ndarray:
            return kl(policy_float, candidate)

        rows, radius, gap = trust_region(
            policy_float,
            np.asarray(advantages, float),
            np.asarray(beta, float),
            float(family[1]),
            kl_rows,
            choice,
            faces=faces,
        )
        return rows, "duality_gap", gap, f"epigraph, max-KL radius {radius:.6g}", "trust_region"
    if exact:
        raise ExactnessError(
            "this combination of pieces has no exact rational solver (exact mode supports GPI, "
            "squared L2, squared TV and PPO clip with N = Pi); use mdp.to_float()"
        )
    if independent and np.asarray(beta, dtype=float).min() > 0:
        found = _rowwise_step(algorithm, context)
        if found is not None:
            return found
    candidate, kind, bound, detail = general_step(algorithm, context)
    return candidate, kind, bound, detail, "slsqp"


def _rowwise_step(
    algorithm: MirrorAlgorithm, context: Context
) -> tuple[np.ndarray, str, Any, str, str] | None:
    """Any drift (a user's) with nu independent of pibar, beta > 0 and N = Pi or a state or
    average ball of a known divergence: one small problem per state, solved for all states at
    once, every trial point on the simplex (:mod:`tabular_mirror._steps.rowwise`); None for
    other neighbourhoods (the general solver takes them).

    Certificates: for a drift declared ``convex`` a Frank-Wolfe gap per state (N = Pi: kind
    ``frank_wolfe_gap``; balls: the Lagrangian's ``duality_gap``, per-state gaps plus the
    multipliers' complementary slackness), from the drift's gradient or, without one, from
    secant bounds of its values; for any other drift ``local`` with no bound."""
    neighbourhood = algorithm.neighbourhood
    beta = np.asarray(context.sampling_weights, dtype=float)
    if isinstance(neighbourhood, Everything):
        problems = RowProblems(algorithm, context)
        rows, gaps = best_rows(problems)
        bound = total_bound(beta, gaps)
        if bound is not None and not math.isfinite(bound):  # a state without a bound
            bound = None
        name, kind, note = "rowwise", "frank_wolfe_gap", ""
    else:
        ball = ball_family(neighbourhood)
        if ball is None or not isinstance(neighbourhood, StateBall | AverageBall):
            return None
        problems = RowProblems(algorithm, context, family=ball[0])
        rows, _, bound, note, name = _ball_step(algorithm, context, ball, lagrangian_rows(problems))
        name, kind, note = f"rowwise {name}", "duality_gap", f"; {note}"
        if not (problems.convex and math.isfinite(bound)):
            bound = None
    how = "the drift's gradient" if problems.has_gradient else "differences (no gradient given)"
    if bound is None:
        if problems.convex:  # a state whose gradient is not finite at its answer
            why = "no bound: the drift's gradient is not finite at the answer in some state"
        else:
            why = f"best of {len(starts(problems))} starts, a local maximum (the drift is not "
            why += "declared convex)"
        detail = f"per-state projected gradient ({how}): {why}{note}"
        return rows, "local", None, detail, name
    if problems.has_gradient:
        evidence = "Frank-Wolfe gap per state"
    else:
        evidence = (
            "secant Frank-Wolfe bound per state (the drift function taken accurate to "
            f"{DRIFT_ULPS} ulps of max(1, |D|))"
        )
    return rows, kind, bound, f"per-state projected gradient ({how}), {evidence}{note}", name


def _solve_separable(
    context: Context,
    name: str,
    coefficient: np.ndarray,
    epsilon: Any,
    choice: str,
    exact: bool,
    faces: Any = None,
) -> tuple[np.ndarray, str, Any, str, str]:
    """N = Pi and nu independent of pibar: the objective separates over states."""
    if exact and name not in RATIONAL_FAMILIES:
        raise ExactnessError(
            f"the {name} step has an irrational argmax; exact mode supports "
            f"{', '.join(RATIONAL_FAMILIES)} with N = Pi; use mdp.to_float()"
        )
    beta = context.sampling_weights
    if faces is None:
        policy, advantages = context.policy, context.advantages
        rows, gaps = solve_rows(name, policy, advantages, coefficient, choice, epsilon)
    else:

        def solve(p: np.ndarray, a: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return solve_rows(name, p, a, c, choice, epsilon)

        rows, gaps = on_faces(faces, solve, context.policy, context.advantages, coefficient)
    bound = (beta * gaps).sum() if exact else dot(beta, gaps)
    if exact:
        return rows, "exact", bound, f"closed form ({name}), exact", name
    kind = "kkt_residual" if name == "squared_l2" else "duality_gap"
    return rows, kind, float(bound), f"closed form ({name})", name


def _ball_step(
    algorithm: MirrorAlgorithm,
    context: Context,
    ball: tuple,
    rows_for: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, str, Any, str, str]:
    """A Lagrangian over the ball's constraint with ``rows_for(extra)`` solving the rows."""
    _, factor, row, bound = ball
    policy = np.asarray(context.policy, dtype=float)
    beta = np.asarray(context.sampling_weights, dtype=float)

    if row is kl:  # pi's logarithms once for the whole multiplier search
        divergence = kl_from(policy)
    else:

        def divergence(candidate: np.ndarray) -> np.ndarray:
            return row(policy, candidate)

    neighbourhood = algorithm.neighbourhood
    if isinstance(neighbourhood, StateBall):
        rows, multipliers, gaps = state_ball(rows_for, divergence, float(bound), len(policy))
        detail = f"per-state multipliers (max {multipliers.max():.6g})"
        return rows, "duality_gap", dot(beta, gaps), detail, "state_ball"
    assert isinstance(neighbourhood, AverageBall)
    weights = np.asarray(neighbourhood.state_weights(context), dtype=float)
    scale = max(1.0, float(np.abs(np.asarray(context.advantages, dtype=float)).max()))
    rows, multiplier, gap, slack = average_ball(
        rows_for,
        beta,
        factor * weights / beta,
        weights,
        divergence,
        float(bound),
        gap_tolerance=1e-12 * scale,
    )
    detail = f"Lagrange multiplier {multiplier:.6g}, constraint slack {slack:.3g}"
    return rows, "duality_gap", gap, detail, "average_ball"


def _check_answer(candidate: Any, mdp: FiniteMDP, solver: Any) -> None:
    """A user solver's answer must be a policy of the MDP's shape with finite entries (the run
    would otherwise go on from something that is not a policy); how close to the simplex it
    is, is the verification's business (an answer slightly off is an uncertified step)."""
    name = getattr(solver, "__name__", "user solver")
    shape = (mdp.num_states, mdp.num_actions)
    if np.shape(candidate) != shape:
        raise InvalidParameterError(
            f"solver {name} returned an array of shape {np.shape(candidate)}, expected {shape}"
        )
    if not mdp.is_exact:
        values = np.asarray(candidate, dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            s, a = (int(i) for i in np.argwhere(bad)[0])
            raise InvalidParameterError(
                f"solver {name} returned policy[{s}, {a}] = {values[s, a]}: not a probability"
            )


def _rowwise_bound(algorithm: MirrorAlgorithm, context: Context, candidate: np.ndarray) -> float:
    """The Frank-Wolfe bound on F* - F(candidate) of a convex drift with N = Pi, recomputed
    at ``candidate`` by fresh row problems: the per-state Frank-Wolfe gaps from the drift's
    gradient there (on each state's face: a user's gradient may be NaN on infeasible actions,
    which are not part of the problem), or the per-state secant bounds without a gradient."""
    problems = RowProblems(algorithm, context)
    if problems.has_gradient:
        with np.errstate(all="ignore"):
            gaps = problems.frank_wolfe(candidate, problems.gradient(candidate, None))
    else:
        gaps = problems.secant_gap(candidate)
    return float(total_bound(np.asarray(context.sampling_weights, dtype=float), gaps))


_STEP_CERTIFIED = message_for("converged", "step")


def _verify(
    algorithm: MirrorAlgorithm,
    context: Context,
    candidate: np.ndarray,
    certificate: Certificate,
    solver: str,
    tolerance: Any,
) -> StepResult:
    """Re-check the answer independently of the solver and assemble the result."""
    exact = context.mdp.is_exact
    problems = []
    if exact:
        if candidate.dtype != object or not all(isinstance(v, Fraction) for v in candidate.flat):
            problems.append("the exact step returned non-Fraction entries")
        elif np.any(np.asarray(candidate < 0, dtype=bool)) or np.any(row_sum(candidate) != 1):
            problems.append("a row is off the simplex")
    else:
        candidate = np.asarray(candidate, dtype=float)
        # (NaN fails both comparisons: it is off the simplex too)
        # |sum - 1| <= 1e-9 for every row (sum - 1 is exact near 1, so this is that test)
        sums = row_sum(candidate)
        if not (candidate.min() >= -1e-12 and sums.min() - 1 >= -1e-9 and sums.max() - 1 <= 1e-9):
            problems.append("a row is off the simplex")
    if context.mdp.has_infeasible_actions:
        outside = np.asarray(candidate != 0, dtype=bool) & ~context.mdp.action_mask
        if outside.any():
            s, a = (int(i) for i in np.argwhere(outside)[0])
            problems.append(f"mass {candidate[s, a]} on the infeasible action {a} of state {s}")
    slack = algorithm.neighbourhood.slack(context, candidate)
    if slack < (0 if exact else -1e-9):
        problems.append(f"outside N(pi) (slack {slack})")
    if solver == "rowwise" and certificate.certified and not problems:
        # a user's drift: the per-state gap is recomputed at the answer, from the drift's
        # gradient (or its values), not taken from the solver's last iterate
        recomputed = _rowwise_bound(algorithm, context, candidate)
        if not recomputed <= tolerance:
            problems.append(
                f"the Frank-Wolfe bound recomputed at the answer is {recomputed:.3g}, above "
                f"the tolerance {tolerance:.3g} (the solver claimed {certificate.bound:.3g})"
            )
    # the pieces are evaluated once here; objective and mirror operator are assembled from them
    drift_values, weights = state_drift(algorithm, context, candidate)
    beta = context.sampling_weights
    drift = weighted_sum(weights, drift_values)
    if exact:
        objective = weighted_sum(beta, row_sum(candidate * context.advantages)) - drift
        staying = mirror_objective(algorithm, context, context.policy)
    else:  # a finite candidate on the simplex and finite A: finite gains, one product each
        objective = dot(beta, row_sum(candidate * context.advantages)) - drift
        if not math.isfinite(objective):
            problems.append(f"objective is {objective}")
        staying = dot(beta, row_sum(context.policy * context.advantages))
        if drift_family(algorithm.drift) is None:
            # a user's drift is evaluated at pi; the library's families are 0 there by
            # construction (each term vanishes exactly at pibar = pi in floating point)
            staying_values, staying_weights = state_drift(algorithm, context, context.policy)
            staying -= weighted_sum(staying_weights, staying_values)
    allowance = 0 if exact else (certificate.bound or 0) + tolerance
    if objective < staying - allowance:
        problems.append(f"objective {objective} is below staying at pi ({staying})")
    expected_q = row_sum(candidate * context.q_values)
    if weights is beta and not exact and beta.min() > 0:  # nu = beta > 0: nu / beta = 1
        mirror_values = expected_q - drift_values
    else:
        mirror_values = expected_q - drift_penalty(weights, beta, drift_values)
    if problems:
        status, detail = "not_certified", "verification"
        message = message_for(status, detail) + " " + "; ".join(problems)
        # the certificate speaks for the returned policy: a step that failed re-verification
        # is not certified, whatever its solver's bound said (Trace.all_certified reads this)
        certificate = replace(
            certificate,
            certified=False,
            detail=f"{certificate.detail}; failed re-verification: {'; '.join(problems)}",
        )
    elif certificate.certified:
        status, message = "converged", _STEP_CERTIFIED
    elif certificate.kind == "inexact":
        status, message = "not_certified", message_for("not_certified", "inexact")
    else:
        status, message = "not_certified", message_for("not_certified", "step")
    return StepResult.of(  # the fields in order: policy, objective, ...
        candidate,
        objective,
        certificate,
        context.policy,
        context.evaluation,
        context.sampling_weights,
        weights,
        drift_values,
        drift,
        mirror_values,
        slack,
        solver,
        status == "converged",
        status,
        message,
    )
