import gc
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pythonjsonlogger.json import JsonFormatter

from contracts.messages import Message
from services.collections.main import create_app as create_collections_app
from services.collections.settings import CollectionsSettings
from services.runtime import entrypoint
from services.runtime.clock import FixedClock, parse_duration
from services.runtime.consumer import ConsumerPolicy, Handling, MessageRouter
from services.runtime.entrypoint import ConfigurationError, load_settings
from services.runtime.naming import Namespace
from services.runtime.service import ServiceDefinition, create_service_app


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2d", timedelta(days=2)),
        ("36h", timedelta(hours=36)),
        ("1w2d", timedelta(days=9)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        ("1.5d", timedelta(hours=36)),
        (" 1d 12h ", timedelta(hours=36)),
    ],
)
def test_parse_duration_reads_compound_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "d", "2 days", "2d-1h", "-2d", "2x"])
def test_parse_duration_rejects_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_fixed_clock_moves_only_when_told() -> None:
    start = datetime(2027, 1, 4, 9, tzinfo=UTC)
    clock = FixedClock(start)
    assert clock.now() == start
    clock.advance(timedelta(days=2))
    assert clock.now() == start + timedelta(days=2)
    with pytest.raises(ValueError, match="aware"):
        FixedClock(datetime(2027, 1, 4))


def test_namespace_prefixes_everything_or_nothing() -> None:
    plain, scoped = Namespace(), Namespace("t1")
    assert plain.subject("collections.evt.cycle_funded") == "collections.evt.cycle_funded"
    assert scoped.subject("collections.evt.cycle_funded") == "t1.collections.evt.cycle_funded"
    assert scoped.logical_subject("t1.collections.evt.cycle_funded") == "collections.evt.cycle_funded"
    assert (scoped.stream("STRIPE"), scoped.durable("payouts-x"), scoped.bucket("b")) == (
        "T1_STRIPE",
        "t1_payouts-x",
        "t1_b",
    )


def test_backoff_grows_with_failures_then_repeats_its_last_step() -> None:
    policy = ConsumerPolicy(max_deliver=6, backoff_seconds=(1.0, 5.0, 30.0), ack_wait_seconds=30)
    assert [policy.delay_after(failures) for failures in range(1, 6)] == [1.0, 5.0, 30.0, 30.0, 30.0]


def test_router_takes_the_message_model_from_the_handler_signature() -> None:
    class Pinged(Message):
        pass

    router = MessageRouter(service="probe")

    @router.subscriber("collections.evt.pinged", stream="COLLECTIONS", durable="probe-pinged")
    async def on_pinged(message: Pinged, handling: Handling[None]) -> None:
        return None

    assert router.subscriptions[0].model is Pinged
    with pytest.raises(TypeError, match="Message model"):

        @router.subscriber("collections.evt.other", stream="COLLECTIONS", durable="probe-other")
        async def untyped(message: dict[str, str], handling: Handling[None]) -> None:
            return None


@dataclass(frozen=True)
class ProbeDependencies:
    greeting: str


class Greeted(Message):
    pass


greeted_router = MessageRouter(service="probe")


@greeted_router.subscriber("collections.evt.greeted", stream="COLLECTIONS", durable="probe-greeted")
async def on_greeted(message: Greeted, handling: Handling[ProbeDependencies]) -> None:
    return None


def test_a_service_composed_without_the_dependencies_its_handlers_declare_refuses_to_start() -> None:
    definition = ServiceDefinition(
        name="probe",
        title="probe",
        description="",
        migrations_dir=Path(__file__).parent,
        messages=greeted_router,
    )
    settings = CollectionsSettings(database_url="postgresql://rosca@127.0.0.1/none")
    with pytest.raises(
        TypeError, match="on_greeted needs dependencies of type ProbeDependencies, got NoneType"
    ):
        create_service_app(definition, settings)
    with pytest.raises(TypeError, match="got str"):
        create_service_app(replace(definition, dependencies="hello"), settings)
    create_service_app(replace(definition, dependencies=ProbeDependencies("hello")), settings)
    assert greeted_router.subscriptions[0].dependencies_type is ProbeDependencies


def test_missing_and_malformed_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROSCA_COLLECTIONS_DATABASE_URL", raising=False)
    monkeypatch.setenv("ROSCA_COLLECTIONS_HTTP_PORT", "eighty")
    monkeypatch.setenv("ROSCA_COLLECTIONS_CLOCK", "sundial")
    with pytest.raises(ConfigurationError) as raised:
        load_settings(CollectionsSettings)
    text = str(raised.value)
    assert "ROSCA_COLLECTIONS_DATABASE_URL: Field required" in text
    assert "ROSCA_COLLECTIONS_HTTP_PORT: Input should be a valid integer" in text
    assert "ROSCA_COLLECTIONS_CLOCK: Input should be 'system' or 'simulated'" in text


def test_database_url_must_be_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROSCA_COLLECTIONS_DATABASE_URL", "mysql://root@localhost/x")
    with pytest.raises(ConfigurationError, match="ROSCA_COLLECTIONS_DATABASE_URL: Value error, expects"):
        load_settings(CollectionsSettings)
    monkeypatch.setenv("ROSCA_COLLECTIONS_DATABASE_URL", "postgresql://u@127.0.0.1/rosca_collections")
    assert load_settings(CollectionsSettings).database_url.startswith("postgresql+psycopg://")


def test_a_service_process_configures_its_logs_and_freezes_before_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Unfrozen, every full collection walks the app and its imports: tens of ms of pause under load.
    monkeypatch.setenv("ROSCA_COLLECTIONS_DATABASE_URL", "postgresql://u@127.0.0.1/rosca_collections")
    monkeypatch.setenv("ROSCA_COLLECTIONS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("ROSCA_COLLECTIONS_STRIPE_API_KEY", "sk_test_never_called")
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", root.handlers[:])  # given back to pytest afterwards
    monkeypatch.setattr(root, "level", root.level)
    when_serving: list[tuple[int, list[logging.Handler], int]] = []

    def serve(app: Any, **_options: Any) -> None:
        when_serving.append((gc.get_freeze_count(), root.handlers[:], root.level))

    monkeypatch.setattr("services.runtime.entrypoint.uvicorn.run", serve)
    handlers_before = root.handlers[:]
    create_collections_app(
        CollectionsSettings(database_url="postgresql://u@127.0.0.1/x", stripe_api_key=SecretStr("sk_test_x"))
    )
    assert root.handlers == handlers_before  # building an app leaves the process's logging alone
    gc.unfreeze()
    try:
        entrypoint.run_service(create_collections_app, CollectionsSettings)
    finally:
        gc.unfreeze()
    assert len(when_serving) == 1
    frozen, handlers, level = when_serving[0]
    assert frozen > 10_000
    assert level == logging.WARNING
    assert len(handlers) == 1
    assert isinstance(handlers[0].formatter, JsonFormatter)
