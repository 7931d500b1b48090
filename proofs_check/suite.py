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

import warnings
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tabular_mirror._validate import choice as check_choice
from tabular_mirror._validate import whole_number
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.errors import AlgorithmError, ExactnessError, InvalidParameterError

from ._search import run_sized_find
from .fundamental import check_fundamental_theorem
from .profiles import active_profile, isolated_constants, settings_for
from .strategies import mdps, policies
from .verdicts import EXACT, Report, Verdict

__all__ = ["check_algorithm", "paper_claims_test", "problems", "default_examples"]


def default_examples() -> int:
    """30 examples, or 10^4 under ``TABULAR_MIRROR_PROFILE=thorough``."""
    return settings_for(active_profile()).max_examples


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
    """One verdict per claim over every example (none of which failed): passed if it passed on
    at least one example (the detail counts the examples that left it undecided, and why),
    inconclusive if no example decided it."""
    names: list[str] = []
    for report in reports:
        names.extend(n for n in report.names() if n not in names)
    verdicts = []
    for name in names:
        seen = [r[name] for r in reports if name in r.names()]
        passed = [v for v in seen if v.passed]
        undecided = [v for v in seen if v.inconclusive]
        reasons: dict[str, int] = {}
        for verdict in undecided:
            key = verdict.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        why = "; ".join(f"{count} x {reason}" for reason, count in reasons.items())
        margin = min((v.margin for v in passed), default=None, key=_finite_key)
        detail = (
            f"passed on {len(passed)} of {len(seen)} generated MDPs ({iterations} iterations "
            "each; not a proof)" + (f", undecided on {len(undecided)} ({why})" if undecided else "")
        )
        if passed:
            verdicts.append(
                Verdict(
                    name,
                    "passed",
                    margin,
                    None,
                    None,
                    {"examples": len(seen), "passed": len(passed), "undecided": len(undecided)},
                    EXACT if exact else passed[0].tolerance,
                    detail,
                )
            )
        else:
            verdicts.append(
                Verdict(
                    name,
                    "inconclusive",
                    None,
                    None,
                    None,
                    undecided[0].witness if undecided else None,
                    undecided[0].tolerance if undecided else EXACT,
                    f"{name} on {len(seen)} generated MDPs ({iterations} iterations each)",
                    reason=f"undecided on every example: {why or 'no example'}",
                )
            )
    return tuple(verdicts)


def _finite_key(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


def _exact_probe(algorithm: MirrorAlgorithm, options: dict[str, Any]) -> str:
    """Why the algorithm cannot run exactly ("" if it can): every piece rational, N = Pi, and
    one exact step (with ``solver``/``choice`` if given) on a small exact MDP taken and
    certified (a user's solver may be float-only)."""
    import tabular_mirror as tm
    from tabular_mirror.neighbourhoods import Everything

    if not algorithm.drift.rational:
        name = getattr(algorithm.drift, "name", type(algorithm.drift).__name__)
        return f"the drift {name!r} is not declared rational"
    if not isinstance(algorithm.neighbourhood, Everything):
        return "exact steps need N = Pi"
    mdp = tm.FiniteMDP([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], [[0, 1], [1, 0]], "1/2")
    if algorithm.schedules:  # the step of iteration 0 (every step is an ordinary step)
        algorithm = algorithm.at(0)
    step_options = {k: options[k] for k in ("choice", "solver") if options.get(k) is not None}
    try:
        step = tm.mirror_step(mdp, algorithm, tm.uniform_policy(mdp), **step_options)
    except ExactnessError as error:
        return str(error)
    except Exception as error:  # the algorithm's (or its solver's) own error, as ours
        problem = (mdp, tm.uniform_policy(mdp))
        raise _raised(algorithm, problem, error, "the exactness probe's MDP") from error
    if not step.converged:
        return f"an exact step was not certified ({step.message})"
    return ""


#: What check_algorithm and paper_claims_test pass on to mirror_learning.
RUN_OPTIONS = ("tol", "choice", "solver", "strict")


def _check_arguments(algorithm: Any, options: dict[str, Any], caller: str) -> None:
    """The caller's own mistakes, named before any example (not blamed on the algorithm)."""
    if not isinstance(algorithm, MirrorAlgorithm):
        raise InvalidParameterError(
            f"{caller}: algorithm = {algorithm!r} is not a MirrorAlgorithm (build one with "
            "tabular_mirror.instances, e.g. instances.custom(drift))"
        )
    unknown = sorted(set(options) - set(RUN_OPTIONS))
    if unknown:
        raise InvalidParameterError(
            f"{caller}: unknown keyword {', '.join(unknown)}; the run takes "
            f"{', '.join(RUN_OPTIONS)}"
        )
    if "choice" in options:
        check_choice(options["choice"], "choice", ("closest", "vertex", "adversarial"))
    if options.get("solver") is not None and not callable(options["solver"]):
        raise InvalidParameterError(f"{caller}: solver = {options['solver']!r} is not callable")


def _choose_exact(
    algorithm: MirrorAlgorithm, exact: bool | None, options: dict[str, Any], caller: str
) -> tuple[bool, str]:
    """(exact, note): exact when asked for or when the algorithm can run exactly, else float
    with the reason in the note; ``exact=True`` for an algorithm that cannot is refused here,
    before any example is drawn."""
    _check_arguments(algorithm, options, caller)
    if exact is not None and not isinstance(exact, bool):
        raise InvalidParameterError(f"{caller}: exact = {exact!r} must be True, False or None")
    if exact is False:
        return False, ""
    why = _exact_probe(algorithm, options)
    if not why:
        return True, ""
    if exact:
        raise ExactnessError(
            f"{caller}(exact=True): {algorithm.name} cannot run exactly: {why}; "
            "leave exact unset to run in float"
        )
    return False, f"; run in float: {why}"


def _raised(
    algorithm: MirrorAlgorithm, problem: tuple, error: Exception, how: str
) -> AlgorithmError:
    """The project's error for an algorithm that raised on a generated example."""
    mdp = problem[0]
    return AlgorithmError(
        f"{algorithm.name} raised {type(error).__name__}: {error} on a generated MDP "
        f"(S={mdp.num_states}, A={mdp.num_actions}; {how}); error.example holds (mdp, pi_0): "
        "replay with tabular_mirror.mirror_learning(mdp, algorithm, pi_0, iterations)",
        example=problem,
    )


class _Raised(Exception):
    """Carries an example the algorithm raised on out of hypothesis (after it shrank it)."""

    def __init__(self, problem: tuple, error: Exception) -> None:
        super().__init__(str(error))
        self.problem, self.error = problem, error


def _starts(algorithm: MirrorAlgorithm) -> Any:
    """Where pi_0 is drawn: all of Pi (interior and faces: the theorem is for any pi_0), or the
    interior for a drift that is infinite off pi's support."""
    return True if algorithm.drift.needs_support else None


def check_algorithm(
    algorithm: MirrorAlgorithm,
    *,
    examples: int | None = None,
    exact: bool | None = None,
    iterations: int = 10,
    ignore: tuple[str, ...] = (),
    max_states: int = 3,
    max_actions: int = 3,
    seed: int = 0,
    **mirror_learning_kwargs: Any,
) -> Report:
    """Every run-level claim of the paper on ``examples`` generated MDPs, shrinking failures.

    Parameters
    ----------
    algorithm : MirrorAlgorithm
    examples : int, optional
        How many (MDP, pi_0) examples (default 30; 10^4 with TABULAR_MIRROR_PROFILE=thorough).
    exact : bool, optional
        Exact MDPs. Default (None): exact when every piece is rational (GPI, PPO clip, squared
        L2/TV with N = Pi) and one exact step (with ``solver`` if given) is taken and
        certified; otherwise float, and the title says why. If an exact step then fails on a
        generated MDP, the whole check is run again in float and the title says so. ``True``
        for an algorithm that cannot run exactly raises ExactnessError before any example.
    iterations : int
        Steps per run (10).
    ignore : verdict names not to count (e.g. a claim your algorithm is known not to satisfy).
    max_states, max_actions : the largest generated MDPs.
    seed : the examples depend only on the arguments and this seed.
    **mirror_learning_kwargs : passed to :func:`tabular_mirror.mirror_learning` (solver=...).

    Returns
    -------
    Report
        If some run *failed* a claim: that run's report, shrunk to the smallest failing MDP
        (its failed verdicts carry a diagnosis and a replayable witness). Otherwise one verdict
        per claim over all examples: passed if it passed on some and failed on none (the detail
        counts the examples that left it undecided), inconclusive if no example decided it.

    Raises
    ------
    AlgorithmError
        The algorithm raised on a generated example (a bug in a user piece, say): hypothesis
        shrinks that example first; ``error.example`` is (mdp, pi_0), ``__cause__`` the
        original exception.
    ExactnessError
        ``exact=True`` for an algorithm that cannot run exactly.
    InvalidParameterError
        A count out of range (examples, iterations >= 1; 1 <= max_states <= 12;
        2 <= max_actions <= 12).

    Notes
    -----
    pi_0 is drawn from all of Pi, faces included (Theorem 3.6 is for any pi_0), except for
    drifts that need pi > 0. Runs use hypothesis with the seed, hypothesis's constants
    harvested from imported modules switched off, and no deadline.
    """
    examples = default_examples() if examples is None else whole_number(examples, "examples", 1)
    iterations = whole_number(iterations, "iterations", 1)
    max_states = whole_number(max_states, "max_states", 1, 12)
    max_actions = whole_number(max_actions, "max_actions", 2, 12)
    seed = whole_number(seed, "seed", 0, 2**63)
    asked = exact
    exact, note = _choose_exact(algorithm, exact, mirror_learning_kwargs, "check_algorithm")
    fallback = exact and asked is None
    try:
        return _check(algorithm, examples, exact, iterations, ignore, max_states, max_actions,
                      seed, note, mirror_learning_kwargs, fallback)  # fmt: skip
    except _Raised as raised:
        if isinstance(raised.error, ExactnessError) and fallback:
            mdp = raised.problem[0]
            note = (
                f"; run in float: an exact step failed on a generated MDP (S={mdp.num_states}, "
                f"A={mdp.num_actions}): {raised.error}"
            )
            try:
                return _check(algorithm, examples, False, iterations, ignore, max_states,
                              max_actions, seed, note, mirror_learning_kwargs)  # fmt: skip
            except _Raised as again:
                raised = again
        raised = _fewest_states(raised, lambda at_most: _check(
            algorithm, examples, False if note else exact, iterations, ignore, at_most,
            max_actions, seed, note, mirror_learning_kwargs))  # fmt: skip
        how = f"shrunk by hypothesis and retried on fewer states, seed {seed}"
        raise _raised(algorithm, raised.problem, raised.error, how) from raised.error


def _fewest_states(raised: _Raised, search: Callable[[int], Any]) -> _Raised:
    """Search again on MDPs with fewer states while the algorithm still raises there
    (hypothesis's shrinker cannot delete a state: every array depends on S)."""
    while raised.problem[0].num_states > 1:
        try:
            search(raised.problem[0].num_states - 1)
        except _Raised as smaller:
            raised = smaller
            continue
        break
    return raised


def _check(
    algorithm: MirrorAlgorithm,
    examples: int,
    exact: bool,
    iterations: int,
    ignore: tuple[str, ...],
    max_states: int,
    max_actions: int,
    seed: int,
    note: str,
    options: dict[str, Any],
    fallback: bool = False,
) -> Report:
    """check_algorithm's search in one mode; raises _Raised when the algorithm raises (with
    ``fallback``, an ExactnessError is raised unshrunk after the search, which then skips
    every further example: the caller runs everything again in float)."""

    def strategy(at_most: int | None) -> st.SearchStrategy | None:
        if at_most is not None and at_most < 1:
            return None
        states = max_states if at_most is None else min(max_states, at_most)
        return problems(exact, states, max_actions, interior=_starts(algorithm))

    reports: list[Report] = []
    not_exact: list[_Raised] = []

    def fails(problem: tuple) -> bool:
        if not_exact:
            return False
        try:
            report = _run(algorithm, problem, iterations, ignore, diagnose_failures=False,
                          **options)  # fmt: skip
        except ExactnessError as error:
            if not fallback:
                raise _Raised(problem, error) from error
            not_exact.append(_Raised(problem, error))
            return False
        except Exception as error:  # the algorithm's own error: shrunk, then raised as ours
            raise _Raised(problem, error) from error
        if report.outcome != "failed":
            reports.append(report)
        return report.outcome == "failed"

    outcome = run_sized_find(strategy, fails, examples, seed)
    if not_exact:
        raise not_exact[0]
    if outcome.example is None:
        title = f"{algorithm.name}: {len(reports)} examples (seed {seed}){note}"
        return Report(_summary(reports, exact, iterations), title)
    report = _run(algorithm, outcome.example, iterations, ignore, **options)
    mdp = outcome.example[0]
    return Report(
        report.verdicts,
        f"{algorithm.name}: shrunk failure (S={mdp.num_states}, A={mdp.num_actions}) after "
        f"{outcome.generated} examples (seed {seed}; {outcome.shrink_note}"
        f"{outcome.smaller_note}){note}",
    )


def paper_claims_test(
    algorithm: MirrorAlgorithm,
    *,
    exact: bool | None = None,
    iterations: int = 10,
    ignore: tuple[str, ...] = (),
    **mirror_learning_kwargs: Any,
) -> Any:
    """A pytest test function asserting that no run-level claim fails on generated MDPs.

    A claim left undecided (inconclusive) does not fail the test; a failed one does, with the
    report (diagnosis and witness) as the assertion message. ``exact`` is chosen as in
    :func:`check_algorithm` (exact only when the algorithm can run exactly; ``exact=True`` for
    one that cannot raises ExactnessError when the test is built). An exception raised by the
    algorithm on an example becomes an :class:`~tabular_mirror.errors.AlgorithmError` naming
    it, on the example hypothesis shrank to.

    ``test_mine = paper_claims_test(my_algorithm)`` in a test module is the whole suite. The
    test carries its own settings: the library's profile named by ``TABULAR_MIRROR_PROFILE``
    (``ci``: 30 examples, derandomised; ``thorough``: 10^4), no deadline, and hypothesis's
    constants harvested from imported modules switched off, so no conftest is needed and the
    examples do not depend on what else the test session imported.
    """

    iterations = whole_number(iterations, "iterations", 1)
    exact, note = _choose_exact(algorithm, exact, mirror_learning_kwargs, "paper_claims_test")

    @settings_for()
    @given(problem=problems(exact, interior=_starts(algorithm)))
    def run(problem: tuple) -> None:
        try:
            report = _run(algorithm, problem, iterations, ignore, **mirror_learning_kwargs)
        except Exception as error:  # the algorithm's own error, as ours, on hypothesis's example
            raise _raised(algorithm, problem, error, "the example hypothesis shows") from error
        assert report.outcome != "failed", report.render(None) + note

    def test() -> None:
        with isolated_constants():
            run()

    test.__name__ = f"test_paper_claims_{algorithm.name}"
    test.hypothesis = run.hypothesis  # type: ignore[attr-defined]
    return test
