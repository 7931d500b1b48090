"""Run mirror learning: pi_0, pi_1 = step(pi_0), ... and record everything in a Trace.

Kuba et al. (2022), Theorem 3.6: for any drift, neighbourhood operator and sampling
distribution, the sequence improves state by state,
V_{n+1}(s) >= V_n(s) + (nu[s]/beta[s]) D_{pi_n}(pi_{n+1} | s)  (inequality (13)), and converges
to the optimum. :func:`mirror_learning` computes each step exactly (see
:func:`tabular_mirror.mirror_step`) and each policy's exact evaluation, records the quantities
the theorem talks about, and stops early at a GPI fixed point (max_{s,a} A_{pi_n} <= tolerance:
pi_n is optimal) or when the iteration budget runs out. ``proofs_check`` turns the trace into
verdicts.

Examples
--------
>>> import tabular_mirror as tm
>>> from tabular_mirror import instances
>>> mdp = tm.FiniteMDP(
...     [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
...     [[5, 10], [-1, 2]], "9/10")
>>> trace = tm.mirror_learning(mdp, instances.gpi(), tm.uniform_policy(mdp), 10)
>>> trace.stop_reason, [str(v) for v in trace.values[-1]]
('optimal', ['1825/43', '1550/43'])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ._progress import progress_bar
from ._validate import choice as check_choice
from ._validate import positive_number, reward_scale, whole_number
from .algorithm import MirrorAlgorithm, drift_penalty
from .errors import InvalidParameterError
from .evaluation import _evaluate
from .model import FiniteMDP, check_mdp, require_discounted
from .optimal import solve
from .policies import check_policy
from .schedules import ScheduleRecord, resolve
from .step import Solver, _check_support, _step, _zeros_on_the_face, describe_solver
from .traces import Provenance, Trace

__all__ = ["mirror_learning", "mirror_learning_steps", "LearningStep", "STOP_REASONS"]

#: Why a run ended: the budget ran out, a GPI fixed point (pi_n optimal), a step that could
#: not be certified (``strict=True``), or Ctrl-C with ``on_interrupt="stop"``.
STOP_REASONS = ("iterations", "optimal", "not_certified", "interrupted", "left_support")


def _stack(items: list[Any], exact: bool) -> np.ndarray:
    if exact:
        array = np.empty((len(items), *np.shape(items[0])) if items else (0,), dtype=object)
        for k, item in enumerate(items):
            array[k] = item
        return array
    return np.array(items, dtype=float)


@dataclass(frozen=True)
class LearningStep:
    """One step pi_k -> pi_{k+1} of a run, as :func:`mirror_learning_steps` yields it.

    Only what a :class:`~tabular_mirror.traces.Trace` keeps (the step's full evaluation is
    dropped, so a long run's memory is the trace's, not every step's intermediate arrays).

    Attributes
    ----------
    iteration : k + 1, the index of the new policy.
    policy : (S, A) pi_{k+1}.
    values : (S,) V_{pi_{k+1}}.
    expected_return : eta(pi_{k+1}).
    max_advantage : max_{s,a} A_{pi_{k+1}}[s, a].
    drift : drift_{pi_k}(pi_{k+1}), the drift paid by the step.
    state_drift, drift_weights, sampling, mirror_values : (S,) D_{pi_k}(pi_{k+1} | s), nu,
        beta and [M^{pi_{k+1}} V_{pi_k}](s).
    improvement_bound : sum_s d[s] (nu[s]/beta[s]) D_{pi_k}(pi_{k+1} | s) (Theorem 3.6(1)).
    objective : the mirror objective of pi_{k+1}.
    certificate : the step's certificate.
    step_time : seconds the step took.
    converged : the step was certified (``StepResult.converged``).
    evaluation_error : the certified sup-norm error of ``values`` (0 in exact mode).
    schedule_values : the value of each scheduled parameter used by the step, in the order of
        ``algorithm.schedules`` (empty when nothing is scheduled).
    """

    iteration: int
    policy: np.ndarray
    values: np.ndarray
    expected_return: Any
    max_advantage: Any
    drift: Any
    state_drift: np.ndarray
    drift_weights: np.ndarray
    sampling: np.ndarray
    mirror_values: np.ndarray
    improvement_bound: Any
    objective: Any
    certificate: Any
    step_time: float
    converged: bool
    evaluation_error: Any = 0
    schedule_values: tuple[Any, ...] = ()


def _default_tolerance(mdp: FiniteMDP, tol: Any) -> Any:
    if tol is None:
        scale = max(1.0, reward_scale(mdp.rewards))
        tol = 0 if mdp.is_exact else 1e-10 * scale / (1 - float(mdp.discount))
    tol = positive_number(tol, "tol", allow_zero=True)
    return Fraction(tol) if mdp.is_exact else float(tol)  # in the run's arithmetic


def mirror_learning_steps(
    mdp: FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy0: Any,
    iterations: int,
    *,
    tol: float | None = None,
    choice: str = "closest",
    solver: Solver | None = None,
    strict: bool = False,
) -> Iterator[LearningStep]:
    """Yield the steps of a mirror-learning run one at a time (a run that streams).

    The same run as :func:`mirror_learning`, as a generator: each :class:`LearningStep` is
    yielded as soon as it is computed and nothing is kept, so the caller decides what to store
    (the command line's ``run`` writes parts of the trace to disk and its memory stays bounded
    however many iterations it runs). The generator stops when ``iterations`` steps are taken,
    when pi_n is optimal (max_{s,a} A <= tol), or after the first uncertified step when
    ``strict``; its return value (``StopIteration.value``) is the stop reason.

    Parameters
    ----------
    See :func:`mirror_learning`.

    Yields
    ------
    LearningStep
    """
    check_mdp(mdp)
    require_discounted(mdp, "mirror_learning_steps")
    iterations = whole_number(iterations, "iterations")
    check_choice(choice, "choice", ("closest", "vertex", "adversarial"))
    _check_algorithm(algorithm)
    policy = check_policy(mdp, policy0, "policy0")
    tol = _default_tolerance(mdp, tol)
    return (yield from _run(mdp, algorithm, policy, iterations, tol, choice, solver, strict))


def _check_algorithm(algorithm: Any) -> None:
    if not isinstance(algorithm, MirrorAlgorithm):
        raise InvalidParameterError(f"algorithm = {algorithm!r} is not a MirrorAlgorithm")


def _run(
    mdp: FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy: np.ndarray,
    iterations: int,
    tol: Any,
    choice: str,
    solver: Solver | None,
    strict: bool,
    evaluation: Any = None,
) -> Iterator[LearningStep]:
    """:func:`mirror_learning_steps` on validated arguments: one check at the public entry,
    none per step (each step and evaluation goes to the private workers). ``evaluation`` is
    pi_0's, when the caller has it."""
    if evaluation is None:
        evaluation = _evaluate(mdp, policy)
    initial = mdp.initial
    scheduled = bool(algorithm.schedules)
    for iteration in range(iterations):
        if evaluation.advantages.max() <= tol:
            return "optimal"
        started = time.perf_counter()
        # the step pi_n -> pi_{n+1} is a step of the algorithm at n (its schedules' values)
        used: list[Any] = []  # the schedules' values, each schedule called once
        current = resolve(algorithm, iteration, used) if scheduled else algorithm
        if iteration and current.drift.needs_support and _zeros_on_the_face(policy, mdp).any():
            # the run's own step put exactly 0 on an action (e.g. exp(eta A) underflowed under a
            # growing step): the drift is infinite off pi's support, so no next step exists
            return "left_support"
        _check_support(current, policy, mdp)
        step = _step(mdp, current, policy, choice, solver, evaluation, None)
        elapsed = time.perf_counter() - started
        policy = step.policy
        evaluation = _evaluate(mdp, policy)
        bound = (initial * drift_penalty(step.drift_weights, step.sampling, step.state_drift)).sum()
        yield LearningStep(
            iteration=iteration + 1,
            policy=policy,
            values=evaluation.values,
            expected_return=evaluation.expected_return,
            max_advantage=evaluation.advantages.max(),
            drift=step.drift,
            state_drift=step.state_drift,
            drift_weights=step.drift_weights,
            sampling=step.sampling,
            mirror_values=step.mirror_values,
            improvement_bound=bound,
            objective=step.objective,
            certificate=step.certificate,
            step_time=elapsed,
            converged=step.converged,
            evaluation_error=evaluation.error_bound,
            schedule_values=tuple(used),
        )
        if strict and not step.converged:
            return "not_certified"
    return "optimal" if evaluation.advantages.max() <= tol else "iterations"


def mirror_learning(
    mdp: FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy0: Any,
    iterations: int,
    *,
    tol: float | None = None,
    choice: str = "closest",
    solver: Solver | None = None,
    optimum: bool = True,
    strict: bool = False,
    progress: Any = None,
    on_interrupt: str = "raise",
) -> Trace:
    """Run ``iterations`` mirror-learning steps of ``algorithm`` from ``policy0``.

    Parameters
    ----------
    mdp, algorithm, policy0 : the MDP, the pieces, and pi_0 (S, A).
    iterations : int
        The most steps to take (0 <= iterations <= 10^9).
    tol : float, optional
        Stop when max_{s,a} A_{pi_n}[s, a] <= tol (pi_n is then optimal up to
        tol / (1 - gamma)). Default 0 in exact mode, 1e-10 * max(1, ||r||_inf/(1-gamma)) in float.
    choice : maximiser choice when the argmax is a set ("closest", "vertex", "adversarial").
    solver : optional custom step solver (see :func:`tabular_mirror.mirror_step`).
    optimum : compute V* and eta* (exactly) for the trace.
    strict : stop as soon as a step cannot be certified.
    progress : optional callable ``progress(iteration, returns_so_far)``, or True for a
        progress bar (tqdm: a widget in notebooks, a line on a terminal's stderr).
    on_interrupt : {"raise", "stop"}
        What Ctrl-C (KeyboardInterrupt) does: "raise" (the default) propagates it; "stop"
        ends the run and returns the trace of the steps already taken, with
        ``stop_reason="interrupted"``.

    Returns
    -------
    Trace
        ``stop_reason`` is one of :data:`STOP_REASONS`.

    Notes
    -----
    Memory grows with the iterations (the trace keeps every policy); for very long runs use
    :func:`mirror_learning_steps`, which yields one step at a time.

    Schedules (:mod:`tabular_mirror.schedules`): the step pi_n -> pi_{n+1} is taken with
    ``algorithm.at(n)``, the pieces with every scheduled parameter at its value at n, and
    ``trace.schedule`` records the values used at every step (each schedule is called once
    per step). A schedule whose value at some n is not a finite number > 0 raises
    InvalidParameterError naming it, n and the value.

    An error raised at step n > 0 (such a schedule, a user's piece or solver) keeps what was
    done: the exception's ``partial_trace`` is the trace of the steps taken before it, with
    ``stop_reason="interrupted"`` (and a note on the exception says so).
    """
    check_mdp(mdp)
    require_discounted(mdp, "mirror_learning")
    iterations = whole_number(iterations, "iterations")
    check_choice(on_interrupt, "on_interrupt", ("raise", "stop"))
    check_choice(choice, "choice", ("closest", "vertex", "adversarial"))
    _check_algorithm(algorithm)
    policy = check_policy(mdp, policy0, "policy0")
    tol = _default_tolerance(mdp, tol)
    evaluation = _evaluate(mdp, policy)
    policies, values = [policy], [evaluation.values]
    returns, largest = [evaluation.expected_return], [evaluation.advantages.max()]
    steps: list[LearningStep] = []
    bar = None
    if progress is True:
        bar = progress_bar(iterations, f"{algorithm.name}", enabled=True)
        callback: Callable[[int, Any], None] | None = bar.returns_callback
    elif progress is None or progress is False:
        callback = None
    elif callable(progress):
        callback = progress
    else:
        raise InvalidParameterError(f"progress = {progress!r} must be a callable, True or None")
    runner = _run(mdp, algorithm, policy, iterations, tol, choice, solver, strict, evaluation)

    def trace_of(stop_reason: str) -> Trace:
        return _trace(
            mdp, algorithm, policies, values, returns, largest, steps, stop_reason, tol, optimum,
            first_error=evaluation.error_bound,  # pi_0's evaluation, made before the first step
            provenance=Provenance(repr(algorithm), choice, describe_solver(solver), bool(strict)),
        )  # fmt: skip

    try:
        while True:
            try:
                step = next(runner)
            except StopIteration as stop:
                stop_reason = stop.value
                break
            except Exception as error:  # a schedule without a valid value at n, a user's piece
                _keep_partial_trace(error, steps, trace_of)
                raise
            steps.append(step)
            policies.append(step.policy)
            values.append(step.values)
            returns.append(step.expected_return)
            largest.append(step.max_advantage)
            if callback is not None:
                callback(step.iteration, returns)
    except KeyboardInterrupt:
        runner.close()
        if on_interrupt == "raise":
            raise
        stop_reason = "interrupted"
    finally:
        if bar is not None:
            bar.close()
    return trace_of(stop_reason)


def _keep_partial_trace(
    error: Exception, steps: list[LearningStep], trace_of: Callable[[str], Trace]
) -> None:
    """Keep the steps a run took before ``error`` (raised by its step n): the exception gets
    ``partial_trace``, a :class:`Trace` of those steps with ``stop_reason="interrupted"``, and
    a note saying so (what was done is not lost, as with Ctrl-C)."""
    if not steps:
        return
    try:
        partial = trace_of("interrupted")
    except Exception:  # the trace could not be assembled: the error as it is
        return
    try:
        error.partial_trace = partial  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - an exception type without attributes
        return
    if hasattr(error, "add_note"):  # Python >= 3.11
        error.add_note(
            f"mirror_learning: the {len(steps)} steps taken before this error are in "
            "error.partial_trace (stop_reason 'interrupted')"
        )


def _trace(
    mdp: FiniteMDP,
    algorithm: MirrorAlgorithm,
    policies: list[Any],
    values: list[Any],
    returns: list[Any],
    largest: list[Any],
    steps: list[LearningStep],
    stop_reason: str,
    tol: Any,
    optimum: bool,
    *,
    first_error: Any = None,
    provenance: Provenance | None = None,
) -> Trace:
    """Assemble a :class:`Trace` from the per-policy lists and the steps.

    ``first_error`` is the certified evaluation error of ``values[0]``; with it the trace
    records every V's error bound (each step carries its own).
    """
    exact = mdp.is_exact
    schedule = None
    if algorithm.schedules:
        schedule = ScheduleRecord(
            parameters=tuple(path for path, _ in algorithm.schedules),
            schedules=tuple(str(s) for _, s in algorithm.schedules),
            values=tuple(s.schedule_values for s in steps),
            start=steps[0].iteration - 1 if steps else 0,
        )
    optimal_values = optimal_return = None
    if optimum:
        optimal = solve(mdp, method="policy_iteration")
        optimal_values, optimal_return = optimal.values, optimal.expected_return
    num_states = mdp.num_states
    empty = np.zeros((0, num_states), dtype=object if exact else float)

    def per_step(name: str) -> np.ndarray:
        return _stack([getattr(s, name) for s in steps], exact) if steps else empty

    return Trace(
        algorithm=algorithm.name,
        mdp=mdp,
        exact=exact,
        policies=_stack(policies, exact),
        values=_stack(values, exact),
        returns=_stack(returns, exact),
        max_advantages=_stack(largest, exact),
        drifts=_stack([s.drift for s in steps], exact),
        state_drifts=per_step("state_drift"),
        drift_weights=per_step("drift_weights"),
        sampling=per_step("sampling"),
        mirror_values=per_step("mirror_values"),
        improvement_bounds=_stack([s.improvement_bound for s in steps], exact),
        objectives=_stack([s.objective for s in steps], exact),
        step_times=np.array([s.step_time for s in steps], dtype=float),
        certificates=tuple(s.certificate for s in steps),
        optimal_values=optimal_values,
        optimal_return=optimal_return,
        stop_reason=stop_reason,
        tolerance=tol,
        provenance=provenance,
        schedule=schedule,
        evaluation_error_bounds=(
            None
            if first_error is None
            else _stack([first_error, *(s.evaluation_error for s in steps)], exact)
        ),
    )
