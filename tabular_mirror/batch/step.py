"""Batched mirror steps: the exact, certified argmax for B MDPs at once (and k gradient steps).

Kuba et al. (2022), Definition 3.4, for every member b of the batch:

    pi_new,b in argmax_{pibar in N(pi_b)}
                sum_s beta[s] sum_a pibar[s,a] A_pi[s,a] - drift_pi(pibar).

The row solvers are the per-MDP engine's own (:mod:`tabular_mirror._steps.separable`),
called once on all B S rows: with N = Pi the objective separates over states, so a batch is
just more rows. Balls get one Lagrange multiplier per member (the average ball's bisection of
:func:`tabular_mirror._steps.constrained.average_ball`, run for all members at once, each
with its own bracket) or one per state (``state_ball``, unchanged). Each member gets its own
certificate (duality gap / KKT residual, summed over states with beta) and the per-MDP
re-verification (rows on the simplex, inside N(pi), objective recomputed, no worse than
staying). A member whose step cannot be certified is, by default, recomputed on the per-MDP
path (:func:`tabular_mirror.mirror_step` with its SLSQP fallback), so the batch never reports
less than the per-MDP engine would.

Ties. The greedy and PPO-clip rows decide ties with a tolerance relative to the largest
advantage; to keep that tolerance per member (as on the per-MDP path) their advantages are
divided by max(1, max |A_b|) first, which changes neither the argmax set nor, after
rescaling, the gap.

Examples
--------
>>> import numpy as np
>>> import tabular_mirror as tm
>>> from tabular_mirror import instances
>>> from tabular_mirror.batch import MDPBatch, mirror_step_batch, uniform_policies
>>> small = tm.FiniteMDP([[[0.5, 0.5], [0, 1]], [[0.8, 0.2], [0.1, 0.9]]], [[5, 10], [-1, 2]], 0.9)
>>> batch = MDPBatch.repeat(small, 4)
>>> step = mirror_step_batch(batch, instances.ppo(0.2), uniform_policies(batch))
>>> bool(step.certified.all()), np.round(step.policy[0], 3).tolist()
(True, [[0.4, 0.6], [0.6, 0.4]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._steps.separable import CHOICES, kl_combined_rows, solve_rows
from .._validate import choice as check_choice
from .._validate import positive_number, whole_number
from ..algorithm import MirrorAlgorithm
from ..errors import InvalidParameterError
from ..specs import make_algorithm
from .evaluation import BatchEvaluation, check_policies, evaluate_batch
from .model import MDPBatch
from .pieces import BatchPlan, batch_plan

__all__ = ["BatchStep", "mirror_step_batch", "inexact_step_batch", "as_algorithm"]

#: Certificate kinds of the batched solvers (a per-member fallback keeps its own kind).
KINDS = ("duality_gap", "kkt_residual", "frank_wolfe_gap", "local", "inexact")

#: Families whose row problem is a linear program (argmax invariant to scaling A).
_SCALE_INVARIANT = ("zero", "ppo_clip")


@dataclass(frozen=True, eq=False)
class BatchStep:
    """B mirror steps, each with its certificate and the quantities the theorems use.

    Attributes
    ----------
    policy : (B, S, A) pi_new.     old_policy : (B, S, A) pi_old.
    objective : (B,) the mirror objective of pi_new.
    staying : (B,) the objective of staying at pi_old (0 up to rounding).
    kind : (B,) str, the certificate kind of each member (see :data:`KINDS`).
    bound : (B,) the certified optimality gap bound (nan where there is none).
    tolerance : (B,) the certification tolerance (default 1e-9 max(1, max |A_b|)).
    certified : (B,) bool, bound <= tolerance and re-verification passed.
    verified : (B,) bool, re-verification passed (simplex, inside N, objective).
    sampling : (B, S) beta.    drift_weights : (B, S) nu.
    state_drift : (B, S) D_pi(pi_new | s).    drift : (B,) sum_s nu D.
    mirror_values : (B, S) [M^{pi_new} V_pi_old](s).
    neighbourhood_slack : (B,) (+inf for N = Pi).
    multiplier : (B,) the ball's Lagrange multiplier (nan without a ball).
    fallback : (B,) bool, recomputed on the per-MDP path.
    evaluation : the BatchEvaluation of pi_old.
    """

    policy: np.ndarray
    old_policy: np.ndarray
    objective: np.ndarray
    staying: np.ndarray
    kind: np.ndarray
    bound: np.ndarray
    tolerance: np.ndarray
    certified: np.ndarray
    verified: np.ndarray
    sampling: np.ndarray
    drift_weights: np.ndarray
    state_drift: np.ndarray
    drift: np.ndarray
    mirror_values: np.ndarray
    neighbourhood_slack: np.ndarray
    multiplier: np.ndarray
    fallback: np.ndarray
    evaluation: BatchEvaluation

    @property
    def size(self) -> int:
        """B."""
        return self.objective.shape[0]


def as_algorithm(algorithm: Any) -> MirrorAlgorithm:
    """A MirrorAlgorithm, or one built from a spec string (``"ppo:epsilon=0.2"``)."""
    if isinstance(algorithm, str):
        return make_algorithm(algorithm)
    if not isinstance(algorithm, MirrorAlgorithm):
        raise InvalidParameterError(
            f"algorithm = {algorithm!r} is neither a MirrorAlgorithm nor a spec string"
        )
    return algorithm


# ---------------------------------------------------------------------------- entry points
def mirror_step_batch(
    batch: MDPBatch,
    algorithm: Any,
    policies: Any,
    *,
    choice: str = "closest",
    evaluation: BatchEvaluation | None = None,
    tolerance: float | None = None,
    fallback: bool = True,
    validate: bool = True,
) -> BatchStep:
    """The exact mirror step of every member, each certified (float mode).

    Parameters
    ----------
    batch : MDPBatch
    algorithm : MirrorAlgorithm or spec string
        Pieces the batched engine supports (:data:`tabular_mirror.batch.pieces.SUPPORTED`).
    policies : (B, S, A) array_like
        pi_old of each member.
    choice : {"closest", "vertex", "adversarial"}
        Which maximiser when the argmax is a set (as :func:`tabular_mirror.mirror_step`).
    evaluation : BatchEvaluation, optional
        The evaluation of ``policies`` (with visitation) if already computed.
    tolerance : float, optional
        Certification tolerance on each member's gap; default 1e-9 max(1, max |A_b|).
    fallback : bool
        Recompute members that could not be certified on the per-MDP path (default True).
    validate : bool
        Check the policies.

    Returns
    -------
    BatchStep

    Raises
    ------
    InvalidParameterError
        Unsupported pieces, an unknown choice, a drift that needs pi > 0 given a policy with
        a zero (the member and entry are named), a sampling distribution with a zero.
    """
    algorithm = as_algorithm(algorithm)
    plan = batch_plan(algorithm)
    check_choice(choice, "choice", CHOICES)
    if tolerance is not None:
        tolerance = float(positive_number(tolerance, "tolerance", allow_zero=True))
    policy, evaluation = _prepare(batch, algorithm, policies, evaluation, validate)
    beta = plan.sampling(batch, evaluation)
    nu = plan.drift_weights(batch, evaluation, beta)
    advantages = evaluation.advantages
    scale = np.maximum(1.0, np.abs(advantages).max(axis=(1, 2)))
    tolerances = 1e-9 * scale if tolerance is None else np.full(batch.size, tolerance)
    coefficient = plan.factor * nu / beta
    if plan.family == "zero":
        coefficient = coefficient * 0.0
    multiplier = np.full(batch.size, np.nan)
    if plan.solver == "separable":
        candidate, gaps = _rows(plan, policy, advantages, coefficient, choice, scale)
        bound = np.einsum("bs,bs->b", beta, gaps)
    elif plan.solver == "state_ball":
        candidate, bound = _state_ball(plan, policy, advantages, coefficient, beta, choice)
    else:
        weights = plan.ball_weights(batch, evaluation, beta)
        candidate, multiplier, bound = _average_ball(
            plan, policy, advantages, coefficient, beta, weights, choice, 1e-12 * scale
        )
    kind = np.full(
        batch.size,
        "kkt_residual" if plan.family == "squared_l2" and plan.ball is None else "duality_gap",
        dtype=object,
    )
    step = _verify(
        plan, batch, evaluation, policy, candidate, beta, nu, kind, bound, tolerances, multiplier
    )
    if fallback and not step.certified.all():
        step = _fallback(batch, algorithm, step, choice)
    return step


def inexact_step_batch(
    batch: MDPBatch,
    algorithm: Any,
    policies: Any,
    steps: int,
    *,
    learning_rate: float = 1.0,
    parametrisation: str = "softmax",
    evaluation: BatchEvaluation | None = None,
    validate: bool = True,
) -> BatchStep:
    """k gradient steps on each member's mirror objective instead of the argmax.

    The batched :func:`tabular_mirror.inexact_step`: softmax-logit ascent started at
    theta = log pi, or projected ascent on the simplex, with the gradient
    beta A - nu dD/dpibar divided by beta (the drift's own ``gradient``), then halving the
    move back into N(pi). The certificate kind is "inexact" (never certified) with the
    Frank-Wolfe bound on the distance to the argmax (the drifts here are convex).
    """
    from .._steps.inexact import PARAMETRISATIONS

    algorithm = as_algorithm(algorithm)
    plan = batch_plan(algorithm)
    steps = whole_number(steps, "steps")
    learning_rate = float(positive_number(learning_rate, "learning_rate"))
    check_choice(parametrisation, "parametrisation", PARAMETRISATIONS)
    policy, evaluation = _prepare(batch, algorithm, policies, evaluation, validate)
    beta = plan.sampling(batch, evaluation)
    nu = plan.drift_weights(batch, evaluation, beta)
    advantages = evaluation.advantages

    def gradient(candidate: np.ndarray) -> np.ndarray:
        drift_gradient = plan.drift_gradient(policy, advantages, candidate)
        drift_gradient = np.nan_to_num(drift_gradient, nan=0.0, posinf=1e300, neginf=-1e300)
        return beta[:, :, None] * advantages - nu[:, :, None] * drift_gradient

    candidate = policy.copy()
    if parametrisation == "softmax":
        logits = np.log(np.maximum(policy, 1e-12))
        for _ in range(steps):
            ascent = gradient(candidate) / beta[:, :, None]
            centred = ascent - (candidate * ascent).sum(axis=2, keepdims=True)
            logits = logits + learning_rate * candidate * centred
            shifted = np.exp(logits - logits.max(axis=2, keepdims=True))
            candidate = shifted / shifted.sum(axis=2, keepdims=True)
    else:
        from .._steps.separable import project_rows

        floor = 0.0 if algorithm.drift.rational else 1e-12
        shape = policy.shape
        for _ in range(steps):
            ascent = gradient(candidate) / beta[:, :, None]
            moved = project_rows((candidate + learning_rate * ascent).reshape(-1, shape[2]))
            candidate = moved.reshape(shape)
            if floor:
                candidate = np.maximum(candidate, floor)
                candidate /= candidate.sum(axis=2, keepdims=True)
    if plan.solver != "separable":
        for _ in range(60):  # pull back towards pi (always inside) until inside N(pi)
            slack = plan.neighbourhood_slack(batch, evaluation, beta, policy, candidate)
            outside = ~(slack >= 0)
            if not outside.any():
                break
            candidate[outside] = 0.5 * (candidate[outside] + policy[outside])
    bound = _frank_wolfe(plan, batch, evaluation, policy, candidate, beta, gradient(candidate))
    kind = np.full(batch.size, "inexact", dtype=object)
    tolerances = np.full(batch.size, np.nan)
    step = _verify(
        plan,
        batch,
        evaluation,
        policy,
        candidate,
        beta,
        nu,
        kind,
        bound,
        tolerances,
        np.full(batch.size, np.nan),
    )
    return step


# ---------------------------------------------------------------------------- pieces
def _prepare(
    batch: MDPBatch,
    algorithm: MirrorAlgorithm,
    policies: Any,
    evaluation: BatchEvaluation | None,
    validate: bool,
) -> tuple[np.ndarray, BatchEvaluation]:
    if not isinstance(batch, MDPBatch):
        raise InvalidParameterError(f"batch = {batch!r} is not an MDPBatch")
    policy = check_policies(batch, policies) if validate else np.asarray(policies, dtype=float)
    if algorithm.drift.needs_support:
        zero = policy <= 0
        if zero.any():
            b, s, a = (int(i) for i in np.argwhere(zero)[0])
            raise InvalidParameterError(
                f"policy[{b}, {s}, {a}] = 0, but the drift {algorithm.drift!r} needs pi > 0 "
                "everywhere; start from an interior policy"
            )
    if evaluation is None:
        evaluation = evaluate_batch(batch, policy, validate=False)
    elif evaluation.normalized_visitation is None or evaluation.policy.shape != policy.shape:
        raise InvalidParameterError(
            "evaluation is not a full evaluation of `policies` (with visitation); leave it out"
        )
    return policy, evaluation


def _flat(array: np.ndarray) -> np.ndarray:
    return array.reshape(-1, array.shape[-1])


def _rows(
    plan: BatchPlan,
    policy: np.ndarray,
    advantages: np.ndarray,
    coefficient: np.ndarray,
    choice: str,
    scale: np.ndarray,
    extra: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Row solutions (B, S, A) and per-state gaps (B, S) of <p, A> - (c + extra) D."""
    shape = policy.shape
    total = coefficient if extra is None else coefficient + extra
    if plan.family in _SCALE_INVARIANT and extra is None:
        rows, gaps = solve_rows(
            plan.family,
            _flat(policy),
            _flat(advantages / scale[:, None, None]),
            total.ravel(),
            choice,
            plan.epsilon,
        )
        return rows.reshape(shape), gaps.reshape(shape[:2]) * scale[:, None]
    if plan.combined:
        rows, gaps = kl_combined_rows(
            plan.family,
            _flat(policy),
            _flat(advantages),
            coefficient.ravel(),
            np.zeros(coefficient.size) if extra is None else extra.ravel(),
            choice,
        )
        return rows.reshape(shape), gaps.reshape(shape[:2])
    family = plan.family if plan.ball is None or plan.family != "zero" else plan.ball[0]
    rows, gaps = solve_rows(
        family, _flat(policy), _flat(advantages), total.ravel(), choice, plan.epsilon
    )
    return rows.reshape(shape), gaps.reshape(shape[:2])


def _state_ball(
    plan: BatchPlan,
    policy: np.ndarray,
    advantages: np.ndarray,
    coefficient: np.ndarray,
    beta: np.ndarray,
    choice: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-state multipliers for all B S rows at once: the per-MDP ``state_ball`` unchanged."""
    from .._steps.constrained import state_ball

    shape = policy.shape
    flat_policy = _flat(policy)
    flat_advantages = _flat(advantages)
    base = coefficient.ravel()
    row = plan.ball[2]

    if plan.combined:

        def rows_for(extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return kl_combined_rows(plan.family, flat_policy, flat_advantages, base, extra, choice)
    else:
        family = plan.ball[0] if plan.family == "zero" else plan.family

        def rows_for(extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return solve_rows(
                family, flat_policy, flat_advantages, base + extra, choice, plan.epsilon
            )

    def divergence(candidate: np.ndarray) -> np.ndarray:
        return row(flat_policy, candidate)

    rows, _, gaps = state_ball(rows_for, divergence, plan.radius(), len(flat_policy))
    gaps = gaps.reshape(shape[:2])
    return rows.reshape(shape), np.einsum("bs,bs->b", beta, gaps)


def _weighted(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """sum_s w[b, s] v[b, s] with 0 * inf = 0."""
    with np.errstate(invalid="ignore"):
        return np.einsum("bs,bs->b", weights, np.where(weights > 0, values, 0.0))


def _average_ball(
    plan: BatchPlan,
    policy: np.ndarray,
    advantages: np.ndarray,
    coefficient: np.ndarray,
    beta: np.ndarray,
    weights: np.ndarray,
    choice: str,
    gap_tolerance: np.ndarray,
    iterations: int = 100,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Lagrange multiplier per member, bisected for all members at once.

    The per-MDP :func:`tabular_mirror._steps.constrained.average_ball`, member by member the
    same sequence of multipliers: lam = 0; else grow a bracket from 1 by x4 until feasible (or
    shrink by /16 while feasible and the gap is above tolerance); then geometric bisection
    until the duality gap sum_s beta gap_s + lam (radius - constraint) is within tolerance or
    the bracket is below 1e-13 relative. Only the members still working are recomputed.
    Returns (rows, multipliers, duality-gap bounds).
    """
    size = len(beta)
    radius = float(plan.algorithm.neighbourhood.radius)
    ball_factor = float(plan.ball[1])
    ball = ball_factor * weights / beta

    def solve(index: np.ndarray, lam: np.ndarray):
        rows, gaps = _rows(
            plan,
            policy[index],
            advantages[index],
            coefficient[index],
            choice,
            None,
            extra=lam[:, None] * ball[index],
        )
        value = _weighted(weights[index], plan.ball_divergence(policy[index], rows))
        return rows, gaps, value

    rows, gaps, value = solve(np.arange(size), np.zeros(size))
    low, high = np.zeros(size), np.zeros(size)
    state: dict[str, Any] = {"rows": rows, "gaps": gaps, "value": value}

    def gap_at(index: np.ndarray) -> np.ndarray:
        return _weighted(beta[index], state["gaps"][index]) + high[index] * (
            radius - state["value"][index]
        )

    def keep(index: np.ndarray, lam: np.ndarray, result) -> None:
        high[index] = lam
        state["rows"][index], state["gaps"][index], state["value"][index] = result

    todo = np.flatnonzero(~(value <= radius))
    if todo.size:
        keep(todo, np.ones(todo.size), solve(todo, np.ones(todo.size)))
        grow = todo[(state["value"][todo] > radius) & (high[todo] < 1e300)]
        while grow.size:
            low[grow] = high[grow]
            trial = 4 * high[grow]
            keep(grow, trial, solve(grow, trial))
            grow = grow[(state["value"][grow] > radius) & (high[grow] < 1e300)]
        shrink = todo[low[todo] == 0]
        shrink = shrink[(high[shrink] > 1e-300) & (gap_at(shrink) > gap_tolerance[shrink])]
        while shrink.size:
            trial = high[shrink] / 16
            result = solve(shrink, trial)
            infeasible = result[2] > radius
            low[shrink[infeasible]] = trial[infeasible]
            feasible = ~infeasible
            keep(shrink[feasible], trial[feasible], tuple(r[feasible] for r in result))
            shrink = shrink[feasible]
            shrink = shrink[(high[shrink] > 1e-300) & (gap_at(shrink) > gap_tolerance[shrink])]
        done = np.zeros(size, dtype=bool)
        for _ in range(iterations):
            active = todo[(low[todo] > 0) & ~done[todo]]
            active = active[gap_at(active) > gap_tolerance[active]]
            if not active.size:
                break
            middle = np.sqrt(low[active] * high[active])
            result = solve(active, middle)
            infeasible = result[2] > radius
            low[active[infeasible]] = middle[infeasible]
            feasible = ~infeasible
            keep(active[feasible], middle[feasible], tuple(r[feasible] for r in result))
            done[active] = high[active] - low[active] <= 1e-13 * high[active]
    bound = gap_at(np.arange(size))
    return state["rows"], high, bound


def _frank_wolfe(
    plan: BatchPlan,
    batch: MDPBatch,
    evaluation: BatchEvaluation,
    policy: np.ndarray,
    candidate: np.ndarray,
    beta: np.ndarray,
    gradient: np.ndarray,
) -> np.ndarray:
    """max_{q in N} <grad F(p), q - p> per member (+ the oracle's gap): bounds F* - F(p)."""
    if not plan.algorithm.drift.convex:
        return np.full(batch.size, np.nan)
    with np.errstate(invalid="ignore"):
        inner = np.einsum("bsa,bsa->b", np.where(candidate > 0, candidate, 0.0), gradient)
    if plan.solver == "separable":
        gap = gradient.max(axis=2).sum(axis=1) - inner
        return np.where(np.isfinite(gap), np.maximum(gap, 0.0), np.inf)
    zero = BatchPlan(plan.algorithm, "zero", 0.0, None, plan.solver, plan.ball)
    scaled = gradient / beta[:, :, None]
    scale = np.maximum(1.0, np.abs(scaled).max(axis=(1, 2)))
    nothing = np.zeros(beta.shape)
    if plan.solver == "state_ball":
        best, oracle = _state_ball(zero, policy, scaled, nothing, beta, "vertex")
    else:
        weights = zero.ball_weights(batch, evaluation, beta)
        best, _, oracle = _average_ball(
            zero, policy, scaled, nothing, beta, weights, "vertex", 0.0 * scale
        )
    gap = np.einsum("bsa,bsa->b", gradient, best - candidate)
    gap = np.maximum(gap, 0.0) + oracle
    return np.where(np.isfinite(gap), gap, np.inf)


def _verify(
    plan: BatchPlan,
    batch: MDPBatch,
    evaluation: BatchEvaluation,
    policy: np.ndarray,
    candidate: np.ndarray,
    beta: np.ndarray,
    nu: np.ndarray,
    kind: np.ndarray,
    bound: np.ndarray,
    tolerances: np.ndarray,
    multiplier: np.ndarray,
) -> BatchStep:
    """The per-MDP re-verification, vectorised: simplex, inside N, objective vs staying."""
    candidate = np.asarray(candidate, dtype=float)
    advantages = evaluation.advantages
    on_simplex = (candidate >= -1e-12).all(axis=(1, 2)) & (
        np.abs(candidate.sum(axis=2) - 1) <= 1e-9
    ).all(axis=1)
    slack = plan.neighbourhood_slack(batch, evaluation, beta, policy, candidate)
    inside = slack >= -1e-9
    drift_values = plan.state_drift(policy, advantages, candidate)
    gain = np.einsum("bsa,bsa->bs", candidate, advantages)
    drift = _weighted(nu, drift_values)
    objective = np.einsum("bs,bs->b", beta, gain) - drift
    staying_drift = _weighted(nu, plan.state_drift(policy, advantages, policy))
    staying = np.einsum("bs,bs->b", beta, np.einsum("bsa,bsa->bs", policy, advantages))
    staying = staying - staying_drift
    allowance = np.where(np.isfinite(bound), bound, 0.0) + np.nan_to_num(tolerances)
    with np.errstate(invalid="ignore"):
        improves = objective >= staying - allowance
    verified = on_simplex & inside & np.isfinite(objective) & improves
    certified = verified & (kind != "inexact") & (bound <= tolerances)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = nu / beta
        penalty = np.where((ratio > 0) & (drift_values != 0), ratio * drift_values, 0.0)
    mirror_values = np.einsum("bsa,bsa->bs", candidate, evaluation.q_values) - penalty
    return BatchStep(
        policy=candidate,
        old_policy=policy,
        objective=objective,
        staying=staying,
        kind=kind,
        bound=np.asarray(bound, dtype=float),
        tolerance=tolerances,
        certified=certified,
        verified=verified,
        sampling=beta,
        drift_weights=nu,
        state_drift=drift_values,
        drift=drift,
        mirror_values=mirror_values,
        neighbourhood_slack=slack,
        multiplier=multiplier,
        fallback=np.zeros(batch.size, dtype=bool),
        evaluation=evaluation,
    )


def _fallback(
    batch: MDPBatch, algorithm: MirrorAlgorithm, step: BatchStep, choice: str
) -> BatchStep:
    """Recompute the uncertified members on the per-MDP path (a cold path: rare members)."""
    from ..step import mirror_step

    fields = {name: np.array(getattr(step, name)) for name in _ARRAY_FIELDS}
    for b in np.flatnonzero(~step.certified):
        mdp = batch.mdp(int(b))
        single = mirror_step(
            mdp,
            algorithm,
            step.old_policy[b],
            choice=choice,
            tolerance=float(step.tolerance[b]),
            validate=False,
        )
        certificate = single.certificate
        fields["policy"][b] = single.policy
        fields["objective"][b] = single.objective
        fields["kind"][b] = certificate.kind
        fields["bound"][b] = np.nan if certificate.bound is None else float(certificate.bound)
        fields["certified"][b] = single.converged
        fields["verified"][b] = "re-verification" not in single.message
        fields["state_drift"][b] = single.state_drift
        fields["drift"][b] = single.drift
        fields["mirror_values"][b] = single.mirror_values
        fields["neighbourhood_slack"][b] = single.neighbourhood_slack
        fields["fallback"][b] = True
    return BatchStep(**fields, evaluation=step.evaluation)


_ARRAY_FIELDS = (
    "policy",
    "old_policy",
    "objective",
    "staying",
    "kind",
    "bound",
    "tolerance",
    "certified",
    "verified",
    "sampling",
    "drift_weights",
    "state_drift",
    "drift",
    "mirror_values",
    "neighbourhood_slack",
    "multiplier",
    "fallback",
)

Solver = Callable[..., BatchStep]
