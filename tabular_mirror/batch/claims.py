"""The per-step claims of the paper decided per member of a batch: passed, failed, inconclusive.

For every member b of a :class:`~tabular_mirror.batch.BatchTrace` and every step n it took
(Kuba et al. 2022, section 3):

- ``lemma_3_5``      [M^{pi_{n+1}} V_n](s) >= V_n(s)                       (Lemma 3.5)
- ``lemma_3_3``      V_{n+1}(s) >= V_n(s)                                   (Lemma 3.3)
- ``inequality_13``  V_{n+1}(s) >= V_n(s) + (nu[s]/beta[s]) D_{pi_n}(pi_{n+1}|s)  (ineq. (13))
- ``convergence``    eta(pi_n) -> eta* (Theorem 3.6(3)); with the stall test.

Slack = left minus right, its minimum over states per step. Decision per step (the verdict
semantics of ``proofs_check``):

- pass tolerance = 2 x certified evaluation error + rounding (1e-12 max(1, ||r|| / (1-gamma)))
  + for a certified step its gap delta / beta_min (times 1/(1-gamma) for Lemma 3.3 and (13),
  which propagate through (I - gamma P)^{-1}). Passed if slack >= -pass tolerance.
- certified step: failed below. Uncertified step with a valid gap bound: failed only below
  -(evaluation errors + rounding + its bound allowance), inconclusive in between; without a
  valid bound a violation is inconclusive. An inexact step (k gradient steps, kind "inexact")
  is the algorithm itself: decided with the evaluation tolerance only. NaN: inconclusive.

A member's claim is failed if a step failed, else inconclusive if a step was, else passed
(vacuously, margin +inf, when no step was taken). Convergence: passed when eta* - eta_n is
within tolerance at the end; a member stopped at a fixed point of the update that is not
optimal is a *numerical* fixed point in float (inconclusive), unless ``confirm_stalls`` replays
the step at that policy exactly (rational arithmetic, for GPI / PPO clip / squared L2 / squared
TV with N = Pi): an exact fixed point that is not optimal is a decided failure; otherwise
inconclusive with the observed rate (eta* - eta_n)/(eta* - eta_0))^(1/n).

Every member with a failed claim gets a replayable witness: a plain dict with ``mdp`` (the
arrays, and the generator's provenance), ``policy0``, ``algorithm`` (a spec string),
``iteration``, ``options`` and ``claim`` (proofs_check's name of the claim; ``batch_claim`` the
short one), plus ``call`` / ``arguments`` / ``expected`` in the format of
:mod:`proofs_check.witness`, so ``proofs_check.replay(witness)`` re-runs the member on the
per-MDP path (``check_fundamental_theorem``) in float. A stall decided here in exact arithmetic
replays there as a float run, where it is a numerical fixed point (inconclusive).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .._exact import float_to_fraction_array
from .learning import BatchTrace

__all__ = ["CLAIMS", "OUTCOMES", "BatchClaims", "check_batch"]

#: The claims decided per member, in order.
CLAIMS = ("lemma_3_5", "lemma_3_3", "inequality_13", "convergence")

#: The names of the same claims in proofs_check's reports (a witness's ``claim``).
PROOFS_CHECK_NAMES = {
    "lemma_3_5": "lemma_3_5_mirror_operator",
    "lemma_3_3": "lemma_3_3_monotone_values",
    "inequality_13": "theorem_3_6_1_inequality_13",
    "convergence": "theorem_3_6_3_return_convergence",
}

#: The three outcomes (as in proofs_check's verdicts).
OUTCOMES = ("passed", "failed", "inconclusive")

#: Relative size of rounding in the checks' own arithmetic (as proofs_check._common).
ROUNDING_RELATIVE = 1e-12

_PASSED, _FAILED, _INCONCLUSIVE = 0, 1, 2


@dataclass(frozen=True, eq=False)
class BatchClaims:
    """The claims of B runs, decided per member.

    Attributes
    ----------
    outcome : dict claim -> (B,) str array of passed / failed / inconclusive.
    margin : dict claim -> (B,) worst slack (convergence: tolerance - final gap); +inf when
        vacuous, nan when nothing could be computed.
    worst_iteration, worst_state : dict claim -> (B,) int (-1: none).
    tolerance : dict claim -> (B,) the pass tolerance at the worst step.
    reason : (B,) str, why convergence was decided as it was.
    stalled : (B,) bool, the run stopped at a fixed point of the update that is not optimal.
    stall_confirmed : (B,) object: True (exact fixed point), False (the exact step moves), None.
    final_gap : (B,) eta* - eta(pi_final).    gap_tolerance : (B,)
    iterations_to_optimal : (B,) int, first n with eta* - eta_n <= epsilon (-1: never).
    rate : (B,) observed rate ((eta* - eta_n) / (eta* - eta_0))^(1/n).
    epsilon : (B,) the eps of eps-optimality.
    trace : BatchTrace.
    """

    outcome: dict
    margin: dict
    worst_iteration: dict
    worst_state: dict
    tolerance: dict
    reason: np.ndarray
    stalled: np.ndarray
    stall_confirmed: np.ndarray
    final_gap: np.ndarray
    gap_tolerance: np.ndarray
    iterations_to_optimal: np.ndarray
    rate: np.ndarray
    epsilon: np.ndarray
    trace: BatchTrace

    @property
    def size(self) -> int:
        """B."""
        return len(self.reason)

    def count(self, outcome: str) -> np.ndarray:
        """(B,) how many claims of each member have ``outcome``."""
        return sum(np.asarray(self.outcome[name] == outcome, dtype=np.int64) for name in CLAIMS)

    def failed(self) -> np.ndarray:
        """(B,) bool: some claim failed."""
        return self.count("failed") > 0

    def first_failed(self, index: int) -> str | None:
        """The first claim (in :data:`CLAIMS` order) member ``index`` failed, or None."""
        for name in CLAIMS:
            if self.outcome[name][index] == "failed":
                return name
        return None

    def witness(self, index: int, claim: str | None = None) -> dict[str, Any] | None:
        """A replayable witness of member ``index`` failing ``claim`` (default: its first)."""
        claim = claim or self.first_failed(index)
        if claim is None:
            return None
        trace = self.trace
        batch = trace.batch
        iteration = int(self.worst_iteration[claim][index])
        mdp = {
            "transitions": batch.transitions[index].tolist(),
            "rewards": batch.rewards[index].tolist(),
            "discount": float(batch.discount[index]),
            "initial": batch.initial[index].tolist(),
        }
        provenance = batch.member_provenance(index)
        if provenance:
            mdp["provenance"] = provenance
        options = dict(trace.options)
        arguments: dict[str, Any] = {
            "mdp": {"mdp": {**{k: v for k, v in mdp.items() if k != "provenance"},
                            "exact": False}},
            "algorithm": {"algorithm": trace.algorithm_repr, "name": trace.algorithm,
                          "rebuildable": True},
            "policy0": {"array": trace.policy0[index].tolist(), "exact": False},
            "iterations": int(options["iterations"]),
            "choice": options["choice"],
        }  # fmt: skip
        if "inexact" in options:
            arguments["solver"] = {"solver": {"inexact": dict(options["inexact"])}}
        if "tol" in options:
            arguments["tol"] = options["tol"]
        return {
            "format": "tabular-mirror witness 1",
            "mdp": mdp,
            "policy0": trace.policy0[index].tolist(),
            "algorithm": trace.spec if trace.spec is not None else trace.algorithm,
            "iteration": iteration if iteration >= 0 else None,
            "options": options,
            "claim": PROOFS_CHECK_NAMES[claim],
            "batch_claim": claim,
            "call": "proofs_check.fundamental:check_fundamental_theorem",
            "arguments": arguments,
            "expected": {
                "outcome": "failed",
                "margin": _number(self.margin[claim][index]),
                "iteration": iteration if iteration >= 0 else None,
            },
            "margin": _number(self.margin[claim][index]),
            "tolerance": _number(self.tolerance[claim][index]),
            "state": int(self.worst_state[claim][index])
            if self.worst_state[claim][index] >= 0
            else None,
            "detail": str(self.reason[index]) if claim == "convergence" else None,
        }

    def witnesses(self) -> list[str | None]:
        """One JSON string per member: its witness if a claim failed, else None."""
        failed = self.failed()
        return [
            json.dumps(self.witness(b), allow_nan=True) if failed[b] else None
            for b in range(self.size)
        ]

    def columns(self) -> dict[str, np.ndarray]:
        """Flat per-member columns (one row per run) for a table or a Parquet file."""
        trace = self.trace
        columns: dict[str, Any] = {}
        for name in CLAIMS:
            columns[name] = self.outcome[name]
            columns[f"{name}_margin"] = self.margin[name]
            if name != "convergence":
                columns[f"{name}_iteration"] = self.worst_iteration[name]
        columns["claims_passed"] = self.count("passed")
        columns["claims_failed"] = self.count("failed")
        columns["claims_inconclusive"] = self.count("inconclusive")
        columns["stalled"] = self.stalled
        columns["stall_exact"] = np.array(
            [None if v is None else bool(v) for v in self.stall_confirmed], dtype=object
        )
        columns["stop_reason"] = trace.stop_reason
        columns["iterations_run"] = trace.iterations_run
        columns["iterations_to_optimal"] = self.iterations_to_optimal
        columns["final_gap"] = self.final_gap
        columns["rate"] = self.rate
        columns["uncertified_steps"] = (trace.stepped & ~trace.certified).sum(axis=0)
        columns["fallback_steps"] = trace.fallback.sum(axis=0)
        columns["convergence_reason"] = self.reason
        columns["witness"] = np.array(self.witnesses(), dtype=object)
        return columns


def _number(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


# ---------------------------------------------------------------------------- deciding
def _decide_steps(
    slack: np.ndarray,
    stepped: np.ndarray,
    pass_tolerance: np.ndarray,
    fail_tolerance: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per member: (outcome code, margin, worst iteration, worst state, tolerance there).

    ``slack`` (n, B, S); the tolerances (n, B); ``stepped`` (n, B).
    """
    n, size, _ = slack.shape
    with np.errstate(invalid="ignore"):
        nan = np.isnan(slack).any(axis=2)
        step_slack = np.where(nan, np.nan, np.nanmin(np.where(nan[:, :, None], 0, slack), axis=2))
        passed = step_slack >= -pass_tolerance
        failed = ~nan & (step_slack < -fail_tolerance)
    code = np.where(passed, _PASSED, np.where(failed, _FAILED, _INCONCLUSIVE))
    code = np.where(stepped, code, _PASSED)
    outcome = np.full(size, _PASSED)
    if n:
        any_failed = (code == _FAILED).any(axis=0)
        any_inconclusive = (code == _INCONCLUSIVE).any(axis=0)
        outcome = np.where(any_failed, _FAILED, np.where(any_inconclusive, _INCONCLUSIVE, _PASSED))
    # worst step: the most negative slack among failed steps if any, else among all taken
    key = np.where(stepped & ~np.isnan(step_slack), step_slack, np.inf)
    failed_key = np.where(code == _FAILED, key, np.inf)
    key = np.where((outcome == _FAILED)[None, :], failed_key, key)
    members = np.arange(size)
    if n:
        worst = np.argmin(key, axis=0)
        margin = key[worst, members]
        has = np.isfinite(margin)
        state = np.argmin(np.nan_to_num(slack[worst, members], nan=np.inf), axis=1)
        tolerance = pass_tolerance[worst, members]
    else:
        worst = np.zeros(size, dtype=np.int64)
        margin, has = np.full(size, np.inf), np.zeros(size, dtype=bool)
        state, tolerance = np.zeros(size, dtype=np.int64), np.zeros(size)
    nothing = ~stepped.any(axis=0) if n else np.ones(size, dtype=bool)
    all_nan = ~has & ~nothing
    margin = np.where(nothing, np.inf, np.where(all_nan, np.nan, margin))
    worst = np.where(has, worst, -1)
    state = np.where(has, state, -1)
    tolerance = np.where(has, tolerance, np.nan)
    return outcome, margin, worst, state, tolerance


def check_batch(
    trace: BatchTrace, *, epsilon: float | None = None, confirm_stalls: bool = True
) -> BatchClaims:
    """Decide Lemmas 3.5 and 3.3, inequality (13) and convergence for every member.

    Parameters
    ----------
    trace : BatchTrace
        From :func:`tabular_mirror.batch.mirror_learning_batch` (with ``optimum=True`` for
        the convergence claim; without it, convergence is inconclusive).
    epsilon : float, optional
        The eps of "iterations to eps-optimality" (eta* - eta_n <= eps); default
        1e-6 max(1, ||r||_inf / (1 - gamma)) per member.
    confirm_stalls : bool
        Replay each stalled member's step exactly (rational arithmetic) where the pieces allow
        it (N = Pi, drift zero / PPO clip / squared L2 / squared TV): an exact fixed point that
        is not optimal makes convergence a decided failure.

    Returns
    -------
    BatchClaims
    """
    batch = trace.batch
    size = batch.size
    gamma = batch.discount
    horizon = 1.0 / (1.0 - gamma)
    value_scale = np.maximum(1.0, np.abs(batch.rewards).max(axis=(1, 2)) * horizon)
    rounding = ROUNDING_RELATIVE * value_scale
    n = trace.iterations
    values = trace.values
    errors = trace.error_bounds
    before, after = values[:n], values[1 : n + 1]
    error_before = errors[:n]
    error_pair = np.maximum(errors[:n], errors[1 : n + 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        allowance = np.where(
            np.isfinite(trace.bounds) & (trace.sampling_min > 0),
            trace.bounds / trace.sampling_min,
            np.inf,
        )
    kinds = trace.kinds
    inexact = kinds == "inexact"
    valid = np.isfinite(allowance) & ~inexact & (kinds != "local")
    certified = trace.certified

    def tolerances(evaluation: np.ndarray, propagate: bool) -> tuple[np.ndarray, np.ndarray]:
        base = 2 * evaluation + rounding[None, :]
        gap = allowance * (horizon[None, :] if propagate else 1.0)
        with np.errstate(invalid="ignore"):
            pass_tolerance = np.where(certified, base + gap, base)
            fail_tolerance = np.where(
                certified | inexact, pass_tolerance, np.where(valid, base + gap, np.inf)
            )
        return pass_tolerance, fail_tolerance

    outcome, margin, worst_iteration, worst_state, tolerance = {}, {}, {}, {}, {}
    with np.errstate(invalid="ignore"):
        slacks = {
            "lemma_3_5": (trace.mirror_values - before, error_before, False),
            "lemma_3_3": (after - before, error_pair, True),
            "inequality_13": (after - before - trace.penalties, error_pair, True),
        }
    for name, (slack, evaluation, propagate) in slacks.items():
        pass_tolerance, fail_tolerance = tolerances(evaluation, propagate)
        code, worst_margin, iteration, state, at = _decide_steps(
            slack, trace.stepped, pass_tolerance, fail_tolerance
        )
        outcome[name] = np.array(OUTCOMES, dtype=object)[code]
        margin[name], worst_iteration[name], worst_state[name] = worst_margin, iteration, state
        tolerance[name] = at
    # convergence and the stall test
    last = trace.iterations_run
    members = np.arange(size)
    final_return = trace.returns[last, members]
    initial_return = trace.returns[0]
    stalled = trace.stop_reason == "fixed_point"
    confirmed = np.full(size, None, dtype=object)
    if confirm_stalls and stalled.any():
        confirmed = _confirm_stalls(trace, stalled)
    if trace.optimum is not None:
        optimal_return = trace.optimum.expected_return
        final_error = errors[last, members]
        stop = trace.tolerance
        gap_tolerance = stop * horizon + 2 * final_error + rounding + trace.optimum.error_bound
        final_gap = optimal_return - final_return
        gaps = optimal_return[None, :] - trace.returns
        eps = 1e-6 * value_scale if epsilon is None else np.full(size, float(epsilon))
        reached = gaps <= eps[None, :]
        reached_any = reached.any(axis=0)
        to_optimal = np.where(reached_any, np.argmax(reached, axis=0), -1)
        with np.errstate(invalid="ignore", divide="ignore"):
            first = optimal_return - initial_return
            ratio = np.maximum(final_gap, 0) / first
            rate = np.where((last > 0) & (first > 0), ratio ** (1.0 / np.maximum(last, 1)), np.nan)
        reached_end = final_gap <= gap_tolerance
        exact_stall = np.array([c is True for c in confirmed])
        code = np.where(reached_end, _PASSED, np.where(exact_stall, _FAILED, _INCONCLUSIVE))
        code = np.where(np.isnan(final_gap), _INCONCLUSIVE, code)
        reason = np.where(
            reached_end,
            "eta* reached within tolerance",
            np.where(
                exact_stall,
                "exact fixed point of the update that is not optimal (decided in rational "
                "arithmetic)",
                np.where(
                    stalled,
                    "numerical fixed point of the update that is not optimal (float; not decided)",
                    "eta* not reached within the iteration budget; see the observed rate",
                ),
            ),
        ).astype(object)
        conv_margin = gap_tolerance - final_gap
    else:
        final_gap = gap_tolerance = rate = np.full(size, np.nan)
        to_optimal = np.full(size, -1)
        eps = np.full(size, np.nan)
        code = np.full(size, _INCONCLUSIVE)
        reason = np.full(size, "no optimum computed", dtype=object)
        conv_margin = np.full(size, np.nan)
    outcome["convergence"] = np.array(OUTCOMES, dtype=object)[code]
    margin["convergence"] = conv_margin
    worst_iteration["convergence"] = np.where(code == _FAILED, last, -1)
    worst_state["convergence"] = np.full(size, -1)
    tolerance["convergence"] = gap_tolerance
    return BatchClaims(
        outcome=outcome,
        margin=margin,
        worst_iteration=worst_iteration,
        worst_state=worst_state,
        tolerance=tolerance,
        reason=reason,
        stalled=stalled,
        stall_confirmed=confirmed,
        final_gap=final_gap,
        gap_tolerance=gap_tolerance,
        iterations_to_optimal=to_optimal,
        rate=rate,
        epsilon=eps,
        trace=trace,
    )


def _exact_rows(array: np.ndarray) -> np.ndarray:
    """Rows divided by their exact sums (exact binary floats rarely sum to exactly 1)."""
    sums = np.asarray(array.sum(axis=-1), dtype=object)
    return array / sums[..., None]


def exact_member(batch: Any, index: int) -> Any:
    """Member ``index`` in rational arithmetic: each float read at its exact binary value and
    every probability row (and d) divided by its exact sum, a nearby exact MDP (within
    rounding of the float one) on which decisions are exact."""
    from ..model import FiniteMDP

    transitions = _exact_rows(float_to_fraction_array(batch.transitions[index]))
    initial = _exact_rows(float_to_fraction_array(batch.initial[index]))
    return FiniteMDP(
        transitions,
        float_to_fraction_array(batch.rewards[index]),
        Fraction(float(batch.discount[index])),
        initial,
        exact=True,
    )


def _confirm_stalls(trace: BatchTrace, stalled: np.ndarray) -> np.ndarray:
    """Replay the step at each stalled member's final policy in rational arithmetic.

    True: the exact step's optimum equals staying (pi is in the argmax set) while some exact
    advantage is positive (pi is not optimal); False: the exact step would move or pi is
    optimal; None: the pieces have no exact solver (or the exact computation failed).
    """
    from ..errors import TabularMirrorError
    from ..step import RATIONAL_FAMILIES, mirror_step
    from .pieces import batch_plan
    from .step import as_algorithm

    confirmed = np.full(trace.size, None, dtype=object)
    algorithm = as_algorithm(trace.spec) if trace.spec else None
    if algorithm is None:
        return confirmed
    plan = batch_plan(algorithm)
    if plan.solver != "separable" or plan.family not in RATIONAL_FAMILIES:
        return confirmed
    if "inexact" in trace.options:
        return confirmed
    for b in np.flatnonzero(stalled):
        try:
            mdp = exact_member(trace.batch, int(b))
            policy = _exact_rows(float_to_fraction_array(trace.final_policy[b]))
            step = mirror_step(
                mdp, algorithm, policy, choice=trace.options.get("choice", "closest")
            )
            staying_is_optimal = bool(step.objective <= 0)
            optimal = bool(step.evaluation.advantages.max() <= 0)
            confirmed[b] = staying_is_optimal and not optimal
        except (TabularMirrorError, ValueError, ZeroDivisionError, OverflowError):
            confirmed[b] = None
    return confirmed
