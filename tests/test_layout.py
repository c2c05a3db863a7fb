"""The package layout's rules (docs/architecture.md), read from the import graph with `ast`:
imports run downward only, the SFU never loads the database or a domain package, the web process
never loads the SFU, and no two modules import each other, directly or around a cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "appliance"

# Each top-level package of appliance/ and its layer: a module may import only from a lower
# layer or from its own package. Domain packages (layer 4) may use each other without a cycle.
LAYERS = {
    "core": 0,
    "db": 1,
    "storage": 2,
    "asr_onnx": 2,
    "contracts": 2,
    "runtime": 3,
    "staff": 4,
    "hiring": 4,
    "interview": 4,
    "recordings": 4,
    "evaluation": 4,
    "box": 4,
    "evidence": 4,
    "integrations": 4,
    "web": 5,
    "sfu": 5,
    "worker": 5,
    "cli": 5,
    "__main__": 6,
}
DOMAIN = 4
# Entry points that compose other entry points: `appliance serve` runs all three processes.
COMPOSES = {"cli": {"web", "sfu", "worker"}, "__main__": {"cli"}}
# What the SFU process must never load, however indirectly.
SFU_NEVER = {
    "db",
    "runtime",
    "staff",
    "hiring",
    "interview",
    "recordings",
    "evaluation",
    "evidence",
    "integrations",
    "box",
    "web",
}

Graph = dict[str, set[str]]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = ROOT) -> Graph:
    """Every module of the package and the appliance modules it imports, anywhere in its body
    (imports inside functions and under TYPE_CHECKING count)."""
    modules = {module_name(p): p for p in root.rglob("*.py")}
    graph: Graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] == "appliance":
                    for alias in node.names:
                        child = f"{node.module}.{alias.name}"
                        targets.add(child if child in modules else node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.split(".")[0] == "appliance"}
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(
                    f"{name}: relative import; the layout rules read absolute ones"
                )
        graph[name] = targets - {name}
    return graph


def package_of(module: str) -> str:
    """The top-level package under appliance/ ("core" for the root package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "core"


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: Graph, start: str) -> Iterator[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
                yield target


def violations(graph: Graph) -> list[str]:
    """Every broken rule, one line each; empty when the layout holds."""
    found = []
    for module, targets in sorted(graph.items()):
        source = package_of(module)
        if source not in LAYERS:
            found.append(f"{module}: appliance/{source} has no place in the layers")
            continue
        for target in sorted(targets):
            into = package_of(target)
            if into == source:
                continue
            if into not in LAYERS:
                found.append(f"{module} imports {target}, outside every layer")
            elif into in COMPOSES.get(source, set()):
                continue
            elif LAYERS[into] > LAYERS[source] or (
                LAYERS[into] == LAYERS[source] and LAYERS[source] != DOMAIN
            ):
                found.append(f"{module} imports {target}: {source} may not import {into}")
    for module in sorted(m for m in graph if package_of(m) == "sfu"):
        for target in sorted(reachable(graph, module)):
            if package_of(target) in SFU_NEVER:
                found.append(f"{module} loads {target}: the SFU never loads {package_of(target)}")
                break
    for module in sorted(m for m in graph if package_of(m) == "web"):
        for target in sorted(reachable(graph, module)):
            if package_of(target) == "sfu":
                found.append(f"{module} loads {target}: the web process never loads the SFU")
                break
    packages: Graph = {}
    for module, targets in graph.items():
        if LAYERS.get(package_of(module)) == DOMAIN:
            packages.setdefault(package_of(module), set()).update(
                package_of(t) for t in targets if LAYERS.get(package_of(t)) == DOMAIN
            )
    for component in cycles({p: t - {p} for p, t in packages.items()}):
        found.append(f"domain packages import each other: {' -> '.join(component)}")
    for component in cycles(graph):
        found.append(f"import cycle: {', '.join(component)}")
    return found


def test_the_appliance_follows_the_layout() -> None:
    graph = import_graph()
    assert len(graph) > 100  # the whole package was read
    assert violations(graph) == []


QUERIES = {"select", "get", "get_or_none", "get_by_id", "create", "insert", "update", "delete"}


def queries_built(path: Path) -> list[str]:
    """Calls such as `Interview.select(...)` on a model imported from appliance.db.models."""
    tree = ast.parse(path.read_text(), str(path))
    models = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "appliance.db.models"
        for alias in node.names
    }
    return [
        f"{path.name}:{node.lineno} {node.func.value.id}.{node.func.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in models
        and node.func.attr in QUERIES
    ]


def test_the_web_process_asks_the_domain_and_builds_no_queries() -> None:
    """Routes are thin: what a page shows comes from a domain function."""
    assert queries_built(ROOT / "interview" / "live_room.py")  # the check sees queries
    assert [q for p in sorted((ROOT / "web").rglob("*.py")) for q in queries_built(p)] == []


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}
    assert packages | modules == set(LAYERS)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"appliance.db.models": {"appliance.hiring.kits"}}, "db may not import hiring"),
        ({"appliance.storage.sealed": {"appliance.contracts.join_token"}}, "may not import"),
        ({"appliance.hiring.kits": {"appliance.web.pages"}}, "hiring may not import web"),
        ({"appliance.web.pages": {"appliance.sfu.room"}}, "web may not import sfu"),
        ({"appliance.worker": {"appliance.cli.serve"}}, "worker may not import cli"),
        ({"appliance.nowhere.thing": set()}, "has no place in the layers"),
        (
            {
                "appliance.sfu.room": {"appliance.storage.audit"},
                "appliance.storage.audit": {"appliance.db.models"},
            },
            "the SFU never loads db",
        ),
        (
            {
                "appliance.web.app": {"appliance.contracts.x"},
                "appliance.contracts.x": {"appliance.sfu.ice"},
            },
            "contracts may not import sfu",
        ),
        (
            {
                "appliance.hiring.a": {"appliance.staff.b"},
                "appliance.staff.b": {"appliance.hiring.c"},
            },
            "domain packages import each other",
        ),
        (
            {
                "appliance.sfu.peer": {"appliance.sfu.room"},
                "appliance.sfu.room": {"appliance.sfu.peer"},
            },
            "import cycle: appliance.sfu.peer, appliance.sfu.room",
        ),
    ],
)
def test_each_rule_catches_what_it_forbids(graph: Graph, expected: str) -> None:
    assert any(expected in line for line in violations(graph)), violations(graph)
