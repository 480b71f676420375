"""Schemathesis against the published OpenAPI document: whatever it sends, no 5xx, answers as documented.

Bounded to a few examples per operation, so the whole run takes seconds. The service runs in its
own thread (a synchronous test calls it) with its own simulator, as a registered member.
"""

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.onboarding.main import create_app as create_onboarding_app
from services.onboarding.settings import OnboardingSettings, TokenSettings
from services.runtime.member_tokens import mint_token
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from tests.infrastructure import NatsServer, fresh_database
from tests.integration.onboarding.support import (
    AUDIENCE,
    group_terms,
    new_jwt_secret,
    onboarding_settings,
    serving,
)
from tests.integration.stripe_sim.stripe_sim_harness import start_simulator

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 12


@dataclass(frozen=True)
class Fuzzed:
    base_url: str
    headers: dict[str, str]


def published_openapi() -> dict[str, Any]:
    """The service's OpenAPI document; it does not depend on settings, so any will do to build it."""
    app = create_onboarding_app(
        OnboardingSettings(
            database_url="postgresql://nobody@127.0.0.1:1/none", stripe_api_key=SecretStr("sk_x")
        )
    )
    return app.openapi()


schema = schemathesis.openapi.from_dict(published_openapi())


@pytest.fixture(scope="module")
def fuzzed(nats_server: NatsServer, postgres_admin_url: str) -> Iterator[Fuzzed]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _provision(nats_server.url, namespace)).result()
    sim = start_simulator()
    secret = new_jwt_secret()
    try:
        with fresh_database(postgres_admin_url) as database_url:
            settings_ = onboarding_settings(database_url, nats_server.url, namespace, sim, secret)
            with serving(create_onboarding_app(settings_), settings_.http_port) as service:
                token = mint_token(
                    TokenSettings(jwt_hs256_secret=SecretStr(secret), jwt_audience=AUDIENCE),
                    f"fuzzer-{uuid.uuid4().hex[:8]}",
                    lifetime=timedelta(hours=1),
                    issued_at=datetime.now(UTC),
                )
                headers = {"Authorization": f"Bearer {token}"}
                with httpx.Client(base_url=service.base_url, headers=headers) as client:
                    registered = client.post(
                        "/onboarding/members", json={"email": "fuzz@example.com", "display_name": "Fuzz"}
                    )
                    assert registered.status_code == 201, registered.text
                    assert client.post("/onboarding/groups", json=group_terms()).status_code == 201
                yield Fuzzed(service.base_url, headers)
    finally:
        sim.stop()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_makes_the_api_fail(case: Case[Any], fuzzed: Fuzzed) -> None:
    case.call_and_validate(
        base_url=fuzzed.base_url,
        headers=fuzzed.headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


async def _provision(nats_url: str, namespace: str) -> None:
    client = await nats.connect(nats_url)
    try:
        await provision_streams(client.jetstream(), Namespace(namespace), StreamSettings())
    finally:
        await client.close()
