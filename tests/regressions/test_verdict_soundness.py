"""Regressions of issue 10: verdicts that were wrong in both directions on algorithms the project
had never seen (each test says what the checker used to say)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
import pytest

import proofs_check
import tabular_mirror as tm
from proofs_check import counterexamples as ce
from tabular_mirror import divergences, drifts, instances
from tabular_mirror.algorithm import MirrorAlgorithm
from tabular_mirror.drift_distributions import SameAsSampling
from tabular_mirror.neighbourhoods import Everything
from tabular_mirror.results import Certificate
from tabular_mirror.sampling import UniformSampling, VisitationSampling

CONVERGENCE = (
    "theorem_3_6_2_value_convergence",
    "theorem_3_6_3_return_convergence",
    "theorem_3_6_4_convergence_to_optimal_policy",
)

#: docs/counterexamples.md, search 6: exact PPO from the uniform policy stalls at pi_4.
PPO_STALL = tm.FiniteMDP(
    [[["1", "0"], ["1", "0"]], [["1", "0"], ["0", "1"]]],
    [["0", "-1"], ["1", "0"]],
    "9/10",
)


def small_mdp(seed: int = 0, states: int = 3, actions: int = 2) -> tm.FiniteMDP:
    rng = np.random.default_rng(seed)
    return tm.FiniteMDP(
        rng.dirichlet(np.ones(states), size=(states, actions)),
        rng.uniform(size=(states, actions)),
        0.9,
    )


@dataclass(frozen=True)
class DiscoveredDrift(drifts.Drift):
    """The drift of Lu et al., "Discovered Policy Optimisation" (NeurIPS 2022), a learned
    drift: sum_a pi_a f(r_a, A_a) with f = ReLU((r - 1) A - alpha tanh((r - 1) A / alpha)) for
    A >= 0 and ReLU(log(r) A - beta tanh(log(r) A / beta)) for A < 0. Zero with zero gradient at
    r = 1 (a valid drift on the interior)."""

    alpha: float = 2.0
    beta: float = 0.6
    needs_support = True

    def value(self, context, candidate):
        policy = np.asarray(context.policy, dtype=float)
        advantages = np.asarray(context.advantages, dtype=float)
        ratio = np.asarray(candidate, dtype=float) / policy
        with np.errstate(divide="ignore", invalid="ignore"):
            up = (ratio - 1) * advantages
            down = np.log(ratio) * advantages
            terms = np.where(
                advantages >= 0,
                np.maximum(up - self.alpha * np.tanh(up / self.alpha), 0.0),
                np.maximum(down - self.beta * np.tanh(down / self.beta), 0.0),
            )
        return (policy * terms).sum(axis=1)


def _algorithm(drift, sampling=None, name="user"):
    return MirrorAlgorithm(
        drift, SameAsSampling(), Everything(), sampling or UniformSampling(), name
    )


def test_a_nan_trace_is_never_passed():
    # was: `tabular-mirror check` on a trace whose policies are all NaN printed PASSED 9/9
    mdp = small_mdp()
    trace = tm.mirror_learning(mdp, instances.pmd(1.0), tm.uniform_policy(mdp), 3)
    nan = np.full_like(trace.values, np.nan)
    broken = replace(trace, values=nan, mirror_values=np.full_like(trace.mirror_values, np.nan))
    with pytest.raises(tm.InvalidParameterError, match="NaN"):
        proofs_check.check_trace(broken)
    # the checks themselves, given NaN evidence, are undecided: never passed, never failed
    report = proofs_check.check_trace(broken, verify=False)
    for name in ("lemma_3_5_mirror_operator", "lemma_3_3_monotone_values"):
        assert report[name].inconclusive and "NaN" in report[name].reason


def test_a_jittering_stall_is_not_a_pass():
    # was: a TV drift solved by SLSQP moved the policy by ~6e-11 per step while eta stayed
    # fixed; the stall test compared iterates to 1e-13 and the convergence verdicts said PASS
    mdp = tm.FiniteMDP([[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]],
                       [[0.0, 0.0], [0.0, 0.1]], 0.5)  # fmt: skip
    tv = drifts.CallableDrift(
        lambda p, q: 0.5 * np.abs(p - q).sum(axis=1), name="TV", is_drift=False
    )
    report = proofs_check.check_fundamental_theorem(
        mdp, _algorithm(drifts.scaled(tv, 1.0)), [[0.9, 0.1], [0.9, 0.1]], 6
    )
    for name in CONVERGENCE:
        assert not report[name].passed, report.render(None)


def test_a_sqrt_kl_stall_is_not_a_pass():
    # was: PASS ("in progress", rate 1) for a square-root-of-KL drift whose argmax is pi_0
    mdp = small_mdp(1)
    root = drifts.CallableDrift(
        lambda p, q: np.sqrt(np.maximum(divergences.kl(p, q), 0.0)), name="sqrt KL"
    )
    report = proofs_check.check_fundamental_theorem(
        mdp, _algorithm(drifts.scaled(root, 10.0)), tm.uniform_policy(mdp), 5
    )
    for name in CONVERGENCE:
        assert not report[name].passed, report.render(None)


def test_progress_below_the_tolerance_is_not_a_pass():
    # was: "in progress" passed whenever the gap shrank at all
    mdp = small_mdp(2)
    report = proofs_check.check_fundamental_theorem(
        mdp, instances.pmd(0.01), tm.uniform_policy(mdp), 2
    )
    for name in CONVERGENCE:
        verdict = report[name]
        assert verdict.inconclusive and "observed rate" in verdict.reason, verdict


@pytest.mark.parametrize("iterations", [4, 10])
def test_a_valid_learned_drift_does_not_fail_a_finite_run(iterations):
    # was: Theorem 3.6(4) FAILED a learned drift at 4 and 10 iterations (the largest advantage
    # grew while every value improved); a finite run cannot refute a limit
    mdp = small_mdp(3)
    algorithm = _algorithm(DiscoveredDrift(), VisitationSampling(), "DPO drift")
    report = proofs_check.check_fundamental_theorem(
        mdp, algorithm, tm.uniform_policy(mdp), iterations
    )
    assert report.outcome != "failed", report.render(None)


def test_ppo_with_gradient_steps_does_not_fail_convergence_on_a_finite_run():
    # was: PPO with k gradient steps FAILED Theorem 3.6(4) at a few iterations
    mdp = small_mdp(4)
    report = proofs_check.check_fundamental_theorem(
        mdp, instances.ppo(0.2), tm.uniform_policy(mdp), 4, solver=tm.inexact_solver(5, 0.5)
    )
    for name in CONVERGENCE:
        assert not report[name].failed, report.render(None)


def test_an_uncertified_step_with_a_loose_gap_does_not_fail_lemma_3_5():
    # was: an SLSQP step that said "success" with a Frank-Wolfe gap of 0.023 produced
    # FAIL lemma_3_5 by -2e-8; such a violation is within what the gap explains
    mdp = small_mdp(5)
    policy = tm.uniform_policy(mdp)
    algorithm = _algorithm(drifts.scaled(drifts.SquaredEuclidean(), 2.0))
    exact_step = tm.mirror_step(mdp, algorithm, policy)

    def loose(algorithm, context):
        return exact_step.policy, Certificate("frank_wolfe_gap", 0.023, 1e-9, False, "SLSQP")

    step = tm.mirror_step(mdp, algorithm, policy, solver=loose)
    planted = replace(step, mirror_values=step.evaluation.values - 2e-8)
    report = proofs_check.check_step(mdp, algorithm, policy, step=planted)
    verdict = report["lemma_3_5_mirror_operator"]
    assert verdict.inconclusive and verdict.margin == pytest.approx(-2e-8), verdict


def test_exact_ppo_boundary_stall_is_failed_and_diagnosed():
    # was: "the update is at a fixed point" without saying why
    report = proofs_check.check_fundamental_theorem(
        PPO_STALL, instances.ppo(), tm.uniform_policy(PPO_STALL), 8
    )
    verdict = report["theorem_3_6_2_value_convergence"]
    assert verdict.failed and verdict.exact and verdict.worst_iteration == 4
    assert verdict.margin == -1  # V*(1) - V_{pi_4}(1) = 1 - 0, exactly
    assert verdict.witness["policy"] == [["1", "0"], ["0", "1"]]
    (hypothesis,) = verdict.violated_hypotheses()
    assert hypothesis.name == "hypothesis_definition_3_1"
    assert "PPOClip" in hypothesis.detail and "pi_4[1, 0] = 0" in hypothesis.detail
    # every per-step claim holds: PPO breaks convergence, not improvement
    for name in ("lemma_3_5_mirror_operator", "lemma_3_3_monotone_values"):
        assert report[name].passed


def test_failed_convergence_witnesses_replay():
    # was: failing convergence verdicts carried no MDP or pi_0
    report = proofs_check.check_fundamental_theorem(
        PPO_STALL, instances.ppo(), tm.uniform_policy(PPO_STALL), 8
    )
    verdict = report["theorem_3_6_3_return_convergence"]
    witness = json.loads(json.dumps(verdict.witness))  # JSON-ready, and survives the trip
    again = proofs_check.replay(witness)
    assert (again.outcome, again.margin, again.worst_iteration) == (
        verdict.outcome,
        verdict.margin,
        verdict.worst_iteration,
    )
    assert witness["transitions"] == [[["1", "0"], ["1", "0"]], [["1", "0"], ["0", "1"]]]


def test_messages_show_arrays_not_reprs():
    # was: witnesses showed `FiniteMDP(num_states=3, ...)` without the arrays
    mdp = small_mdp(6, states=2)
    report = proofs_check.check_step(mdp, instances.gpi(), tm.uniform_policy(mdp))
    witness = report["lemma_3_5_mirror_operator"].witness
    assert np.allclose(witness["transitions"], np.asarray(mdp.transitions))
    assert "FiniteMDP(" not in json.dumps(witness)


SCRIPT = """
import contextlib, hashlib, json, sys
sys.path.insert(0, sys.argv[3])
if sys.argv[1] == "with":
    import constants_galore  # noqa: F401  (a local module whose constants hypothesis harvests)
import proofs_check._search as search
if sys.argv[2] == "off":  # the control: without the isolation the import changes the examples
    search.isolated_constants = contextlib.nullcontext
from proofs_check.strategies import mdps_and_policies
seen = []
def record(example):
    mdp, policy = example
    seen.append([repr(float(mdp.discount)), np.asarray(mdp.rewards).tolist(), policy.tolist()])
    return False
import numpy as np
search.run_find(mdps_and_policies(), record, 60, seed=3)
print(hashlib.sha1(json.dumps(seen).encode()).hexdigest())
"""


def _examples(folder, imported: str, isolation: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, imported, isolation, str(folder)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_searches_do_not_depend_on_what_was_imported(tmp_path):
    # was: the same check_algorithm call passed or failed depending on `import mdps` (hypothesis
    # mixes constants harvested from imported local modules into its examples)
    floats = ", ".join(f"{k / 7:.6f}" for k in range(1, 200))
    (tmp_path / "constants_galore.py").write_text(f"A = [0, 1, 2, 3, 4]\nB = [{floats}]\n")
    isolated = {_examples(tmp_path, which, "on") for which in ("without", "with")}
    assert len(isolated) == 1
    # the control shows the test can fail: without isolation the import changes the examples
    exposed = {_examples(tmp_path, which, "off") for which in ("without", "with")}
    assert len(exposed) == 2


def test_paper_claims_test_has_no_deadline_and_reads_the_profile(monkeypatch):
    # was: paper_claims_test ran with hypothesis's 200 ms deadline (DeadlineExceeded on valid
    # drifts) and TABULAR_MIRROR_PROFILE did nothing outside the project's own conftest
    test = proofs_check.paper_claims_test(instances.gpi())
    chosen = test.hypothesis.inner_test  # noqa: F841 - the wrapped test exists
    assert proofs_check.profiles.settings_for().deadline is None
    monkeypatch.setenv("TABULAR_MIRROR_PROFILE", "thorough")
    assert proofs_check.profiles.settings_for().max_examples == 10_000
    monkeypatch.setenv("TABULAR_MIRROR_PROFILE", "thorogh")
    with pytest.raises(tm.InvalidParameterError, match="TABULAR_MIRROR_PROFILE"):
        proofs_check.profiles.settings_for()


def test_the_profile_reaches_a_user_module_without_a_conftest(tmp_path):
    module = tmp_path / "test_user.py"
    module.write_text(
        "import proofs_check\n"
        "from tabular_mirror import instances\n"
        "test_gpi = proofs_check.paper_claims_test(instances.gpi(), iterations=2)\n"
        "def test_profile():\n"
        "    from hypothesis import settings\n"
        "    assert proofs_check.profiles.settings_for().max_examples == 10_000\n"
    )
    environment = dict(os.environ, TABULAR_MIRROR_PROFILE="thorough")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{module}::test_profile", "--rootdir", str(tmp_path), "-c", os.devnull],
        capture_output=True, text=True, env=environment, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_exact_tv_stall_lifted_from_float_is_decided():
    # a float run whose MDP and fixed point are binary fractions is decided exactly
    mdp = tm.FiniteMDP([[[1.0], [1.0]]], [[0.0, 0.5]], 0.5)
    policy = np.array([[1.0, 0.0]])
    algorithm = ce.total_variation_algorithm()
    report = proofs_check.check_fundamental_theorem(mdp, algorithm, policy, 3, solver=ce.tv_solver)
    verdict = report["theorem_3_6_2_value_convergence"]
    assert verdict.failed and verdict.worst_iteration == 0, verdict
    # the same stall on an MDP that is not a binary fraction cannot be lifted: undecided
    third = tm.FiniteMDP([[[1.0], [1.0]]], [[0.0, 1 / 3]], 0.5)
    report = proofs_check.check_fundamental_theorem(
        third, algorithm, policy, 3, solver=ce.tv_solver
    )
    verdict = report["theorem_3_6_2_value_convergence"]
    assert verdict.failed or (
        verdict.inconclusive and "fixed point up to rounding" in verdict.reason
    )


def test_exact_margin_of_the_ppo_stall_is_a_fraction():
    report = proofs_check.check_fundamental_theorem(
        PPO_STALL, instances.ppo(), tm.uniform_policy(PPO_STALL), 8
    )
    assert isinstance(report["theorem_3_6_3_return_convergence"].margin, Fraction)
