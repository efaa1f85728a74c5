"""The import layers (ARCHITECTURE.md): the core imports no part, parts import no console, no cycles;
no product package imports ``testkit`` (what only tests, benchmarks and the fault suite use).

Every import counts, also one inside a function: a function-local import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("aegis", "devstack", "cdc_sinks", "collectors", "connectors", "reconciler", "console", "testkit")
PRODUCT = PACKAGES[:-1]

ALLOWED: dict[str, set[str]] = {
    "aegis": set(),                     # the core: settings, models, errors, db, events, logging
    "devstack": {"aegis"},              # the native local stack (development infrastructure)
    "cdc_sinks": {"aegis"},
    "collectors": {"aegis"},
    "connectors": {"aegis"},
    "reconciler": {"aegis", "cdc_sinks"},  # it reads and repairs targets through their sinks
    "console": set(PRODUCT) - {"console"},  # the top floor of the product: CLI, main job, supervisor
    "testkit": set(PRODUCT),            # above the product: test-only support, imported by no product package
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_the_layers_below_it(package: str) -> None:
    wrong = []
    for path in _sources(package):
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in PACKAGES and top != package and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", PRODUCT)
def test_no_product_package_imports_testkit(package: str) -> None:
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {module}" for path in _sources(package)
             for line, module in _imports(path) if module.split(".")[0] == "testkit"]
    assert not wrong, "\n".join(wrong)


def test_testkit_is_installed_like_the_product_packages() -> None:
    import tomllib

    include = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["packages"]["find"]
    assert {f"{package}*" for package in PACKAGES} <= set(include["include"])


def test_no_import_cycle_between_modules() -> None:
    modules = {_module_name(p): p for package in PACKAGES for p in _sources(package)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for _, module in _imports(path):
            # ``from a.b import c`` may name the module a.b.c or a name in a.b: take the longest module
            candidates = [module] + [module.rsplit(".", n)[0] for n in range(1, module.count(".") + 1)]
            target = next((c for c in candidates if c in modules), None)
            if target and target != name and not modules[target].name == "__init__.py":
                targets.add(target)
        graph[name] = targets
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
