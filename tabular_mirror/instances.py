"""Named instances of mirror learning (Kuba et al. 2022, section 4 and Appendix E).

Each function returns a plain :class:`~tabular_mirror.algorithm.MirrorAlgorithm` composed of
the pieces; users build their own the same way. The table of the paper:

=========  =======================================  ===============  ===================  ==========
instance   drift D_pi(pibar | s)                    nu               N(pi)                beta
=========  =======================================  ===============  ===================  ==========
gpi        0                                        beta             Pi                   uniform
trl        C_pi KL(pi[s] || pibar[s])               max-KL state     Pi                   rhobar_pi
trpo       0                                        -                avg KL <= delta      rhobar_pi
ppo        PPO clip drift (epsilon)                 rhobar_pi        Pi                   rhobar_pi
ppo_kl     tau KL (forward, or reverse)             rhobar_pi        Pi                   rhobar_pi
pmd        (1/step) KL(pibar[s] || pi[s])           beta             Pi                   rhobar_pi
=========  =======================================  ===============  ===================  ==========

(TRPO's average KL is sum_s rhobar_pi[s] KL(pi[s] || pibar[s]). C_pi = 4 gamma max|A_pi| /
(1-gamma)^2 unless a coefficient is given.) :func:`paper_experiment` builds the section 7 grid:
drifts zero, squared TV, squared L2 and forward KL scaled by 50, with the "drift ball" (uniform
mean of the unscaled drift <= 0.05) or the KL ball, and d = beta = nu uniform.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ._validate import choice as check_choice
from .algorithm import MirrorAlgorithm
from .drift_distributions import DriftDistribution, MaxDriftState, OldVisitation, SameAsSampling
from .drifts import (
    Drift,
    ForwardKL,
    PPOClip,
    ReverseKL,
    SquaredEuclidean,
    SquaredTV,
    TrustRegionKL,
    ZeroDrift,
    scaled,
)
from .neighbourhoods import AverageBall, Everything, Neighbourhood, drift_ball
from .sampling import Sampling, UniformSampling, VisitationSampling
from .schedules import Reciprocal, Schedule, scheduled_parameter

__all__ = [
    "custom",
    "gpi",
    "trl",
    "trpo",
    "ppo",
    "ppo_kl",
    "pmd",
    "paper_experiment",
    "paper_grid",
    "PAPER_DRIFTS",
    "PAPER_NEIGHBOURHOODS",
]


def custom(
    drift: Drift,
    *,
    neighbourhood: Neighbourhood | None = None,
    sampling: Sampling | None = None,
    drift_distribution: DriftDistribution | None = None,
    name: str | None = None,
) -> MirrorAlgorithm:
    """Your own instance from a drift (e.g. a :class:`~tabular_mirror.drifts.CallableDrift`):
    N = Pi, beta uniform and nu = beta unless given; named after the drift.

    >>> import numpy as np
    >>> from tabular_mirror.drifts import CallableDrift
    >>> mine = custom(CallableDrift(lambda pi, pibar: ((pibar - pi) ** 2).sum(axis=1),
    ...                             name="squared L2", convex=True))
    >>> mine.name, type(mine.neighbourhood).__name__, type(mine.sampling).__name__
    ('squared L2', 'Everything', 'UniformSampling')
    """
    return MirrorAlgorithm.with_defaults(
        drift,
        drift_distribution,
        neighbourhood,
        sampling,
        name if name is not None else getattr(drift, "name", type(drift).__name__),
    )


def gpi(sampling: Sampling | None = None) -> MirrorAlgorithm:
    """Generalised policy iteration: zero drift, N = Pi, any positive beta (uniform default).

    The step is greedy in A_pi; with the "closest" tie rule it is Howard's policy iteration.
    """
    return MirrorAlgorithm(
        ZeroDrift(), SameAsSampling(), Everything(), sampling or UniformSampling(), "GPI"
    )


def trl(coefficient: float | None = None) -> MirrorAlgorithm:
    """Trust-region learning (Schulman et al. 2015, Algorithm 1): maximise
    L_pi(pibar) - C max_s KL(pi[s] || pibar[s]); nu is the point mass on the max-KL state."""
    return MirrorAlgorithm(
        TrustRegionKL(coefficient), MaxDriftState(), Everything(), VisitationSampling(), "TRL"
    )


def trpo(delta: Any = 0.01) -> MirrorAlgorithm:
    """TRPO (Schulman et al. 2015): zero drift and the average-KL ball
    N = {pibar : sum_s rhobar_pi[s] KL(pi[s] || pibar[s]) <= delta}. ``delta`` may be a
    schedule (a radius that changes across iterations, :mod:`tabular_mirror.schedules`)."""
    delta = scheduled_parameter(delta, "delta")
    return MirrorAlgorithm(
        ZeroDrift(),
        SameAsSampling(),
        AverageBall("kl", delta, "visitation"),
        VisitationSampling(),
        f"TRPO(delta={delta})",
    )


def ppo(epsilon: Any = Fraction(1, 5)) -> MirrorAlgorithm:
    """PPO-clip (Schulman et al. 2017) with the exact argmax of the clipped surrogate
    (``epsilon`` may be a schedule)."""
    epsilon = scheduled_parameter(epsilon, "epsilon")
    return MirrorAlgorithm(
        PPOClip(epsilon),
        OldVisitation(),
        Everything(),
        VisitationSampling(),
        f"PPO(epsilon={epsilon})",
    )


def ppo_kl(tau: Any = 1.0, reverse: bool = False) -> MirrorAlgorithm:
    """PPO with a fixed KL penalty tau KL(pi || pibar) (or KL(pibar || pi) with reverse=True).

    The adaptive-coefficient variant is not an instance (see drifts.AdaptiveKLPenalty); a
    coefficient fixed in advance for each iteration, a schedule n -> tau_n
    (:mod:`tabular_mirror.schedules`), is a mirror step of its own algorithm at every n.
    """
    tau = scheduled_parameter(tau, "tau")
    drift = scaled(ReverseKL() if reverse else ForwardKL(), tau)
    direction = "reverse" if reverse else "forward"
    return MirrorAlgorithm(
        drift,
        OldVisitation(),
        Everything(),
        VisitationSampling(),
        f"PPO-KL(tau={tau}, {direction})",
    )


def pmd(step: Any = 1.0, sampling: Sampling | None = None) -> MirrorAlgorithm:
    """Policy mirror descent / MDPO / NPG: drift (1/step) KL(pibar[s] || pi[s]), nu = beta.

    Closed form pi_new ∝ pi exp(step A_pi) (Xiao 2022's PMD with eta = step; Agarwal et al.'s
    NPG with eta_NPG = (1 - gamma) step). beta defaults to rhobar_pi (on-policy); the update
    does not depend on beta because nu = beta.

    ``step`` may be a schedule n -> eta_n (:mod:`tabular_mirror.schedules`): the drift is then
    (1/eta_n) KL at iteration n, e.g. ``pmd(geometric(1, 2))`` for Xiao (2022)'s PMD with
    geometrically increasing steps (Theorem 10), or MDPO with a shrinking step.
    """
    step = scheduled_parameter(step, "step")
    factor = Reciprocal(step) if isinstance(step, Schedule) else 1 / step
    return MirrorAlgorithm(
        scaled(ReverseKL(), factor),
        SameAsSampling(),
        Everything(),
        sampling or VisitationSampling(),
        f"PMD(step={step})",
    )


#: The section 7 drifts (unscaled) by name.
PAPER_DRIFTS = {
    "zero": ZeroDrift,
    "squared_tv": SquaredTV,
    "squared_l2": SquaredEuclidean,
    "forward_kl": ForwardKL,
}

#: The section 7 neighbourhoods by name.
PAPER_NEIGHBOURHOODS = ("drift_ball", "kl_ball")


def paper_experiment(
    drift: str, neighbourhood: str, scale: Any = 50, radius: Any = "1/20"
) -> MirrorAlgorithm:
    """One cell of the paper's Figure 3: drift scaled by 50, drift ball or KL ball of radius
    0.05, nu = beta = uniform. For the zero drift the drift ball is all of Pi."""
    from fractions import Fraction

    check_choice(drift, "drift", tuple(PAPER_DRIFTS))
    check_choice(neighbourhood, "neighbourhood", PAPER_NEIGHBOURHOODS)
    radius = Fraction(radius)
    base = PAPER_DRIFTS[drift]()
    if neighbourhood == "kl_ball":
        region = AverageBall("kl", radius, "uniform")
    elif drift == "zero":
        region = Everything()
    else:
        region = drift_ball(base, radius)
    return MirrorAlgorithm(
        scaled(base, scale),
        SameAsSampling(),
        region,
        UniformSampling(),
        f"{drift} x{scale}, {neighbourhood}",
    )


def paper_grid(scale: Any = 50, radius: Any = "1/20") -> list[MirrorAlgorithm]:
    """All 8 cells (4 drifts x 2 neighbourhoods) of the paper's experiment."""
    return [
        paper_experiment(d, n, scale, radius) for n in PAPER_NEIGHBOURHOODS for d in PAPER_DRIFTS
    ]
