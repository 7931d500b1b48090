"""Fuzzing the public surface: the only outcomes are a valid result or the project's own error.

Issue 11 found foreign exceptions (TypeError, IndexError, ZeroDivisionError, OverflowError,
BadZipFile, MemoryError, ...) and silently accepted input at the edges. These properties throw
generated bad and edge-case input at the constructors, the catalogue's specs, the file readers,
the scalar parameters and the command line, and fail on anything but a result or a
:class:`~tabular_mirror.errors.TabularMirrorError` (on the command line: exit code 0/1, or 2
with one line on stderr and no traceback). They run under the ``ci`` hypothesis profile
(derandomised, 30 examples each); ``TABULAR_MIRROR_PROFILE=thorough`` runs 10^4.
"""

from __future__ import annotations

import json
import warnings
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdps
import tabular_mirror as tm
from tabular_mirror import instances
from tabular_mirror.cli import main
from tabular_mirror.errors import TabularMirrorError

#: Values that no parameter should take (and a few it should): every kind of Python scalar.
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 60),
    st.sampled_from([10**10, 2**70, -(2**70), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(max_magnitude=10),
    st.just(complex("nan+1j")),
    st.fractions(max_denominator=20),
    st.text(max_size=5),
    st.sampled_from(["1/3", "1/0", "0.5", "-1", "nan", "1e999", " 2 ", "1_0", "true"]),
    st.binary(max_size=3),
    st.lists(st.integers(-1, 2), max_size=2),
    st.just(object()),
    st.just(np.float32(0.5)),
    st.just(np.array([0.5, 0.5])),
)


def outcome(call, *args: Any, **kwargs: Any) -> Any:
    """The result, or None when the project's error was raised; anything else fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numerical warnings are allowed; exceptions are not
        try:
            return call(*args, **kwargs)
        except TabularMirrorError:
            return None


# ---------------------------------------------------------------------------- constructors
@st.composite
def mdp_inputs(draw):
    """Transitions, rewards, discount, initial and options: valid, then damaged in places."""
    S, A = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    exact = draw(st.booleans())
    cell = Fraction(1, S) if exact else 1.0 / S
    transitions = [[[cell] * S for _ in range(A)] for _ in range(S)]
    rewards = [[draw(st.integers(-3, 3)) for _ in range(A)] for _ in range(S)]
    for _ in range(draw(st.integers(0, 2))):
        s, a, t = (draw(st.integers(0, n - 1)) for n in (S, A, S))
        transitions[s][a][t] = draw(JUNK)
    if draw(st.booleans()):
        rewards[draw(st.integers(0, S - 1))][draw(st.integers(0, A - 1))] = draw(JUNK)
    shape_damage = draw(st.sampled_from(["none", "none", "drop_row", "drop_entry", "wrap"]))
    if shape_damage == "drop_row":
        transitions[0].pop()
    elif shape_damage == "drop_entry":
        transitions[-1][-1].pop()
    elif shape_damage == "wrap":
        transitions = [transitions]
    if not exact and shape_damage == "none" and draw(st.booleans()):
        try:
            transitions = sp.csr_matrix(np.array(transitions, dtype=float).reshape(S * A, S))
        except (TypeError, ValueError, OverflowError):
            pass  # junk that is not even a float: keep the nested list
    discount = draw(st.one_of(st.sampled_from(["9/10", 0.9, 0, "0.5"]), JUNK))
    initial = draw(st.one_of(st.none(), st.none(), JUNK, st.lists(JUNK, min_size=S, max_size=S)))
    options = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "exact": st.one_of(st.sampled_from([None, True, False]), JUNK),
                "row_tolerance": st.one_of(st.just(1e-10), JUNK),
            },
        )
    )
    return transitions, rewards, discount, initial, options


@given(mdp_inputs())
def test_finite_mdp_constructor(inputs):
    transitions, rewards, discount, initial, options = inputs
    mdp = outcome(tm.FiniteMDP, transitions, rewards, discount, initial, **options)
    if mdp is not None:
        assert isinstance(mdp, tm.FiniteMDP)
        result = outcome(tm.solve, mdp)
        assert result is None or isinstance(result, tm.SolveResult)


# ---------------------------------------------------------------------------- catalogue specs
VALUE_TOKENS = [
    "0", "1", "2", "3", "5", "-1", "10", "1/2", "0.5", "1e3", "true", "false", "maybe", "",
    "1/0", "|", "1|2", "0|1", "a|b", "nan", "inf", "1e999", "99999999999999", "x", "normal",
    "....G|.####|.....|.....|B....", "G", "0.99", "1", "9/10",
]  # fmt: skip


@st.composite
def specs(draw):
    name = draw(st.one_of(st.sampled_from(mdps.available()), st.text(max_size=4)))
    builder = mdps.registry.REGISTRY.get(name)
    keys = list(__import__("inspect").signature(builder).parameters) if builder else []
    keys += ["seed", "discount", "bogus"]
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(keys), st.sampled_from(VALUE_TOKENS)), max_size=4,
            unique_by=lambda pair: pair[0],
        )
    )  # fmt: skip
    if builder and "seed" in keys and draw(st.booleans()):
        pairs = [pair for pair in pairs if pair[0] != "seed"] + [("seed", "0")]
    text = ",".join(f"{key}={value}" for key, value in pairs)
    separator = draw(st.sampled_from([":", ":", ";", ""]))
    return f"{name}{separator}{text}" if text else name


@given(specs())
def test_catalogue_specs(spec):
    mdp = outcome(mdps.make, spec)
    assert mdp is None or isinstance(mdp, tm.FiniteMDP)


@given(JUNK.filter(lambda value: not isinstance(value, str)))
def test_make_takes_only_strings(value):
    assert outcome(mdps.make, value) is None


# ---------------------------------------------------------------------------- files
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    return {
        "npz": mdps.save(mdps.make("small"), folder / "small.npz").read_bytes(),
        "sparse": mdps.save(mdps.make("forest:S=5").to_sparse(), folder / "f.npz").read_bytes(),
        "json": mdps.save(mdps.make("small:exact=true"), folder / "small.json").read_bytes(),
    }


def _write(tmp_path_factory, suffix: str, data: bytes):
    path = tmp_path_factory.mktemp("fuzz") / f"file.{suffix}"
    path.write_bytes(data)
    return path


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["npz", "sparse", "json"]),
    edits=st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from(["flip", "cut", "insert"]), st.binary(
            min_size=1, max_size=3)), min_size=1, max_size=3,
    ),
)  # fmt: skip
def test_damaged_saved_files(saved, tmp_path_factory, kind, edits):
    data = bytearray(saved[kind])
    for position, action, payload in edits:
        position %= max(len(data), 1)
        if action == "flip" and data:
            data[position] ^= payload[0] or 1
        elif action == "cut":
            del data[position:]
        else:
            data[position:position] = payload
    path = _write(tmp_path_factory, "json" if kind == "json" else "npz", bytes(data))
    mdp = outcome(mdps.load, path)
    assert mdp is None or isinstance(mdp, tm.FiniteMDP)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 10**7), st.floats(-2, 2),
              st.sampled_from(["1/2", "1", "0", "x", "1/0", "-1"])),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=2),
    max_leaves=8,
)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(
        ["format", "version", "exact", "num_states", "num_actions", "discount", "initial",
         "rewards", "transitions"]
    ),
    value=JSON_VALUES,
)  # fmt: skip
def test_hand_edited_json(saved, tmp_path_factory, key, value):
    document = json.loads(saved["json"])
    document[key] = value
    path = _write(tmp_path_factory, "json", json.dumps(document).encode())
    mdp = outcome(mdps.load, path)
    assert mdp is None or isinstance(mdp, tm.FiniteMDP)


CSV_FIELDS = st.sampled_from(
    ["0", "1", "2", "-1", "1_0", "0.5", "1/2", "1/0", "nan", "inf", "", " 1 ", "x", "2.0",
     str(2**70), "99999", "1e-3", "+1"]
)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(CSV_FIELDS, min_size=3, max_size=7), min_size=0, max_size=5),
    header=st.sampled_from(["state,action,next_state,probability,reward", "s,a,t,p,r", ""]),
    exact=st.sampled_from([None, True, False]),
)
def test_csv_tables(tmp_path_factory, rows, header, exact):
    text = header + "\n" + "\n".join(",".join(row) for row in rows) + "\n"
    path = _write(tmp_path_factory, "csv", text.encode())
    mdp = outcome(mdps.from_csv, path, discount="1/2" if exact else 0.5, exact=exact)
    assert mdp is None or isinstance(mdp, tm.FiniteMDP)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=64), suffix=st.sampled_from(["npz", "json", "csv"]))
def test_random_bytes(tmp_path_factory, data, suffix):
    path = _write(tmp_path_factory, suffix, data)
    if suffix == "csv":
        assert outcome(mdps.from_csv, path, discount=0.5) in (None,) or True
    else:
        assert outcome(mdps.load, path) is None


# ---------------------------------------------------------------------------- scalar parameters
SMALL = mdps.make("small")
EXACT = mdps.make("small:exact=true")
UNIFORM = tm.uniform_policy(SMALL)

CALLS = {
    "solve.method": lambda v: tm.solve(SMALL, method=v),
    "solve.tolerance": lambda v: tm.solve(SMALL, tolerance=v),
    "solve.max_iterations": lambda v: tm.solve(SMALL, "value_iteration", max_iterations=v),
    "solve.sweeps": lambda v: tm.solve(SMALL, "modified_policy_iteration", sweeps=v),
    "solve.time_limit": lambda v: tm.solve(SMALL, "linear_programming", time_limit=v),
    "solve.initial_policy": lambda v: tm.solve(SMALL, initial_policy=v),
    "evaluate.policy": lambda v: tm.evaluate(SMALL, v),
    "evaluate.tolerance": lambda v: tm.evaluate(SMALL, UNIFORM, tolerance=v),
    "evaluate.method": lambda v: tm.evaluate(SMALL, UNIFORM, method=v),
    "evaluate.max_iterations": lambda v: tm.evaluate(SMALL, UNIFORM, max_iterations=v),
    "ppo.epsilon": lambda v: tm.mirror_step(SMALL, instances.ppo(v), UNIFORM),
    "pmd.step": lambda v: tm.mirror_step(SMALL, instances.pmd(v), UNIFORM),
    "trpo.delta": lambda v: tm.mirror_step(SMALL, instances.trpo(v), UNIFORM),
    "ppo_kl.tau": lambda v: tm.mirror_step(SMALL, instances.ppo_kl(v), UNIFORM),
    "mirror_step.choice": lambda v: tm.mirror_step(SMALL, instances.ppo(0.2), UNIFORM, choice=v),
    "mirror_learning.iterations": lambda v: tm.mirror_learning(SMALL, instances.gpi(), UNIFORM, v),
    "mirror_learning.tol": lambda v: tm.mirror_learning(SMALL, instances.gpi(), UNIFORM, 3, tol=v),
    "mirror_learning.policy0": lambda v: tm.mirror_learning(SMALL, instances.gpi(), v, 3),
    "inexact_step.steps": lambda v: tm.inexact_step(SMALL, instances.pmd(1), UNIFORM, steps=v),
    "random_policy.rng": lambda v: tm.random_policy(SMALL, v),
    "random_policy.concentration": lambda v: tm.random_policy(SMALL, 0, concentration=v),
    "interior_policy.rng": lambda v: tm.interior_policy(SMALL, v),
    "interior_policy.denominator": lambda v: tm.interior_policy(SMALL, 0, denominator=v),
    "deterministic_policy": lambda v: tm.deterministic_policy(SMALL, v),
    "greedy_policy": lambda v: tm.greedy_policy(v),
    "to_exact.limit_denominator": lambda v: SMALL.to_exact(limit_denominator=v),
    "with_discount": lambda v: SMALL.with_discount(v),
    "exact.with_discount": lambda v: EXACT.with_discount(v),
    "with_initial": lambda v: SMALL.with_initial(v),
    "bellman_operator.values": lambda v: tm.bellman_operator(SMALL, UNIFORM, v),
    "check_policy": lambda v: tm.check_policy(SMALL, v),
}


@pytest.mark.parametrize("name", list(CALLS), ids=list(CALLS))
@given(value=JUNK)
def test_scalar_parameters(name, value):
    outcome(CALLS[name], value)


# ---------------------------------------------------------------------------- command line
MDP_TOKENS = ["small", "small:exact=true", "forest:S=5", "garnet:S=4,A=2,b=2,seed=0",
              "paper-bandit", "nothing", "forest:S=1e3", "{trace}", "{damaged}", "{mdp}",
              "{tmp}", "{tmp}/missing.npz"]  # fmt: skip
ALGORITHM_TOKENS = ["gpi", "pmd:step=1", "pmd:step=0", "ppo:epsilon=0.2", "trpo:delta=0.01",
                    "sac", "pmd:step=1e999", "ppo_kl:tau=1,reverse=maybe", "pmd:"]  # fmt: skip
OPTION_TOKENS = [
    ["-n", "0"], ["-n", "2"], ["-n", "-1"], ["-n", "1e300"], ["-n", "x"],
    ["-n", "10000000000"], ["--exact"], ["--seed", "-1"], ["--seed", "3"],
    ["--policy", "random"], ["--policy", "bad"], ["-o", "{tmp}/out"], ["-o", "{tmp}/t.txt"],
    ["-o", "{tmp}/x.json"], ["-o", "{tmp}"], ["--method", "value_iteration"],
    ["--method", "magic"], ["--dpi", "0"], ["--dpi", "72"], ["--kind", "simplex"],
    ["--kind", "polytope"], ["--state", "9"], ["--max-states", "0"], ["--part-size", "1"],
    ["--part-size", "0"], ["--choice", "vertex"], ["-q"], ["--bogus"], ["--mdps", "1"],
    ["--generator", "garnet:S={x}"], ["--generator", "forest:S=3"], ["--algorithm", "gpi"],
    ["--environments", "moon"], ["--format", "bmp"],
]  # fmt: skip


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(["run", "solve", "plot", "check", "demo", "reproduce", "x"]))
    argv = [command]
    if command == "run":
        argv += [draw(st.sampled_from(MDP_TOKENS)), draw(st.sampled_from(ALGORITHM_TOKENS))]
    elif command in ("solve", "plot", "check") and draw(st.integers(0, 4)):
        argv.append(draw(st.sampled_from(MDP_TOKENS)))
    options = OPTION_TOKENS
    if command == "reproduce":  # the real job is slow: one environment, at most 2 iterations
        argv += ["--environments", "single-step", "-n", draw(st.sampled_from(["1", "2", "0"]))]
        options = [o for o in OPTION_TOKENS if o[0] not in ("-n", "--environments")]
    for option in draw(st.lists(st.sampled_from(options), max_size=3)):
        argv += option
    return argv


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    mdp = mdps.make("small")
    trace = tm.mirror_learning(mdp, instances.pmd(0.5), tm.uniform_policy(mdp), 3)
    trace_path = tm.save_trace(trace, folder / "trace.npz")
    damaged = folder / "damaged.npz"
    damaged.write_bytes(trace_path.read_bytes()[:200])
    return {
        "{trace}": str(trace_path),
        "{damaged}": str(damaged),
        "{mdp}": str(mdps.save(mdp, folder / "mdp.npz")),
    }


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_command_line(files, tmp_path_factory, monkeypatch, capsys, argv):
    folder = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(folder)
    argv = [files.get(a, a).replace("{tmp}", str(folder)) for a in argv]
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err, (argv, err)
    assert "internal error" not in err, (argv, err)
    assert code in (0, 1, 2), (argv, code, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1, (argv, err)
