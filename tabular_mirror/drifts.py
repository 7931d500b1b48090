"""Drift functionals D_pi(pibar | s) (Kuba et al. 2022, Definition 3.1), vectorised over states.

A drift is a tiny frozen dataclass with one job: ``value(context, candidate)`` returns the (S,)
vector ``D_pi(pibar | s)``, where pi = ``context.policy`` (pi_old) and pibar = ``candidate``;
``gradient(context, candidate)`` returns dD/dpibar as (S, A) where it exists (else None).
Definition 3.1 asks for (1) nonnegativity with D_pi(pi | s) = 0 and (2) zero directional
derivatives at pibar = pi along directions that stay in the simplex.

Drifts shipped (``is_drift=True``): :class:`ForwardKL` KL(pi[s] || pibar[s]),
:class:`ReverseKL` KL(pibar[s] || pi[s]), :class:`SquaredTV` (1/2 ||pi - pibar||_1)^2,
:class:`SquaredEuclidean` ||pi - pibar||^2, :class:`ChiSquared` sum (pibar - pi)^2 / pi,
:class:`SquaredHellinger` (1/2) sum (sqrt pi - sqrt pibar)^2, :class:`PPOClip` (the PPO drift of
the paper's section 4), :class:`ZeroDrift`, :func:`scaled` (a positive multiple),
:func:`added` (a sum), and user drifts (:class:`CallableDrift` for a numpy function,
:class:`SympyDrift` for a sympy expression in the two rows).

Negative controls (``is_drift=False``), which Definition 3.1 rejects and which the checks of
``proofs_check`` must catch: :class:`TotalVariation` (one-sided directional derivative
(1/2) sum |v| > 0), :class:`LinearPenalty` (negative values, nonzero gradient) and
:class:`AdaptiveKLPenalty` (PPO-KL whose coefficient jumps with the measured KL of pibar: the
penalty is discontinuous in (pi, pibar)).

Notation: ``policy`` is pi, ``candidate`` is pibar, ``advantages`` is A_pi.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from . import divergences
from ._rows import row_sum
from ._validate import positive_number
from .errors import ExactnessError, InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    from .algorithm import Context

__all__ = [
    "Drift",
    "ZeroDrift",
    "ForwardKL",
    "ReverseKL",
    "SquaredTV",
    "SquaredEuclidean",
    "ChiSquared",
    "SquaredHellinger",
    "PPOClip",
    "ScaledDrift",
    "TrustRegionKL",
    "SumDrift",
    "CallableDrift",
    "SympyDrift",
    "TotalVariation",
    "LinearPenalty",
    "AdaptiveKLPenalty",
    "scaled",
    "added",
    "DRIFTS",
    "NEGATIVE_CONTROLS",
]


def _in_mode(parameter: Any, candidate: np.ndarray) -> Any:
    """A parameter in the candidate's arithmetic: kept exact for Fraction arrays, else float
    (a Fraction times a float array would silently become an object array)."""
    if candidate.dtype != object:
        return float(parameter)
    # a float parameter (PPOClip's default epsilon = 0.2) enters exact arithmetic as the exact
    # value of the double: mixing it in as a float turned exact drift values into floats
    return Fraction(parameter) if isinstance(parameter, float) else parameter


class Drift:
    """Base class of drift functionals (and of the negative controls).

    Class attributes describe what solvers and checks may assume: ``is_drift`` (satisfies
    Definition 3.1), ``convex`` (convex in pibar[s], so a first-order certificate is global;
    False unless a drift declares it, so a user's subclass never gets a global certificate by
    default),
    ``rational`` (exact Fractions in, exact Fractions out), ``needs_support`` (infinite or not
    differentiable at pi when pi has zero entries, so pi must be interior).
    """

    is_drift: bool = True
    convex: bool = False
    rational: bool = False
    needs_support: bool = False

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        """D_pi(pibar | s) for every state, shape (S,)."""
        raise NotImplementedError

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray | None:
        """d D_pi(pibar | s) / d pibar[s, a], shape (S, A); None if not differentiable."""
        return None


@dataclass(frozen=True)
class ZeroDrift(Drift):
    """D = 0: generalised policy iteration and TRPO (whose constraint is the neighbourhood)."""

    convex = True

    rational = True

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        zero = candidate[:, 0] * 0
        return zero

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return candidate * 0


@dataclass(frozen=True)
class ForwardKL(Drift):
    """D_pi(pibar | s) = KL(pi[s] || pibar[s]) (TRL, TRPO's penalty form, PPO-KL forward).

    Gradient -pi / pibar. Infinite where pibar drops an action pi uses.
    Schulman et al., "Trust Region Policy Optimization", ICML 2015, eq. (9).
    """

    convex = True

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return divergences.kl(context.policy, candidate)

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        policy = np.asarray(context.policy, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(policy > 0, -policy / np.asarray(candidate, dtype=float), 0.0)


@dataclass(frozen=True)
class ReverseKL(Drift):
    """D_pi(pibar | s) = KL(pibar[s] || pi[s]) (MDPO / policy mirror descent / NPG, PPO-KL).

    Gradient log(pibar / pi) + 1. Tomar et al., "Mirror Descent Policy Optimization", ICLR 2022;
    Xiao, JMLR 23(282), 2022. Needs pi > 0: off its support the drift is infinite, so the
    update could never move mass there.
    """

    convex = True

    needs_support = True

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return divergences.kl(candidate, context.policy)

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        candidate = np.asarray(candidate, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(candidate) - np.log(np.asarray(context.policy, dtype=float)) + 1.0


@dataclass(frozen=True)
class SquaredTV(Drift):
    """D_pi(pibar | s) = TV(pi[s], pibar[s])^2 = ((1/2) sum_a |pi - pibar|)^2.

    Differentiable with zero gradient at pibar = pi (the square kills the kink); elsewhere the
    subgradient TV * sign(pibar - pi). Kuba et al. (2022), section 7 experiments.
    """

    convex = True

    rational = True

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        tv = divergences.total_variation(context.policy, candidate)
        return tv * tv

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        tv = divergences.total_variation(context.policy, candidate)
        return tv[:, None] * np.sign(np.asarray(candidate - context.policy, dtype=float))


@dataclass(frozen=True)
class SquaredEuclidean(Drift):
    """D_pi(pibar | s) = ||pi[s] - pibar[s]||_2^2; gradient 2 (pibar - pi).

    Kuba et al. (2022), section 7 ("L2"); Xiao (2022) PMD with the Euclidean mirror map uses
    half of it.
    """

    convex = True

    rational = True

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return divergences.squared_euclidean(context.policy, candidate)

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return 2 * (candidate - context.policy)


@dataclass(frozen=True)
class ChiSquared(Drift):
    """D_pi(pibar | s) = sum_a (pibar - pi)^2 / pi (Pearson); gradient 2 (pibar - pi) / pi."""

    convex = True

    rational = True
    needs_support = True

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return divergences.chi_squared(context.policy, candidate)

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        policy = np.asarray(context.policy, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            difference = np.asarray(candidate - context.policy, dtype=float)
            return np.where(policy > 0, 2 * difference / policy, 0.0)


@dataclass(frozen=True)
class SquaredHellinger(Drift):
    """D_pi(pibar | s) = (1/2) sum_a (sqrt pi - sqrt pibar)^2; gradient (1 - sqrt(pi/pibar))/2."""

    convex = True

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return divergences.squared_hellinger(context.policy, candidate)

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.asarray(context.policy, dtype=float) / np.asarray(candidate, dtype=float)
            return (1.0 - np.sqrt(ratio)) / 2


@dataclass(frozen=True)
class PPOClip(Drift):
    """The PPO-clip drift (Kuba et al. 2022, section 4):

    D_pi(pibar | s) = sum_a pi[s,a] ReLU((ratio - clip(ratio, 1-eps, 1+eps)) A_pi[s,a]),
    ratio = pibar / pi, so that sum_a pibar A - D = sum_a pi min(ratio A, clip(ratio) A), the
    clipped surrogate of Schulman et al., "Proximal Policy Optimization Algorithms", 2017.
    Zero whenever every ratio lies in [1 - eps, 1 + eps]; convex and piecewise linear in pibar.
    Where pi[s, a] = 0 the ratio is unbounded: the term is then pibar A ReLU'd, i.e.
    ReLU(pibar[s,a] A[s,a]) (the surrogate gains nothing from actions pi never takes).
    The default epsilon is the Fraction 1/5, so exact MDPs stay exact; a float epsilon enters
    exact arithmetic at its exact binary value (pass "1/5" or a Fraction for the decimal).
    """

    convex = True

    epsilon: Any = Fraction(1, 5)
    rational = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", positive_number(self.epsilon, "epsilon"))

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        policy, advantages = context.policy, context.advantages
        epsilon = _in_mode(self.epsilon, candidate)
        upper = policy * (1 + epsilon)
        lower = policy * (1 - epsilon)
        # pi * (ratio - clip(ratio)) = pibar - clip(pibar, lower, upper)
        excess = candidate - np.minimum(np.maximum(candidate, lower), upper)
        terms = excess * advantages
        return row_sum(
            np.maximum(terms, 0.0)
            if terms.dtype != object
            else np.where(terms > 0, terms, terms * 0)
        )

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        """A supergradient of the (convex, piecewise-linear) drift: A where the term is active."""
        policy = np.asarray(context.policy, dtype=float)
        candidate = np.asarray(candidate, dtype=float)
        advantages = np.asarray(context.advantages, dtype=float)
        epsilon = float(self.epsilon)
        upper, lower = policy * (1 + epsilon), policy * (1 - epsilon)
        excess = candidate - np.clip(candidate, lower, upper)
        return np.where(excess * advantages > 0, advantages, 0.0)


@dataclass(frozen=True)
class ScaledDrift(Drift):
    """factor * D for a drift D and factor > 0 (``scaled(D, 50)`` in the paper's experiments)."""

    drift: Drift
    factor: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "factor", positive_number(self.factor, "factor"))

    @property
    def is_drift(self) -> bool:  # type: ignore[override]
        return self.drift.is_drift

    @property
    def convex(self) -> bool:  # type: ignore[override]
        return self.drift.convex

    @property
    def rational(self) -> bool:  # type: ignore[override]
        return self.drift.rational

    @property
    def needs_support(self) -> bool:  # type: ignore[override]
        return self.drift.needs_support

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return _in_mode(self.factor, candidate) * self.drift.value(context, candidate)

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray | None:
        inner = self.drift.gradient(context, candidate)
        return None if inner is None else _in_mode(self.factor, candidate) * inner


@dataclass(frozen=True)
class SumDrift(Drift):
    """D_1 + D_2 + ... (a sum of drifts is a drift)."""

    drifts: tuple[Drift, ...]

    @property
    def is_drift(self) -> bool:  # type: ignore[override]
        return all(d.is_drift for d in self.drifts)

    @property
    def convex(self) -> bool:  # type: ignore[override]
        return all(d.convex for d in self.drifts)

    @property
    def rational(self) -> bool:  # type: ignore[override]
        return all(d.rational for d in self.drifts)

    @property
    def needs_support(self) -> bool:  # type: ignore[override]
        return any(d.needs_support for d in self.drifts)

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return sum(d.value(context, candidate) for d in self.drifts)

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray | None:
        parts = [d.gradient(context, candidate) for d in self.drifts]
        return None if any(p is None for p in parts) else sum(parts)


def scaled(drift: Drift, factor: Any) -> Drift:
    """factor * drift (factor > 0). Scaling the zero drift returns it unchanged."""
    factor = positive_number(factor, "factor")
    if isinstance(drift, ZeroDrift):
        return drift
    if isinstance(drift, ScaledDrift):
        return ScaledDrift(drift.drift, drift.factor * factor)
    return ScaledDrift(drift, factor)


def added(*drifts: Drift) -> Drift:
    """The sum of drifts (zero drifts dropped)."""
    kept = tuple(d for d in drifts if not isinstance(d, ZeroDrift))
    if not kept:
        return ZeroDrift()
    return kept[0] if len(kept) == 1 else SumDrift(kept)


@dataclass(frozen=True)
class CallableDrift(Drift):
    """A user drift from numpy callables ``function(policy, candidate) -> (S,)``.

    ``gradient(policy, candidate) -> (S, A)`` is optional. Declare ``convex=True`` only if you
    know it: solvers then certify their step globally; otherwise certificates say ``local``.
    ``is_drift`` is what you claim; ``proofs_check`` tests the claim.
    """

    function: Callable[[np.ndarray, np.ndarray], np.ndarray]
    gradient_function: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    name: str = "user drift"
    convex: bool = False  # type: ignore[misc]
    is_drift: bool = True  # type: ignore[misc]
    rational: bool = False  # type: ignore[misc]

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        output = self.function(context.policy, candidate)
        return self._checked(output, (len(candidate),), "function")

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray | None:
        if self.gradient_function is None:
            return None
        output = self.gradient_function(context.policy, candidate)
        return self._checked(output, np.shape(candidate), "gradient_function")

    def _checked(self, output: Any, shape: tuple[int, ...], which: str) -> np.ndarray:
        """The user's output as an array of ``shape``, finite in float mode, or an error."""
        try:
            array = np.asarray(output)
        except ValueError as error:  # ragged
            raise InvalidParameterError(
                f"{self.name}: {which} returned something that is not an array: {error}"
            ) from None
        if array.shape != shape:
            raise InvalidParameterError(
                f"{self.name}: {which} returned shape {array.shape}, expected {shape} "
                "(one value per state for the drift, (S, A) for its gradient)"
            )
        # +inf is a legitimate drift value (e.g. a KL leaving the support); NaN never is
        if array.dtype != object and np.isnan(array).any():
            raise InvalidParameterError(f"{self.name}: {which} returned NaN")
        return array


@dataclass(frozen=True)
class SympyDrift(Drift):
    """A user drift given as a sympy expression in the two rows.

    ``expression`` is a sympy expression in ``policy_symbols`` (pi[s, 0..A-1]) and
    ``candidate_symbols`` (pibar[s, 0..A-1]); it is lambdified for vectorised float
    evaluation, differentiated symbolically for the gradient, and evaluated exactly (sympy
    Rationals) for exact MDPs when the expression is rational. ``proofs_check`` can prove its
    Definition 3.1 zero-gradient property symbolically.

    >>> import sympy
    >>> p = sympy.symbols("p0:2"); q = sympy.symbols("q0:2")
    >>> drift = SympyDrift(sum((a - b) ** 2 for a, b in zip(p, q)), p, q)
    """

    expression: Any
    policy_symbols: tuple
    candidate_symbols: tuple
    name: str = "sympy drift"
    convex: bool = False  # type: ignore[misc]
    is_drift: bool = True  # type: ignore[misc]
    _compiled: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.policy_symbols) != len(self.candidate_symbols):
            raise InvalidParameterError(
                f"policy_symbols has {len(self.policy_symbols)} symbols but candidate_symbols "
                f"has {len(self.candidate_symbols)}; both must have one per action"
            )
        object.__setattr__(self, "policy_symbols", tuple(self.policy_symbols))
        object.__setattr__(self, "candidate_symbols", tuple(self.candidate_symbols))

    @property
    def rational(self) -> bool:  # type: ignore[override]

        return bool(self.expression.is_rational_function(*self.symbols))

    @property
    def symbols(self) -> tuple:
        return self.policy_symbols + self.candidate_symbols

    def _function(self, key: str, expression: Any) -> Callable:
        if key not in self._compiled:
            import sympy

            self._compiled[key] = sympy.lambdify(self.symbols, expression, modules="numpy")
        return self._compiled[key]

    def _columns(self, context: Context, candidate: np.ndarray) -> list[np.ndarray]:
        num_actions = len(self.policy_symbols)
        if candidate.shape[1] != num_actions:
            raise InvalidParameterError(
                f"{self.name} has {num_actions} action symbols but the MDP has "
                f"{candidate.shape[1]} actions"
            )
        policy = np.asarray(context.policy, dtype=float)
        candidate = np.asarray(candidate, dtype=float)
        return [policy[:, a] for a in range(num_actions)] + [
            candidate[:, a] for a in range(num_actions)
        ]

    def _exact_values(self, expressions: list, context: Context, candidate: np.ndarray) -> Any:
        from fractions import Fraction

        import sympy

        if not self.rational:
            raise ExactnessError(f"{self.name} is not a rational function: no exact value")
        out = np.empty((candidate.shape[0], len(expressions)), dtype=object)
        for s in range(candidate.shape[0]):  # exact mode: symbolic substitution per state
            values = list(context.policy[s]) + list(candidate[s])
            substitution = {
                symbol: sympy.Rational(v.numerator, v.denominator)
                for symbol, v in zip(self.symbols, values, strict=True)
            }
            for k, expression in enumerate(expressions):
                result = sympy.nsimplify(expression.subs(substitution))
                out[s, k] = Fraction(int(result.p), int(result.q))
        return out

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        if candidate.dtype == object:
            return self._exact_values([self.expression], context, candidate)[:, 0]
        function = self._function("value", self.expression)
        result = function(*self._columns(context, candidate))
        return np.broadcast_to(np.asarray(result, dtype=float), (candidate.shape[0],)).copy()

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        import sympy

        derivatives = [sympy.diff(self.expression, q) for q in self.candidate_symbols]
        if candidate.dtype == object:
            return self._exact_values(derivatives, context, candidate)
        columns = self._columns(context, candidate)
        out = np.empty(candidate.shape)
        for a, derivative in enumerate(derivatives):
            result = self._function(f"gradient{a}", derivative)(*columns)
            out[:, a] = np.broadcast_to(np.asarray(result, dtype=float), (candidate.shape[0],))
        return out


# ---------------------------------------------------------------------------- negative controls
@dataclass(frozen=True)
class TotalVariation(Drift):
    """NOT a drift: D = TV(pi[s], pibar[s]). Its one-sided directional derivative at pibar = pi
    along v is (1/2) sum |v| > 0, violating Definition 3.1(2). Mirror learning with it can stop
    at a non-optimal policy (small advantages never pay the linear penalty)."""

    convex = True

    is_drift = False
    rational = True

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return divergences.total_variation(context.policy, candidate)

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return np.sign(np.asarray(candidate - context.policy, dtype=float)) / 2


@dataclass(frozen=True)
class LinearPenalty(Drift):
    """NOT a drift: D = coefficient * sum_a weights[a] (pibar[s, a] - pi[s, a]).

    Zero at pibar = pi but negative in some directions and with a nonzero gradient
    (violates Definition 3.1 (1) and (2)). ``weights`` defaults to (0, 1, ..., A-1).
    """

    convex = True

    coefficient: float = 1.0
    weights: tuple | None = None
    is_drift = False
    rational = True

    def _weights(self, num_actions: int) -> np.ndarray:
        if self.weights is None:
            return np.arange(num_actions)
        return np.asarray(self.weights)

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        weights = self._weights(candidate.shape[1])
        if candidate.dtype == object:  # float parameters at their exact binary values
            weights = np.array([_in_mode(w.item(), candidate) for w in weights], dtype=object)
        difference = row_sum((candidate - context.policy) * weights)
        return _in_mode(self.coefficient, candidate) * difference

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        weights = self._weights(candidate.shape[1])
        return np.broadcast_to(self.coefficient * weights, candidate.shape).astype(float)


@dataclass(frozen=True)
class AdaptiveKLPenalty(Drift):
    """NOT a drift: PPO-KL with an adaptive coefficient, D = beta(pibar) KL(pi[s] || pibar[s]).

    The coefficient follows the PPO paper's rule applied to the measured mean KL of the
    candidate (Schulman et al. 2017, section 4): beta = coefficient * 2 if the uniform-mean KL
    exceeds 1.5 * target, coefficient / 2 if it is below target / 1.5, else coefficient. The
    penalty therefore jumps with pibar: it is discontinuous in (pi, pibar), which the paper's
    framework excludes (drift distributions and drifts must be continuous).
    """

    coefficient: float = 1.0
    target: float = 0.01
    is_drift = False
    convex = False

    def _scale(self, kl: np.ndarray) -> float:
        mean = float(np.mean(kl))
        if mean > 1.5 * self.target:
            return 2 * self.coefficient
        if mean < self.target / 1.5:
            return self.coefficient / 2
        return self.coefficient

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        kl = divergences.kl(context.policy, candidate)
        return self._scale(kl) * kl

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        kl = divergences.kl(context.policy, candidate)
        return self._scale(kl) * ForwardKL().gradient(context, candidate)


@dataclass(frozen=True)
class TrustRegionKL(Drift):
    """C_pi KL(pi[s] || pibar[s]) with the classic trust-region coefficient (Schulman et al.
    2015, Theorem 1): C_pi = 4 gamma max_{s,a} |A_pi[s,a]| / (1 - gamma)^2, or a fixed
    ``coefficient``. Paired with nu = point mass on the max-KL state it is trust-region
    learning (Kuba et al. 2022, section 4)."""

    convex = True

    coefficient: float | None = None

    def __post_init__(self) -> None:
        if self.coefficient is not None:
            positive_number(self.coefficient, "coefficient")

    def coefficient_for(self, context: Context) -> float:
        """C_pi for the current policy."""
        if self.coefficient is not None:
            return float(self.coefficient)
        gamma = float(context.mdp.discount)
        largest = float(np.abs(np.asarray(context.advantages, dtype=float)).max())
        return 4 * gamma * largest / (1 - gamma) ** 2

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        coefficient = self.coefficient_for(context)
        kl = divergences.kl(context.policy, candidate)
        if coefficient == 0:  # C_pi = 0 when A_pi = 0 (pi optimal): no penalty, not 0 * inf
            return np.zeros_like(kl)
        return coefficient * kl

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return self.coefficient_for(context) * ForwardKL().gradient(context, candidate)


#: The drifts shipped with the package, by name (used by the CLI, the checks and the tests).
DRIFTS: dict[str, Callable[[], Drift]] = {
    "zero": ZeroDrift,
    "forward_kl": ForwardKL,
    "reverse_kl": ReverseKL,
    "squared_tv": SquaredTV,
    "squared_l2": SquaredEuclidean,
    "chi_squared": ChiSquared,
    "squared_hellinger": SquaredHellinger,
    "ppo_clip": PPOClip,
    "trust_region_kl": TrustRegionKL,
}

#: The negative controls, which must fail Definition 3.1.
NEGATIVE_CONTROLS: dict[str, Callable[[], Drift]] = {
    "total_variation": TotalVariation,
    "linear_penalty": LinearPenalty,
    "adaptive_kl": AdaptiveKLPenalty,
}
