"""Runs one service process: settings from the environment, clear errors, then uvicorn."""

import sys
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from services.runtime.logs import configure_logging
from services.runtime.memory import freeze_long_lived_objects
from services.runtime.service import ServiceRuntime
from services.runtime.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)
AnySettings = TypeVar("AnySettings", bound=BaseSettings)


class ConfigurationError(Exception):
    pass


def load_settings(settings_type: type[AnySettings]) -> AnySettings:
    """Settings from the environment; a missing or malformed one names the variable and what it expects."""
    try:
        return settings_type()
    except ValidationError as invalid:
        prefix = str(settings_type.model_config.get("env_prefix", ""))
        problems = []
        for problem in invalid.errors():
            field_name = str(problem["loc"][0]) if problem["loc"] else ""
            variable = f"{prefix}{field_name}".upper()
            described = (
                settings_type.model_fields[field_name].description
                if field_name in settings_type.model_fields
                else None
            )
            expectation = f" ({described})" if described else ""
            problems.append(f"{variable}: {problem['msg']}{expectation}")
        raise ConfigurationError("configuration error: " + "; ".join(problems)) from None


def run_service(create_app: Callable[[S], FastAPI], settings_type: type[S]) -> None:
    try:
        settings = load_settings(settings_type)
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    app = create_app(settings)
    # Logging belongs to the process, not to the app: an app built inside a test leaves pytest's alone.
    runtime: ServiceRuntime = app.state.runtime
    configure_logging(runtime.definition.name, settings.log_level)
    freeze_long_lived_objects()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
