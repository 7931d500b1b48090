"""Symbolic proofs of Definition 3.1 for :class:`tabular_mirror.drifts.SympyDrift`.

For a drift given as a sympy expression D(p, q) in the rows p = pi[s], q = pibar[s]:

- zero at pi: simplify D(p, p) to 0;
- zero Gateaux derivative (Def. 3.1(2)): the simplex directions at q = p are spanned by
  e_a - e_0, so every directional derivative vanishes iff dD/dq_a - dD/dq_0 at q = p simplifies
  to 0 for every a. This is a proof (for every p where the expression is differentiable at
  q = p, and every value of the advantage symbols of a drift that has them, under the one
  identity advantages satisfy: sum_a p_a a_a = 0), not a sample.
  A refutation exhibits a rational point (and rational advantages) where it is nonzero.

Non-smooth expressions (Abs, sign, Max, Min, Piecewise, Heaviside) are *not* proved: sympy
differentiates |x| to sign(x) and sign(0) = 0 would "prove" total variation a drift, which it is
not. For them the verdict says "not proved" and the numerical check of
:func:`proofs_check.definitions.check_drift` applies.

References
----------
Kuba, Schroeder de Witt, Foerster, "Mirror Learning", ICML 2022, Definition 3.1.

Examples
--------
>>> import sympy
>>> from tabular_mirror.drifts import SympyDrift
>>> p, q = sympy.symbols("p0:3", positive=True), sympy.symbols("q0:3", positive=True)
>>> kl = SympyDrift(sum(a * sympy.log(a / b) for a, b in zip(p, q)), p, q)
>>> prove_drift(kl).passed
True
"""

from __future__ import annotations

from typing import Any

from tabular_mirror.drifts import SympyDrift

from .verdicts import EXACT, Report, Verdict, worst

__all__ = ["prove_drift", "NON_SMOOTH"]

#: sympy functions whose derivative at a kink sympy would misreport.
NON_SMOOTH = ("Abs", "sign", "Max", "Min", "Piecewise", "Heaviside")


def _non_smooth(expression: Any) -> list[str]:
    import sympy

    found = set()
    for node in sympy.preorder_traversal(expression):
        name = type(node).__name__
        if name in NON_SMOOTH:
            found.add(name)
    return sorted(found)


#: Rational points of the open simplex tried when an expression does not simplify to 0.
_PROBES = ((1, 1, 1, 1, 1), (1, 2, 3, 4, 5), (5, 1, 2, 7, 3), (2, 9, 1, 1, 4))


#: Rational advantages tried with each probe (advantage symbols take any real value).
_ADVANTAGES = ((1, -1, 2, -2, 3), (2, 1, -3, 1, -1), (-1, 3, 1, -2, 1), (1, 1, -1, 2, -3))


def _nonzero_point(
    expression: Any, symbols: tuple, advantages: tuple = (), derived: tuple = ()
) -> dict | None:
    """A rational point of the open simplex (in ``symbols``, with rational values of the
    ``advantages`` symbols) where ``expression`` is provably nonzero (exactly, or by a float
    value far from rounding), else None. ``derived`` symbols (symbol, expression) are shown
    at the point too."""
    import sympy

    for weights, signs in zip(_PROBES, _ADVANTAGES, strict=True):
        row = [sympy.Rational(weights[k % len(weights)]) for k in range(len(symbols))]
        total = sum(row)
        point = {symbol: w / total for symbol, w in zip(symbols, row, strict=True)}
        point |= {
            symbol: sympy.Rational(signs[k % len(signs)]) for k, symbol in enumerate(advantages)
        }
        value = sympy.simplify(expression.subs(point))
        if value.is_number and value.is_zero is False:
            approximate = complex(sympy.N(value, 30))
            if abs(approximate) > 1e-20:
                shown = {str(k): str(v) for k, v in point.items()}
                shown |= {str(k): str(sympy.simplify(e.subs(point))) for k, e in derived}
                return shown | {"value": str(value)}
    return None


def prove_drift(drift: SympyDrift) -> Report:
    """Prove D(p, p) = 0 and the zero-gradient property of Def. 3.1(2) symbolically.

    Parameters
    ----------
    drift : SympyDrift

    Returns
    -------
    Report
        ``definition_3_1_zero_at_policy_proved`` and ``definition_3_1_zero_gradient_proved``.
        ``passed`` means *proved* (the expression simplifies to 0); ``failed`` means
        *refuted*: the expression is nonzero at an exhibited rational point of the simplex
        (in the witness); ``inconclusive`` means neither: sympy could not simplify it to 0 and
        no sampled point refutes it, or the expression is non-smooth (sympy cannot
        differentiate at a kink; use the numerical check). Nonnegativity is not attempted
        symbolically (use :func:`proofs_check.definitions.check_drift`).
    """
    import sympy

    p, q = drift.policy_symbols, drift.candidate_symbols
    at_policy = {b: a for a, b in zip(p, q, strict=True)}
    expression, free, derived = _on_advantages_of_p(drift)
    value = sympy.simplify(expression.subs(at_policy, simultaneous=True))
    zero = _decided(
        "definition_3_1_zero_at_policy_proved",
        value,
        p,
        free,
        derived,
        "proved: D(p, p) simplifies to 0",
        f"D(p, p) simplifies to {value}",
    )
    kinks = _non_smooth(expression)
    if kinks:
        gradient = Verdict(
            "definition_3_1_zero_gradient_proved",
            "inconclusive",
            None,
            None,
            None,
            {"non_smooth": kinks, "expression": str(expression)},
            EXACT,
            f"not proved: the expression uses {', '.join(kinks)} (not differentiable at a "
            "kink); use definitions.check_drift's one-sided quotients",
            reason="sympy cannot differentiate at a kink: neither proved nor refuted",
        )
        return Report((zero, gradient), f"symbolic Def. 3.1: {drift.name}")
    derivatives = [sympy.diff(expression, b).subs(at_policy, simultaneous=True) for b in q]
    # on the simplex: the directions e_a - e_0 span the tangent space
    differences = [sympy.simplify(d - derivatives[0]) for d in derivatives[1:]]
    verdicts = [
        _decided(
            "definition_3_1_zero_gradient_proved",
            difference,
            p,
            free,
            derived,
            "proved: dD/dq_a - dD/dq_0 at q = p simplifies to 0 for every a, so every simplex "
            "directional derivative vanishes",
            f"dD/dq_{a + 1} - dD/dq_0 at q = p is {difference}",
        )
        for a, difference in enumerate(differences)
    ]
    if not verdicts:  # one action: no simplex direction
        gradient = Verdict(
            "definition_3_1_zero_gradient_proved", "passed", 0, None, None, {}, EXACT,
            "one action: no simplex direction (vacuous)",
        )  # fmt: skip
    else:
        gradient = worst(verdicts)
    return Report((zero, gradient), f"symbolic Def. 3.1: {drift.name}")


def _on_advantages_of_p(drift: SympyDrift) -> tuple[Any, tuple, tuple]:
    """The expression on the advantages a drift can see, its free advantage symbols, and the
    derived one as (symbol, expression) (shown in a refutation's witness).

    The advantages are A_pi's, and sum_a pi(a|s) A_pi(s, a) = 0: with advantage symbols
    a_0..a_{n-1} and pi[s] = p, a_0 = -(sum_{a >= 1} p_a a_a) / p_0 (p_0 > 0 in the open
    simplex), and a_1..a_{n-1} range over all reals. A drift that is valid only because of
    this identity (e.g. (sum_a q_a a_a)^2) is then proved, not refuted at advantages no policy
    has."""
    advantages = tuple(drift.advantage_symbols)
    if not advantages:
        return drift.expression, (), ()
    p = drift.policy_symbols
    first = -sum(p[k] * advantages[k] for k in range(1, len(advantages))) / p[0]
    return drift.expression.subs(advantages[0], first), advantages[1:], ((advantages[0], first),)


def _decided(
    name: str,
    value: Any,
    symbols: tuple,
    advantages: tuple,
    derived: tuple,
    proved: str,
    observed: str,
) -> Verdict:
    """passed if ``value`` simplified to 0, failed at a point where it is nonzero, else
    inconclusive."""
    if value == 0:
        return Verdict(name, "passed", 0, None, None, {"simplified": "0"}, EXACT, proved)
    point = _nonzero_point(value, symbols, advantages, derived)
    if point is not None:
        return Verdict(
            name, "failed", None, None, None, {"simplified": str(value), "point": point}, EXACT,
            f"refuted: {observed}, nonzero at p = ({', '.join(point[str(s)] for s in symbols)})",
        )  # fmt: skip
    return Verdict(
        name, "inconclusive", None, None, None, {"simplified": str(value)}, EXACT,
        f"not proved: {observed}",
        reason="sympy did not simplify the expression to 0 and no sampled point refutes it",
    )  # fmt: skip
