"""Counterexample searches: the smallest MDP/policy breaking a conclusion of the paper when one
of its hypotheses is dropped (hypothesis ``find`` with shrinking).

Each search returns a :class:`SearchResult`: whether a counterexample was found, how many
examples were generated (up to and including the first failing one), how many further calls
hypothesis's shrinker made, and the shrunk witness (the MDP arrays and policies as literal data,
which ``tests/quality/test_counterexamples.py`` keeps as a regression example). A search that
finds nothing says so with its count; it never claims a proof. See docs/counterexamples.md.

=====================  =====================================================  ==================
search                 hypothesis dropped                                     conclusion probed
=====================  =====================================================  ==================
total_variation        Def. 3.1(2): TV is not a drift (kink at pi)            Thm 3.6(2)-(4)
zero_sampling          beta > 0 (FixedSampling(..., allow_zero=True))         Lemma 3.3/3.5
non_monotone           N monotone in per-state distances (Lemma 3.5's swap)   Lemma 3.5, 3.3
candidate_visitation   nu independent of pibar (nu = rhobar_pibar)            Lemma 3.3, (13)
adaptive_kl            continuity (PPO-KL with an adaptive coefficient)       Lemma 3.3
inexact                the exact argmax (k softmax-logit gradient steps)      Lemma 3.3
ppo_boundary_stall     Def. 3.1(2) at the boundary (the PPO clip drift)       Thm 3.6(2)-(4)
=====================  =====================================================  ==================

The pieces the library does not ship live here: :class:`NonMonotoneShift` (a neighbourhood
satisfying Def. 3.2 but not monotone), and exact solvers for the TV drift, the zero-sampling
adversary (the theory allows *any* maximiser) and the non-monotone neighbourhood (an LP).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import strategies as st

import tabular_mirror as tm
from tabular_mirror.algorithm import Context, MirrorAlgorithm
from tabular_mirror.drift_distributions import (
    CandidateVisitation,
    OldVisitation,
    SameAsSampling,
)
from tabular_mirror.drifts import (
    AdaptiveKLPenalty,
    Drift,
    ScaledDrift,
    SquaredEuclidean,
    TotalVariation,
    ZeroDrift,
    scaled,
)
from tabular_mirror.neighbourhoods import Everything, Neighbourhood
from tabular_mirror.results import Certificate
from tabular_mirror.sampling import FixedSampling, UniformSampling, VisitationSampling

from ._search import run_find, run_sized_find
from .fundamental import check_fundamental_theorem
from .lemmas import check_step
from .strategies import mdps, mdps_and_policies, policies
from .verdicts import Verdict, mdp_witness

__all__ = [
    "SearchResult",
    "NonMonotoneShift",
    "tv_solver",
    "adversarial_solver",
    "shift_solver",
    "total_variation_algorithm",
    "zero_sampling_algorithm",
    "non_monotone_algorithm",
    "candidate_visitation_algorithm",
    "adaptive_kl_algorithm",
    "inexact_algorithm",
    "search_total_variation",
    "search_zero_sampling",
    "search_non_monotone",
    "search_candidate_visitation",
    "search_trust_region",
    "search_adaptive_kl",
    "search_inexact",
    "search_ppo_boundary_stall",
    "smallest_failing_steps",
    "SEARCHES",
    "rebuild",
]


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one counterexample search.

    ``found``: whether one of the generated examples fails (a *decided* failure: an example on
    which the claim is inconclusive does not count);
    ``examples_generated``: how many examples hypothesis generated, the last of them the first
    failure when ``found`` (otherwise all it generated: the budget, or fewer distinct ones);
    ``max_examples``: the budget asked for;
    ``witness``: the shrunk counterexample (MDP arrays, policies, what failed, and the
    ``call``/``arguments`` that :func:`proofs_check.replay` re-runs) or None;
    ``size``: (S, A) of the witness; ``detail``: one sentence;
    ``shrink_calls``: how many times the condition was evaluated after the first failure, i.e.
    the shrinker's candidates and hypothesis's replay of the result (0 when nothing was found);
    these are not generated examples: the budget bounds only the generation;
    ``shrink_finished``: True when hypothesis's shrinker reached a local minimum, False when it
    stopped early (its 500-shrink cap or 5-minute limit: the witness may not be minimal), None
    when nothing was found; ``seed``: the same call with this seed generates the same examples
    (hypothesis's constants harvested from imported modules are switched off).
    """

    name: str
    found: bool
    examples_generated: int
    witness: dict[str, Any] | None
    size: tuple[int, int] | None
    detail: str
    shrink_calls: int = 0
    shrink_finished: bool | None = None
    seed: int = 0
    max_examples: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------- pieces
@dataclass(frozen=True)
class NonMonotoneShift(Neighbourhood):
    """N(pi) = {pibar : |sum_s (pibar[s, 0] - pi[s, 0])| <= radius}.

    Satisfies Definition 3.2 (closed, bounded, continuous in pi, and contains the ball
    max_s TV(pi[s], pibar[s]) <= radius / S) but is not monotone in per-state distances: a
    member that moves state 0 by +x and state 1 by -x is inside, and putting state 1 back to
    pi[1] leaves it outside when x > radius. Lemma 3.5's swap argument does not apply.
    """

    radius: Any = Fraction(1, 4)
    monotone = False

    def slack(self, context: Context, candidate: np.ndarray) -> Any:
        shift = (candidate[:, 0] - context.policy[:, 0]).sum()
        return self.radius - abs(shift)


def _drift_scale(drift: Drift) -> tuple[Drift, Any]:
    factor: Any = 1
    while isinstance(drift, ScaledDrift):
        factor = factor * drift.factor
        drift = drift.drift
    return drift, factor


def tv_solver(algorithm: MirrorAlgorithm, context: Context) -> tuple[np.ndarray, Certificate]:
    """The exact argmax for a (scaled) total-variation penalty with N = Pi, nu independent.

    Per state: maximise sum_a pibar A - c (1/2) sum_a |pibar - pi| with c = factor nu/beta.
    Moving mass from b to the best action a* gains A[a*] - A[b] - c per unit; every transfer
    decomposes into such moves, so the argmax moves all of pi[b] to a* exactly when
    A[a*] - A[b] > c (ties stay: the "closest" maximiser). Rational in exact mode.
    """
    drift, factor = _drift_scale(algorithm.drift)
    if not isinstance(drift, TotalVariation) or not isinstance(algorithm.neighbourhood, Everything):
        raise ValueError("tv_solver needs a (scaled) TotalVariation drift and N = Pi")
    policy, advantages = context.policy, context.advantages
    beta = context.sampling_weights
    nu = algorithm.drift_distribution.weights(context, policy, None)
    rows = policy.copy()
    for s in range(policy.shape[0]):
        coefficient = factor * nu[s] / beta[s]
        best = int(np.argmax(advantages[s]))
        for b in range(policy.shape[1]):
            if b != best and advantages[s, best] - advantages[s, b] > coefficient:
                rows[s, best] = rows[s, best] + rows[s, b]
                rows[s, b] = rows[s, b] * 0
    exact = context.mdp.is_exact
    return rows, Certificate("exact", 0 if exact else 0.0, 0, True, "TV closed form (transfers)")


def adversarial_solver(
    algorithm: MirrorAlgorithm, context: Context
) -> tuple[np.ndarray, Certificate]:
    """Zero drift: greedy where beta[s] > 0, the *worst* action where beta[s] = 0.

    At a state with beta[s] = nu[s] = 0 every row maximises the mirror objective, so this is a
    maximiser the theory must survive (the update is "any element of the argmax").
    """
    if not isinstance(algorithm.drift, ZeroDrift):
        raise ValueError("adversarial_solver needs the zero drift")
    advantages = np.asarray(context.advantages, dtype=float)
    beta = context.sampling_weights
    rows = np.zeros(advantages.shape)
    for s in range(advantages.shape[0]):
        action = np.argmax(advantages[s]) if beta[s] > 0 else np.argmin(advantages[s])
        rows[s, action] = 1.0
    return rows, Certificate("exact", 0.0, 0.0, True, "greedy; worst action where beta = 0")


def shift_solver(algorithm: MirrorAlgorithm, context: Context) -> tuple[np.ndarray, Certificate]:
    """Zero drift with :class:`NonMonotoneShift`: the argmax is a linear program (HiGHS).

    Certificate: HiGHS's dual objective (duality gap ~ 1e-9 relative).
    """
    from scipy.optimize import linprog

    neighbourhood = algorithm.neighbourhood
    if not isinstance(neighbourhood, NonMonotoneShift) or not isinstance(
        algorithm.drift, ZeroDrift
    ):
        raise ValueError("shift_solver needs the zero drift and NonMonotoneShift")
    policy = np.asarray(context.policy, dtype=float)
    advantages = np.asarray(context.advantages, dtype=float)
    beta = np.asarray(context.sampling_weights, dtype=float)
    num_states, num_actions = policy.shape
    cost = -(beta[:, None] * advantages).reshape(-1)
    equality = np.kron(np.eye(num_states), np.ones(num_actions))
    shift = np.zeros(num_states * num_actions)
    shift[::num_actions] = 1.0
    radius = float(neighbourhood.radius)
    base = policy[:, 0].sum()
    result = linprog(
        cost,
        A_ub=np.vstack([shift, -shift]),
        b_ub=[radius + base, radius - base],
        A_eq=equality,
        b_eq=np.ones(num_states),
        bounds=(0, 1),
        method="highs",
    )
    rows = np.clip(result.x.reshape(num_states, num_actions), 0, None)
    rows = rows / rows.sum(axis=1, keepdims=True)
    # shrink toward pi if rounding left the slab
    while neighbourhood.slack(context, rows) < -1e-12:
        rows = (rows + policy) / 2
    optimal = bool(result.status == 0)
    return rows, Certificate("duality_gap", 0.0, 1e-9, optimal, f"HiGHS LP: {result.message}")


# ---------------------------------------------------------------------------- algorithms
def total_variation_algorithm(factor: Any = 1) -> MirrorAlgorithm:
    """D = factor TV (not a drift), nu = beta = uniform, N = Pi."""
    drift = TotalVariation() if factor == 1 else ScaledDrift(TotalVariation(), factor)
    return MirrorAlgorithm(drift, SameAsSampling(), Everything(), UniformSampling(), "TV penalty")


def zero_sampling_algorithm(distribution: tuple) -> MirrorAlgorithm:
    """GPI with a sampling distribution that has a zero (and nu = beta)."""
    return MirrorAlgorithm(
        ZeroDrift(),
        SameAsSampling(),
        Everything(),
        FixedSampling(distribution, allow_zero=True),
        "GPI, beta with a zero",
    )


def non_monotone_algorithm(radius: Any = Fraction(1, 4)) -> MirrorAlgorithm:
    """GPI restricted to :class:`NonMonotoneShift`, uniform beta."""
    return MirrorAlgorithm(
        ZeroDrift(),
        SameAsSampling(),
        NonMonotoneShift(radius),
        UniformSampling(),
        f"GPI in a non-monotone shift slab (radius {radius})",
    )


def candidate_visitation_algorithm(factor: Any = 1) -> MirrorAlgorithm:
    """factor x squared L2 drift weighted by nu = rhobar_pibar (depends on pibar), beta uniform."""
    return MirrorAlgorithm(
        scaled(SquaredEuclidean(), factor),
        CandidateVisitation(),
        Everything(),
        UniformSampling(),
        f"L2 x{factor}, nu = rhobar_pibar",
    )


def adaptive_kl_algorithm(coefficient: float = 1.0, target: float = 0.01) -> MirrorAlgorithm:
    """PPO-KL whose coefficient jumps with the candidate's mean KL (not a drift)."""
    return MirrorAlgorithm(
        AdaptiveKLPenalty(coefficient, target),
        OldVisitation(),
        Everything(),
        VisitationSampling(),
        "PPO-KL, adaptive coefficient",
    )


def inexact_algorithm(factor: Any = 50) -> MirrorAlgorithm:
    """The paper's squared-L2 drift scaled by 50 with N = Pi, uniform nu = beta."""
    return MirrorAlgorithm(
        scaled(SquaredEuclidean(), factor),
        SameAsSampling(),
        Everything(),
        UniformSampling(),
        f"L2 x{factor}",
    )


# ---------------------------------------------------------------------------- search engine
def _quiet_failure(
    fails: Callable[[Any], dict[str, Any] | None], example: Any
) -> dict[str, Any] | None:
    """``fails(example)`` with numerical warnings silenced (the searches probe degenerate MDPs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fails(example)


def _search(
    name: str,
    strategy: st.SearchStrategy | Callable[[int], st.SearchStrategy],
    fails: Callable[[Any], dict[str, Any] | None],
    max_examples: int,
    what: str,
    seed: int = 0,
) -> SearchResult:
    """``find`` the smallest example whose ``fails`` returns a description (not None).

    An example on which the library raises one of its own errors (or a numerical one) does not
    count as a failure. Hypothesis evaluates the condition first on generated examples, stops
    generating at the first failure and then on the shrinker's candidates; the two counts are
    kept apart (see :class:`SearchResult`). ``fails`` may return its description with a
    ``"redo"`` callable: it is called once on the shrunk example to build the final witness
    (with the diagnosis the search itself skips).

    ``strategy`` may be a function ``max_states -> strategy``: hypothesis's shrinker cannot
    delete a state of an MDP (every array depends on S), so after a failure on S states the
    search runs again on at most S - 1 states, with the same budget, until nothing smaller
    fails; the detail says so.
    """

    def condition(example: Any) -> bool:
        try:
            return _quiet_failure(fails, example) is not None
        except (tm.TabularMirrorError, ValueError, ZeroDivisionError, FloatingPointError):
            return False

    sized = callable(strategy) and not isinstance(strategy, st.SearchStrategy)
    if sized:
        outcome = run_sized_find(strategy, condition, max_examples, seed)
    else:
        outcome = run_find(strategy, condition, max_examples, seed)
    generated, shrink_calls = outcome.generated, outcome.shrink_calls
    if outcome.example is None:
        return SearchResult(
            name,
            False,
            generated,
            None,
            None,
            f"no counterexample to {what} among {generated} generated examples (seed "
            f"{seed}; not a proof)",
            seed=seed,
            max_examples=max_examples,
        )
    smaller_note = outcome.smaller_note
    description = _quiet_failure(fails, outcome.example)
    redo = description.pop("redo", None)
    if redo is not None:
        description = _quiet_failure(redo, outcome.example)
    mdp = description.pop("mdp")
    witness = mdp_witness(mdp, **description.pop("policies"))
    witness.update(description)
    witness["search"] = {"name": name, "seed": seed, "max_examples": max_examples}
    return SearchResult(
        name,
        True,
        generated,
        witness,
        (mdp.num_states, mdp.num_actions),
        f"{what} fails on an MDP with S={mdp.num_states}, A={mdp.num_actions} (after "
        f"{generated} generated examples and {shrink_calls} shrink calls; "
        f"{outcome.shrink_note}{smaller_note}; seed {seed})",
        shrink_calls,
        outcome.shrink_finished,
        seed,
        max_examples,
    )


def rebuild(witness: dict[str, Any]) -> tm.FiniteMDP:
    """The MDP of a stored witness (dense or sparse, exact or float)."""
    from .witness import rebuild_mdp

    return rebuild_mdp(witness)


def _replayable(verdict: Verdict) -> dict[str, Any]:
    """The parts of a verdict's witness that :func:`proofs_check.replay` needs, plus what the
    diagnosis found (the violated hypotheses, by name and detail)."""
    witness = verdict.witness if isinstance(verdict.witness, dict) else {}
    kept = {k: witness[k] for k in ("call", "arguments", "claim", "expected") if k in witness}
    kept["diagnosis"] = {v.name: v.detail for v in verdict.violated_hypotheses()}
    return kept


def _step_failure(
    mdp: tm.FiniteMDP,
    algorithm: MirrorAlgorithm,
    policy: np.ndarray,
    solver: Any,
    names: tuple[str, ...],
    diagnose_failures: bool = False,
) -> dict[str, Any] | None:
    """A description of the decided failure of one of ``names`` on this step, or None.

    Only *failed* verdicts count: a claim the step's certificate cannot decide (inconclusive)
    is not a counterexample. The description can ``redo`` itself with the diagnosis.
    """
    report = check_step(mdp, algorithm, policy, diagnose_failures=diagnose_failures, solver=solver)
    failed = [v for v in report.verdicts if v.name in names and v.failed]
    if not failed:
        return None
    step_policy = report.verdicts[0].witness["new_policy"]
    description = {
        "mdp": mdp,
        "policies": {"policy": policy, "new_policy": np.asarray(step_policy, dtype=object)
                     if mdp.is_exact else np.asarray(step_policy)},
        "failed": {v.name: float(v.margin) for v in failed},
        "worst_state": failed[0].worst_state,
        "algorithm": algorithm.name,
        **_replayable(failed[0]),
    }  # fmt: skip
    if not diagnose_failures:
        description["redo"] = lambda example: _step_failure(
            mdp, algorithm, policy, solver, names, diagnose_failures=True
        )
    return description


# ---------------------------------------------------------------------------- the searches
def _sized(low: int, high: int, **options: Any) -> Callable[[int | None], st.SearchStrategy | None]:
    """max_states -> (mdp, policy) pairs with low <= S <= min(high, max_states); None when
    max_states < low (no smaller MDP to try)."""

    def strategy(max_states: int | None) -> st.SearchStrategy | None:
        top = high if max_states is None else min(high, max_states)
        if top < low:
            return None
        return mdps_and_policies(num_states=st.integers(low, top), **options)

    return strategy


def _stall_search(
    name: str,
    what: str,
    algorithm: MirrorAlgorithm,
    strategy: Any,
    iterations: int,
    max_examples: int,
    seed: int,
    **run_options: Any,
) -> SearchResult:
    """Search for runs of ``algorithm`` with a certified non-optimal fixed point: the
    convergence verdict (Thm 3.6(2)) *failed*, decided exactly (see
    :func:`proofs_check.fundamental.fixed_points`)."""

    def fails(example: tuple, diagnose_failures: bool = False) -> dict[str, Any] | None:
        mdp, policy = example
        report = check_fundamental_theorem(
            mdp, algorithm, policy, iterations, diagnose_failures=diagnose_failures,
            **run_options,
        )  # fmt: skip
        verdict = report["theorem_3_6_2_value_convergence"]
        if not verdict.failed:
            return None
        description = {
            "mdp": mdp,
            "policies": {"policy": policy},
            "fixed_point": verdict.witness.get("policy"),
            "fixed_point_iteration": verdict.worst_iteration,
            "failed": {verdict.name: str(verdict.margin)},
            "algorithm": algorithm.name,
            **_replayable(verdict),
        }
        if not diagnose_failures:
            description["redo"] = lambda example: fails(example, diagnose_failures=True)
        return description

    return _search(name, strategy, fails, max_examples, what, seed)


def search_total_variation(
    max_examples: int = 60, iterations: int = 6, seed: int = 0
) -> SearchResult:
    """(1) TV as the drift: does mirror learning still converge to an optimal policy?

    Exact MDPs and the exact TV solver; a counterexample is a run with a certified fixed point
    of the update at a non-optimal policy (Thm 3.6(2) decided failed, exactly).
    """
    return _stall_search(
        "total_variation",
        "convergence to V* (Thm 3.6(2))",
        total_variation_algorithm(),
        _sized(1, 3, num_actions=st.integers(2, 3), exact=True),
        iterations,
        max_examples,
        seed,
        solver=tv_solver,
    )


def search_zero_sampling(max_examples: int = 60, seed: int = 0) -> SearchResult:
    """(2) beta with a zero: does state-wise improvement (Lemma 3.3/3.5) survive?

    Float MDPs (exact ones hit a library ZeroDivisionError, see the report); the step is
    :func:`adversarial_solver`, an element of the argmax.
    """

    @st.composite
    def strategy(draw: Any) -> tuple:
        mdp = draw(mdps(num_states=st.integers(2, 3), num_actions=st.integers(2, 3)))
        zero = draw(st.integers(0, mdp.num_states - 1))
        distribution = tuple(
            0.0 if s == zero else 1.0 / (mdp.num_states - 1) for s in range(mdp.num_states)
        )
        return mdp, draw(policies(mdp)), distribution

    def fails(example: tuple) -> dict[str, Any] | None:
        mdp, policy, distribution = example
        algorithm = zero_sampling_algorithm(distribution)
        found = _step_failure(
            mdp, algorithm, policy, adversarial_solver, ("lemma_3_3_monotone_values",)
        )
        if found is not None:
            found["sampling"] = list(distribution)
        return found

    return _search("zero_sampling", strategy(), fails, max_examples, "state-wise improvement", seed)


def _step_search(
    name: str,
    what: str,
    strategy: Any,
    algorithm: MirrorAlgorithm,
    names: tuple[str, ...],
    max_examples: int,
    *,
    solver: Any = None,
    seed: int = 0,
    **record: Any,
) -> SearchResult:
    """Search (mdp, policy) examples for one step of ``algorithm`` failing a verdict in ``names``.

    The common body of the searches whose example is just (mdp, policy) and whose algorithm is
    fixed. The step is taken by ``solver`` (None: the library's own); each keyword of ``record``
    is stored in the witness as it is (the search's parameters, so the witness says how to redo
    it). ``what`` names the conclusion probed in the result's ``detail``.
    """

    def fails(example: tuple) -> dict[str, Any] | None:
        mdp, policy = example
        found = _step_failure(mdp, algorithm, policy, solver, names)
        if found is not None:
            found.update(record)
        return found

    return _search(name, strategy, fails, max_examples, what, seed)


def search_non_monotone(
    max_examples: int = 60,
    radius: Any = Fraction(1, 4),
    names: tuple[str, ...] = ("lemma_3_5_mirror_operator", "lemma_3_3_monotone_values"),
    seed: int = 0,
) -> SearchResult:
    """(3) A neighbourhood not monotone in per-state distances: does Lemma 3.5 fail?

    ``names=("lemma_3_3_monotone_values",)`` asks the stronger question: does V decrease?
    """
    return _step_search(
        "non_monotone",
        "Lemma 3.5 (state-wise)",
        _sized(2, 3, num_actions=2),
        non_monotone_algorithm(radius),
        names,
        max_examples,
        solver=shift_solver,
        seed=seed,
    )


def search_candidate_visitation(
    max_examples: int = 40,
    factor: Any = 4,
    names: tuple[str, ...] = ("lemma_3_3_monotone_values", "theorem_3_6_1_inequality_13"),
    seed: int = 0,
) -> SearchResult:
    """(4) nu = rhobar_pibar (depends on pibar): does state-wise improvement still hold?

    The step is the library's general solver (SLSQP; certified only locally). ``names``: the
    verdicts of :func:`proofs_check.check_step` whose failure counts (add
    "lemma_3_5_mirror_operator" to probe the hypothesis of Lemma 3.3 as well).
    """
    return _step_search(
        "candidate_visitation",
        "state-wise improvement / (13)",
        _sized(2, 3, interior=True, num_actions=st.integers(2, 3)),
        candidate_visitation_algorithm(factor),
        names,
        max_examples,
        seed=seed,
    )


def search_trust_region(max_examples: int = 20, seed: int = 0) -> SearchResult:
    """(4') Trust-region learning (nu = point mass on the max-KL state, depends on pibar):
    do Lemma 3.5 and inequality (13) hold? (V's monotonicity is searched as well.)"""
    return _step_search(
        "trust_region",
        "Lemma 3.5 / (13)",
        _sized(2, 3, interior=True, num_actions=2),
        tm.instances.trl(),
        (
            "lemma_3_5_mirror_operator",
            "theorem_3_6_1_inequality_13",
            "lemma_3_3_monotone_values",
        ),
        max_examples,
        seed=seed,
    )


def search_adaptive_kl(max_examples: int = 40, seed: int = 0) -> SearchResult:
    """(5a) PPO-KL with the adaptive coefficient: does state-wise improvement still hold?"""
    return _step_search(
        "adaptive_kl",
        "state-wise improvement",
        _sized(1, 3, interior=True, num_actions=st.integers(2, 3)),
        adaptive_kl_algorithm(),
        ("lemma_3_3_monotone_values",),
        max_examples,
        seed=seed,
    )


def search_inexact(
    steps: int,
    max_examples: int = 40,
    learning_rate: float = 1.0,
    factor: Any = 50,
    seed: int = 0,
) -> SearchResult:
    """(5b) ``steps`` softmax-logit gradient steps instead of the argmax: monotone still?

    Uses :func:`tabular_mirror.inexact_solver` on :func:`inexact_algorithm` (the paper's L2 x50
    drift, N = Pi). The failure checked is the raw claim V_new(s) >= V_old(s): an inexact step
    is the algorithm itself (certificate kind "inexact"), so its iterates are decided with the
    evaluation error only; the diagnosis names the dropped hypothesis (the exact argmax).
    """
    return _step_search(
        f"inexact_{steps}",
        f"state-wise improvement ({steps} steps)",
        _sized(1, 3, interior=True, num_actions=st.integers(2, 3)),
        inexact_algorithm(factor),
        ("lemma_3_3_monotone_values",),
        max_examples,
        solver=tm.inexact_solver(steps, learning_rate),
        seed=seed,
        steps=steps,
        learning_rate=learning_rate,
    )


def search_ppo_boundary_stall(
    max_examples: int = 60,
    iterations: int = 6,
    epsilon: Any = Fraction(1, 5),
    interior: bool = True,
    seed: int = 0,
) -> SearchResult:
    """(6) Exact PPO (clip drift, exact argmax, N = Pi): does it converge from every pi_0?

    The paper lists PPO as an instance, so Theorem 3.6 would apply; but the clip drift is a
    drift only on the interior of Pi. From pi[s, a] >= 1/(1 + eps) the exact step can put all
    mass on a (the boundary), and at a boundary policy the drift has the nonzero one-sided
    derivative A_pi[s, b] toward an action b with pi[s, b] = 0 (Def. 3.1(2) fails): the mirror
    objective gains nothing by moving mass to b, so the update stays at a non-optimal
    deterministic policy. Exact MDPs, exact steps; a counterexample is a run with a certified
    (exact) non-optimal fixed point, diagnosed. ``interior=True`` starts from interior pi_0
    (the run reaches the boundary itself); ``False`` also allows boundary pi_0.
    """
    return _stall_search(
        "ppo_boundary_stall",
        "convergence of exact PPO (Thm 3.6(2))",
        tm.instances.ppo(epsilon),
        _sized(
            1, 3, num_actions=st.integers(2, 3), exact=True, interior=True if interior else None
        ),
        iterations,
        max_examples,
        seed,
    )


def smallest_failing_steps(
    candidates: tuple[int, ...] = (1, 2, 3, 5, 10, 50), max_examples: int = 30
) -> dict[int, SearchResult]:
    """Run :func:`search_inexact` for each k: which step counts break monotonicity?"""
    return {k: search_inexact(k, max_examples) for k in candidates}


#: Every search by name (each a callable with defaults sized for CI).
SEARCHES: dict[str, Callable[..., SearchResult]] = {
    "total_variation": search_total_variation,
    "zero_sampling": search_zero_sampling,
    "non_monotone": search_non_monotone,
    "candidate_visitation": search_candidate_visitation,
    "trust_region": search_trust_region,
    "adaptive_kl": search_adaptive_kl,
    "inexact": lambda max_examples=30, seed=0: search_inexact(2, max_examples, seed=seed),
    "ppo_boundary_stall": search_ppo_boundary_stall,
}
