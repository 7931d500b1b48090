"""Hypothesis profiles: ``ci`` (default: derandomised, bounded) and ``thorough``.

Select with the environment variable ``TABULAR_MIRROR_PROFILE`` (``ci`` or ``thorough``).
The thorough profile runs 10^4 examples per property and is meant for a nightly or a local
soak, not for CI.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=30,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=10_000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("TABULAR_MIRROR_PROFILE", "ci"))
