"""Row-wise divergences between two policies, vectorised over states: (S, A) x (S, A) -> (S,).

``policy`` is pi (the reference, pi_old) and ``candidate`` is pibar. Definitions:

- ``kl(p, q)``                  sum_a p_a log(p_a / q_a)  (0 log 0 = 0; +inf if q_a = 0 < p_a)
- ``total_variation(p, q)``     (1/2) sum_a |p_a - q_a|
- ``squared_euclidean(p, q)``   sum_a (p_a - q_a)^2
- ``chi_squared(p, q)``         sum_a (q_a - p_a)^2 / p_a  (Pearson, reference p in the
  denominator; +inf if p_a = 0 < |q_a - p_a|)
- ``squared_hellinger(p, q)``   (1/2) sum_a (sqrt(p_a) - sqrt(q_a))^2

Rational functions (total variation, squared Euclidean, chi-squared) keep exact Fractions
exact; KL and Hellinger involve logarithms and square roots and need float arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._rows import row_sum
from .errors import ExactnessError

__all__ = [
    "kl",
    "kl_from",
    "total_variation",
    "squared_euclidean",
    "chi_squared",
    "squared_hellinger",
    "DIVERGENCES",
]


def _is_exact(array: np.ndarray) -> bool:
    return isinstance(array, np.ndarray) and array.dtype.kind == "O"


def _require_float(*arrays: np.ndarray, what: str) -> None:
    if any(_is_exact(a) for a in arrays):
        raise ExactnessError(
            f"{what} involves logarithms or square roots, so it has no exact rational value; "
            "use a float MDP (mdp.to_float()) or a rational divergence (squared_euclidean, "
            "total_variation, chi_squared)"
        )


def kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p[s] || q[s]) = sum_a p log(p/q) per state; +inf where q = 0 < p."""
    if not (
        type(p) is np.ndarray
        and p.dtype == np.float64
        and type(q) is np.ndarray
        and q.dtype == np.float64
    ):  # (float arrays, the common case, need no conversion)
        _require_float(p, q, what="the KL divergence")
        p = np.asarray(p, dtype=float)
        q = np.asarray(q, dtype=float)
    if p.min() > 0 and q.min() > 0:  # interior rows: no 0 log 0 to mask
        terms = p * (np.log(p) - np.log(q))
        return row_sum(terms) if terms.ndim == 2 else terms.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return terms.sum(axis=-1)


def kl_from(p: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """q -> ``kl(p, q)`` for a fixed float p, its logarithms taken once (a Lagrangian search
    evaluates the divergence of one pi at many candidates). The same arithmetic as
    :func:`kl`: interior rows in one expression, any other q by :func:`kl` itself."""
    _require_float(p, what="the KL divergence")
    p = np.asarray(p, dtype=float)
    if not (p.ndim == 2 and p.min() > 0):
        return lambda q: kl(p, q)
    log_p = np.log(p)

    def divergence(q: np.ndarray) -> np.ndarray:
        if type(q) is np.ndarray and q.dtype == np.float64 and q.min() > 0:
            return row_sum(p * (log_p - np.log(q)))
        return kl(p, q)

    return divergence


def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """TV(p[s], q[s]) = (1/2) sum_a |p - q| per state (exact for Fractions)."""
    return abs(p - q).sum(axis=-1) / 2


def squared_euclidean(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """||p[s] - q[s]||_2^2 per state (exact for Fractions)."""
    difference = p - q
    return (difference * difference).sum(axis=-1)


def chi_squared(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Pearson chi^2(q || p) = sum_a (q - p)^2 / p per state; +inf where p = 0 < |q - p|."""
    difference = q - p
    if _is_exact(p):
        out = np.empty(p.shape[:-1], dtype=object)
        flat_p, flat_d = p.reshape(-1, p.shape[-1]), difference.reshape(-1, p.shape[-1])
        for s in range(flat_p.shape[0]):  # exact mode: Python arithmetic anyway
            total = 0
            for pa, da in zip(flat_p[s], flat_d[s], strict=True):
                if pa == 0:
                    if da != 0:
                        total = float("inf")
                        break
                else:
                    total += da * da / pa
            out.ravel()[s] = total
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, difference**2 / p, np.where(difference == 0, 0.0, np.inf))
    return terms.sum(axis=-1)


def squared_hellinger(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """H^2(p[s], q[s]) = (1/2) sum_a (sqrt p - sqrt q)^2 per state."""
    _require_float(p, q, what="the Hellinger distance")
    root = np.sqrt(np.asarray(p, dtype=float)) - np.sqrt(np.asarray(q, dtype=float))
    return (root * root).sum(axis=-1) / 2


#: Name -> function, for neighbourhoods and the CLI ("kl" is KL(policy || candidate)).
DIVERGENCES = {
    "kl": kl,
    "tv": total_variation,
    "l2": squared_euclidean,
    "chi2": chi_squared,
    "hellinger": squared_hellinger,
}
