"""Batched mirror learning: B runs of n iterations, recording what the per-step claims need.

:func:`mirror_learning_batch` is :func:`tabular_mirror.mirror_learning` for a batch: every
member starts at its pi_0, takes the certified mirror step (or k gradient steps), is evaluated
with a certified bound, and stops on its own -- at a GPI fixed point (max_{s,a} A_{pi_n} <= tol:
"optimal", as the per-MDP path) or at a certified fixed point of the update that is not optimal
("fixed_point": staying at pi_n attains the certified maximum of the mirror objective, so a
deterministic update stays there forever) -- or when the budget runs out ("iterations"). Only
the members still running are stepped.

The :class:`BatchTrace` keeps, per iteration and member, the values, returns, largest
advantage and evaluation bound, and per step the mirror operator values
[M^{pi_{n+1}} V_n](s), the penalties (nu/beta)(s) D_{pi_n}(pi_{n+1} | s), the step's
certificate (kind, bound, certified) and beta_min: all that Lemmas 3.3 and 3.5, inequality
(13) and the stall test need (:mod:`tabular_mirror.batch.claims`). Entries after a member
stopped are NaN (``stepped`` is False there).

Examples
--------
>>> import tabular_mirror as tm
>>> from tabular_mirror.batch import MDPBatch, mirror_learning_batch, uniform_policies
>>> small = tm.FiniteMDP([[[0.5, 0.5], [0, 1]], [[0.8, 0.2], [0.1, 0.9]]], [[5, 10], [-1, 2]], 0.9)
>>> batch = MDPBatch.repeat(small, 3)
>>> trace = mirror_learning_batch(batch, "gpi", uniform_policies(batch), 10)
>>> trace.stop_reason.tolist(), trace.iterations_run.tolist()
(['optimal', 'optimal', 'optimal'], [1, 1, 1])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._steps.separable import CHOICES
from .._validate import choice as check_choice
from .._validate import positive_number, whole_number
from ..errors import InvalidParameterError
from .evaluation import BatchEvaluation, BatchOptimum, check_policies, evaluate_batch, solve_batch
from .model import MDPBatch
from .pieces import batch_plan
from .step import as_algorithm, inexact_step_batch, mirror_step_batch

__all__ = ["BatchTrace", "mirror_learning_batch", "STOP_REASONS"]

#: Why a member stopped.
STOP_REASONS = ("optimal", "fixed_point", "iterations")

#: A certified step whose objective plus gap exceeds staying by at most this many units of
#: rounding (u max(1, max |A|) per term of the S A-term objective) returned a fixed point of
#: the update up to rounding: staying at pi attains the certified maximum.
FIXED_POINT_ROUNDINGS = 8


@dataclass(frozen=True, eq=False)
class BatchTrace:
    """B mirror-learning runs, stacked: iteration axis first, then the member.

    Attributes
    ----------
    algorithm : str, the algorithm's name.    spec : str or None, its spec string.
    batch : MDPBatch.    policy0 : (B, S, A) pi_0.    final_policy : (B, S, A).
    policies : (n+1, B, S, A) or None (``keep_policies``).
    values : (n+1, B, S) V_{pi_k}.   returns, max_advantages, error_bounds : (n+1, B).
    mirror_values, penalties : (n, B, S) [M^{pi_{k+1}} V_k](s) and (nu/beta)(s) D(s).
    drifts, objectives, staying, bounds, tolerances, sampling_min, policy_change : (n, B).
    kinds : (n, B) object (certificate kinds; None where no step).
    certified, stepped, fallback : (n, B) bool.
    iterations_run : (B,) steps taken.    stop_reason : (B,) one of :data:`STOP_REASONS`.
    tolerance : (B,) the stopping tolerance on max A.
    optimum : BatchOptimum or None.
    options : dict, the step options (choice, inexact steps, ...), for witnesses.
    algorithm_repr : str, the algorithm's repr (proofs_check's witnesses rebuild it).
    """

    algorithm: str
    spec: str | None
    batch: MDPBatch
    policy0: np.ndarray
    final_policy: np.ndarray
    policies: np.ndarray | None
    values: np.ndarray
    returns: np.ndarray
    max_advantages: np.ndarray
    error_bounds: np.ndarray
    mirror_values: np.ndarray
    penalties: np.ndarray
    drifts: np.ndarray
    objectives: np.ndarray
    staying: np.ndarray
    bounds: np.ndarray
    tolerances: np.ndarray
    sampling_min: np.ndarray
    policy_change: np.ndarray
    kinds: np.ndarray
    certified: np.ndarray
    stepped: np.ndarray
    fallback: np.ndarray
    iterations_run: np.ndarray
    stop_reason: np.ndarray
    tolerance: np.ndarray
    optimum: BatchOptimum | None
    options: dict = field(default_factory=dict)
    algorithm_repr: str = ""

    @property
    def size(self) -> int:
        """B."""
        return self.batch.size

    @property
    def iterations(self) -> int:
        """n, the iteration budget (the length of the step axis)."""
        return self.objectives.shape[0]


def _take(evaluation: BatchEvaluation, index: np.ndarray) -> BatchEvaluation:
    return BatchEvaluation(
        **{
            name: None if getattr(evaluation, name) is None else getattr(evaluation, name)[index]
            for name in BatchEvaluation.__dataclass_fields__
        }
    )


def _put(target: dict[str, np.ndarray], evaluation: BatchEvaluation, index: np.ndarray) -> None:
    for name, array in target.items():
        array[index] = getattr(evaluation, name)


def mirror_learning_batch(
    batch: MDPBatch,
    algorithm: Any,
    policy0: Any,
    iterations: int,
    *,
    tol: float | None = None,
    choice: str = "closest",
    inexact: dict | None = None,
    optimum: bool = True,
    keep_policies: bool = False,
    fallback: bool = True,
) -> BatchTrace:
    """Run ``iterations`` mirror-learning steps from ``policy0`` on every member.

    Parameters
    ----------
    batch : MDPBatch
    algorithm : MirrorAlgorithm or spec string (``"ppo:epsilon=0.2"``)
    policy0 : (B, S, A) array_like (or one (S, A) policy for all)
    iterations : int
        The most steps per member.
    tol : float, optional
        A member stops when max_{s,a} A_{pi_n} <= tol; default, per member,
        1e-10 max(1, ||r||_inf) / (1 - gamma) (the per-MDP default).
    choice : maximiser rule when the argmax is a set ("closest", "vertex", "adversarial").
    inexact : dict, optional
        ``{"steps": k, "learning_rate": lr, "parametrisation": "softmax"}``: take k gradient
        steps instead of the argmax (certificate kind "inexact").
    optimum : bool
        Compute V* and eta* of every member (batched policy iteration).
    keep_policies : bool
        Store every iterate (n+1, B, S, A); pi_0 and the final policies are always kept.
    fallback : bool
        Recompute uncertified exact steps on the per-MDP path.

    Returns
    -------
    BatchTrace

    Raises
    ------
    InvalidParameterError
        Unsupported pieces (see :func:`tabular_mirror.batch.batch_plan`), bad options.
    """
    spec = algorithm if isinstance(algorithm, str) else None
    algorithm = as_algorithm(algorithm)
    batch_plan(algorithm)  # unsupported pieces fail before anything runs
    iterations = whole_number(iterations, "iterations")
    check_choice(choice, "choice", CHOICES)
    step_options = _inexact_options(inexact)
    if not isinstance(batch, MDPBatch):
        raise InvalidParameterError(f"batch = {batch!r} is not an MDPBatch")
    size, num_states, num_actions = batch.size, batch.num_states, batch.num_actions
    gamma = batch.discount
    if tol is None:
        scale = np.maximum(1.0, np.abs(batch.rewards).max(axis=(1, 2)))
        tolerance = 1e-10 * scale / (1.0 - gamma)
    else:
        tolerance = np.full(size, float(positive_number(tol, "tol", allow_zero=True)))
    policy = np.array(check_policies(batch, policy0, "policy0"))
    policy0 = policy.copy()
    evaluation = evaluate_batch(batch, policy, validate=False)
    current = {
        name: np.array(getattr(evaluation, name))
        for name in (
            "policy",
            "values",
            "q_values",
            "advantages",
            "expected_return",
            "visitation",
            "normalized_visitation",
            "error_bound",
            "visitation_error_bound",
            "residual",
            "converged",
        )
    }

    def full(shape: tuple, fill: Any = np.nan, dtype: Any = float) -> np.ndarray:
        return np.full(shape, fill, dtype=dtype)

    n = iterations
    values = full((n + 1, size, num_states))
    returns, largest, errors = full((n + 1, size)), full((n + 1, size)), full((n + 1, size))
    values[0], returns[0] = evaluation.values, evaluation.expected_return
    largest[0], errors[0] = evaluation.advantages.max(axis=(1, 2)), evaluation.error_bound
    mirror_values, penalties = full((n, size, num_states)), full((n, size, num_states))
    drifts, objectives, staying = full((n, size)), full((n, size)), full((n, size))
    bounds, tolerances, sampling_min = full((n, size)), full((n, size)), full((n, size))
    change = full((n, size))
    kinds = full((n, size), None, object)
    certified = full((n, size), False, bool)
    stepped = full((n, size), False, bool)
    used_fallback = full((n, size), False, bool)
    policies = None
    if keep_policies:
        policies = full((n + 1, size, num_states, num_actions))
        policies[0] = policy
    stop = np.full(size, "iterations", dtype=object)
    done = largest[0] <= tolerance
    stop[done] = "optimal"
    iterations_run = np.zeros(size, dtype=np.int64)
    for k in range(n):
        index = np.flatnonzero(~done)
        if not index.size:
            break
        whole = index.size == size
        sub = batch if whole else batch._subset(index)
        sub_evaluation = (
            BatchEvaluation(**current) if whole else _take(BatchEvaluation(**current), index)
        )
        if step_options is None:
            step = mirror_step_batch(
                sub,
                algorithm,
                sub_evaluation.policy,
                choice=choice,
                evaluation=sub_evaluation,
                fallback=fallback,
                validate=False,
            )
        else:
            step = inexact_step_batch(
                sub,
                algorithm,
                sub_evaluation.policy,
                evaluation=sub_evaluation,
                validate=False,
                **step_options,
            )
        new = evaluate_batch(sub, step.policy, validate=False)
        stepped[k, index] = True
        mirror_values[k, index] = step.mirror_values
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = step.drift_weights / step.sampling
            penalty = np.where((ratio > 0) & (step.state_drift != 0), ratio * step.state_drift, 0)
        penalties[k, index] = penalty
        drifts[k, index], objectives[k, index] = step.drift, step.objective
        staying[k, index], bounds[k, index] = step.staying, step.bound
        tolerances[k, index], kinds[k, index] = step.tolerance, step.kind
        certified[k, index], used_fallback[k, index] = step.certified, step.fallback
        sampling_min[k, index] = step.sampling.min(axis=1)
        change[k, index] = np.abs(step.policy - sub_evaluation.policy).max(axis=(1, 2))
        _put(current, new, index)
        values[k + 1, index], returns[k + 1, index] = new.values, new.expected_return
        top = new.advantages.max(axis=(1, 2))
        largest[k + 1, index], errors[k + 1, index] = top, new.error_bound
        if policies is not None:
            policies[k + 1, index] = step.policy
        iterations_run[index] += 1
        optimal = top <= tolerance[index]
        scale = np.maximum(1.0, np.abs(sub_evaluation.advantages).max(axis=(1, 2)))
        rounding = FIXED_POINT_ROUNDINGS * num_states * num_actions * np.finfo(float).eps
        with np.errstate(invalid="ignore"):
            fixed = (
                step.certified
                & (step.objective + step.bound <= step.staying + rounding * scale)
                & ~optimal
            )
        stop[index[optimal]] = "optimal"
        stop[index[fixed]] = "fixed_point"
        done[index[optimal | fixed]] = True
    solution = solve_batch(batch) if optimum else None
    options: dict[str, Any] = {"choice": choice, "iterations": iterations}
    if step_options is not None:
        options["inexact"] = dict(step_options)
    if tol is not None:
        options["tol"] = float(tol)
    return BatchTrace(
        algorithm=algorithm.name,
        spec=spec,
        batch=batch,
        policy0=policy0,
        final_policy=current["policy"],
        policies=policies,
        values=values,
        returns=returns,
        max_advantages=largest,
        error_bounds=errors,
        mirror_values=mirror_values,
        penalties=penalties,
        drifts=drifts,
        objectives=objectives,
        staying=staying,
        bounds=bounds,
        tolerances=tolerances,
        sampling_min=sampling_min,
        policy_change=change,
        kinds=kinds,
        certified=certified,
        stepped=stepped,
        fallback=used_fallback,
        iterations_run=iterations_run,
        stop_reason=stop,
        tolerance=tolerance,
        optimum=solution,
        options=options,
        algorithm_repr=repr(algorithm),
    )


def _inexact_options(inexact: dict | None) -> dict | None:
    if inexact is None:
        return None
    if not isinstance(inexact, dict):
        raise InvalidParameterError(f"inexact = {inexact!r}, expected a dict with 'steps'")
    unknown = sorted(set(inexact) - {"steps", "learning_rate", "parametrisation"})
    if unknown:
        raise InvalidParameterError(
            f"inexact has unknown keys {unknown}; valid: steps, learning_rate, parametrisation"
        )
    if "steps" not in inexact:
        raise InvalidParameterError("inexact needs 'steps' (the number of gradient steps)")
    return {
        "steps": whole_number(inexact["steps"], "steps"),
        "learning_rate": float(positive_number(inexact.get("learning_rate", 1.0), "learning_rate")),
        "parametrisation": str(inexact.get("parametrisation", "softmax")),
    }
