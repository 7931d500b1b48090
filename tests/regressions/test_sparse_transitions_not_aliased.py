"""Regression: a sparse transition matrix passed to FiniteMDP was aliased and frozen.

What broke: ``sp.csr_matrix(transitions, dtype=float)`` does not copy a float CSR input, so the
MDP shared ``data``/``indices``/``indptr`` with the caller's matrix and then marked them
read-only: constructing an MDP silently made the *caller's* matrix unwritable (validation must
never modify its input), and the caller's matrix and the "immutable" MDP were the same memory.
Fixed in ``FiniteMDP._read_sparse_transitions`` (``copy=True``; O(nnz), never densified).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import tabular_mirror as tm


def test_caller_matrix_stays_writable_and_independent():
    matrix = sp.csr_matrix(np.array([[0.5, 0.5], [1.0, 0.0], [0.0, 1.0], [0.25, 0.75]]))
    mdp = tm.FiniteMDP(matrix, np.zeros((2, 2)), 0.5)
    assert matrix.data.flags.writeable
    assert not np.shares_memory(matrix.data, mdp.transitions.data)
    matrix.data[:] = 0.0  # the caller may reuse its matrix
    assert mdp.transitions[0, 0] == 0.5
    assert mdp.is_sparse
