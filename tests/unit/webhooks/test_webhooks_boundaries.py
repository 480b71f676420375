"""Verification and normalization stay pure: standard library and contracts only."""

import ast
import sys
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[3] / "services" / "webhooks"


@pytest.mark.parametrize("module", ["verification.py", "normalize.py"])
def test_pure_modules_import_only_the_standard_library_and_contracts(module: str) -> None:
    tree = ast.parse((SERVICE / module).read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top == "contracts", f"{module} imports {name}"
