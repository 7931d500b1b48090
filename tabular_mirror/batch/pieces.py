"""Which algorithms the batched engine runs, and their pieces evaluated over a batch.

:func:`batch_plan` recognises an algorithm's pieces with the same functions the per-MDP step
uses (:func:`tabular_mirror._steps.families.drift_family` and ``ball_family``) and returns a
:class:`BatchPlan`, or raises :class:`~tabular_mirror.errors.InvalidParameterError` naming
what the batched engine supports:

- drift: zero, forward KL, reverse KL, squared L2, squared TV, PPO clip, or a positive
  multiple of one of them (``scaled``);
- drift distribution nu: same as beta, rhobar_{pi_old}, or fixed (not depending on pibar);
- neighbourhood: all of Pi; an average ball (TRPO's average KL, the paper's drift and KL
  balls) or per-state balls, whose divergence is the drift's own family (or any, with a zero
  drift), or a KL ball with a squared L2 / squared TV drift;
- sampling beta: uniform, d, rhobar_{pi_old}, or fixed.

The per-state pieces are evaluated by the pieces' own vectorised methods on the batch's rows
flattened to (B S, A) (:class:`RowContext`), so a drift's value and gradient are the very
formulas of the per-MDP path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._steps.families import ball_family, drift_family
from ..algorithm import MirrorAlgorithm
from ..drift_distributions import FixedDrift, OldVisitation, SameAsSampling
from ..errors import InvalidParameterError
from ..neighbourhoods import AverageBall, Everything, StateBall
from ..sampling import (
    FixedSampling,
    InitialSampling,
    UniformSampling,
    VisitationSampling,
    distribution_array,
)
from .evaluation import BatchEvaluation
from .model import MDPBatch

__all__ = ["BatchPlan", "RowContext", "batch_plan", "SUPPORTED"]

#: What :func:`batch_plan` accepts, for messages and docs.
SUPPORTED = (
    "drift zero / forward KL / reverse KL / squared L2 / squared TV / PPO clip (or scaled); "
    "nu = beta, rhobar_pi_old or fixed; N = Pi, an average or per-state ball of the drift's "
    "family (any with a zero drift, e.g. TRPO), or a KL ball with a squared L2 / TV drift; "
    "beta uniform, d, rhobar_pi_old or fixed"
)


@dataclass(frozen=True)
class RowContext:
    """A stand-in for :class:`tabular_mirror.Context` over flattened rows (B S, A).

    The shipped drifts and divergences only read ``policy`` and ``advantages`` row by row, so
    their ``value`` and ``gradient`` run unchanged on all rows of a batch at once.
    """

    policy: np.ndarray
    advantages: np.ndarray
    mdp: Any = None


@dataclass(frozen=True)
class BatchPlan:
    """How the batched engine solves an algorithm's step.

    ``family``, ``factor``, ``epsilon``: the drift (D = factor D_family); ``solver``:
    "separable" (N = Pi), "average_ball", "state_ball"; ``ball``: ball_family's
    (name, factor, row divergence, bound) or None; ``combined``: the ball's KL is added to an
    L2 / TV drift's row problem (:func:`tabular_mirror._steps.separable.kl_combined_rows`).
    """

    algorithm: MirrorAlgorithm
    family: str
    factor: float
    epsilon: float | None
    solver: str
    ball: tuple | None = None
    combined: bool = False

    # ------------------------------------------------------------------ distributions
    def sampling(self, batch: MDPBatch, evaluation: BatchEvaluation) -> np.ndarray:
        """beta[b, s] for every member (> 0 everywhere, else InvalidParameterError)."""
        return _sampling(self.algorithm.sampling, batch, evaluation)

    def drift_weights(
        self, batch: MDPBatch, evaluation: BatchEvaluation, beta: np.ndarray
    ) -> np.ndarray:
        """nu[b, s] (it does not depend on the candidate)."""
        piece = self.algorithm.drift_distribution
        if isinstance(piece, SameAsSampling):
            return beta
        if isinstance(piece, OldVisitation):
            return evaluation.normalized_visitation
        assert isinstance(piece, FixedDrift)
        return _fixed(piece.distribution, batch, "drift distribution")

    def ball_weights(
        self, batch: MDPBatch, evaluation: BatchEvaluation, beta: np.ndarray
    ) -> np.ndarray:
        """w[b, s] of an average ball."""
        neighbourhood = self.algorithm.neighbourhood
        assert isinstance(neighbourhood, AverageBall)
        if neighbourhood.weighting == "uniform":
            return np.full(beta.shape, 1.0 / batch.num_states)
        if neighbourhood.weighting == "visitation":
            return evaluation.normalized_visitation
        return _fixed(neighbourhood.weighting, batch, "weighting")

    def radius(self) -> float:
        """The ball's bound (radius; radius^2 for a TV state ball; as ball_family says)."""
        assert self.ball is not None
        return float(self.ball[3])

    # ------------------------------------------------------------------ per-state pieces
    def state_drift(self, policy: np.ndarray, advantages: np.ndarray, candidate: np.ndarray):
        """D_pi(pibar | s), (B, S), by the drift's own ``value`` on the flattened rows."""
        size, num_states, num_actions = policy.shape
        context = RowContext(policy.reshape(-1, num_actions), advantages.reshape(-1, num_actions))
        with np.errstate(divide="ignore", invalid="ignore"):
            values = self.algorithm.drift.value(context, candidate.reshape(-1, num_actions))
        return np.asarray(values, dtype=float).reshape(size, num_states)

    def drift_gradient(self, policy: np.ndarray, advantages: np.ndarray, candidate: np.ndarray):
        """dD/dpibar, (B, S, A), by the drift's own ``gradient`` on the flattened rows."""
        num_actions = policy.shape[2]
        context = RowContext(policy.reshape(-1, num_actions), advantages.reshape(-1, num_actions))
        with np.errstate(divide="ignore", invalid="ignore"):
            gradient = self.algorithm.drift.gradient(context, candidate.reshape(-1, num_actions))
        return np.asarray(gradient, dtype=float).reshape(policy.shape)

    def ball_divergence(self, policy: np.ndarray, candidate: np.ndarray) -> np.ndarray:
        """The ball's per-state divergence div(pi[s], pibar[s]), (B, S)."""
        assert self.ball is not None
        num_actions = policy.shape[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            values = self.ball[2](
                policy.reshape(-1, num_actions), candidate.reshape(-1, num_actions)
            )
        return np.asarray(values, dtype=float).reshape(policy.shape[:2])

    def neighbourhood_slack(
        self,
        batch: MDPBatch,
        evaluation: BatchEvaluation,
        beta: np.ndarray,
        policy: np.ndarray,
        candidate: np.ndarray,
    ) -> np.ndarray:
        """slack(pibar) per member: +inf for Pi, radius minus the (average / largest) divergence."""
        if self.solver == "separable":
            return np.full(batch.size, np.inf)
        divergence = self.ball_divergence(policy, candidate)
        if self.solver == "state_ball":
            return self.radius() - divergence.max(axis=1)
        weights = self.ball_weights(batch, evaluation, beta)
        with np.errstate(invalid="ignore"):
            average = np.einsum("bs,bs->b", weights, np.where(weights > 0, divergence, 0.0))
        return float(self.algorithm.neighbourhood.radius) - average


def _fixed(distribution: tuple, batch: MDPBatch, name: str) -> np.ndarray:
    array = distribution_array(distribution, False)
    if array.shape != (batch.num_states,):
        raise InvalidParameterError(
            f"{name} has {array.size} entries, but the batch has S = {batch.num_states}"
        )
    return np.broadcast_to(array, (batch.size, batch.num_states))


def _sampling(piece: Any, batch: MDPBatch, evaluation: BatchEvaluation) -> np.ndarray:
    if isinstance(piece, UniformSampling):
        beta = np.full((batch.size, batch.num_states), 1.0 / batch.num_states)
    elif isinstance(piece, InitialSampling):
        beta, name = batch.initial, "sampling (initial distribution d)"
    elif isinstance(piece, VisitationSampling):
        beta, name = evaluation.normalized_visitation, "sampling (normalized visitation)"
    else:
        assert isinstance(piece, FixedSampling)
        beta, name = _fixed(piece.distribution, batch, "sampling distribution"), "sampling"
    if not isinstance(piece, UniformSampling):
        bad = ~(beta > 0)
        if bad.any():
            b, s = (int(i) for i in np.argwhere(bad)[0])
            raise InvalidParameterError(
                f"{name}[{b}, {s}] = {beta[b, s]}, expected > 0 (a sampling distribution must "
                "be positive everywhere)"
            )
    return beta


def _unsupported(algorithm: MirrorAlgorithm, what: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"the batched engine cannot run {algorithm.name!r}: {what}. It supports {SUPPORTED}; "
        "use tabular_mirror.mirror_learning per MDP for anything else"
    )


def batch_plan(algorithm: MirrorAlgorithm) -> BatchPlan:
    """Recognise ``algorithm``'s pieces (see the module docstring) or raise.

    Raises
    ------
    InvalidParameterError
        A piece the batched engine has no vectorised exact solver for (the message lists
        what it supports).
    """
    if not isinstance(algorithm, MirrorAlgorithm):
        raise InvalidParameterError(f"algorithm = {algorithm!r} is not a MirrorAlgorithm")
    if algorithm.schedules:
        raise InvalidParameterError(
            f"algorithm {algorithm.name!r} has schedules "
            f"({', '.join(path for path, _ in algorithm.schedules)}): the batched engine runs "
            "one algorithm for every iteration; use mirror_learning, or algorithm.at(n)"
        )
    family = drift_family(algorithm.drift)
    if family is None:
        raise _unsupported(algorithm, f"drift {algorithm.drift!r} has no batched solver")
    name, factor, epsilon = family
    nu = algorithm.drift_distribution
    if not isinstance(nu, SameAsSampling | OldVisitation | FixedDrift):
        raise _unsupported(algorithm, f"drift distribution {nu!r}")
    if not isinstance(
        algorithm.sampling, UniformSampling | InitialSampling | VisitationSampling | FixedSampling
    ):
        raise _unsupported(algorithm, f"sampling {algorithm.sampling!r}")
    factor = float(factor)
    epsilon = None if epsilon is None else float(epsilon)
    neighbourhood = algorithm.neighbourhood
    if isinstance(neighbourhood, Everything):
        return BatchPlan(algorithm, name, factor, epsilon, "separable")
    ball = ball_family(neighbourhood)
    if ball is None or not isinstance(neighbourhood, AverageBall | StateBall):
        raise _unsupported(algorithm, f"neighbourhood {neighbourhood!r}")
    solver = "state_ball" if isinstance(neighbourhood, StateBall) else "average_ball"
    if name in ("zero", ball[0]):
        return BatchPlan(algorithm, name, factor, epsilon, solver, ball)
    if ball[0] == "forward_kl" and name in ("squared_l2", "squared_tv"):
        return BatchPlan(algorithm, name, factor, epsilon, solver, ball, combined=True)
    raise _unsupported(
        algorithm, f"a {name} drift with a {ball[0]} ball has no batched Lagrangian solver"
    )
