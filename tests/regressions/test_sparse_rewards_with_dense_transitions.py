"""Regression: per-transition rewards given as a sparse matrix crashed with dense transitions.

What broke: ``FiniteMDP(dense P, scipy.sparse r(s, a, s'), gamma)`` raised
``AttributeError: 'numpy.ndarray' object has no attribute 'multiply'``: the reduction
r[s, a] = sum_s' P[s, a, s'] r(s, a, s') called the sparse ``multiply`` method on the dense
(S*A, S) view of P. Fixed in ``FiniteMDP._read_rewards`` (P is taken through CSR there).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import tabular_mirror as tm


def test_sparse_per_transition_rewards_with_dense_transitions():
    transitions = np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [0.25, 0.75]]])
    per_transition = sp.csr_matrix([[2.0, 4.0], [1.0, 7.0], [5.0, -1.0], [4.0, 8.0]])
    mdp = tm.FiniteMDP(transitions, per_transition, 0.5)
    np.testing.assert_array_equal(mdp.rewards, [[3.0, 1.0], [-1.0, 7.0]])
    assert not mdp.is_sparse
