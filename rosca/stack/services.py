"""The processes ``rosca up`` runs behind the gateway, and the environment each one gets."""

import sys
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    """One routed process: ``python -m <module>`` serving under ``/<name>/`` on its own port."""

    name: str
    module: str

    @property
    def env_prefix(self) -> str:
        return f"ROSCA_{self.name.upper().replace('-', '_')}_"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", self.module]


SERVICES: tuple[ServiceSpec, ...] = tuple(
    ServiceSpec(name, f"services.{name}")
    for name in ("onboarding", "collections", "payouts", "webhooks", "scheduler")
)


def service_environment(
    spec: ServiceSpec,
    *,
    database_url: str,
    nats_url: str,
    namespace: str,
    clock: str,
    host: str,
    port: int,
    log_level: str,
    own: Mapping[str, str],
) -> dict[str, str]:
    """The service's ``ROSCA_<SERVICE>_*`` variables: the settings all share, then its ``own``."""
    settings = {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "NAMESPACE": namespace,
        "CLOCK": clock,
        "HTTP_HOST": host,
        "HTTP_PORT": str(port),
        "LOG_LEVEL": log_level,
        "MIGRATE_ON_START": "true",
        **own,
    }
    return {f"{spec.env_prefix}{key}": value for key, value in settings.items()}
