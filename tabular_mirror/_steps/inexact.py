"""Inexact mirror steps: k gradient steps on the mirror objective, the way practice does it.

The paper's own code (and every deep-RL implementation) approximates the argmax with a few
gradient steps; the theory covers only the exact argmax. These steps let users measure how far
from the argmax monotonic improvement survives.

- ``"softmax"``: gradient ascent on logits theta (pibar = softmax(theta)), started at
  theta = log pi; the chain rule gives d/dtheta = pibar * (g - <pibar, g>) per state.
- ``"projected"``: projected gradient ascent on pibar directly (Euclidean projection onto each
  simplex), started at pi.

g is the gradient of the objective divided by beta[s] (so the step size is per unit of
sampling weight), by the drift's own gradient when it has one and by central finite
differences otherwise. After the k steps the candidate is pulled back towards pi (halving the
move) until it lies in N(pi), as the authors' code does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .general import objective_gradient
from .separable import project_rows

if TYPE_CHECKING:  # pragma: no cover
    from ..algorithm import Context, MirrorAlgorithm

PARAMETRISATIONS = ("softmax", "projected")


def _gradient(algorithm: MirrorAlgorithm, context: Context, candidate: np.ndarray) -> np.ndarray:
    from ..algorithm import mirror_objective

    gradient = objective_gradient(algorithm, context, candidate)
    if gradient is not None and np.all(np.isfinite(gradient)):
        return gradient
    step = 1e-7
    out = np.zeros(candidate.shape)
    for index in np.ndindex(candidate.shape):  # finite differences: small problems only
        up, down = candidate.copy(), candidate.copy()
        up[index] += step
        down[index] -= step
        out[index] = (
            float(mirror_objective(algorithm, context, up))
            - float(mirror_objective(algorithm, context, down))
        ) / (2 * step)
    return out


def inexact_rows(
    algorithm: MirrorAlgorithm,
    context: Context,
    steps: int,
    learning_rate: float,
    parametrisation: str,
) -> np.ndarray:
    """The candidate after ``steps`` gradient steps, pulled back into N(pi)."""
    policy = np.asarray(context.policy, dtype=float)
    beta = np.asarray(context.sampling_weights, dtype=float)[:, None]
    # infeasible actions (mdp.action_mask) keep probability 0: logit -inf, projection onto the face
    infeasible = ~context.mdp.action_mask if context.mdp.has_infeasible_actions else None
    if parametrisation == "softmax":
        logits = np.log(np.maximum(policy, 1e-12))
        if infeasible is not None:
            logits[infeasible] = -np.inf
        candidate = policy.copy()
        for _ in range(steps):
            gradient = _gradient(algorithm, context, candidate) / beta
            centred = gradient - (candidate * gradient).sum(axis=1, keepdims=True)
            logits = logits + learning_rate * candidate * centred
            shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
            candidate = shifted / shifted.sum(axis=1, keepdims=True)
    else:
        candidate = policy.copy()
        floor = 0.0 if algorithm.drift.rational else 1e-12  # logarithmic drifts need p > 0
        for _ in range(steps):
            gradient = _gradient(algorithm, context, candidate) / beta
            moved = candidate + learning_rate * gradient
            if infeasible is not None:
                moved[infeasible] = -np.inf  # project_rows maps -inf to 0
            candidate = project_rows(moved)
            if floor:
                candidate = np.maximum(candidate, floor)
                if infeasible is not None:
                    candidate[infeasible] = 0.0
                candidate /= candidate.sum(axis=1, keepdims=True)
    for _ in range(60):
        if algorithm.neighbourhood.contains(context, candidate):
            break
        candidate = 0.5 * (candidate + policy)
    return candidate
