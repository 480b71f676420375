"""What the webhook gateway tests share: the service on a real port, signing, the stream, the table."""

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import func, select

from contracts.streams import STRIPE
from contracts.stripe_events import StripeEventReceived
from rosca.stack.ports import free_port
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from services.webhooks.db import stripe_events
from services.webhooks.main import create_app
from services.webhooks.settings import WebhooksSettings

PLATFORM_PATH = "/webhooks/stripe/platform"
CONNECT_PATH = "/webhooks/stripe/connect"
OPERATOR_TOKEN = "operator-token-for-webhook-tests"


def new_secret() -> str:
    return f"whsec_{uuid.uuid4().hex}"


def webhooks_settings(database_url: str, nats_url: str, namespace: str, **overrides: Any) -> WebhooksSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_url,
        "namespace": namespace,
        "http_port": free_port(),
        "operator_token": OPERATOR_TOKEN,
        "sweep_interval_seconds": 0.2,
        "sweep_grace_seconds": 1.0,
        **overrides,
    }
    return WebhooksSettings.model_validate(values)


async def provision(js: JetStreamContext, namespace: str) -> None:
    await provision_streams(js, Namespace(namespace), StreamSettings(), definitions=(STRIPE,))


@asynccontextmanager
async def webhooks_serving(settings: WebhooksSettings, *, wait_ready: bool = True) -> AsyncIterator[str]:
    """The whole service on a real 127.0.0.1 port in this event loop; yields its base URL."""
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=settings.http_port, log_config=None, access_log=False, lifespan="on"
        )
    )
    serving = asyncio.create_task(server.serve())
    base_url = f"http://127.0.0.1:{settings.http_port}"
    try:
        async with asyncio.timeout(30):
            while not server.started:
                await asyncio.sleep(0.02)
        if wait_ready:
            await wait_until_ready(base_url)
        yield base_url
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=15)


async def wait_until_ready(base_url: str, timeout: float = 30.0) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client, asyncio.timeout(timeout):
        while (await client.get("/readyz")).status_code != 200:
            await asyncio.sleep(0.05)


def stripe_event(
    event_type: str = "customer.created",
    *,
    account: str | None = None,
    livemode: bool = False,
    data_object: dict[str, Any] | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """An event shaped as Stripe sends it, with a unique id."""
    event: dict[str, Any] = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created if created is not None else int(time.time()),
        "data": {"object": data_object or {"id": f"cus_{uuid.uuid4().hex[:14]}", "object": "customer"}},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account is not None:
        event["account"] = account
    return event


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def encoded(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()


async def post_event(
    client: httpx.AsyncClient, path: str, body: bytes, signature: str | None
) -> httpx.Response:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return await client.post(path, content=body, headers=headers)


@dataclass(frozen=True)
class Published:
    subject: str
    headers: dict[str, str]
    message: StripeEventReceived


async def published_events(js: JetStreamContext, namespace: str) -> list[Published]:
    """Every message in this test's STRIPE stream, in order."""
    names = Namespace(namespace)
    stream = names.stream(STRIPE.name)
    try:
        state = (await js.stream_info(stream)).state
    except NotFoundError:
        return []
    found: list[Published] = []
    for sequence in range(state.first_seq, state.last_seq + 1) if state.messages else ():
        raw = await js.get_msg(stream, sequence)
        assert raw.subject is not None
        assert raw.data is not None
        found.append(
            Published(
                names.logical_subject(raw.subject),
                dict(raw.headers or {}),
                StripeEventReceived.model_validate_json(raw.data),
            )
        )
    return found


async def published_ids(js: JetStreamContext, namespace: str) -> list[str]:
    return [published.message.event_id for published in await published_events(js, namespace)]


async def stored_count(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(stripe_events)) or 0)


async def unpublished_ids(database: Database) -> list[str]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(stripe_events.c.event_id).where(stripe_events.c.published_at.is_(None))
        )
        return list(rows)
