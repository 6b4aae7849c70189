"""The import graph of ``mcvision``: no import circle, every module loads alone, imports go one way.

The graph is built from the source with :mod:`ast`: every ``import x`` and
``from x import y`` (also those inside functions, which run later but still tie
the modules together), relative ones resolved, ``from pkg import module`` taken
as an edge to the module. Imports under ``if TYPE_CHECKING:`` never run and are
left out.

The one-way rule (CONTRIBUTING.md): vision, tracking, identity, analytics and
capture, and the core (config, types, business_day), never import Ray or the
shells (actors, serve, runner, the fronts, privacy).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "mcvision"


def _modules() -> dict[str, tuple[Path, bool]]:
    """``module name → (file, is_package)`` for every module under ``src/mcvision``."""
    out: dict[str, tuple[Path, bool]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, skipping the bodies of ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _imported_names(name: str, path: Path, is_pkg: bool, known: set[str]) -> set[str]:
    """Every module ``name`` imports (absolute names; ``from pkg import module`` → the module)."""
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            out.add(sub if sub in known else module)
    return out


def _targets(name: str, path: Path, is_pkg: bool, known: set[str]) -> set[str]:
    """The ``mcvision`` modules that module ``name`` imports."""
    return {t for t in _imported_names(name, path, is_pkg, known) if t in known and t != name}


def import_graph() -> dict[str, set[str]]:
    """``module → the mcvision modules it imports``."""
    mods = _modules()
    known = set(mods)
    return {name: _targets(name, path, is_pkg, known) for name, (path, is_pkg) in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]`` (``a`` imports ``b``), or ``None``."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as err:
        # graphlib lists a cycle dependency-first: each node is imported by the next
        return list(reversed(err.args[1]))
    return None


def test_find_cycle_names_the_circle() -> None:
    graph = {"m.a": {"m.b"}, "m.b": {"m.c"}, "m.c": {"m.a"}, "m.d": {"m.a"}}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) == 4
    assert all(cycle[i + 1] in graph[cycle[i]] for i in range(3))
    assert find_cycle({"m.a": {"m.b"}, "m.b": set()}) is None


def test_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "mcvision.identity.site" in graph
    assert "mcvision.identity.manager" in graph["mcvision.identity.site"]
    assert "mcvision.business_day" in graph["mcvision.analytics.queries"]


def test_graph_resolves_relative_and_lazy_imports(tmp_path: Path) -> None:
    code = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from . import b\n"
        "from .sub import c\n"
        "if TYPE_CHECKING:\n"
        "    from mcvision.x import d\n"
        "def f():\n"
        "    import mcvision.e\n"
    )
    path = tmp_path / "a.py"
    path.write_text(code)
    known = {"mcvision.b", "mcvision.sub", "mcvision.sub.c", "mcvision.x.d", "mcvision.e"}
    assert _targets("mcvision.a", path, False, known) == {
        "mcvision.b",
        "mcvision.sub.c",
        "mcvision.e",
    }


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.slow
def test_every_module_imports_alone_in_dependency_order() -> None:
    """A fresh interpreter imports each module in dependency order (leaves first)."""
    order = list(TopologicalSorter(import_graph()).static_order())
    script = (
        "import importlib, sys\n"
        f"for name in {order!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        sys.exit(f'{name}: {type(exc).__name__}: {exc}')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


# ---- the one-way rule ---------------------------------------------------------------
#: Plain-Python layers: they run without Ray and know nothing of the shells around them.
PLAIN = ("vision", "tracking", "identity", "analytics", "capture")
#: The core every layer shares; it imports only itself.
CORE = ("mcvision.config", "mcvision.types", "mcvision.business_day", "mcvision._env")
#: Shells and entry points: Ray actors, Serve, the runner and the user-facing fronts.
SHELLS = ("actors", "serve", "runner", "cli", "mcp", "dashboard", "demo", "privacy")


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def _all_imports() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {n: _imported_names(n, p, pkg, known) for n, (p, pkg) in mods.items()}


def layer_violations() -> list[str]:
    """``importer -> imported`` for every import that breaks the one-way rule."""
    bad: list[str] = []
    for name, imported in sorted(_all_imports().items()):
        plain = _layer(name) in PLAIN or name in CORE
        for target in sorted(imported):
            top = target.split(".")[0]
            if plain and (top == "ray" or (top == "mcvision" and _layer(target) in SHELLS)):
                bad.append(f"{name} -> {target}")
            elif name in CORE and top == "mcvision" and target not in (*CORE, "mcvision"):
                bad.append(f"{name} -> {target} (the core imports only itself)")
    return bad


def test_plain_layers_never_import_ray_or_the_shells() -> None:
    """vision/tracking/identity/analytics/capture and the core: no Ray, no actors/serve/privacy."""
    bad = layer_violations()
    assert bad == [], "imports against the one-way rule:\n" + "\n".join(bad)


def test_layer_rule_catches_a_ray_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "mcvision"
    (pkg / "identity").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "identity" / "__init__.py").write_text("")
    (pkg / "identity" / "x.py").write_text(
        "def f():\n    import ray\n    from mcvision import privacy\n"
    )
    (pkg / "privacy.py").write_text("from mcvision.identity import x\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    assert layer_violations() == [
        "mcvision.identity.x -> mcvision.privacy",
        "mcvision.identity.x -> ray",
    ]
