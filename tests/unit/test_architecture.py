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


PURE_NAMES = {"domain.py", "saga.py"}


def pure_modules(services: Path) -> list[Path]:
    """Every module that must stay pure, found by where it lives: anything under a ``domain/``
    folder, and every ``domain.py`` or ``saga.py``."""
    return sorted(
        path
        for path in services.rglob("*.py")
        if path.name in PURE_NAMES or "domain" in path.relative_to(services).parts[:-1]
    )


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute_imports(path: Path, root: Path) -> set[str]:
    """The modules the file imports, relative imports resolved against its package, and
    ``from package import module`` read as that module."""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                is_module = any(
                    (root / Path(*submodule.split("."))).with_suffix(suffix).exists()
                    for suffix in (".py", "")
                )
                modules.add(submodule if is_module else source)
    return modules


def impure_imports(root: Path) -> list[str]:
    """Imports of a pure module beyond the standard library, ``contracts`` and its own service's
    pure modules."""
    import sys

    pure = {module_name(path, root): path for path in pure_modules(root / "services")}
    found = []
    for name, path in pure.items():
        service = ".".join(name.split(".")[:2])
        for module in absolute_imports(path, root):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top == "contracts":
                continue
            if module in pure and module.startswith(f"{service}."):
                continue
            found.append(f"{path.relative_to(root)} imports {module}")
    return found


def test_pure_modules_are_found_by_where_they_live() -> None:
    found = {str(path.relative_to(ROOT)) for path in pure_modules(ROOT / "services")}
    assert "services/scheduler/domain.py" in found
    assert any(path.startswith("services/onboarding/domain") for path in found), found


def test_domain_and_saga_modules_import_only_the_standard_library_contracts_and_each_other() -> None:
    assert impure_imports(ROOT) == []


def test_an_impure_import_anywhere_under_a_domain_folder_is_caught(tmp_path: Path) -> None:
    rules = tmp_path / "services" / "lending" / "domain" / "rules"
    rules.mkdir(parents=True)
    for package in (rules, rules.parent, rules.parent.parent):
        (package / "__init__.py").write_text("")
    (rules / "limits.py").write_text("import sqlalchemy\nfrom . import terms\nfrom ..fees import fee\n")
    (rules / "terms.py").write_text("from contracts import subjects\nfrom datetime import date\n")
    (rules.parent / "fees.py").write_text("from services.lending.store import loans\n")
    (tmp_path / "services" / "lending" / "saga.py").write_text("from services.lending.domain import fees\n")
    (tmp_path / "services" / "lending" / "store.py").write_text("import sqlalchemy\n")
    assert impure_imports(tmp_path) == [
        "services/lending/domain/fees.py imports services.lending.store",
        "services/lending/domain/rules/limits.py imports sqlalchemy",
    ]


def top_level_classes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


@pytest.mark.parametrize("package", [*SERVICES, "runtime"])
def test_one_class_name_means_one_class_in_each_service(package: str) -> None:
    defined: dict[str, list[str]] = {}
    for path in python_files(ROOT / "services" / package):
        for name in top_level_classes(path):
            defined.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in defined.items() if len(paths) > 1} == {}


def test_runtime_knows_no_particular_service() -> None:
    for path in python_files(ROOT / "services" / "runtime"):
        for module in imported_modules(path):
            assert not any(module.startswith(f"services.{service}") for service in SERVICES), (
                f"{path}: {module}"
            )
