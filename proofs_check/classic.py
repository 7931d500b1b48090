"""Classic results that tabular mirror learning must reproduce (known_rates.md).

- :func:`performance_difference`: Kakade & Langford's identity
  eta(pibar) - eta(pi) = sum_s rho_pibar[s] sum_a pibar[s,a] A_pi[s,a] (exact in rational mode).
- :func:`trpo_lower_bound`: Schulman et al. (2015), Theorem 1:
  eta(pit) >= L_pi(pit) - 4 eps gamma alpha^2 / (1-gamma)^2, alpha = max_s TV, eps = max|A_pi|.
- :func:`policy_iteration_count`: Howard's PI is optimal after at most
  (|S||A| - |S|)(ceil(H) + 1) iterations, H = ln(1/(1-gamma)) / (1-gamma).
- :func:`npg_rate`: Agarwal et al. (2021), NPG with uniform pi_0, rewards in [0,1]:
  V*(rho) - V^(T)(rho) <= log|A| / (eta T) + 1 / ((1-gamma)^2 T), eta = eta_NPG.
- :func:`xiao_theorem_8`: Xiao (2022), PMD constant step, [reconstructed]:
  delta_k <= (1/(k+1)) [D*_0 / ((1-gamma) eta) + 1/(1-gamma)^2].
- :func:`xiao_theorem_10`: Xiao (2022), PMD with increasing steps eta_{k+1} >= theta_rho /
  (theta_rho - 1) eta_k (eta_{k+1} >= eta_k / gamma suffices), on a recorded run:
  delta_k <= (1 - 1/theta_rho)^k (delta_0 + D*_0 / (gamma eta_0)).

Step-size conventions: ``instances.pmd(step)`` updates pi exp(step A), which is Xiao's PMD with
eta = step and Agarwal's NPG with eta_NPG = (1 - gamma) step.

References
----------
S. Kakade, J. Langford, "Approximately optimal approximate reinforcement learning", ICML 2002,
Lemma 6.1. J. Schulman, S. Levine, P. Moritz, M. Jordan, P. Abbeel, "Trust Region Policy
Optimization", ICML 2015, Theorem 1. A. Agarwal, S. Kakade, J. Lee, G. Mahajan, "On the theory
of policy gradient methods", JMLR 22(98), 2021, Theorem 16 (arXiv Thm 5.3). L. Xiao, "On the
convergence rates of policy gradient methods", JMLR 23(282), 2022, Theorem 8 [reconstructed
form, see known_rates.md section 5]. Szepesvari, RL theory lecture notes, lecture 4 (PI count).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np

import tabular_mirror as tm
from tabular_mirror import instances

from ._common import evaluation_error, optimum, recorded_error, value_scale
from .lemmas import user_tolerance
from .verdicts import EXACT, Tolerance, Verdict, decide, held
from .witness import call_witness, with_expected

__all__ = [
    "performance_difference",
    "trpo_lower_bound",
    "policy_iteration_count",
    "npg_rate",
    "xiao_theorem_8",
    "xiao_theorem_10",
]


def _recorded(check: Callable[..., Verdict]) -> Callable[..., Verdict]:
    """Record the verdict's outcome in its witness (what :func:`proofs_check.replay` must give)."""

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> Verdict:
        verdict = check(*args, **kwargs)
        return replace(verdict, witness=with_expected(verdict.witness, verdict))

    return wrapper


def _tolerance(mdp: tm.FiniteMDP, reason: str = "certified evaluation errors + rounding") -> Any:
    if mdp.is_exact:
        return EXACT
    return Tolerance(4 * evaluation_error(mdp) + 1e-12 * value_scale(mdp), reason)


@_recorded
def performance_difference(mdp: tm.FiniteMDP, policy: Any, candidate: Any) -> Verdict:
    """The performance-difference identity (known_rates.md section 1), as -|lhs - rhs| >= 0.

    Visitation of the *new* policy (improper rho, sums to 1/(1-gamma)), advantage of the old.
    Exact equality in rational mode.
    """
    old, new = tm.evaluate(mdp, policy), tm.evaluate(mdp, candidate)
    lhs = new.expected_return - old.expected_return
    rhs = (new.visitation * (np.asarray(new.policy) * old.advantages).sum(axis=1)).sum()
    return decide(
        "classic_performance_difference",
        [-abs(lhs - rhs)],
        _tolerance(mdp),
        "eta(pibar) - eta(pi) = sum_s rho_pibar[s] sum_a pibar A_pi (Kakade & Langford 2002)",
        call_witness(performance_difference, {"mdp": mdp, "policy": old.policy,
                                              "candidate": new.policy}, ""),
        states=False,
    )  # fmt: skip


@_recorded
def trpo_lower_bound(mdp: tm.FiniteMDP, policy: Any, candidate: Any) -> Verdict:
    """Schulman et al. (2015) Theorem 1: eta(pit) - L_pi(pit) + 4 eps gamma alpha^2/(1-gamma)^2.

    L_pi(pit) = eta(pi) + sum_s rho_pi[s] sum_a pit A_pi (old visitation, unnormalised).
    """
    old, new = tm.evaluate(mdp, policy), tm.evaluate(mdp, candidate)
    gamma = mdp.discount
    surrogate = (
        old.expected_return
        + (old.visitation * (np.asarray(new.policy) * old.advantages).sum(axis=1)).sum()
    )
    difference = np.asarray(new.policy) - np.asarray(old.policy)
    alpha = max(sum(abs(x) for x in row) / 2 for row in difference)
    epsilon = max(abs(x) for x in np.asarray(old.advantages).reshape(-1))
    penalty = 4 * epsilon * gamma * alpha * alpha / ((1 - gamma) * (1 - gamma))
    return decide(
        "classic_trpo_lower_bound",
        [new.expected_return - surrogate + penalty],
        _tolerance(mdp),
        "eta(pit) >= L_pi(pit) - 4 eps gamma alpha^2 / (1-gamma)^2 (Schulman et al. 2015, Thm 1)",
        call_witness(trpo_lower_bound, {"mdp": mdp, "policy": old.policy,
                                        "candidate": new.policy}, ""),
        states=False,
    )  # fmt: skip


@_recorded
def policy_iteration_count(mdp: tm.FiniteMDP, policy0: Any = None) -> Verdict:
    """GPI with the closest tie rule (Howard's PI) reaches the optimum within
    (|S||A| - |S|)(ceil(H) + 1) iterations, H = ln(1/(1-gamma))/(1-gamma) (known_rates.md 8).

    The margin is the bound minus the iterations used. The count needs values in a range of
    width 1/(1-gamma) (rewards in [0,1]); the check rescales nothing, since PI's iterates are
    invariant to affine reward changes.
    """
    gamma = float(mdp.discount)
    horizon = math.log(1 / (1 - gamma)) / (1 - gamma) if gamma > 0 else 0.0
    bound = (mdp.num_states * mdp.num_actions - mdp.num_states) * (math.ceil(horizon) + 1)
    policy0 = tm.uniform_policy(mdp) if policy0 is None else policy0
    trace = tm.mirror_learning(mdp, instances.gpi(), policy0, bound + 1, optimum=False)
    used = trace.iterations
    optimal = trace.stop_reason == "optimal"
    return Verdict(
        "classic_policy_iteration_count",
        held(optimal and used <= bound),
        bound - used,
        None,
        used,
        call_witness(policy_iteration_count, {"mdp": mdp, "policy0": policy0}, ""),
        EXACT,
        f"policy iteration optimal after {used} iterations <= (|S||A|-|S|)(ceil(H)+1) = {bound}",
    )


def _unit_rewards(mdp: tm.FiniteMDP) -> tuple[float, float]:
    rewards = np.asarray(mdp.rewards, dtype=float)
    return float(rewards.min()), float(rewards.max())


@_recorded
def npg_rate(mdp: tm.FiniteMDP, step: float = 1.0, iterations: int = 10) -> Verdict:
    """Agarwal et al. (2021), NPG rate with uniform pi_0 (known_rates.md 4a) on pmd(step).

    eta_NPG = (1 - gamma) step (pmd uses pi exp(step A)). Rewards in [r_min, r_max] give the
    bound log|A|/(eta T) + (r_max - r_min)/((1-gamma)^2 T) (iterates are shift-invariant and
    scale acts as a step change). Slack: bound_T - (V*(d) - V^(T)(d)) for every T = 1..n.
    """
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    gamma = float(float_mdp.discount)
    low, high = _unit_rewards(float_mdp)
    width = max(high - low, 1e-300)
    eta = (1 - gamma) * step
    trace = tm.mirror_learning(
        float_mdp, instances.pmd(step), tm.uniform_policy(float_mdp), iterations, tol=0.0
    )
    _, optimal_return, _ = optimum(float_mdp)
    slacks = []
    # a run that stopped at an optimal policy stays there (PMD keeps an optimal policy
    # optimal), so every T up to ``iterations`` is decided
    last = iterations if trace.stop_reason == "optimal" else trace.iterations
    for t in range(1, last + 1):
        bound = math.log(float_mdp.num_actions) / (eta * t) + width / ((1 - gamma) ** 2 * t)
        reached = trace.returns[min(t, trace.iterations)]
        slacks.append(bound - (float(optimal_return) - float(reached)))
    verdict = decide(
        "classic_npg_rate",
        slacks,
        _tolerance(float_mdp),
        f"V*(d) - V^(T)(d) <= log|A|/(eta T) + (r_max-r_min)/((1-gamma)^2 T), eta_NPG = "
        f"(1-gamma) x {step} (Agarwal et al. 2021, Thm 16)",
        call_witness(npg_rate, {"mdp": mdp, "step": step, "iterations": iterations}, ""),
        states=False,
        empty="no iteration to check",
    )
    if verdict.worst_iteration is not None:
        verdict = replace(verdict, worst_iteration=verdict.worst_iteration + 1)
    return verdict


@_recorded
def xiao_theorem_8(mdp: tm.FiniteMDP, step: float = 1.0, iterations: int = 10) -> Verdict:
    """Xiao (2022) Theorem 8 [reconstructed], KL PMD with constant eta = step from uniform pi_0:
    delta_k <= (1/(k+1)) [D*_0/((1-gamma) eta) + (r_max - r_min)/(1-gamma)^2], with
    D*_0 = E_{s ~ d^{pi*}_rho} KL(pi*(s) || pi_0(s)) = log|A| for a deterministic pi*.
    """
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    gamma = float(float_mdp.discount)
    low, high = _unit_rewards(float_mdp)
    width = max(high - low, 1e-300)
    trace = tm.mirror_learning(
        float_mdp, instances.pmd(step), tm.uniform_policy(float_mdp), iterations, tol=0.0
    )
    _, optimal_return, _ = optimum(float_mdp)
    divergence = math.log(float_mdp.num_actions)
    # the reward width rescales the 1/(1-gamma)^2 term and the effective step (width x eta)
    slacks = [
        (divergence / ((1 - gamma) * step * width) * width + width / (1 - gamma) ** 2) / (k + 1)
        - (float(optimal_return) - float(trace.returns[k]))
        for k in range(trace.iterations + 1)
    ]
    return decide(
        "classic_xiao_theorem_8",
        slacks,
        _tolerance(float_mdp),
        "delta_k <= [D*_0/((1-gamma) eta) + 1/(1-gamma)^2]/(k+1) (Xiao 2022, Thm 8, "
        "[reconstructed])",
        call_witness(xiao_theorem_8, {"mdp": mdp, "step": step, "iterations": iterations}, ""),
        states=False,
    )


#: The verdict name of :func:`xiao_theorem_10`.
XIAO_10 = "xiao_2022_theorem_10_rate"


def _pmd_steps(run: Any) -> tuple[list[Any] | None, str]:
    """(eta_k for every step k of the run, "") when every step is Xiao's KL PMD (drift
    (1/eta_k) KL(pibar[s] || pi[s]), nu = beta, N = Pi: the update pi exp(eta_k A_pi)), else
    (None, why not)."""
    from tabular_mirror.drift_distributions import SameAsSampling
    from tabular_mirror.drifts import ReverseKL, ScaledDrift
    from tabular_mirror.neighbourhoods import Everything

    if run.algorithm is None:
        return None, (
            "the run's algorithm is not known (no provenance that rebuilds it; pass algorithm=)"
        )
    steps = []
    for k in range(run.trace.iterations):
        algorithm = run.algorithm_at(k)
        if algorithm is None:
            return None, f"the run's schedules have no valid value at step {k}"
        drift = algorithm.drift
        factor = 1
        if isinstance(drift, ScaledDrift):
            drift, factor = drift.drift, drift.factor
        if not (
            isinstance(drift, ReverseKL)
            and isinstance(algorithm.drift_distribution, SameAsSampling)
            and isinstance(algorithm.neighbourhood, Everything)
        ):
            return None, (
                "not applicable: Theorem 10 is about policy mirror descent with the KL drift "
                "(1/eta_k) KL(pibar[s] || pi[s]), nu = beta and N = Pi (instances.pmd); step "
                f"{k} of this run uses {algorithm.name!r}"
            )
        steps.append(1 / factor if isinstance(factor, float) else Fraction(1) / factor)
    return steps, ""


def _grows(steps: list[Any], gamma: Any, theta: float) -> tuple[bool, str]:
    """Theorem 10's hypothesis eta_{k+1} >= theta_rho / (theta_rho - 1) eta_k at every k,
    decided exactly when eta_{k+1} >= eta_k / gamma (sufficient, as theta_rho >= 1/(1-gamma)),
    else in floats with the computed theta_rho."""
    exact_gamma = Fraction(gamma)
    for k in range(len(steps) - 1):
        now, following = Fraction(steps[k]), Fraction(steps[k + 1])
        if following * exact_gamma >= now:
            continue
        if theta > 1 and float(following) * (theta - 1) >= theta * float(now):
            continue
        return False, (
            f"not applicable: the steps do not grow fast enough for Theorem 10 (eta_{k + 1} = "
            f"{float(following):.6g} < theta_rho/(theta_rho - 1) eta_{k} = "
            f"{theta / (theta - 1) * float(now) if theta > 1 else math.inf:.6g}; eta_{{k+1}} >= "
            "eta_k / gamma suffices)"
        )
    return True, ""


def xiao_theorem_10(trace: Any, algorithm: Any = None, optimal_return: Any = None) -> Verdict:
    """Xiao (2022), Theorem 10, on a recorded run of PMD with increasing step sizes.

    If eta_0 > 0 and eta_{k+1} >= theta_rho / (theta_rho - 1) eta_k for every k (for which
    eta_{k+1} >= eta_k / gamma suffices), then for every k

        delta_k <= (1 - 1/theta_rho)^k (delta_0 + D*_0 / (gamma eta_0)),

    with rho = d (the MDP's initial distribution), delta_k = V*(rho) - V^{pi_k}(rho),
    d^{pi*}_rho the normalised discounted visitation of an optimal pi* from rho,
    theta_rho = (1/(1-gamma)) max_s d^{pi*}_rho[s] / rho[s] and
    D*_0 = sum_s d^{pi*}_rho[s] KL(pi*[s] || pi_0[s]) (known_rates.md section 5; the bound's
    constant is the [reconstructed] one, which the proof's
    D*_0 / ((1-gamma)(theta_rho - 1) eta_0) never exceeds). Slack per k: bound_k - delta_k.

    Parameters
    ----------
    trace : Trace (or the RunInfo of :func:`proofs_check.check_trace`)
        A run of ``instances.pmd(step)``, ``step`` a schedule (or a number: constant steps
        satisfy the hypothesis only on runs of one step).
    algorithm : MirrorAlgorithm, optional
        The run's algorithm; by default rebuilt from the trace's provenance.
    optimal_return : eta* (computed when not given).

    Returns
    -------
    Verdict
        ``xiao_2022_theorem_10_rate``: worst iteration k. Inconclusive with a reason starting
        "not applicable" when the hypotheses do not hold: another algorithm than KL PMD
        (drift (1/eta_k) KL(pibar || pi), nu = beta, N = Pi), steps that do not grow
        geometrically enough, gamma = 0, rho not covering d^{pi*}_rho (theta_rho infinite),
        pi_0 without the support of pi* (D*_0 infinite). Inconclusive (not failed) when a
        violated step was not certified.

    Notes
    -----
    Conventions: ``instances.pmd(step)`` updates pi exp(step A_pi), which is Xiao's PMD with
    eta_k = step_k (and Agarwal et al.'s NPG with eta_NPG = (1 - gamma) step). Xiao takes
    rewards in [0, 1]; the bound is invariant under shifting rewards and scales with them
    (delta and D*_0 / eta scale alike when eta is rescaled), so it is checked as stated for any
    rewards. Computed in floats (D*_0 is a logarithm) with the run's certified evaluation
    errors and 1e-12 x the value scale as allowance. The pi* is the one policy iteration
    returns; the theorem holds for every optimal pi*.

    References
    ----------
    L. Xiao, "On the Convergence Rates of Policy Gradient Methods", JMLR 23(282):1-36, 2022,
    Theorem 10 (section 4.2, linear convergence with geometrically increasing step sizes).
    """
    from .fundamental import _from_provenance
    from .lemmas import RunInfo

    if isinstance(trace, RunInfo):
        run = trace
        if algorithm is not None:
            run = RunInfo(trace.trace, algorithm, trace.options, trace.tolerance)
    else:
        if algorithm is None:
            algorithm = _from_provenance(trace)[0]
        run = RunInfo(trace, algorithm)
    trace = run.trace
    mdp = trace.mdp
    detail = (
        "delta_k <= (1 - 1/theta_rho)^k (delta_0 + D*_0/(gamma eta_0)) for PMD with "
        "eta_{k+1} >= theta_rho/(theta_rho-1) eta_k (Xiao 2022, Thm 10)"
    )

    def not_applicable(reason: str) -> Verdict:
        return decide(XIAO_10, [], EXACT, detail, empty=reason)

    if trace.iterations == 0:
        return not_applicable("the run took no steps: nothing to check")
    steps, why = _pmd_steps(run)
    if steps is None:
        return not_applicable(why)
    gamma = float(mdp.discount)
    if gamma == 0:
        return not_applicable("not applicable: Theorem 10 needs gamma > 0")
    float_mdp = mdp.to_float() if mdp.is_exact else mdp
    result = tm.solve(float_mdp, method="policy_iteration")
    optimal_policy = np.asarray(result.policy, dtype=float)
    visitation = np.asarray(
        tm.evaluate(float_mdp, optimal_policy).normalized_visitation, dtype=float
    )
    rho = np.asarray(float_mdp.initial, dtype=float)
    uncovered = (visitation > 0) & (rho == 0)
    if uncovered.any():
        return not_applicable(
            f"not applicable: rho = d is 0 at state {int(np.argmax(uncovered))}, which pi* "
            "visits: theta_rho is infinite"
        )
    ratios = np.where(rho > 0, visitation / np.where(rho > 0, rho, 1.0), 1.0)
    theta = float(ratios.max()) / (1 - gamma)
    policy0 = np.asarray(trace.policies[0], dtype=float)
    if np.any((optimal_policy > 0) & (policy0 == 0) & (visitation[:, None] > 0)):
        return not_applicable(
            "not applicable: pi_0 gives no mass to an action of pi*, so D*_0 = "
            "E KL(pi* || pi_0) is infinite"
        )
    grows, why = _grows(steps, mdp.discount, theta)
    if not grows:
        return not_applicable(why)
    visited = (optimal_policy > 0) & (visitation[:, None] > 0)  # D*_0 weighs by d^{pi*}_rho
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(visited, optimal_policy * np.log(optimal_policy / policy0), 0)
    divergence = float((visitation * terms.sum(axis=1)).sum())
    if optimal_return is None:
        optimal_return = trace.optimal_return
    if optimal_return is None:
        optimal_return = result.expected_return
    optimal_return = float(optimal_return)
    gaps = [optimal_return - float(r) for r in trace.returns]
    constant = gaps[0] + divergence / (gamma * float(steps[0]))
    contraction = 1 - 1 / theta
    slacks = [contraction**k * constant - gap for k, gap in enumerate(gaps)]
    error = recorded_error(trace, *range(trace.iterations + 1))
    scale = value_scale(float_mdp)
    tolerance: Any = Tolerance(
        2 * error + evaluation_error(float_mdp) + 1e-12 * scale,
        "certified evaluation errors of V_k and V* + rounding (the bound is computed in floats)",
    )
    tolerance = user_tolerance(tolerance, run.tolerance)
    verdict = decide(
        XIAO_10,
        slacks,
        tolerance,
        f"{detail}; theta_rho = {theta:.6g}, D*_0 = {divergence:.6g}, eta_0 = "
        f"{float(steps[0]):.6g}",
        states=False,
    )
    if verdict.failed and not all(c.certified for c in trace.certificates):
        verdict = replace(
            verdict,
            outcome="inconclusive",
            reason="a step of the run was not certified, so its iterates need not be PMD's",
        )
    return run.finish(verdict, ())
