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

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from . import divergences
from ._rows import row_sum
from ._validate import positive_number
from .errors import ExactnessError, InvalidParameterError
from .schedules import Schedule, scheduled_parameter

if TYPE_CHECKING:  # pragma: no cover
    from .context import Context

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
    default: set ``convex = True`` on the class, or pass ``convex=True`` to
    :class:`CallableDrift` / :class:`SympyDrift`; ``scaled`` keeps it, ``added`` is convex
    when every term is; nothing checks the claim, and a wrong one makes certificates wrong),
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

    def trial_value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        """:meth:`value` at a solver's trial point, where NaN may stand for "cannot be
        evaluated here" (the solver rejects the point instead of failing). The same as
        ``value`` unless the drift refuses NaN there (:class:`CallableDrift`)."""
        return self.value(context, candidate)

    def trial_gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray | None:
        """:meth:`gradient` at a solver's iterate, where NaN may stand for "cannot be
        differentiated here" (the solver then claims no bound for that state)."""
        return self.gradient(context, candidate)


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
        object.__setattr__(self, "epsilon", scheduled_parameter(self.epsilon, "epsilon"))

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
    """factor * D for a drift D and factor > 0 (``scaled(D, 50)`` in the paper's experiments).

    The factor may be a schedule (:mod:`tabular_mirror.schedules`): ``algorithm.at(n)`` then
    holds the factor's value at iteration n.
    """

    drift: Drift
    factor: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "factor", scheduled_parameter(self.factor, "factor"))

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

    def trial_value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return _in_mode(self.factor, candidate) * self.drift.trial_value(context, candidate)

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray | None:
        inner = self.drift.gradient(context, candidate)
        return None if inner is None else _in_mode(self.factor, candidate) * inner

    def trial_gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray | None:
        inner = self.drift.trial_gradient(context, candidate)
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

    def trial_value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        return sum(d.trial_value(context, candidate) for d in self.drifts)

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray | None:
        parts = [d.gradient(context, candidate) for d in self.drifts]
        return None if any(p is None for p in parts) else sum(parts)

    def trial_gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray | None:
        parts = [d.trial_gradient(context, candidate) for d in self.drifts]
        return None if any(p is None for p in parts) else sum(parts)


def scaled(drift: Drift, factor: Any) -> Drift:
    """factor * drift (factor > 0, or a schedule of such factors). Scaling the zero drift
    returns it unchanged."""
    factor = scheduled_parameter(factor, "factor")
    if isinstance(drift, ZeroDrift):
        return drift
    scheduled = isinstance(factor, Schedule) or isinstance(getattr(drift, "factor", None), Schedule)
    if isinstance(drift, ScaledDrift) and not scheduled:
        return ScaledDrift(drift.drift, drift.factor * factor)
    return ScaledDrift(drift, factor)


def added(*drifts: Drift) -> Drift:
    """The sum of drifts (zero drifts dropped)."""
    kept = tuple(d for d in drifts if not isinstance(d, ZeroDrift))
    if not kept:
        return ZeroDrift()
    return kept[0] if len(kept) == 1 else SumDrift(kept)


#: What a :class:`CallableDrift`'s function may receive (its ``inputs``).
CALLABLE_INPUTS = (
    "policy, candidate",
    "policy, candidate, advantages",
    "context, candidate",
)


def _positional(function: Callable, what: str, name: str) -> tuple[list[str], int, bool]:
    """(names of the positional parameters, how many are required, takes *args)."""
    import inspect

    if not callable(function):
        raise InvalidParameterError(f"{name}: {what} = {function!r} is not callable")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return [], -1, True  # a builtin or a ufunc: the signature cannot be read
    names, required, star = [], 0, False
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            names.append(parameter.name)
            required += parameter.default is parameter.empty
        elif parameter.kind is parameter.VAR_POSITIONAL:
            star = True
        elif parameter.kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty:
            raise InvalidParameterError(
                f"{name}: {what} has a required keyword-only argument {parameter.name!r}; "
                f"expected a function of {_ACCEPTED}"
            )
    return names, required, star


_ACCEPTED = "(policy, candidate), (policy, candidate, advantages) or (context, candidate)"


def _resolve_inputs(function: Callable, inputs: str, what: str, name: str) -> str:
    """The ``inputs`` form of ``function``: checked against its signature when given, read
    from it when ``inputs == "auto"`` (3 arguments: with the advantages; 2 arguments whose
    first is named ``context``: the context form; other 2-argument functions: the rows)."""
    names, required, star = _positional(function, what, name)
    if inputs != "auto":
        if inputs not in CALLABLE_INPUTS:
            valid = ", ".join(repr(v) for v in ("auto", *CALLABLE_INPUTS))
            raise InvalidParameterError(f"{name}: inputs = {inputs!r} is not one of {valid}")
        count = inputs.count(",") + 1
        if required >= 0 and not (required <= count and (count <= len(names) or star)):
            raise InvalidParameterError(
                f"{name}: {what} takes {_describe_arguments(names, required, star)}, but "
                f"inputs = {inputs!r} passes {count}"
            )
        return inputs
    if required < 0 or (star and required < 2):
        raise InvalidParameterError(
            f"{name}: the signature of {what} ({function!r}) cannot be read; pass inputs= "
            f"one of {', '.join(repr(v) for v in CALLABLE_INPUTS)}"
        )
    fits = [k for k in (2, 3) if required <= k and (k <= len(names) or star)]
    if required == 3 or fits == [3]:
        return "policy, candidate, advantages"
    if 2 in fits:
        return "context, candidate" if names and names[0] == "context" else "policy, candidate"
    raise InvalidParameterError(
        f"{name}: {what} takes {_describe_arguments(names, required, star)}; expected a "
        f"function of {_ACCEPTED} (pass inputs= to say which)"
    )


def _describe_arguments(names: list[str], required: int, star: bool) -> str:
    listed = ", ".join(names) + (", *args" if star else "")
    count = f"{required} required positional argument" + ("" if required == 1 else "s")
    return f"{count} ({listed})" if listed else count


@dataclass(frozen=True)
class CallableDrift(Drift):
    """A user drift from a numpy function, of the rows or of the whole context.

    ``function`` returns D_pi(pibar | s) for every state, shape (S,), given one of (its
    ``inputs``):

    - ``(policy, candidate)``: pi and pibar, (S, A) each;
    - ``(policy, candidate, advantages)``: and A_pi (S, A), for drifts that weigh the change
      by the advantage (PPO variants, learned drifts such as Lu et al. 2022's);
    - ``(context, candidate)``: the :class:`~tabular_mirror.context.Context` (the MDP, pi, its
      evaluation V, Q, A, rho, and beta) and pibar.

    ``inputs="auto"`` reads the form from the signature when the drift is built: three
    arguments take the advantages, two arguments whose first is named ``context`` the context,
    other two-argument functions the rows; anything else is refused with an
    InvalidParameterError naming what is accepted (pass ``inputs=`` for a function whose
    signature cannot be read, a builtin or ``*args``). ``gradient_function`` (optional) takes
    the same inputs and returns dD/dpibar, shape (S, A).

    Declare ``convex=True`` only if you know it (convex in pibar[s]): solvers then certify
    their step globally; otherwise certificates say ``local``. ``needs_support=True`` for a
    drift that is infinite or undefined where pi = 0 (a ratio pibar / pi): pi_0 must then be
    interior. ``is_drift`` is what you claim; ``proofs_check`` tests the claim.

    Examples
    --------
    >>> import numpy as np
    >>> squared = CallableDrift(lambda policy, candidate: ((candidate - policy) ** 2).sum(axis=1))
    >>> squared.inputs
    'policy, candidate'
    >>> weighted = CallableDrift(
    ...     lambda policy, candidate, advantages: (np.abs(advantages) * (candidate - policy) ** 2
    ...                                            ).sum(axis=1), name="advantage-weighted L2")
    >>> weighted.inputs
    'policy, candidate, advantages'
    >>> try:
    ...     CallableDrift(lambda policy: policy.sum(axis=1))
    ... except InvalidParameterError as error:
    ...     print(str(error)[:58])
    user drift: function takes 1 required positional argument
    """

    function: Callable[..., np.ndarray]
    gradient_function: Callable[..., np.ndarray] | None = None
    name: str = "user drift"
    convex: bool = False  # type: ignore[misc]
    is_drift: bool = True  # type: ignore[misc]
    rational: bool = False  # type: ignore[misc]
    needs_support: bool = False  # type: ignore[misc]
    inputs: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise InvalidParameterError(f"name = {self.name!r} must be a string")
        inputs = _resolve_inputs(self.function, self.inputs, "function", self.name)
        if self.gradient_function is not None:
            _resolve_inputs(self.gradient_function, inputs, "gradient_function", self.name)
        object.__setattr__(self, "inputs", inputs)

    def _call(self, function: Callable, context: Context, candidate: np.ndarray) -> Any:
        if self.inputs == "policy, candidate":
            return function(context.policy, candidate)
        if self.inputs == "policy, candidate, advantages":
            return function(context.policy, candidate, context.advantages)
        return function(context, candidate)

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        output = self._call(self.function, context, candidate)
        return self._checked(output, (len(candidate),), "function")

    def trial_value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        """:meth:`value` where NaN is allowed (a solver's trial point the function cannot
        evaluate; the solver rejects it): shape checked, NaN kept."""
        output = self._call(self.function, context, candidate)
        return self._checked(output, (len(candidate),), "function", allow_nan=True)

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray | None:
        if self.gradient_function is None:
            return None
        output = self._call(self.gradient_function, context, candidate)
        return self._checked(output, np.shape(candidate), "gradient_function")

    def trial_gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray | None:
        """:meth:`gradient` where NaN is allowed (shape checked, NaN kept)."""
        if self.gradient_function is None:
            return None
        output = self._call(self.gradient_function, context, candidate)
        return self._checked(output, np.shape(candidate), "gradient_function", allow_nan=True)

    def _checked(
        self, output: Any, shape: tuple[int, ...], which: str, allow_nan: bool = False
    ) -> np.ndarray:
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
        if not allow_nan and array.dtype != object and np.isnan(array).any():
            raise InvalidParameterError(f"{self.name}: {which} returned NaN")
        return array


@dataclass(frozen=True)
class SympyDrift(Drift):
    """A user drift given as a sympy expression in the two rows (and, optionally, the
    advantages).

    ``expression`` is a sympy expression in ``policy_symbols`` (pi[s, 0..A-1]),
    ``candidate_symbols`` (pibar[s, 0..A-1]) and ``advantage_symbols`` (A_pi[s, 0..A-1];
    optional: a drift that weighs the change by the advantage). It is lambdified once for
    vectorised float evaluation over all states, differentiated symbolically (once) for the
    gradient, and evaluated exactly (Fractions in, Fractions out) for exact MDPs when the
    expression is a rational function of its symbols (``rational``). ``proofs_check`` can
    prove its Definition 3.1 zero-gradient property symbolically (for every value of the
    advantage symbols). Declare ``convex=True`` only if the expression is convex in the
    candidate symbols: the step then certifies globally (Frank-Wolfe gaps); otherwise its
    certificate is ``local``.

    >>> import sympy
    >>> p = sympy.symbols("p0:2"); q = sympy.symbols("q0:2")
    >>> drift = SympyDrift(sum((a - b) ** 2 for a, b in zip(p, q)), p, q)
    >>> a = sympy.symbols("a0:2")
    >>> weighted = SympyDrift(sum(x ** 2 * (u - v) ** 2 for x, u, v in zip(a, p, q)), p, q,
    ...                       advantage_symbols=a, name="advantage-weighted L2")
    >>> weighted.rational
    True
    """

    expression: Any
    policy_symbols: tuple
    candidate_symbols: tuple
    name: str = "sympy drift"
    convex: bool = False  # type: ignore[misc]
    is_drift: bool = True  # type: ignore[misc]
    advantage_symbols: tuple = ()
    needs_support: bool = False  # type: ignore[misc]
    _compiled: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for kind in ("policy_symbols", "candidate_symbols", "advantage_symbols"):
            try:
                object.__setattr__(self, kind, tuple(getattr(self, kind)))
            except TypeError:
                raise InvalidParameterError(
                    f"{kind} = {getattr(self, kind)!r} is not a sequence of sympy symbols"
                ) from None
        num_actions = len(self.policy_symbols)
        groups = [self.policy_symbols, self.candidate_symbols, self.advantage_symbols]
        every = [symbol for group in groups for symbol in group]
        if len(set(every)) != len(every):
            repeated = sorted({str(x) for x in every if every.count(x) > 1})
            raise InvalidParameterError(
                f"{self.name}: the symbols {', '.join(repeated)} appear more than once among "
                "policy_symbols, candidate_symbols and advantage_symbols; each must be distinct"
            )
        if len(self.candidate_symbols) != num_actions:
            raise InvalidParameterError(
                f"policy_symbols has {num_actions} symbols but candidate_symbols "
                f"has {len(self.candidate_symbols)}; both must have one per action"
            )
        if self.advantage_symbols and len(self.advantage_symbols) != num_actions:
            raise InvalidParameterError(
                f"advantage_symbols has {len(self.advantage_symbols)} symbols, expected none or "
                f"one per action ({num_actions})"
            )
        import sympy

        free = set(getattr(self.expression, "free_symbols", set()))
        unknown = free - set(self.symbols)
        if unknown:
            names = ", ".join(sorted(str(x) for x in unknown))
            raise InvalidParameterError(
                f"{self.name}: the expression uses {names}, which are not among its policy, "
                "candidate or advantage symbols"
            )
        if not isinstance(self.expression, sympy.Basic):
            raise InvalidParameterError(
                f"{self.name}: expression = {self.expression!r} is not a sympy expression"
            )

    @property
    def rational(self) -> bool:  # type: ignore[override]
        return bool(self.expression.is_rational_function(*self.symbols))

    @property
    def symbols(self) -> tuple:
        return self.policy_symbols + self.candidate_symbols + self.advantage_symbols

    def _derivatives(self) -> list:
        if "derivatives" not in self._compiled:
            import sympy

            self._compiled["derivatives"] = [
                sympy.diff(self.expression, q) for q in self.candidate_symbols
            ]
        return self._compiled["derivatives"]

    def _function(self, key: str, expression: Any, modules: str = "numpy") -> Callable:
        key = f"{key}:{modules}"
        if key not in self._compiled:
            import sympy

            self._compiled[key] = sympy.lambdify(self.symbols, expression, modules=modules)
        return self._compiled[key]

    def _columns(self, context: Context, candidate: np.ndarray, exact: bool) -> list:
        num_actions = len(self.policy_symbols)
        if candidate.shape[1] != num_actions:
            raise InvalidParameterError(
                f"{self.name} has {num_actions} action symbols but the MDP has "
                f"{candidate.shape[1]} actions"
            )
        arrays = [context.policy, candidate]
        if self.advantage_symbols:
            arrays.append(context.advantages)
        if not exact:
            arrays = [np.asarray(array, dtype=float) for array in arrays]
        return [array[:, a] for array in arrays for a in range(num_actions)]

    def _exact_values(
        self, key: str, expressions: list, context: Context, candidate: np.ndarray
    ) -> Any:
        """Exact Fractions, state by state, from the expressions lambdified over sympy
        Rationals (no symbolic substitution per state)."""
        import sympy

        if not self.rational:
            raise ExactnessError(f"{self.name} is not a rational function: no exact value")
        columns = self._columns(context, candidate, exact=True)
        functions = [
            self._function(f"{key}{k}", expression, "sympy")
            for k, expression in enumerate(expressions)
        ]
        out = np.empty((candidate.shape[0], len(expressions)), dtype=object)
        for s in range(candidate.shape[0]):
            row = [sympy.Rational(v.numerator, v.denominator) for v in (c[s] for c in columns)]
            for k, function in enumerate(functions):
                result = sympy.nsimplify(function(*row))
                if result.is_Rational:
                    out[s, k] = Fraction(int(result.p), int(result.q))
                else:  # a pole (sympy's zoo, or zoo + zoo = nan): what float arithmetic says
                    floats = self._function(f"{key}{k}", expressions[k])
                    with np.errstate(divide="ignore", invalid="ignore"):
                        approximate = float(floats(*(np.float64(v) for v in row)))
                    out[s, k] = math.inf if approximate == math.inf else math.nan
        return out

    def value(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        if candidate.dtype == object:
            return self._exact_values("value", [self.expression], context, candidate)[:, 0]
        function = self._function("value", self.expression)
        with np.errstate(divide="ignore", invalid="ignore"):
            result = function(*self._columns(context, candidate, exact=False))
        return np.broadcast_to(np.asarray(result, dtype=float), (candidate.shape[0],)).copy()

    def gradient(self, context: Context, candidate: np.ndarray) -> np.ndarray:
        derivatives = self._derivatives()
        if candidate.dtype == object:
            return self._exact_values("gradient", derivatives, context, candidate)
        columns = self._columns(context, candidate, exact=False)
        out = np.empty(candidate.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            for a, derivative in enumerate(derivatives):
                result = self._function(f"gradient{a}", derivative)(*columns)
                out[:, a] = np.broadcast_to(np.asarray(result, dtype=float), (len(out),))
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
