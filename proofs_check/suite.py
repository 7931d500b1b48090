"""Run the paper's claims against *your* algorithm: one call, or one pytest line.

:func:`check_algorithm` draws MDPs and initial policies with hypothesis, runs
:func:`proofs_check.check_fundamental_theorem` on each, and, if some run fails a claim, shrinks
it to the smallest failing MDP and returns that run's report (its verdicts carry the witness).
:func:`paper_claims_test` returns a hypothesis test function for pytest.

Examples
--------
>>> from tabular_mirror import instances
>>> report = check_algorithm(instances.gpi(), examples=5, exact=True)
>>> report.outcome
'passed'
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
    diagnose_failures: bool = True,
    **options: Any,
) -> Report:
    mdp, policy = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = check_fundamental_theorem(
            mdp, algorithm, policy, iterations, diagnose_failures=diagnose_failures, **options
        )
    kept = tuple(v for v in report.verdicts if v.name not in ignore)
    return Report(kept, report.title)


def _summary(reports: list[Report], exact: bool, iterations: int) -> tuple[Verdict, ...]:
    """One verdict per claim over every example: passed if it passed on all of them,
    inconclusive if some left it undecided (how many, and the first reason)."""
    names: list[str] = []
    for report in reports:
        names.extend(n for n in report.names() if n not in names)
    verdicts = []
    for name in names:
        seen = [r[name] for r in reports if name in r.names()]
        undecided = [v for v in seen if v.inconclusive]
        margin = min((v.margin for v in seen if v.passed), default=None, key=_finite_key)
        detail = f"{name} on {len(seen)} generated MDPs ({iterations} iterations each)"
        if undecided:
            verdicts.append(
                Verdict(
                    name,
                    "inconclusive",
                    margin,
                    None,
                    None,
                    undecided[0].witness,
                    undecided[0].tolerance,
                    detail,
                    reason=f"undecided on {len(undecided)} of {len(seen)} examples; first: "
                    f"{undecided[0].reason}",
                )
            )
        else:
            verdicts.append(
                Verdict(
                    name,
                    "passed",
                    margin,
                    None,
                    None,
                    {"examples": len(seen)},
                    EXACT if exact else seen[0].tolerance,
                    detail + " (passed on every one; not a proof)",
                )
            )
    return tuple(verdicts)


def _finite_key(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


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
        If some run *failed* a claim: that run's report, shrunk to the smallest failing MDP
        (its failed verdicts carry a diagnosis and a replayable witness). Otherwise one verdict
        per claim over all examples: passed if it passed on every example, inconclusive if
        some left it undecided (a finite run in progress, an uncertified step), with how many.
    """
    from tabular_mirror.neighbourhoods import Everything

    if examples is None:
        examples = default_examples()
    if exact is None:
        exact = bool(algorithm.drift.rational and isinstance(algorithm.neighbourhood, Everything))
    strategy = problems(exact, max_states, max_actions)
    reports: list[Report] = []

    def fails(problem: tuple) -> bool:
        report = _run(
            algorithm, problem, iterations, ignore, diagnose_failures=False,
            **mirror_learning_kwargs,
        )  # fmt: skip
        if report.outcome != "failed":
            reports.append(report)
        return report.outcome == "failed"

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
        title = f"{algorithm.name}: {len(reports)} examples"
        return Report(_summary(reports, exact, iterations), title)
    report = _run(algorithm, problem, iterations, ignore, **mirror_learning_kwargs)
    mdp = problem[0]
    return Report(
        report.verdicts,
        f"{algorithm.name}: shrunk failure (S={mdp.num_states}, A={mdp.num_actions}) after "
        f"{len(reports) + 1} examples",
    )


def paper_claims_test(
    algorithm: MirrorAlgorithm,
    *,
    exact: bool = False,
    iterations: int = 4,
    ignore: tuple[str, ...] = (),
    **mirror_learning_kwargs: Any,
) -> Any:
    """A pytest test function asserting that no run-level claim fails on generated MDPs.

    A claim left undecided (inconclusive) does not fail the test; a failed one does, with the
    report (diagnosis and witness) as the assertion message.

    ``test_mine = paper_claims_test(my_algorithm)`` in a test module is the whole suite; the
    hypothesis profile (``TABULAR_MIRROR_PROFILE``) sets the number of examples.
    """

    @given(problem=problems(exact))
    def test(problem: tuple) -> None:
        report = _run(algorithm, problem, iterations, ignore, **mirror_learning_kwargs)
        assert report.outcome != "failed", report.render()

    test.__name__ = f"test_paper_claims_{algorithm.name}"
    return test
