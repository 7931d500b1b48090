"""The context of one mirror step: everything a piece may look at.

Kuba et al. (2022), section 3: at pi = pi_old the drift D_pi(pibar | s), the drift distribution
nu^{pibar}_pi, the neighbourhood N(pi) and the sampling distribution beta_pi may depend on the
MDP, on pi and on its evaluation (V_pi, Q_pi, A_pi, rho_pi). :class:`Context` holds exactly
that. It sits below the pieces (drifts, drift distributions, neighbourhoods, sampling) and
below :mod:`tabular_mirror.algorithm`, which builds it (:func:`~tabular_mirror.algorithm.
make_context`) and re-exports it: no piece imports the module that imports the pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .model import FiniteMDP
    from .results import EvaluationResult

__all__ = ["Context"]


@dataclass(frozen=True)
class Context:
    """Everything a piece may look at: the MDP, pi_old and its exact evaluation, and beta.

    ``policy`` is pi (pi_old), ``evaluation`` its :class:`~tabular_mirror.results.
    EvaluationResult`, ``sampling_weights`` beta_pi (filled in by
    :func:`tabular_mirror.algorithm.make_context`).
    """

    mdp: FiniteMDP
    policy: np.ndarray
    evaluation: EvaluationResult
    sampling_weights: np.ndarray | None = None

    @property
    def advantages(self) -> np.ndarray:
        """A_pi[s, a] of the current policy."""
        return self.evaluation.advantages

    @property
    def q_values(self) -> np.ndarray:
        """Q_pi[s, a] of the current policy."""
        return self.evaluation.q_values
