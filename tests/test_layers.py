"""The layers of the package import one way: each folder only from the folders below it."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skaevae"

# What each folder may import from the rest of skaevae (see docs/development.rst).
ALLOWED = {
    "nn": set(),
    "utils": set(),
    "train": {"nn", "utils"},
    "models": {"nn", "train", "utils"},
    "outlier": {"models", "utils"},
    "impute": {"models", "utils"},
    "oversample": {"models", "utils"},
    "plotting": {"models", "utils"},
}


def skaevae_imports(path):
    """The top-level skaevae folders that the module at ``path`` imports from."""
    folder = path.relative_to(PACKAGE).parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                # A relative import: resolve it against the module's own folder.
                base = list(folder[:-1])[: len(folder) - node.level]
                parts = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "skaevae":
                parts = node.module.split(".")[1:]
            else:
                continue
            if parts:
                found.add(parts[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "skaevae":
                    found.add(alias.name.split(".")[1] if "." in alias.name else "")
    return found - {folder[0], ""}


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_each_folder_imports_only_the_layers_below_it(folder):
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        imported = skaevae_imports(path)
        assert imported <= ALLOWED[folder], (str(path.relative_to(PACKAGE)), imported)


def test_the_torch_core_imports_neither_skorch_nor_scikit_learn():
    for path in sorted((PACKAGE / "nn").rglob("*.py")):
        modules = {
            (node.module or "").split(".")[0]
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and not node.level
        } | {
            alias.name.split(".")[0]
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert not modules & {"skorch", "sklearn", "pandas"}, (path.name, modules)
