"""The README's configuration reference and commands match the code."""

import importlib
import inspect
import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from rosca.stack import stripe as stack_stripe
from services.runtime.member_tokens import MemberTokenSettings
from services.runtime.settings import ServiceSettings
from services.runtime.streams import StreamSettings
from services.runtime.stripe_client import StripeSettings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SERVICES = sorted(
    path.parent.name for path in (ROOT / "services").glob("*/settings.py") if path.parent.name != "runtime"
)


def settings_class(service: str) -> type[ServiceSettings]:
    """The one ServiceSettings subclass a service's settings.py defines, whatever its name."""
    module = importlib.import_module(f"services.{service}.settings")
    found = [
        member
        for _, member in inspect.getmembers(module, inspect.isclass)
        if issubclass(member, ServiceSettings)
        and member is not ServiceSettings
        and member.__module__ == module.__name__
    ]
    assert len(found) == 1, f"services/{service}/settings.py defines {found}"
    return found[0]


# Settings a service takes from the runtime as a whole: documented once, as ROSCA_<SERVICE>_<FIELD>.
SHARED_SETTINGS = (ServiceSettings, MemberTokenSettings, StripeSettings)


def variables(service: str, *, shared: bool) -> set[str]:
    """``ROSCA_<SERVICE>_<FIELD>`` of the service's fields; with ``shared=False``, only its own."""
    settings = settings_class(service)
    prefix = settings.model_config.get("env_prefix", "")
    assert prefix == f"ROSCA_{service.upper()}_", settings
    return {
        f"{prefix}{field.upper()}"
        for field in settings.model_fields
        if shared or not any(field in group.model_fields for group in SHARED_SETTINGS)
    }


def own_variables(service: str) -> set[str]:
    return variables(service, shared=False)


def test_every_service_is_covered() -> None:
    assert SERVICES == ["collections", "onboarding", "payouts", "scheduler", "webhooks"]


@pytest.mark.parametrize("settings", SHARED_SETTINGS, ids=lambda settings: settings.__name__)
def test_every_service_setting_is_documented(settings: type[BaseSettings]) -> None:
    for field in settings.model_fields:
        assert f"`ROSCA_<SERVICE>_{field.upper()}`" in README, field


@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_of_each_service_is_documented(service: str) -> None:
    undocumented = {variable for variable in own_variables(service) if f"`{variable}`" not in README}
    assert undocumented == set(), f"README.md does not document {sorted(undocumented)}"


def test_every_stream_setting_is_documented() -> None:
    for field in StreamSettings.model_fields:
        assert f"`ROSCA_STREAMS_{field.upper()}`" in README, field


def test_no_undocumented_variable_is_mentioned() -> None:
    known = {f"ROSCA_<SERVICE>_{field.upper()}" for group in SHARED_SETTINGS for field in group.model_fields}
    known |= {f"ROSCA_STREAMS_{field.upper()}" for field in StreamSettings.model_fields}
    known |= {variable for service in SERVICES for variable in variables(service, shared=True)}
    service_names = "|".join(name.upper() for name in SERVICES)
    mentioned = set(re.findall(rf"`(ROSCA_(?:<SERVICE>|STREAMS|{service_names})_[A-Z0-9_]+)`", README))
    assert mentioned <= known, mentioned - known


def test_the_stripe_variables_of_rosca_up_are_documented() -> None:
    for variable in (
        stack_stripe.STRIPE_API_KEY,
        stack_stripe.STRIPE_API_BASE_URL,
        stack_stripe.STRIPE_WEBHOOK_PLATFORM_SECRET,
        stack_stripe.STRIPE_WEBHOOK_CONNECT_SECRET,
    ):
        assert f"`{variable}`" in README, variable


def test_the_service_and_simulator_readmes_are_linked() -> None:
    for readme in (
        "services/webhooks/README.md",
        "services/onboarding/README.md",
        "services/collections/README.md",
        "simulators/stripe_sim/README.md",
    ):
        assert f"]({readme})" in README, readme


def test_the_two_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("up", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target


def markdown_files() -> list[Path]:
    skipped = {".venv", ".tools", ".rosca", ".git", "node_modules"}
    return [path for path in ROOT.rglob("*.md") if not skipped.intersection(path.relative_to(ROOT).parts)]


def test_every_relative_link_of_the_documentation_stays_inside_the_repository() -> None:
    """A clone has nothing beside it: a link to ../shared or a missing file is a broken promise."""
    broken = []
    for document in markdown_files():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text()):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            resolved = (document.parent / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_architecture_document_is_linked_from_the_readme() -> None:
    assert "](docs/architecture.md)" in README
    assert (ROOT / "docs" / "architecture.md").is_file()
