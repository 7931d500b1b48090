"""The house: module-level imports of the package form no circle (style guide, "shared types
sit below their users").

Was: ``Context`` lived in ``algorithm.py``, which imports the pieces, and the pieces (drifts,
drift distributions, neighbourhoods, sampling) imported it back (under TYPE_CHECKING): the
project's one import circle. Imports inside functions (optional dependencies, loaded lazily)
are not part of the layout and are not counted; ``if TYPE_CHECKING:`` blocks are.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tabular_mirror
from tabular_mirror import algorithm, context

ROOT = Path(tabular_mirror.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The package modules ``path`` imports at module level (relative imports)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                if node.module is None:
                    found.update(".".join([*base, alias.name]) for alias in node.names)
                else:
                    found.add(".".join([*base, node.module]))
            elif isinstance(node, ast.If):  # if TYPE_CHECKING: (type-only imports count)
                visit(node.body)

    visit(ast.parse(path.read_text()).body)
    return found


def import_graph() -> dict[str, set[str]]:
    graph = {_module_name(p): _imports(p) for p in ROOT.rglob("*.py")}
    # a package's __init__ re-exports its modules: an edge into it is not a layout edge
    return {
        module: {d for d in deps if d in graph and d != module and d != "tabular_mirror"}
        for module, deps in graph.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def walk(module: str, stack: list[str]) -> None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                walk(target, stack)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            walk(module, [])
    return found


def test_the_package_has_no_import_circle():
    assert circles(import_graph()) == []


def test_the_detector_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c", "a"]]


def test_context_sits_below_the_pieces_and_is_still_importable_from_algorithm():
    graph = import_graph()
    for piece in ("drifts", "drift_distributions", "neighbourhoods", "sampling"):
        deps = graph[f"tabular_mirror.{piece}"]
        assert "tabular_mirror.algorithm" not in deps, piece
    # the context names the model and the evaluation record (types), nothing above them
    assert graph["tabular_mirror.context"] <= {"tabular_mirror.model", "tabular_mirror.results"}
    assert algorithm.Context is context.Context is tabular_mirror.Context
