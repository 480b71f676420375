"""The collections domain stays pure: the standard library, contracts, and its own modules only."""

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[3] / "services" / "collections" / "domain"
OWN_PACKAGE = "services.collections.domain"


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_every_domain_module_imports_only_the_standard_library_contracts_and_the_domain() -> None:
    files = sorted(DOMAIN.rglob("*.py"))
    assert len(files) > 5
    for path in files:
        for module in imported_modules(path):
            allowed = (
                module.split(".")[0] in sys.stdlib_module_names
                or module.split(".")[0] == "contracts"
                or module == OWN_PACKAGE
                or module.startswith(f"{OWN_PACKAGE}.")
            )
            assert allowed, f"{path.name} imports {module}"
