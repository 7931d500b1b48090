"""One hypothesis ``find`` for the searches and check_algorithm: seeded, isolated, accounted.

:func:`run_find` returns what a search report needs: the shrunk example, how many examples were
generated (up to and including the first failing one), how many further calls the shrinker
made, whether shrinking finished (hypothesis's shrinker reached a local minimum) or stopped
early (its 500-shrink cap or its 5-minute limit), and the seed that reproduces the run.
Examples depend only on the strategy, the condition and the seed: hypothesis's constants
harvested from imported modules are switched off (:func:`proofs_check.profiles.isolated_constants`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any

from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from .profiles import isolated_constants

__all__ = ["FindOutcome", "run_find", "run_sized_find", "SHRINK_CAP", "SHRINK_SECONDS"]

#: hypothesis's own limits on shrinking (hypothesis.internal.conjecture.engine).
SHRINK_CAP = 500
SHRINK_SECONDS = 300.0


@dataclass(frozen=True)
class FindOutcome:
    """What one search did.

    ``example``: the shrunk failing example, or None; ``generated``: examples generated up to
    and including the first failure (all of them when none failed); ``shrink_calls``: condition
    calls after the first failure (shrink candidates and hypothesis's replays); ``successes``:
    how many of those failed too (each a smaller or equal failing example);
    ``shrink_finished``: hypothesis's shrinker ran to a local minimum (False when it stopped at
    its cap of 500 shrinks or its 5-minute limit; None when nothing was found);
    ``shrink_note``: why it stopped; ``seed``: rerun with the same seed for the same examples;
    ``isolated``: hypothesis's harvested constants were switched off.
    """

    example: Any
    generated: int
    shrink_calls: int
    successes: int
    shrink_finished: bool | None
    shrink_note: str
    seed: int
    max_examples: int
    isolated: bool
    smaller_note: str = ""


def run_find(
    strategy: st.SearchStrategy,
    condition: Callable[[Any], bool],
    max_examples: int,
    seed: int = 0,
) -> FindOutcome:
    """``hypothesis.find`` the smallest example for which ``condition`` is True.

    ``condition`` must be deterministic. Randomness comes only from ``seed``.
    """
    calls = 0
    first: int | None = None
    successes = 0
    found_at: float | None = None

    def counted(example: Any) -> bool:
        nonlocal calls, first, successes, found_at
        calls += 1
        result = bool(condition(example))
        if result:
            if first is None:
                first, found_at = calls, time.perf_counter()
            else:
                successes += 1
        return result

    configured = settings(
        max_examples=max_examples,
        derandomize=False,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    with isolated_constants() as isolated:
        try:
            example = find(strategy, counted, settings=configured, random=Random(seed))
        except NoSuchExample:
            return FindOutcome(None, calls, 0, 0, None, "nothing found", seed, max_examples,
                               isolated)  # fmt: skip
    assert first is not None and found_at is not None
    elapsed = time.perf_counter() - found_at
    if successes >= SHRINK_CAP:
        finished, note = False, f"stopped at hypothesis's cap of {SHRINK_CAP} shrinks"
    elif elapsed >= SHRINK_SECONDS:
        finished, note = False, f"stopped after hypothesis's {SHRINK_SECONDS:g} s shrink limit"
    else:
        finished = True
        note = f"shrinking finished (a local minimum of hypothesis's shrinker, {elapsed:.1f} s)"
    return FindOutcome(
        example, first, calls - first, successes, finished, note, seed, max_examples, isolated
    )


def run_sized_find(
    strategy_for: Callable[[int | None], st.SearchStrategy | None],
    condition: Callable[[Any], bool],
    max_examples: int,
    seed: int = 0,
) -> FindOutcome:
    """:func:`run_find` on ``strategy_for(None)``, then again on MDPs with fewer states.

    Examples are tuples whose first item is a FiniteMDP. Hypothesis's shrinker cannot delete a
    state of an MDP (every array depends on S), so after a failure on S states the search runs
    again on ``strategy_for(S - 1)`` (None: nothing smaller to try) with the same budget, until
    nothing smaller fails. Counts add up over the passes; ``smaller_note`` says what the last
    pass found.
    """
    outcome = run_find(strategy_for(None), condition, max_examples, seed)
    generated, shrink_calls, successes = outcome.generated, outcome.shrink_calls, outcome.successes
    note = ""
    while outcome.example is not None:
        fewer = outcome.example[0].num_states - 1
        strategy = strategy_for(fewer)
        if strategy is None:
            break
        smaller = run_find(strategy, condition, max_examples, seed)
        generated += smaller.generated
        shrink_calls += smaller.shrink_calls
        successes += smaller.successes
        if smaller.example is None:
            note = f"; nothing failed among {smaller.generated} examples with S <= {fewer}"
            break
        outcome = smaller
    return FindOutcome(
        outcome.example,
        generated,
        shrink_calls,
        successes,
        outcome.shrink_finished,
        outcome.shrink_note,
        seed,
        max_examples,
        outcome.isolated,
        note,
    )
