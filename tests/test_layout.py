"""The library's folders follow the data flow: the README's map lists every module, and no
layer imports a layer below it in the flow."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "mmrec_lib"
LAYERS = ["data", "features", "metrics", "models", "experiments", "analysis", "report"]
SHARED = {"device", "hashing", "paths", "progress"}


def _readme_map() -> str:
    text = (ROOT / "README.md").read_text()
    return re.search(r"```text\nmmrec_lib/\n(.*?)```", text, re.S).group(1)


def test_readme_map_names_every_module_and_folder():
    listed = _readme_map()
    for path in LIBRARY.rglob("*.py"):
        if path.name == "__init__.py":
            continue
        assert re.search(rf"(^|\s){re.escape(path.name)}(\s|$)", listed), f"{path} not in map"
    for folder in [p for p in LIBRARY.rglob("*") if p.is_dir() and p.name != "__pycache__"]:
        assert f"{folder.name}/" in listed, f"folder {folder} missing from the README map"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mmrec_lib"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("mmrec_lib"))
    return names


@pytest.mark.parametrize("layer", LAYERS)
def test_no_layer_imports_a_later_layer(layer):
    later = LAYERS[LAYERS.index(layer) + 1 :]
    for path in (LIBRARY / layer).rglob("*.py"):
        for name in _imports(path):
            parts = name.split(".")
            if len(parts) > 1 and parts[1] in later:
                pytest.fail(f"{path.relative_to(ROOT)} ({layer}) imports {name}")


def test_shared_helpers_import_no_layer():
    for name in SHARED:
        for module in _imports(LIBRARY / f"{name}.py"):
            assert module.split(".")[1] in SHARED, f"{name}.py imports {module}"
