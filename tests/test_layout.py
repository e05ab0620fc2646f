"""The package's layers: data flows one way, and no module imports its own importers.

Every import counts, including those inside functions (made there only to keep start-up
fast), since a circle through a lazy import is still a circle for the reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "pianogan"

# Lowest first; a module may import from its own layer and the layers before it.
LAYERS = [
    ("constants", "errors", "roll", "interrupt", "workers"),
    ("music",),
    ("io",),
    ("data",),
    ("models",),
    ("training", "evaluation"),
    ("compose",),
    ("api", "serve"),
    ("cli", "commands", "__main__", "__init__"),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("pianogan")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pianogan"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return {name for name in found if name != "pianogan"}


def graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imports_of(path, modules) - {module_name(path)} for path in paths}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_top_level_name_has_a_layer():
    names = {path.stem if path.is_file() else path.name for path in PACKAGE.iterdir() if path.suffix == ".py" or (path / "__init__.py").is_file()}
    assert names - RANK.keys() == set(), "add the new module or package to LAYERS (and to the README's layout)"


def test_imports_go_only_to_the_same_or_lower_layers():
    edges = graph()
    assert {"pianogan.models.sampling", "pianogan.io.png"} <= edges["pianogan.compose.generate"]  # lazy imports included
    upward = [f"{module} -> {target}" for module, targets in edges.items() for target in targets if RANK[layer(target)] > RANK[layer(module)]]
    assert upward == []


def test_no_module_imports_its_own_importers():
    edges = graph()
    circles = []

    def visit(module: str, trail: list[str]) -> None:
        for target in sorted(edges.get(module, ())):
            if target in trail:
                circles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in checked:
                visit(target, [*trail, target])
        checked.add(module)

    checked: set[str] = set()
    for module in sorted(edges):
        if module not in checked:
            visit(module, [module])
    assert circles == []


@pytest.mark.parametrize("package", ["io", "music", "data", "models", "training", "evaluation", "compose"])
def test_layer_packages_import_nothing_when_imported(package):
    """Empty ``__init__`` files (a docstring only), so ``pianogan --help`` loads no layer it does not need."""
    tree = ast.parse((PACKAGE / package / "__init__.py").read_text(encoding="utf-8"))
    assert [type(node).__name__ for node in tree.body] == ["Expr"]
