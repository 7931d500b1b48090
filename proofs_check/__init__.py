"""proofs_check: the paper's claims as runnable checks, hypothesis strategies, counterexamples."""
