"""Symbolic proofs of Definition 3.1 for :class:`tabular_mirror.drifts.SympyDrift`.

For a drift given as a sympy expression D(p, q) in the rows p = pi[s], q = pibar[s]:

- zero at pi: simplify D(p, p) to 0;
- zero Gateaux derivative (Def. 3.1(2)): the simplex directions at q = p are spanned by
  e_a - e_0, so every directional derivative vanishes iff dD/dq_a - dD/dq_0 at q = p simplifies
  to 0 for every a. This is a proof (for every p where the expression is differentiable at
  q = p), not a sample.

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

from .verdicts import EXACT, Report, Verdict

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


def prove_drift(drift: SympyDrift) -> Report:
    """Prove D(p, p) = 0 and the zero-gradient property of Def. 3.1(2) symbolically.

    Parameters
    ----------
    drift : SympyDrift

    Returns
    -------
    Report
        ``definition_3_1_zero_at_policy_proved`` and ``definition_3_1_zero_gradient_proved``.
        ``passed`` means *proved*; a failure is either a refutation (the simplified expression
        is nonzero, given in the witness) or "not proved" (non-smooth expression; see detail).
        Nonnegativity is not attempted symbolically (use the numerical check).
    """
    import sympy

    p, q = drift.policy_symbols, drift.candidate_symbols
    at_policy = {b: a for a, b in zip(p, q, strict=True)}
    expression = drift.expression
    value = sympy.simplify(expression.subs(at_policy, simultaneous=True))
    zero_proved = value == 0
    zero = Verdict(
        "definition_3_1_zero_at_policy_proved",
        bool(zero_proved),
        0 if zero_proved else None,
        None,
        None,
        {"D(p, p)": str(value)},
        EXACT,
        "proved: D(p, p) simplifies to 0"
        if zero_proved
        else f"D(p, p) simplifies to {value}, not 0",
    )
    kinks = _non_smooth(expression)
    if kinks:
        gradient = Verdict(
            "definition_3_1_zero_gradient_proved",
            False,
            None,
            None,
            None,
            {"non_smooth": kinks, "expression": str(expression)},
            EXACT,
            f"not proved: the expression uses {', '.join(kinks)} (not differentiable at a "
            "kink); use definitions.check_drift's one-sided quotients",
        )
        return Report((zero, gradient), f"symbolic Def. 3.1: {drift.name}")
    derivatives = [sympy.diff(expression, b).subs(at_policy, simultaneous=True) for b in q]
    differences = [sympy.simplify(d - derivatives[0]) for d in derivatives[1:]]
    nonzero = [(a + 1, d) for a, d in enumerate(differences) if d != 0]
    # also on the simplex: substitute p_0 = 1 - sum of the others where sympy needs it
    if nonzero:
        constraint = {p[0]: 1 - sum(p[1:])}
        nonzero = [(a, d) for a, d in nonzero if sympy.simplify(d.subs(constraint)) != 0]
    proved = not nonzero
    gradient = Verdict(
        "definition_3_1_zero_gradient_proved",
        proved,
        0 if proved else None,
        None,
        None,
        {"differences": [str(d) for d in differences]},
        EXACT,
        "proved: dD/dq_a - dD/dq_0 at q = p simplifies to 0 for every a, so every simplex "
        "directional derivative vanishes"
        if proved
        else f"refuted: dD/dq_{nonzero[0][0]} - dD/dq_0 at q = p is {nonzero[0][1]}, not 0",
    )
    return Report((zero, gradient), f"symbolic Def. 3.1: {drift.name}")
