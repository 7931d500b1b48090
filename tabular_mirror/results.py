"""Result records: frozen dataclasses that say what was computed and how it is known.

Every iterative result carries ``converged``, ``status`` (one of :data:`STATUSES`, meaning the
same everywhere), ``message`` (one sentence from :data:`MESSAGES`), ``iterations`` and evidence:
``residual`` and ``error_bound``. ``raise_for_status()`` raises
:class:`~tabular_mirror.errors.NotConvergedError` holding the result when ``converged`` is False;
``summary()`` renders a plain-text table.

Names follow the paper (spec section 1): ``values`` V_pi, ``q_values`` Q_pi, ``advantages``
A_pi, ``expected_return`` eta(pi) = d . V_pi, ``visitation`` rho_pi (improper, sums to
1/(1-gamma)), ``normalized_visitation`` rhobar_pi = (1-gamma) rho_pi.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any

import numpy as np

from .errors import NotConvergedError

__all__ = [
    "STATUSES",
    "MESSAGES",
    "EvaluationResult",
    "SolveResult",
    "IterationRecord",
    "Certificate",
    "StepResult",
    "CERTIFICATE_KINDS",
    "FiniteHorizonResult",
    "AverageRewardResult",
]

#: The status strings shared by every result.
STATUSES = ("converged", "max_iterations", "not_certified", "infeasible")

#: One sentence per (status, detail); the single table results draw their messages from.
MESSAGES = {
    ("converged", "exact"): "Solved exactly in rational arithmetic; the error bound is 0.",
    ("converged", "certified"): "Converged; the certified error bound is below the tolerance.",
    ("converged", "policy_stable"): (
        "Converged: the greedy policy is stable and its Bellman residual is certified."
    ),
    ("max_iterations", "iterations"): (
        "Stopped at max_iterations before the stopping rule held; the result is not converged."
    ),
    ("not_certified", "bound"): (
        "Finished, but the certified error bound is above the requested tolerance."
    ),
    ("not_certified", "visitation"): (
        "The values are certified; the visitation's certified error bound is above its "
        "tolerance (see visitation_error_bound)."
    ),
    ("max_iterations", "time_limit"): (
        "Stopped at the time limit before the solver finished; the result is not converged "
        "(pass a larger time_limit, or use policy iteration, usually much faster)."
    ),
    ("max_iterations", "cap"): (
        "Stopped at the default iteration cap before the stopping rule held; the result is not "
        "converged (pass max_iterations to allow more, or use policy iteration)."
    ),
    ("infeasible", "solver"): "The solver reported the problem infeasible or failed.",
    ("converged", "backward_induction"): (
        "Backward induction is exact in T steps; the error bound covers the rounding (0 in "
        "exact mode)."
    ),
    ("converged", "gain"): (
        "Converged: the policy is stable and the optimality equations certify its gain."
    ),
    ("not_certified", "gain"): (
        "The policy is stable, but the float bound on the optimal gain is above the tolerance "
        "(different gains in different recurrent classes: solve the exact MDP to certify)."
    ),
    ("converged", "step"): "The step is the argmax: its certificate is within tolerance.",
    ("not_certified", "step"): (
        "The step could not be certified as the argmax (see the certificate's detail)."
    ),
    ("not_certified", "inexact"): (
        "An inexact step by design: gradient steps, not the argmax (see the certificate bound)."
    ),
    ("not_certified", "verification"): (
        "The step failed re-verification (outside N, off the simplex, or objective mismatch)."
    ),
}


def message_for(status: str, detail: str) -> str:
    """The message of the shared table for ``(status, detail)``."""
    return MESSAGES[(status, detail)]


def _actions(policy: np.ndarray) -> np.ndarray:
    """The action with the largest probability in each row (the action of a deterministic
    policy), along the last axis."""
    array = np.asarray(policy)
    return np.argmax(np.asarray(array == array.max(axis=-1, keepdims=True), dtype=bool), axis=-1)


def _format_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.size > 8:
            return f"array{value.shape}"
        return np.array2string(value, precision=6, separator=", ")
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _field_table(cls: type) -> tuple[tuple[str, ...], dict[str, Any]]:
    """(field names in order, {name: default}) of a result dataclass without factories."""
    found = fields(cls)
    if any(field.default_factory is not MISSING for field in found):  # pragma: no cover
        raise TypeError(f"{cls.__name__}.of does not fill default factories")
    defaults = {field.name: field.default for field in found if field.default is not MISSING}
    return tuple(field.name for field in found), defaults


_FIELD_TABLES: dict[type, tuple[tuple[str, ...], dict[str, Any]]] = {}


class _ResultMixin:
    """``raise_for_status`` and ``summary`` for result dataclasses."""

    converged: bool
    status: str
    message: str

    @classmethod
    def of(cls, *values: Any) -> Any:
        """The result with these field values in field order (later fields at their
        defaults): what the dataclass constructor makes, without its per-field
        ``object.__setattr__`` (a third of the cost; small MDPs build thousands of results).
        Internal: the caller passes values of the right kinds."""
        table = _FIELD_TABLES.get(cls)
        if table is None:
            table = _FIELD_TABLES[cls] = _field_table(cls)
        names, defaults = table
        if not len(names) - len(defaults) <= len(values) <= len(names):
            raise TypeError(f"{cls.__name__} has {len(names)} fields, given {len(values)}")
        result = object.__new__(cls)
        state = result.__dict__
        state.update(defaults)
        state.update(zip(names, values, strict=False))
        return result

    def raise_for_status(self) -> _ResultMixin:
        """Return self if converged, else raise :class:`NotConvergedError` holding self."""
        if not self.converged:
            raise NotConvergedError(f"{type(self).__name__}: {self.status}: {self.message}", self)
        return self

    def summary(self) -> str:
        """A two-column text table of the scalar fields (arrays shown by shape if large)."""
        rows = [(f.name, _format_value(getattr(self, f.name))) for f in fields(self)]  # type: ignore[arg-type]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {text}" for name, text in rows)


@dataclass(frozen=True, repr=False)
class EvaluationResult(_ResultMixin):
    """Exact policy evaluation of one policy (see :func:`tabular_mirror.evaluate`).

    Attributes
    ----------
    policy : (S, A) pi.
    values : (S,) V_pi.
    q_values : (S, A) Q_pi; error at most ``discount * error_bound`` (float mode).
    advantages : (S, A) A_pi = Q_pi - V_pi; error at most ``(1 + discount) * error_bound``.
    expected_return : eta(pi) = sum_s d[s] V_pi[s]; error at most ``error_bound``.
    visitation : (S,) rho_pi = d^T (I - gamma P_pi)^{-1}, sums to 1/(1-gamma).
    normalized_visitation : (S,) rhobar_pi = (1 - gamma) rho_pi, a distribution.
    error_bound : certified ||values - V_pi||_inf (0 in exact mode).
    visitation_error_bound : certified ||visitation - rho_pi||_1 (0 in exact mode).
    residual : ||T_pi values - values||_inf as computed (0 in exact mode).
    method : "exact", "dense", "krylov" or "sparse_direct".
    iterations : Krylov iterations (0 for direct methods).
    exact : values are Fractions.
    converged, status, message : "converged" when both ``values`` and ``visitation`` are
        certified to their tolerances.
    values_certified : ``error_bound`` is within the values' tolerance (a solve is certified on
        its values alone).
    visitation_certified : ``visitation_error_bound`` is within the visitation's tolerance
        (True when the visitation was not computed).
    """

    policy: np.ndarray
    values: np.ndarray
    q_values: np.ndarray
    advantages: np.ndarray
    expected_return: Any
    visitation: np.ndarray
    normalized_visitation: np.ndarray
    error_bound: Any
    visitation_error_bound: Any
    residual: Any
    method: str
    iterations: int
    exact: bool
    converged: bool
    status: str
    message: str
    values_certified: bool = True
    visitation_certified: bool = True

    def __repr__(self) -> str:
        return (
            f"EvaluationResult(expected_return={_format_value(self.expected_return)}, "
            f"method={self.method!r}, error_bound={_format_value(self.error_bound)}, "
            f"status={self.status!r})"
        )


@dataclass(frozen=True)
class IterationRecord:
    """One iteration of an optimal solver (kept when ``history=True``).

    ``residual`` is the solver's own progress measure: ||T* V - V||_inf of the iterate for
    value iteration and modified policy iteration, ||T* V_k - V_k||_inf = max_{s,a} A_k for
    policy iteration. ``changed_states`` counts states whose greedy action changed.
    """

    iteration: int
    residual: Any
    expected_return: Any
    changed_states: int


@dataclass(frozen=True, repr=False)
class SolveResult(_ResultMixin):
    """Optimal values and an optimal policy (see :func:`tabular_mirror.solve`).

    ``values`` are always the exact evaluation of ``policy`` (never a raw value-iteration
    iterate, which is kept separately in ``iterate``). ``residual`` is
    ||T* values - values||_inf = max_{s,a} A_policy[s, a] and ``error_bound`` certifies
    ||V* - values||_inf <= residual / (1 - gamma) + evaluation error (0 in exact mode when the
    policy is optimal).

    Attributes
    ----------
    values : (S,) V of ``policy`` (V* when converged).
    q_values : (S, A) Q of ``policy``.
    policy : (S, A) a deterministic greedy policy.
    expected_return : eta = d . values.
    iterations : iterations of the method.
    converged, status, message : what happened.
    residual, error_bound : the certificate described above.
    method : the method name.
    exact : values are Fractions.
    evaluation : the :class:`EvaluationResult` of ``policy``.
    iterate : (S,) the last value-function iterate (value / modified policy iteration), or None.
    iterate_residual : ||T* iterate - iterate||_inf, or None.
    occupancy : (S, A) the LP dual, the discounted state-action occupancy measure, or None.
    history : tuple of :class:`IterationRecord` when requested, else None.
    """

    values: np.ndarray
    q_values: np.ndarray
    policy: np.ndarray
    expected_return: Any
    iterations: int
    converged: bool
    status: str
    message: str
    residual: Any
    error_bound: Any
    method: str
    exact: bool
    evaluation: EvaluationResult
    iterate: np.ndarray | None = None
    iterate_residual: Any = None
    occupancy: np.ndarray | None = None
    history: tuple[IterationRecord, ...] | None = None

    @property
    def actions(self) -> np.ndarray:
        """(S,) the action of each state of the deterministic ``policy`` (int64)."""
        return _actions(self.policy)

    def __repr__(self) -> str:
        return (
            f"SolveResult(method={self.method!r}, status={self.status!r}, "
            f"iterations={self.iterations}, expected_return="
            f"{_format_value(self.expected_return)}, error_bound="
            f"{_format_value(self.error_bound)})"
        )


#: Kinds of step certificates, strongest first.
CERTIFICATE_KINDS = (
    "exact",  # rational arithmetic, closed form: the argmax itself
    "duality_gap",  # a dual bound: objective* - objective <= bound
    "frank_wolfe_gap",  # concave objective, convex N: objective* - objective <= bound
    "kkt_residual",  # first-order residual of a closed form
    "local",  # a local first-order point of a problem not known to be concave
    "inexact",  # a deliberately approximate step (k gradient steps); bound if computable
)


@dataclass(frozen=True)
class Certificate:
    """How a mirror step knows it found the argmax.

    ``bound`` is an upper bound on (max objective - achieved objective) when ``kind`` gives one
    (None for ``local``); ``certified`` says whether bound <= ``tolerance``; ``detail`` says
    which solver ran and what it reported.
    """

    kind: str
    bound: Any
    tolerance: Any
    certified: bool
    detail: str


@dataclass(frozen=True, repr=False)
class StepResult(_ResultMixin):
    """One mirror-learning update pi -> pi_new (see :func:`tabular_mirror.mirror_step`).

    Attributes
    ----------
    policy : (S, A) pi_new, the computed argmax.
    objective : sum_s beta[s] sum_a pi_new A_pi - drift_pi(pi_new), recomputed from the pieces.
    certificate : :class:`Certificate`.
    old_policy : (S, A) pi.
    evaluation : :class:`EvaluationResult` of pi (its V, Q, A, visitation).
    sampling : (S,) beta_pi.
    drift_weights : (S,) nu^{pi_new}_pi.
    state_drift : (S,) D_pi(pi_new | s).
    drift : drift_pi(pi_new) = sum_s nu[s] D_pi(pi_new | s), the drift paid.
    mirror_values : (S,) [M^{pi_new} V_pi](s) (Lemma 3.5: >= V_pi(s)).
    neighbourhood_slack : >= 0 iff pi_new is in N(pi).
    solver : which solver produced the step.
    converged, status, message : "converged" when certified; "not_certified" otherwise.
    """

    policy: np.ndarray
    objective: Any
    certificate: Certificate
    old_policy: np.ndarray
    evaluation: EvaluationResult
    sampling: np.ndarray
    drift_weights: np.ndarray
    state_drift: np.ndarray
    drift: Any
    mirror_values: np.ndarray
    neighbourhood_slack: Any
    solver: str
    converged: bool
    status: str
    message: str

    def __repr__(self) -> str:
        return (
            f"StepResult(solver={self.solver!r}, objective={_format_value(self.objective)}, "
            f"certificate={self.certificate.kind}:{_format_value(self.certificate.bound)}, "
            f"status={self.status!r})"
        )


@dataclass(frozen=True, repr=False)
class FiniteHorizonResult(_ResultMixin):
    """Time-dependent values and policies over a finite horizon (see
    :func:`tabular_mirror.backward_induction`).

    Attributes
    ----------
    values : (T + 1, S) V_t for t = 0..T; V_T are the terminal values.
    q_values : (T, S, A) Q_t[s, a] = r[s, a] + gamma P[s, a] . V_{t+1} (V_t[s] at infeasible
        pairs).
    policy : (T, S, A) the decision rule of each time step (deterministic for the optimum).
    expected_return : d . V_0.
    horizon : T.
    iterations : T (one backward step per time).
    converged, status, message : what happened.
    residual : 0 (backward induction is not iterative).
    error_bound : certified max_t ||values[t] - V_t||_inf (0 in exact mode).
    method : "backward_induction" or "evaluation".
    exact : values are Fractions.
    """

    values: np.ndarray
    q_values: np.ndarray
    policy: np.ndarray
    expected_return: Any
    horizon: int
    iterations: int
    converged: bool
    status: str
    message: str
    residual: Any
    error_bound: Any
    method: str
    exact: bool

    @property
    def actions(self) -> np.ndarray:
        """(T, S) the action of each time and state of a deterministic ``policy``."""
        return _actions(self.policy)

    def __repr__(self) -> str:
        return (
            f"FiniteHorizonResult(horizon={self.horizon}, expected_return="
            f"{_format_value(self.expected_return)}, error_bound="
            f"{_format_value(self.error_bound)}, status={self.status!r})"
        )


@dataclass(frozen=True, repr=False)
class AverageRewardResult(_ResultMixin):
    """Long-run average reward: gain and bias of an optimal policy (see
    :func:`tabular_mirror.average_reward`).

    Attributes
    ----------
    gain : (S,) g[s] = lim_T (1/T) E[sum_{t<T} r_t | s_0 = s] of ``policy`` (constant for a
        unichain policy).
    bias : (S,) h, the bias of ``policy`` (g + h = r_pi + P_pi h, and h sums to 0 under the
        stationary distribution of each recurrent class).
    policy : (S, A) a deterministic policy.
    expected_return : d . gain.
    recurrent_classes : tuple of (k,) state arrays, the closed classes of P_policy.
    iterations : iterations of the method.
    converged, status, message : what happened.
    residual : the largest violation of the optimality equations max_a P g = g and
        max_{a: P g = g} r + P h = g + h at ``policy``'s (g, h) (0 in exact mode when optimal).
    error_bound : certified max_s (g*[s] - gain[s]) (0 in exact mode when optimal).
    method : "policy_iteration", "linear_programming" or "relative_value_iteration".
    exact : values are Fractions.
    iterate : (S,) the last relative value iterate (relative value iteration), or None.
    """

    gain: np.ndarray
    bias: np.ndarray
    policy: np.ndarray
    expected_return: Any
    recurrent_classes: tuple
    iterations: int
    converged: bool
    status: str
    message: str
    residual: Any
    error_bound: Any
    method: str
    exact: bool
    iterate: np.ndarray | None = None

    @property
    def actions(self) -> np.ndarray:
        """(S,) the action of each state of the deterministic ``policy``."""
        return _actions(self.policy)

    @property
    def unichain(self) -> bool:
        """True when ``policy`` has a single recurrent class."""
        return len(self.recurrent_classes) == 1

    def __repr__(self) -> str:
        return (
            f"AverageRewardResult(method={self.method!r}, status={self.status!r}, "
            f"gain={_format_value(self.gain)}, error_bound={_format_value(self.error_bound)})"
        )
