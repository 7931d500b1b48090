"""Per-state reductions over the short action axis of (S, A) arrays, fast for large S.

numpy reduces ``axis=1`` of a (10^5, 4) array row by row (``x.sum(axis=1)`` about 1.2 ms,
``x.max(axis=1)`` about 4 ms); ``einsum("ij->i")`` and a column-wise ``np.maximum`` do the same
in 0.1-0.3 ms. Both work on object arrays of Fractions (exact mode) unchanged.
"""

from __future__ import annotations

from functools import reduce

import numpy as np


def row_sum(array: np.ndarray) -> np.ndarray:
    """sum_a array[s, a], shape (S,)."""
    return np.einsum("ij->i", array)


def row_max(array: np.ndarray) -> np.ndarray:
    """max_a array[s, a], shape (S,)."""
    return reduce(np.maximum, array.T)


def row_count(mask: np.ndarray) -> np.ndarray:
    """Number of True entries per row of a boolean (S, A) mask, shape (S,), int64."""
    return np.einsum("ij->i", mask, dtype=np.int64)
