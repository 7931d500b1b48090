"""proofs_check: the paper's claims as runnable checks, hypothesis strategies, counterexamples."""

from .strategies import discounts, distributions, mdps, mdps_and_policies, policies

__all__ = ["discounts", "distributions", "mdps", "mdps_and_policies", "policies"]
