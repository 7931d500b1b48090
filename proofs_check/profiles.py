"""The library's hypothesis profiles, and settings that do not depend on what was imported.

Two profiles are registered when :mod:`proofs_check` is imported (registering changes nothing
until a profile is loaded):

=========================  ===========================================================
``tabular-mirror-ci``      30 examples, derandomised, no deadline: bounded and repeatable
``tabular-mirror-thorough``  10^4 examples, no deadline: a nightly or local soak
=========================  ===========================================================

:func:`active_profile` reads the environment variable ``TABULAR_MIRROR_PROFILE`` (``ci`` or
``thorough``; default ``ci``) and :func:`settings_for` gives the matching settings, which
:func:`proofs_check.paper_claims_test` and :func:`proofs_check.check_algorithm` apply to their
own tests, so the variable works in a user's test module without any conftest. The project's
own test suite loads the same profile (``tests/conftest.py``).

Hypothesis mixes constants harvested from every *local* module that is imported into its
examples (its ``local constants``), so the same search could generate other examples after an
``import mdps``. :func:`isolated_constants` switches that off for the duration of a search, so
a search's examples depend only on its arguments and its seed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, settings

from tabular_mirror.errors import InvalidParameterError

__all__ = [
    "PROFILES",
    "ENVIRONMENT_VARIABLE",
    "active_profile",
    "settings_for",
    "isolated_constants",
]

#: The environment variable that selects a profile.
ENVIRONMENT_VARIABLE = "TABULAR_MIRROR_PROFILE"

#: Short name -> registered hypothesis profile name.
PROFILES = {"ci": "tabular-mirror-ci", "thorough": "tabular-mirror-thorough"}

_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    PROFILES["ci"],
    max_examples=30,
    derandomize=True,
    deadline=None,
    print_blob=True,
    database=None,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile(
    PROFILES["thorough"],
    max_examples=10_000,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)


def active_profile() -> str:
    """``ci`` or ``thorough``, from ``TABULAR_MIRROR_PROFILE`` (default ``ci``).

    Raises InvalidParameterError for any other value (a typo would otherwise run the short
    profile silently).
    """
    value = os.environ.get(ENVIRONMENT_VARIABLE, "ci").strip() or "ci"
    if value not in PROFILES:
        raise InvalidParameterError(
            f"{ENVIRONMENT_VARIABLE}={value!r}, expected one of {', '.join(PROFILES)}"
        )
    return value


def settings_for(profile: str | None = None, **overrides: Any) -> settings:
    """The settings of ``profile`` (default: :func:`active_profile`) with ``overrides``."""
    name = active_profile() if profile is None else profile
    if name not in PROFILES:
        raise InvalidParameterError(f"profile = {name!r}, expected one of {', '.join(PROFILES)}")
    return settings(settings.get_profile(PROFILES[name]), **overrides)


@contextlib.contextmanager
def isolated_constants() -> Iterator[bool]:
    """While active, hypothesis draws no constants harvested from imported local modules.

    Yields True when isolation is in effect, False if this hypothesis version has no such
    harvesting (nothing to isolate) or changed its internals (the search then still runs, and
    :class:`proofs_check.counterexamples.SearchResult` says its examples may depend on imports).
    """
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # pragma: no cover - older hypothesis: no local constants at all
        yield False
        return
    original = getattr(providers, "_get_local_constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if original is None or cache is None or not hasattr(cache, "cache"):  # pragma: no cover
        yield False
        return
    empty = Constants()
    providers._get_local_constants = lambda: empty
    cache.cache.clear()
    try:
        yield True
    finally:
        providers._get_local_constants = original
        cache.cache.clear()
