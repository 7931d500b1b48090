"""The project's exception types: every error a user can trigger is one of these.

Hierarchy (each also subclasses the built-in a caller would expect)::

    TabularMirrorError
      InvalidMDPError(ValueError)          shape, NaN/inf, bad row, discount, initial, empty
      InvalidPolicyError(ValueError)       shape, negative entry, row off the simplex
      InvalidParameterError(ValueError)    epsilon <= 0, missing piece, unknown choice
      ExactnessError(ValueError)           a float where exact input is required
      InvalidFileError(ValueError)         a damaged, truncated, hand-edited or foreign file
      NotConvergedError(RuntimeError)      raised only on request (``raise_for_status``)
      MissingDependencyError(ImportError)  an optional dependency is not installed
      AlgorithmError(RuntimeError)         the algorithm under test raised on a generated example

Messages name the argument, the index, the value and the expectation, e.g.
``transitions[3, 1, :] sums to 0.98, expected 1 (tolerance 1e-10)``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TabularMirrorError",
    "InvalidMDPError",
    "InvalidPolicyError",
    "InvalidParameterError",
    "ExactnessError",
    "InvalidFileError",
    "NotConvergedError",
    "MissingDependencyError",
    "AlgorithmError",
    "SlowComputationWarning",
]


class TabularMirrorError(Exception):
    """Base class of every exception raised by tabular-mirror."""


class InvalidMDPError(TabularMirrorError, ValueError):
    """The transitions, rewards, discount or initial distribution do not define a finite MDP."""


class InvalidPolicyError(TabularMirrorError, ValueError):
    """A policy array is not of shape (S, A) or a row is not a probability distribution."""


class InvalidParameterError(TabularMirrorError, ValueError):
    """A parameter is outside its domain, a required piece is missing, or a choice is unknown."""


class ExactnessError(TabularMirrorError, ValueError):
    """A floating-point value was given where exact (rational) input is required."""


class InvalidFileError(TabularMirrorError, ValueError):
    """A file is damaged, truncated, modified after it was written, or not in the format read.

    The message names the file and what is wrong with it (a missing member, a checksum that
    does not match, an entry that is not a number, ...). ``path`` is the file's path.
    """

    def __init__(self, message: str, path: Any = None) -> None:
        super().__init__(message)
        self.path = path


class NotConvergedError(TabularMirrorError, RuntimeError):
    """An iterative method did not reach its tolerance; ``result`` holds what it computed."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class AlgorithmError(TabularMirrorError, RuntimeError):
    """The algorithm under test raised on an example a check generated (a user piece's bug).

    ``example`` holds what it raised on (for :func:`proofs_check.check_algorithm`: the MDP and
    pi_0); the original exception is ``__cause__``.
    """

    def __init__(self, message: str, example: Any = None) -> None:
        super().__init__(message)
        self.example = example


class MissingDependencyError(TabularMirrorError, ImportError):
    """An optional dependency needed for this feature is not installed."""

    def __init__(self, package: str, feature: str, extra: str | None = None) -> None:
        hint = f"pip install 'tabular-mirror[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{feature} needs the optional package {package!r}: {hint}")
        self.package = package


class SlowComputationWarning(UserWarning):
    """A computation will take very long (exact value iteration with fast-growing fractions);
    the message says how long it projects and what to use instead."""
