"""The package's shape: no import cycles between its modules, no module reading another's private
names, and `aux_core.config` a leaf (it imports no registry), read from the source with `ast`.

Imports under `if TYPE_CHECKING:` are annotations, not imports at run time, and are not counted;
imports inside functions are (a lazy import still ties two modules together)."""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aux_core"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def runtime_nodes(tree: ast.AST, module_level: bool = False):
    """Every node except those under `if TYPE_CHECKING:` (and, with `module_level`, inside functions)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        if module_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports(module: str, modules: dict[str, Path], module_level: bool = False) -> tuple[set[str], list[str]]:
    """(aux_core modules `module` imports, private names it reads from them)."""
    path = modules[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    targets, private, aliases = set(), [], {}
    nodes = list(runtime_nodes(ast.parse(path.read_text()), module_level))
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = (".".join(package[:len(package) - node.level + 1] + [node.module or ""]).rstrip(".")
                    if node.level else node.module)
            if not base or not base.startswith("aux_core"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    targets.add(sub)
                    aliases[alias.asname or alias.name] = sub
                else:
                    targets.add(base)
                    if alias.name.startswith("_"):
                        private.append(f"{module} imports {base}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("aux_core"):
                    targets.add(alias.name)
                    aliases[alias.asname or alias.name] = alias.name
    for node in nodes:
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            private.append(f"{module} reads {aliases[node.value.id]}.{node.attr}")
    return targets & set(modules), private


def import_graph(modules: dict[str, Path] = MODULES, module_level: bool = False) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module in modules:
        graph.add_edges_from((module, t) for t in imports(module, modules, module_level)[0] if t != module)
    return graph


def cycles(graph: nx.DiGraph) -> list[set[str]]:
    return [c for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_no_import_cycles():
    assert not cycles(import_graph()), f"import cycles: {[sorted(c) for c in cycles(import_graph())]}"


def test_no_module_reads_another_modules_private_names():
    private = [line for module in MODULES for line in imports(module, MODULES)[1]]
    assert not private, "\n".join(private)


@pytest.mark.parametrize("leaf", ["aux_core.config", "aux_core.records", "aux_core.checks", "aux_core.devices"])
def test_leaves_import_no_registry_at_import_time(leaf):
    """A config, a store key or a device choice can be imported without the model and method registries
    (`RunConfig.validate` imports `aux_core.config_checks` when a config is first built)."""
    registries = ("aux_core.models", "aux_core.methods", "aux_core.analysis", "aux_core.data")
    reached = nx.descendants(import_graph(module_level=True), leaf)
    hit = sorted(m for m in reached if any(m == r or m.startswith(r + ".") for r in registries))
    assert not hit, f"{leaf} imports {hit} at import time"


def test_the_checks_can_fail(tmp_path):
    """Two modules importing each other (one lazily), a private name read, and an annotation-only
    import that is rightly not counted."""
    pkg = tmp_path / "aux_core"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n\n\ndef f():\n    return b._hidden\n")
    (pkg / "b.py").write_text("_hidden = 1\n\n\ndef g():\n    from .a import f\n    return f\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n")
    modules = {".".join(p.relative_to(tmp_path).with_suffix("").parts).removesuffix(".__init__"): p
               for p in pkg.rglob("*.py")}
    graph = import_graph(modules)
    assert {"aux_core.a", "aux_core.b"} in cycles(graph)
    assert not graph.has_edge("aux_core.c", "aux_core.a")
    assert not import_graph(modules, module_level=True).has_edge("aux_core.b", "aux_core.a")
    assert imports("aux_core.a", modules)[1] == ["aux_core.a reads aux_core.b._hidden"]
