"""style.md's boundaries, enforced: pure domain and saga, data-only contracts, no cross-service imports."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(
    p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists() and p.name != "runtime"
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_all_five_services_exist() -> None:
    assert SERVICES == ["collections", "onboarding", "payouts", "scheduler", "webhooks"]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_never_imports_another_service(service: str) -> None:
    others = {f"services.{other}" for other in SERVICES if other != service}
    for path in python_files(ROOT / "services" / service):
        for module in imported_modules(path):
            assert not any(module == o or module.startswith(f"{o}.") for o in others), f"{path}: {module}"


def test_contracts_import_nothing_from_services() -> None:
    for path in python_files(ROOT / "contracts"):
        assert not any(
            m.split(".")[0] in {"services", "simulators", "rosca"} for m in imported_modules(path)
        ), path


def test_domain_and_saga_modules_import_only_the_standard_library_and_contracts() -> None:
    import sys

    pure_files = [p for p in (ROOT / "services").rglob("*.py") if p.name in {"domain.py", "saga.py"}]
    for path in pure_files:
        # A pure module may use its own service's pure domain package (services/<name>/domain/).
        own_domain = f"services.{path.relative_to(ROOT / 'services').parts[0]}.domain"
        for module in imported_modules(path):
            top = module.split(".")[0]
            inside_own_domain = module == own_domain or module.startswith(f"{own_domain}.")
            assert top in sys.stdlib_module_names or top == "contracts" or inside_own_domain, (
                f"{path} imports {module}"
            )


def test_runtime_knows_no_particular_service() -> None:
    for path in python_files(ROOT / "services" / "runtime"):
        for module in imported_modules(path):
            assert not any(module.startswith(f"services.{service}") for service in SERVICES), (
                f"{path}: {module}"
            )
