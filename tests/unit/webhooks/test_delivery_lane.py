"""The delivery lane hands Stripe's POSTs to the endpoint's handler and everything else to FastAPI.

No Postgres or NATS here: the gateway's ingest is replaced, which is all a delivery reaches.
"""

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from services.webhooks import api
from services.webhooks.ingest import Outcome
from services.webhooks.main import create_app
from services.webhooks.settings import WebhooksSettings
from tests.integration.webhooks.support import CONNECT_PATH, PLATFORM_PATH, encoded, sign, stripe_event

SECRET = "whsec_delivery_lane_0123456789"


class RecordingIngest:
    def __init__(self, failure: Exception | None = None) -> None:
        self.ingested: list[tuple[str, str]] = []
        self._failure = failure

    async def ingest(self, event: Any, _message: Any, source: str) -> Outcome:
        if self._failure is not None:
            raise self._failure
        self.ingested.append((event.event_id, source))
        return Outcome.accepted


def gateway_app(ingest: RecordingIngest) -> Any:
    settings = WebhooksSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        platform_signing_secrets=[SecretStr(SECRET)],
        connect_signing_secrets=[SecretStr(SECRET)],
    )
    app = create_app(settings)
    app.state.webhooks = replace(app.state.webhooks, ingest=ingest)
    return app


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[httpx.AsyncClient, RecordingIngest]]:
    ingest = RecordingIngest()
    transport = httpx.ASGITransport(app=gateway_app(ingest))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client, ingest


async def post(client: httpx.AsyncClient, path: str, event: dict[str, Any]) -> httpx.Response:
    body = encoded(event)
    return await client.post(path, content=body, headers={"Stripe-Signature": sign(body, SECRET)})


async def test_a_delivery_to_either_endpoint_is_ingested_from_its_own_source(
    recorded: tuple[httpx.AsyncClient, RecordingIngest],
) -> None:
    client, ingest = recorded
    platform_event, connect_event = stripe_event(), stripe_event(account="acct_lane")

    platform = await post(client, PLATFORM_PATH, platform_event)
    connect = await post(client, CONNECT_PATH, connect_event)

    assert (platform.status_code, connect.status_code) == (200, 200)
    assert platform.json() == {"received": platform_event["id"], "outcome": "accepted"}
    assert ingest.ingested == [(platform_event["id"], "platform"), (connect_event["id"], "connect")]


async def test_a_rejected_delivery_is_answered_by_the_handler_and_ingests_nothing(
    recorded: tuple[httpx.AsyncClient, RecordingIngest],
) -> None:
    client, ingest = recorded
    body = encoded(stripe_event())

    answer = await client.post(
        PLATFORM_PATH, content=body, headers={"Stripe-Signature": sign(body, "whsec_x")}
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "signature_mismatch"
    assert ingest.ingested == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", PLATFORM_PATH, 405),  # other methods on the delivery paths: the router's answer
        ("PUT", CONNECT_PATH, 405),
        ("POST", "/webhooks/stripe/elsewhere", 404),
        ("GET", "/webhooks/openapi.json", 200),
    ],
)
async def test_everything_but_a_delivery_goes_the_usual_way(
    recorded: tuple[httpx.AsyncClient, RecordingIngest], method: str, path: str, status: int
) -> None:
    client, ingest = recorded
    assert (await client.request(method, path)).status_code == status
    assert ingest.ingested == []


async def test_the_delivery_routes_stay_in_the_published_document(
    recorded: tuple[httpx.AsyncClient, RecordingIngest],
) -> None:
    client, _ = recorded
    paths = (await client.get("/webhooks/openapi.json")).json()["paths"]
    assert {"/webhooks" + api.PLATFORM_PATH, "/webhooks" + api.CONNECT_PATH} <= set(paths)


async def test_an_unexpected_failure_is_the_services_usual_500() -> None:
    transport = httpx.ASGITransport(
        app=gateway_app(RecordingIngest(RuntimeError("bug"))), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        answer = await post(client, PLATFORM_PATH, stripe_event())
    assert answer.status_code == 500
    assert answer.json() == {"error": {"type": "internal_error", "message": "internal error"}}
