"""The sweep specification: a TOML file (or a dict), validated whole before anything runs.

A sweep is a grid: algorithm specs with parameter values x MDP generator specs x discounts x
iteration budgets, each grid cell run on ``runs`` random MDPs (and random initial policies) per
seed, split into tasks of at most ``task_size`` runs (one batch each). Example::

    name = "ppo-stall"
    iterations = 20            # or a list: a grid axis
    runs = 200                 # runs per grid cell and seed
    task_size = 100            # runs per task (one batched run)
    seeds = [0]                # or an int n: seeds 0 .. n-1
    discounts = [0.9, 0.99]
    policy0 = "random"         # or "uniform"
    choice = "closest"         # maximiser rule when the argmax is a set
    # eps_optimality = 1e-6    # eps of "iterations to eps-optimality" (default 1e-6 x the
                               # value scale max(1, ||r||/(1-gamma)) of each MDP)
    confirm_stalls = true      # replay stalls exactly (GPI, PPO clip, squared L2 / TV)

    [[algorithms]]
    spec = "ppo"               # a name of tabular_mirror.specs
    epsilon = [0.1, 0.2, 0.3]  # its parameters: a value or a list (a grid axis)

    [[algorithms]]
    spec = "ppo"
    steps = [1, 2, 4]          # k gradient steps instead of the argmax
    learning_rate = [0.1, 1.0]

    [[mdps]]
    spec = "garnet"            # a catalogue name (mdps.make); no seed or discount here
    S = 5
    A = 3
    b = [2, 5]

Every key is checked (unknown keys, empty lists, bad values, pieces the batched engine cannot
run, parameter names used by both an algorithm and an MDP), and every (algorithm, MDP, discount)
takes one step on one member (so e.g. a sampling distribution that is zero on that MDP is found
now, not by every task): the first problem is one
:class:`~tabular_mirror.errors.InvalidParameterError` naming where it is
(``algorithms[1].epsilon = 0``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidParameterError

__all__ = ["SweepSpec", "load_spec", "plan_tasks", "STEP_OPTIONS", "TOP_LEVEL_KEYS"]

#: Marks a top-level key without a default.
REQUIRED = "required"

#: Top-level keys and their defaults.
TOP_LEVEL_KEYS = {
    "name": "sweep",
    "iterations": REQUIRED,
    "runs": REQUIRED,
    "task_size": 1000,
    "seeds": [0],
    "discounts": [0.9],
    "policy0": "random",
    "choice": "closest",
    "eps_optimality": None,
    "confirm_stalls": True,
    "algorithms": REQUIRED,
    "mdps": REQUIRED,
}

#: Keys of an algorithm table that are step options, not spec parameters.
STEP_OPTIONS = ("steps", "learning_rate", "parametrisation")

#: Catalogue parameters a sweep sets itself.
_RESERVED_MDP = ("seed", "discount", "sparse", "exact")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the normalised spec (a plain dict) and its grid.

    ``data`` is the spec with defaults filled in and every grid axis a list; ``cells`` the grid
    cells (dicts with algorithm, algorithm_parameters, inexact, mdp, mdp_parameters,
    discount, iterations); ``parameters`` the swept parameter column names with their kind
    ("number" or "text").
    """

    data: dict
    cells: tuple
    parameters: dict

    @property
    def name(self) -> str:
        """The sweep's name."""
        return str(self.data["name"])

    def canonical(self) -> str:
        """The spec as canonical JSON (what ``--resume`` compares)."""
        return json.dumps(self.data, sort_keys=True)

    def tasks(self) -> list[dict]:
        """Every task of the sweep (see :func:`plan_tasks`)."""
        return plan_tasks(self)


def _fail(where: str, message: str) -> InvalidParameterError:
    return InvalidParameterError(f"sweep spec: {where} {message}")


def _toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidParameterError(f"sweep spec {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidParameterError(
            f"sweep spec {str(path)!r} is not valid TOML: {error}"
        ) from None


def _axis(value: Any, where: str) -> list:
    values = list(value) if isinstance(value, list | tuple) else [value]
    if not values:
        raise _fail(where, "is an empty list: a grid axis needs at least one value")
    for item in values:
        if isinstance(item, dict | list):
            raise _fail(where, f"= {item!r} is not a number, string or boolean")
    return values


def _count(value: Any, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(where, f"= {value!r}, expected an integer >= {minimum}")
    return value


def _text(value: Any) -> str:
    """A value as a spec string reads it back (0.2 -> "0.2": read exactly as 1/5)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Fraction):
        return float(value)
    return None


def load_spec(source: Any) -> SweepSpec:
    """Read and validate a sweep spec: a TOML path, a dict, or a SweepSpec (returned as is).

    Raises
    ------
    InvalidParameterError
        The first problem found, naming its place (``algorithms[0].epsilon``).
    """
    if isinstance(source, SweepSpec):
        return source
    if isinstance(source, str | Path):
        data = _toml(Path(source))
    elif isinstance(source, dict):
        data = json.loads(json.dumps(source))  # a plain copy (and JSON-able)
    else:
        raise InvalidParameterError(f"sweep spec {source!r} is neither a path nor a dict")
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise _fail(
            f"key {unknown[0]!r}",
            f"is unknown; valid keys: {', '.join(TOP_LEVEL_KEYS)}",
        )
    for key, default in TOP_LEVEL_KEYS.items():
        if key not in data:
            if default is REQUIRED:
                raise _fail(f"key {key!r}", "is missing")
            data[key] = default
    normal: dict[str, Any] = {"name": str(data["name"])}
    normal["iterations"] = [
        _count(v, "iterations", 0) for v in _axis(data["iterations"], "iterations")
    ]
    normal["runs"] = _count(data["runs"], "runs")
    normal["task_size"] = _count(data["task_size"], "task_size")
    seeds = data["seeds"]
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = list(range(_count(seeds, "seeds")))
    normal["seeds"] = [_count(v, "seeds", 0) for v in _axis(seeds, "seeds")]
    if len(set(normal["seeds"])) != len(normal["seeds"]):
        raise _fail("seeds", f"= {normal['seeds']} repeats a seed")
    discounts = []
    for value in _axis(data["discounts"], "discounts"):
        number = _number(value)
        if number is None or not 0 <= number < 1:
            raise _fail("discounts", f"contains {value!r}, expected numbers in [0, 1)")
        discounts.append(number)
    normal["discounts"] = discounts
    if data["policy0"] not in ("random", "uniform"):
        raise _fail("policy0", f"= {data['policy0']!r}; valid: random, uniform")
    normal["policy0"] = data["policy0"]
    from .._steps.separable import CHOICES

    if data["choice"] not in CHOICES:
        raise _fail("choice", f"= {data['choice']!r}; valid: {', '.join(CHOICES)}")
    normal["choice"] = data["choice"]
    epsilon = data["eps_optimality"]
    if epsilon is not None and not (_number(epsilon) is not None and _number(epsilon) > 0):
        raise _fail("eps_optimality", f"= {epsilon!r}, expected a number > 0")
    normal["eps_optimality"] = None if epsilon is None else float(epsilon)
    if not isinstance(data["confirm_stalls"], bool):
        raise _fail("confirm_stalls", f"= {data['confirm_stalls']!r}, expected true or false")
    normal["confirm_stalls"] = data["confirm_stalls"]
    normal["algorithms"] = [
        _algorithm_table(table, f"algorithms[{k}]")
        for k, table in enumerate(_tables(data["algorithms"], "algorithms"))
    ]
    normal["mdps"] = [
        _mdp_table(table, f"mdps[{k}]") for k, table in enumerate(_tables(data["mdps"], "mdps"))
    ]
    spec = _grid(normal)
    return spec


def _tables(value: Any, where: str) -> list[dict]:
    tables = value if isinstance(value, list) else [value]
    if not tables:
        raise _fail(where, "is empty: give at least one table ([[" + where + "]])")
    for k, table in enumerate(tables):
        if not isinstance(table, dict):
            raise _fail(f"{where}[{k}]", f"= {table!r} is not a table")
        if "spec" not in table:
            raise _fail(f"{where}[{k}]", "has no 'spec' (a name, e.g. spec = \"ppo\")")
    return tables


def _algorithm_table(table: dict, where: str) -> dict:
    from ..specs import ALGORITHMS

    name = str(table["spec"]).strip().lower().replace("-", "_")
    if ":" in name:
        raise _fail(
            f"{where}.spec", f"= {table['spec']!r}: give the name only and parameters as keys"
        )
    if name not in ALGORITHMS:
        raise _fail(f"{where}.spec", f"= {name!r} is unknown; valid: {', '.join(ALGORITHMS)}")
    valid = (*ALGORITHMS[name].parameters, *STEP_OPTIONS)
    out: dict[str, Any] = {"spec": name}
    for key, value in table.items():
        if key == "spec":
            continue
        if key not in valid:
            raise _fail(
                f"{where}.{key}", f"is not a parameter of {name}; valid: {', '.join(valid)}"
            )
        out[key] = _axis(value, f"{where}.{key}")
    return out


def _mdp_table(table: dict, where: str) -> dict:
    import inspect

    try:
        from mdps.registry import REGISTRY
    except ImportError:  # pragma: no cover - the catalogue ships with the package
        raise _fail(where, "needs the MDP catalogue (mdps), which is not installed") from None
    name = str(table["spec"]).strip()
    if ":" in name:
        raise _fail(f"{where}.spec", f"= {name!r}: give the name only and parameters as keys")
    if name not in REGISTRY:
        raise _fail(f"{where}.spec", f"= {name!r} is unknown; valid: {', '.join(REGISTRY)}")
    valid = [p for p in inspect.signature(REGISTRY[name]).parameters if p not in _RESERVED_MDP]
    out: dict[str, Any] = {"spec": name}
    for key, value in table.items():
        if key == "spec":
            continue
        if key in _RESERVED_MDP:
            raise _fail(
                f"{where}.{key}",
                "is set by the sweep (seeds and discounts are top-level keys)",
            )
        if key not in valid:
            raise _fail(
                f"{where}.{key}", f"is not a parameter of {name}; valid: {', '.join(valid)}"
            )
        out[key] = _axis(value, f"{where}.{key}")
    return out


def _combinations(table: dict) -> list[dict]:
    keys = [k for k in table if k != "spec"]
    return [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(table[k] for k in keys))
    ]


def _grid(normal: dict) -> SweepSpec:
    from ..batch.pieces import batch_plan
    from ..specs import make_algorithm

    algorithms = []
    for k, table in enumerate(normal["algorithms"]):
        for combination in _combinations(table):
            parameters = {key: v for key, v in combination.items() if key not in STEP_OPTIONS}
            options = {key: v for key, v in combination.items() if key in STEP_OPTIONS}
            text = ",".join(f"{key}={_text(v)}" for key, v in parameters.items())
            spec = f"{table['spec']}:{text}" if text else table["spec"]
            where = f"algorithms[{k}] ({spec})"
            try:
                algorithm = make_algorithm(spec)
                batch_plan(algorithm)
            except InvalidParameterError as error:
                raise _fail(where, str(error)) from None
            inexact = None
            if options:
                if "steps" not in options:
                    raise _fail(where, "sets learning_rate/parametrisation without steps")
                from ..batch.learning import _inexact_options

                try:
                    inexact = _inexact_options(dict(options))
                except InvalidParameterError as error:
                    raise _fail(where, str(error)) from None
                from .._steps.inexact import PARAMETRISATIONS

                if inexact["parametrisation"] not in PARAMETRISATIONS:
                    raise _fail(
                        where,
                        f"parametrisation = {inexact['parametrisation']!r}; valid: "
                        f"{', '.join(PARAMETRISATIONS)}",
                    )
            algorithms.append((spec, table["spec"], combination, inexact))
    mdps_ = []
    for k, table in enumerate(normal["mdps"]):
        for combination in _combinations(table):
            text = ",".join(f"{key}={_text(v)}" for key, v in combination.items())
            spec = f"{table['spec']}:{text}" if text else table["spec"]
            try:
                from mdps import make_batch

                probe = make_batch(spec, 1, seed=0)
            except (InvalidParameterError, ValueError, TypeError) as error:
                raise _fail(f"mdps[{k}] ({spec})", str(error)) from None
            mdps_.append((spec, table["spec"], combination, probe.num_states, probe.num_actions))
    names_a = {key for algorithm in algorithms for key in algorithm[2]}
    names_m = {key for mdp in mdps_ for key in mdp[2]}
    clash = sorted(names_a & names_m) + sorted(
        (names_a | names_m) & {"discount", "iterations", "seed", "run", "task"}
    )
    if clash:
        raise _fail(f"parameter {clash[0]!r}", "is used twice (algorithm and MDP, or a column)")
    parameters: dict[str, str] = {}
    for _, _, combination, *_ in [*algorithms, *mdps_]:
        for key, value in combination.items():
            kind = "number" if _number(value) is not None else "text"
            parameters[key] = kind if parameters.get(key, kind) == kind else "text"
    cells = []
    for (a_spec, a_name, a_values, inexact), (
        m_spec,
        m_name,
        m_values,
        states,
        actions,
    ) in itertools.product(algorithms, mdps_):
        for discount, iterations in itertools.product(normal["discounts"], normal["iterations"]):
            cells.append(
                {
                    "algorithm": a_spec,
                    "algorithm_name": a_name,
                    "algorithm_parameters": a_values,
                    "inexact": inexact,
                    "mdp": m_spec,
                    "mdp_name": m_name,
                    "mdp_parameters": m_values,
                    "num_states": states,
                    "num_actions": actions,
                    "discount": discount,
                    "iterations": iterations,
                }
            )
    _probe(cells, normal["policy0"])
    return SweepSpec(normal, tuple(cells), parameters)


def _probe(cells: list[dict], policy0: str) -> None:
    """One step of every (algorithm, MDP, discount) on one member: errors that only show when
    the pieces meet an MDP (a sampling distribution with a zero on an MDP whose d has zeros)
    are reported now, before anything starts, not by every task."""
    from mdps import make_batch

    from ..batch import mirror_learning_batch, random_policies, uniform_policies
    from ..errors import TabularMirrorError

    seen = set()
    for cell in cells:
        key = (cell["algorithm"], json.dumps(cell["inexact"]), cell["mdp"], cell["discount"])
        if key in seen:
            continue
        seen.add(key)
        batch = make_batch(cell["mdp"], 1, seed=0, discount=cell["discount"])
        start = uniform_policies(batch) if policy0 == "uniform" else random_policies(batch, 0)
        try:
            mirror_learning_batch(
                batch, cell["algorithm"], start, 1, inexact=cell["inexact"], optimum=False
            )
        except (TabularMirrorError, ValueError) as error:
            where = f"{cell['algorithm']} on {cell['mdp']} (discount {cell['discount']})"
            raise _fail(where, f"cannot run: {error}") from None


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def plan_tasks(spec: SweepSpec) -> list[dict]:
    """Split every grid cell x seed into tasks of at most ``task_size`` runs.

    A task is a plain dict (JSON-able): the cell, the seed, the chunk and its runs, the sweep
    options, and ``id`` -- a digest of all of that, so the same spec always gives the same ids
    (``--resume`` skips the ids already on disk). The MDPs and initial policies of a chunk
    depend only on (seed, chunk, MDP spec): every algorithm, discount and budget of the grid
    meets the same MDPs and pi_0 (common random numbers).
    """
    data = spec.data
    runs, size = data["runs"], data["task_size"]
    tasks = []
    for cell in spec.cells:
        for seed in data["seeds"]:
            for chunk, first in enumerate(range(0, runs, size)):
                mdp_key = int(_digest(cell["mdp"])[:12], 16)
                state = np.random.SeedSequence([seed, chunk, mdp_key]).generate_state(2)
                task = {
                    **cell,
                    "seed": seed,
                    "chunk": chunk,
                    "first_run": first,
                    "runs": min(size, runs - first),
                    "mdp_seed": int(state[0]),
                    "policy_seed": int(state[1]),
                    "policy0": data["policy0"],
                    "choice": data["choice"],
                    "eps_optimality": data["eps_optimality"],
                    "confirm_stalls": data["confirm_stalls"],
                    "parameters": spec.parameters,
                }
                task["id"] = "t" + _digest(task)[:16]
                tasks.append(task)
    return tasks
