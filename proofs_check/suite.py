"""Run the paper's claims against *your* algorithm: one call, or one pytest line.

:func:`check_algorithm` draws MDPs and initial policies with hypothesis, runs
:func:`proofs_check.check_fundamental_theorem` on each, and, if some run fails a claim, shrinks
it to the smallest failing MDP and returns that run's report (its verdicts carry the witness).
:func:`paper_claims_test` returns a hypothesis test function for pytest.

Examples
--------
>>> from tabular_mirror import instances
>>> report = check_algorithm(instances.gpi(), examples=5, exact=True)
>>> report.passed
True
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from tabular_mirror.algorithm import MirrorAlgorithm

from .fundamental import check_fundamental_theorem
from .strategies import mdps, policies
from .verdicts import EXACT, Report, Verdict

__all__ = ["check_algorithm", "paper_claims_test", "problems", "default_examples"]


def default_examples() -> int:
    """30 examples, or 10^4 under ``TABULAR_MIRROR_PROFILE=thorough``."""
    return 10_000 if os.environ.get("TABULAR_MIRROR_PROFILE") == "thorough" else 30


def problems(
    exact: bool = False, max_states: int = 3, max_actions: int = 3, interior: Any = True
) -> st.SearchStrategy:
    """(mdp, policy0) pairs with S <= max_states and 2 <= A <= max_actions."""
    return mdps(
        num_states=st.integers(1, max_states),
        num_actions=st.integers(2, max_actions),
        exact=exact,
    ).flatmap(lambda mdp: st.tuples(st.just(mdp), policies(mdp, interior=interior)))


def _run(
    algorithm: MirrorAlgorithm,
    problem: tuple,
    iterations: int,
    ignore: tuple[str, ...],
    **options: Any,
) -> Report:
    mdp, policy = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = check_fundamental_theorem(mdp, algorithm, policy, iterations, **options)
    kept = tuple(v for v in report.verdicts if v.name not in ignore)
    return Report(kept, report.title)


def check_algorithm(
    algorithm: MirrorAlgorithm,
    *,
    examples: int | None = None,
    exact: bool | None = None,
    iterations: int = 4,
    ignore: tuple[str, ...] = (),
    max_states: int = 3,
    max_actions: int = 3,
    **mirror_learning_kwargs: Any,
) -> Report:
    """Every run-level claim of the paper on ``examples`` generated MDPs, shrinking failures.

    Parameters
    ----------
    algorithm : MirrorAlgorithm
    examples : int, optional
        How many (MDP, pi_0) examples (default 30; 10^4 with TABULAR_MIRROR_PROFILE=thorough).
    exact : bool, optional
        Exact MDPs (only for rational steps: GPI, PPO clip, squared L2/TV with N = Pi). Default:
        exact when the drift is rational and N = Pi, else float.
    iterations : int
        Steps per run.
    ignore : verdict names not to count (e.g. a claim your algorithm is known not to satisfy).
    **mirror_learning_kwargs : passed to :func:`tabular_mirror.mirror_learning` (solver=...).

    Returns
    -------
    Report
        The shrunk failing run's report if some run failed (title names the example count),
        else a one-verdict report ``check_algorithm`` summarising the passes.
    """
    from tabular_mirror.neighbourhoods import Everything

    if examples is None:
        examples = default_examples()
    if exact is None:
        exact = bool(algorithm.drift.rational and isinstance(algorithm.neighbourhood, Everything))
    strategy = problems(exact, max_states, max_actions)
    count = [0]

    def fails(problem: tuple) -> bool:
        count[0] += 1
        return not _run(algorithm, problem, iterations, ignore, **mirror_learning_kwargs).passed

    try:
        problem = find(
            strategy,
            fails,
            settings=settings(
                max_examples=examples,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    except NoSuchExample:
        verdict = Verdict(
            "check_algorithm",
            True,
            0,
            None,
            None,
            {"examples": count[0], "exact": exact, "iterations": iterations},
            EXACT if exact else None,
            f"every run-level claim held on {count[0]} generated MDPs ({iterations} iterations "
            "each; not a proof)",
        )
        return Report((verdict,), f"{algorithm.name}: {count[0]} examples")
    report = _run(algorithm, problem, iterations, ignore, **mirror_learning_kwargs)
    mdp = problem[0]
    return Report(
        report.verdicts,
        f"{algorithm.name}: shrunk failure (S={mdp.num_states}, A={mdp.num_actions}) after "
        f"{count[0]} examples",
    )


def paper_claims_test(
    algorithm: MirrorAlgorithm,
    *,
    exact: bool = False,
    iterations: int = 4,
    ignore: tuple[str, ...] = (),
    **mirror_learning_kwargs: Any,
) -> Any:
    """A pytest test function asserting every run-level claim on generated MDPs.

    ``test_mine = paper_claims_test(my_algorithm)`` in a test module is the whole suite; the
    hypothesis profile (``TABULAR_MIRROR_PROFILE``) sets the number of examples.
    """

    @given(problem=problems(exact))
    def test(problem: tuple) -> None:
        report = _run(algorithm, problem, iterations, ignore, **mirror_learning_kwargs)
        assert report.passed, report.render()

    test.__name__ = f"test_paper_claims_{algorithm.name}"
    return test
