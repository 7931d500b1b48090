"""The general mirror step: any drift, drift distribution and neighbourhood, by SLSQP.

``scipy.optimize.minimize(method="SLSQP")`` maximises the mirror objective over the product of
simplices intersected with {slack(pibar) >= 0}, starting from pi_old (always feasible). The
answer is then certified, when the theory allows, by a *Frank-Wolfe gap*: for a concave
objective F (convex drift, nu independent of pibar) over a convex set C,
F* - F(p) <= max_{q in C} <grad F(p), q - p>, and the linear maximisation over C is itself a
zero-drift mirror step that the exact solvers handle (greedy for Pi, a Lagrangian for the
balls). Otherwise the certificate is ``local``: a first-order point that may not be global.

Jaggi, "Revisiting Frank-Wolfe: Projection-Free Sparse Convex Optimization", ICML 2013.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import minimize

from ..neighbourhoods import AverageBall, Everything, StateBall
from .constrained import average_ball, family_rows, state_ball
from .faces import mdp_faces, on_faces
from .families import ball_family
from .separable import greedy_rows

if TYPE_CHECKING:  # pragma: no cover
    from ..algorithm import Context, MirrorAlgorithm


def objective_gradient(
    algorithm: MirrorAlgorithm, context: Context, candidate: np.ndarray
) -> np.ndarray | None:
    """dF/dpibar = beta A - nu dD/dpibar when nu does not depend on pibar (else None)."""
    if algorithm.drift_distribution.depends_on_candidate:
        return None
    drift_gradient = algorithm.drift.gradient(context, candidate)
    if drift_gradient is None:
        return None
    weights = algorithm.drift_distribution.weights(context, candidate, None)
    beta = np.asarray(context.sampling_weights, dtype=float)
    return beta[:, None] * np.asarray(context.advantages, dtype=float) - np.asarray(
        weights, dtype=float
    )[:, None] * np.nan_to_num(drift_gradient, nan=0.0, posinf=1e300, neginf=-1e300)


def linear_oracle(
    algorithm: MirrorAlgorithm, context: Context, gradient: np.ndarray
) -> tuple[np.ndarray, float] | None:
    """argmax_{q in N(pi)} <gradient, q> with its own gap bound, or None if N is unsupported."""
    policy = np.asarray(context.policy, dtype=float)
    beta = np.asarray(context.sampling_weights, dtype=float)
    scaled = gradient / beta[:, None]
    neighbourhood = algorithm.neighbourhood
    faces = mdp_faces(context.mdp)
    if isinstance(neighbourhood, Everything):

        def vertex(p: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return greedy_rows(p, a, "vertex"), np.zeros(len(p))

        return on_faces(faces, vertex, policy, scaled)[0], 0.0
    family = ball_family(neighbourhood)
    if family is None:
        return None
    name, factor, row, bound = family

    def row_divergence(candidate: np.ndarray) -> np.ndarray:
        return row(policy, candidate)

    rows_for = family_rows(name, policy, scaled, np.zeros(len(policy)), "vertex", faces=faces)
    if isinstance(neighbourhood, StateBall):
        rows, _, gaps = state_ball(rows_for, row_divergence, float(bound), len(policy))
        return rows, float(np.dot(beta, gaps))
    assert isinstance(neighbourhood, AverageBall)
    weights = np.asarray(neighbourhood.state_weights(context), dtype=float)
    rows, _, gap, _ = average_ball(
        rows_for,
        beta,
        factor * weights / beta,
        weights,
        row_divergence,
        float(neighbourhood.radius),
    )
    return rows, gap


def frank_wolfe_gap(
    algorithm: MirrorAlgorithm, context: Context, candidate: np.ndarray
) -> float | None:
    """max_{q in N} <grad F(p), q - p> (+ the oracle's own gap): bounds F* - F(p) if F concave."""
    if not algorithm.drift.convex:
        return None
    gradient = objective_gradient(algorithm, context, candidate)
    if gradient is None:
        return None
    oracle = linear_oracle(algorithm, context, gradient)
    if oracle is None:
        return None
    best, oracle_gap = oracle
    return max(float(np.sum(gradient * (best - candidate))), 0.0) + oracle_gap


def general_step(
    algorithm: MirrorAlgorithm, context: Context, start: np.ndarray | None = None
) -> tuple[np.ndarray, str, float | None, str]:
    """Maximise the mirror objective with SLSQP. Returns (candidate, kind, bound, detail)."""
    from ..algorithm import mirror_objective

    policy = np.asarray(context.policy, dtype=float)
    num_states, num_actions = policy.shape
    uses_logs = not algorithm.drift.rational or (
        isinstance(algorithm.neighbourhood, (StateBall, AverageBall))
        and getattr(algorithm.neighbourhood, "divergence", None) == "kl"
    )
    lower = 1e-12 if uses_logs else 0.0
    feasible = context.mdp.action_mask  # infeasible entries are fixed at 0 (bounds (0, 0))
    initial = np.clip(policy if start is None else start, lower, 1.0)
    initial = np.where(feasible, initial, 0.0)
    initial = initial / initial.sum(1, keepdims=True)

    def objective(x: np.ndarray) -> float:
        value = mirror_objective(algorithm, context, x.reshape(policy.shape))
        return -float(value) if np.isfinite(value) else 1e300

    def jacobian(x: np.ndarray) -> np.ndarray:
        gradient = objective_gradient(algorithm, context, x.reshape(policy.shape))
        return -gradient.ravel()

    has_gradient = objective_gradient(algorithm, context, initial) is not None
    selector = np.kron(np.eye(num_states), np.ones(num_actions))
    constraints: list[dict[str, Any]] = [
        {"type": "eq", "fun": lambda x: selector @ x - 1.0, "jac": lambda x: selector}
    ]
    if not isinstance(algorithm.neighbourhood, Everything):
        constraints.append(
            {
                "type": "ineq",
                "fun": lambda x: np.atleast_1d(
                    float(algorithm.neighbourhood.slack(context, x.reshape(policy.shape)))
                ),
            }
        )
    outcome = minimize(
        objective,
        initial.ravel(),
        jac=jacobian if has_gradient else None,
        method="SLSQP",
        bounds=[(lower, 1.0) if f else (0.0, 0.0) for f in feasible.ravel()],
        constraints=constraints,
        options={"maxiter": 1000, "ftol": 1e-15},
    )
    candidate = np.clip(outcome.x.reshape(policy.shape), 0.0, None)
    candidate /= candidate.sum(axis=1, keepdims=True)
    if not algorithm.neighbourhood.contains(context, candidate):
        # pull back towards pi_old (always inside) until feasible
        for _ in range(60):
            candidate = 0.5 * (candidate + policy)
            if algorithm.neighbourhood.contains(context, candidate):
                break
    gap = frank_wolfe_gap(algorithm, context, candidate)
    if gap is not None:
        return candidate, "frank_wolfe_gap", gap, f"SLSQP: {outcome.message}"
    return candidate, "local", None, f"SLSQP (local optimum only): {outcome.message}"
