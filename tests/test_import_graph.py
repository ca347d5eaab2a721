"""Imports inside ``steward`` point one way: no module imports, even lazily, one that imports it.

The graph is read from the source with ``ast``: every ``import`` of a steward
module counts, at module level or inside a function (a lazy import still ties
the two modules together), except those under ``if TYPE_CHECKING:``, which
never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import steward

SOURCE = Path(steward.__file__).parent

KNOWN_CYCLES: list[set[str]] = []

MONITORING_LAYERS = ("statistics", "checks", "alerts", "monitors", "report")
"""Sub-packages of ``steward.monitoring``, lowest first: each imports only those before it."""

UPWARD_ALLOWED = {
    # DriftResult.to_html is the public shortcut to a window's page; the page
    # module needs only ``statistics`` at run time, so no circle forms.
    ("steward.monitoring.checks.result", "steward.monitoring.report.window"),
}


def _modules() -> dict[str, tuple[Path, bool]]:
    modules = {}
    for path in SOURCE.rglob("*.py"):
        parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts.pop()
        modules[".".join(parts)] = (path, package)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST, module: str, package: bool, modules: set[str]) -> set[str]:
    """The steward modules ``tree`` imports at run time.

    ``from package import name`` is an import of ``package.name`` when that is a
    module, else of ``package``; a package's own ``__init__`` is not counted when
    one of its modules is imported (as tools such as import-linter do).
    """
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: None if package else -1]
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in modules and name != module}


def import_graph() -> dict[str, set[str]]:
    """Module -> the steward modules it imports at run time."""
    modules = _modules()
    names = set(modules)
    return {
        module: _imported(ast.parse(path.read_text(encoding="utf-8")), module, package, names)
        for module, (path, package) in modules.items()
    }


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Groups of modules that import each other in a circle (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return groups


def test_the_graph_sees_lazy_imports_and_skips_type_checking() -> None:
    graph = import_graph()
    # a lazy import inside a function counts
    assert "steward.monitoring.checks.performance" in graph["steward.monitoring.checks.estimated"]
    # an import under TYPE_CHECKING does not
    assert "steward.monitoring.checks.result" not in graph["steward.monitoring.monitors.evaluate"]


def test_cycle_detection_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [{"a", "b", "c"}]


def test_no_import_cycle_inside_steward() -> None:
    cycles = [group for group in strongly_connected(import_graph()) if group not in KNOWN_CYCLES]
    assert not cycles, "import circles: " + "; ".join(" ⇄ ".join(sorted(g)) for g in cycles)


def test_monitoring_layers_point_downwards() -> None:
    upward = []
    for module, targets in import_graph().items():
        if not module.startswith("steward.monitoring."):
            continue
        layer = MONITORING_LAYERS.index(module.split(".")[2])
        for target in targets:
            parts = target.split(".")
            if parts[:2] != ["steward", "monitoring"] or len(parts) < 3:
                continue
            if MONITORING_LAYERS.index(parts[2]) > layer and (module, target) not in UPWARD_ALLOWED:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports pointing up the monitoring layers: " + ", ".join(sorted(upward))
