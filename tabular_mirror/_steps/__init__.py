"""Exact solvers of the mirror step, one family per module (private)."""
