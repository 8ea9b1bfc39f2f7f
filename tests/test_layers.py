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


def skaevae_imports(path, package=PACKAGE):
    """The top-level folders (or root modules) of ``package`` that the module at ``path``
    imports from."""
    folder = path.relative_to(package).parts
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
            else:
                # ``from .. import X``: X is a folder or a module of the package root.
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "skaevae":
                    found.add(alias.name.split(".")[1] if "." in alias.name else "")
    return found - {folder[0], ""}


# The modules of the package root: the public names and the command line.
ROOT_MODULES = {
    "__init__.py": {"models", "outlier", "impute", "oversample"},
    "__main__.py": {"_compare", "plotting"},
    "_compare.py": {"models"},
}


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_each_folder_imports_only_the_layers_below_it(folder):
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        imported = skaevae_imports(path)
        assert imported <= ALLOWED[folder], (str(path.relative_to(PACKAGE)), imported)


@pytest.mark.parametrize("name", sorted(ROOT_MODULES))
def test_the_package_root_imports_what_it_exposes(name):
    imported = skaevae_imports(PACKAGE / name) - {"__version__"}
    assert imported <= ROOT_MODULES[name], (name, imported)


def test_a_relative_import_of_the_package_root_is_seen(tmp_path):
    # "from .. import X" names X itself: an application importing the package
    # root's public names is caught, not skipped.
    probe = tmp_path / "skaevae" / "outlier" / "_probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from .. import OutlierDetector\nfrom ..models import _vae\n")
    assert skaevae_imports(probe, tmp_path / "skaevae") == {"OutlierDetector", "models"}


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
