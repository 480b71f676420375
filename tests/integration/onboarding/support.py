"""What the onboarding tests share: the service on a real port, tokens, members, streams, settling.

The service runs in a thread with its own event loop (as the Stripe simulator does), so async
tests and the synchronous schemathesis run can both call it, and nothing they block holds it up.
"""

import asyncio
import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import SecretStr
from sqlalchemy import func, select

from contracts.messages import Message
from contracts.streams import NOTIFY, ONBOARDING
from contracts.stripe_events import StripeEventReceived
from rosca.stack.ports import free_port
from services.onboarding.settings import OnboardingSettings, TokenSettings
from services.runtime.db import Database
from services.runtime.member_tokens import mint_token
from services.runtime.naming import Namespace
from services.runtime.outbox import message_headers
from services.runtime.service import ServiceRuntime
from services.runtime.tables import outbox
from tests.integration.stripe_sim.stripe_sim_harness import API_KEY, RunningSimulator

AUDIENCE = "rosca"
STRIPE_DURABLES = (
    "onboarding-setup-intent-succeeded",
    "onboarding-setup-intent-failed",
    "onboarding-mandate-updated",
    "onboarding-account-updated",
    "onboarding-capability-updated",
)
MANDATE_DATA_IP = "203.0.113.7"


def onboarding_settings(
    database_url: str, nats_url: str, namespace: str, sim: RunningSimulator, jwt_secret: str, **overrides: Any
) -> OnboardingSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_url,
        "namespace": namespace,
        "http_port": free_port(),
        "stripe_api_key": API_KEY,
        "stripe_api_base_url": sim.base_url,
        "jwt_hs256_secret": jwt_secret,
        "jwt_audience": AUDIENCE,
        "consumer_backoff_seconds": (0.2,),
        **overrides,
    }
    return OnboardingSettings.model_validate(values)


def new_jwt_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class ServedInThread:
    """An ASGI app served by uvicorn in a thread with its own event loop."""

    app: FastAPI
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        runtime: ServiceRuntime = self.app.state.runtime
        if runtime.nats is not None and not runtime.nats.is_closed:
            # Closing first spares the stop a NATS drain that waits on cancelled pull fetches.
            asyncio.run_coroutine_threadsafe(runtime.nats.close(), self.loop).result(10)
        self.server.should_exit = True
        self.thread.join(timeout=20)


@contextmanager
def serving(app: FastAPI, port: int, *, ready_timeout: float = 60.0) -> Iterator[ServedInThread]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    served = ServedInThread(app, port, server, thread, loop)
    try:
        with httpx.Client(base_url=served.base_url) as client:
            deadline = datetime.now(UTC) + timedelta(seconds=ready_timeout)
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert datetime.now(UTC) < deadline, "the service did not become ready"
                threading.Event().wait(0.05)
        yield served
    finally:
        served.stop()


@dataclass
class Stack:
    """The onboarding service, the simulator it talks to, and ways to look inside."""

    sim: RunningSimulator
    service: ServedInThread
    settings: OnboardingSettings
    js: JetStreamContext
    namespace: str
    database: Database
    jwt_secret: str
    http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=self.service.base_url, timeout=30)

    def token(self, member_id: str, **claims: Any) -> str:
        settings = TokenSettings(jwt_hs256_secret=SecretStr(self.jwt_secret), jwt_audience=AUDIENCE)
        return mint_token(
            settings, member_id, lifetime=timedelta(hours=1), issued_at=datetime.now(UTC), **claims
        )

    def auth(self, member_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(member_id)}"}

    async def call(
        self, method: str, path: str, member_id: str | None, body: Any = None, expect: int | None = 200
    ) -> httpx.Response:
        headers = self.auth(member_id) if member_id is not None else {}
        response = await self.http.request(method, f"/onboarding{path}", headers=headers, json=body)
        if expect is not None:
            assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response

    async def settle(self, *, through_simulator: bool = True) -> None:
        """Every Stripe event so far delivered, taken by every consumer, and its effects published."""
        if through_simulator:
            # Runs due deliveries and waits for their answers; the gateway answers after publishing.
            await asyncio.to_thread(self.sim.run_due)
        async with asyncio.timeout(20):
            while not (await self._consumers_idle() and await self._outbox_empty()):
                await asyncio.sleep(0.03)

    async def _consumers_idle(self) -> bool:
        names = Namespace(self.namespace)
        for durable in STRIPE_DURABLES:
            try:
                info = await self.js.consumer_info(names.stream("STRIPE"), names.durable(durable))
            except NotFoundError:
                return False
            if info.num_pending or info.num_ack_pending:
                return False
        return True

    async def _outbox_empty(self) -> bool:
        async with self.database.transaction() as session:
            waiting = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        return not waiting

    async def published(
        self, subject: str | None = None, *, stream: str = ONBOARDING.name
    ) -> list[dict[str, Any]]:
        """Every message in this stack's stream (ONBOARDING or NOTIFY), oldest first, as JSON."""
        names = Namespace(self.namespace)
        try:
            state = (await self.js.stream_info(names.stream(stream))).state
        except NotFoundError:
            return []
        found = []
        for sequence in range(state.first_seq, state.last_seq + 1) if state.messages else ():
            raw = await self.js.get_msg(names.stream(stream), sequence)
            assert raw.subject is not None
            assert raw.data is not None
            if subject is None or names.logical_subject(raw.subject) == subject:
                found.append({"subject": names.logical_subject(raw.subject), **_json(raw.data)})
        return found

    async def notifications(self, member_id: str) -> list[dict[str, Any]]:
        return [n for n in await self.published(stream=NOTIFY.name) if n["member_id"] == member_id]

    async def about(self, member_id: str, subject: str) -> list[dict[str, Any]]:
        return [m for m in await self.published(subject) if m.get("member_id") == member_id]

    async def publish_stripe_event(self, event: StripeEventReceived, *, msg_id: str | None = None) -> None:
        """Put an event on the STRIPE stream as the webhook gateway would."""
        await publish(self.js, self.namespace, f"stripe.{event.event_type}", event, msg_id=msg_id)

    # Steps of a member's journey through the API.

    async def register(self, member_id: str | None = None, name: str = "Test Member") -> str:
        member_id = member_id or f"member-{uuid.uuid4().hex[:10]}"
        body = {"email": f"{member_id}@example.com", "display_name": name}
        await self.call("POST", "/members", member_id, body, expect=201)
        return member_id

    async def authorise_bank_account(
        self, member_id: str, account_number: str = "000123456"
    ) -> dict[str, Any]:
        started = (await self.call("POST", "/members/me/becs/setup-intents", member_id)).json()
        confirmed = await self.call(
            "POST",
            f"/members/me/becs/setup-intents/{started['setup_intent_id']}/confirm",
            member_id,
            bank_details(account_number),
        )
        member: dict[str, Any] = confirmed.json()
        return member

    async def onboard_payout_account(self, member_id: str) -> str:
        link = (await self.call("POST", "/members/me/payout-account/onboarding-link", member_id)).json()
        await asyncio.to_thread(visit, link["url"])
        return str(link["account_id"])

    async def ready_member(self, name: str = "Test Member") -> str:
        member_id = await self.register(name=name)
        await self.authorise_bank_account(member_id)
        await self.onboard_payout_account(member_id)
        return member_id

    async def me(self, member_id: str) -> dict[str, Any]:
        member: dict[str, Any] = (await self.call("GET", "/members/me", member_id)).json()
        return member

    async def wait_for_readiness(self, member_id: str, ready: bool) -> dict[str, Any]:
        async with asyncio.timeout(15):
            while (member := await self.me(member_id))["readiness"]["ready"] is not ready:
                await asyncio.sleep(0.05)
        return member

    async def create_group(self, admin_id: str, **terms: Any) -> dict[str, Any]:
        body = {**group_terms(), **terms}
        group: dict[str, Any] = (await self.call("POST", "/groups", admin_id, body, expect=201)).json()
        return group

    async def join(self, member_id: str, invite_code: str) -> dict[str, Any]:
        group: dict[str, Any] = (
            await self.call("POST", "/groups/join", member_id, {"invite_code": invite_code})
        ).json()
        return group

    async def start(self, admin_id: str, group_id: str) -> dict[str, Any]:
        group: dict[str, Any] = (await self.call("POST", f"/groups/{group_id}/start", admin_id)).json()
        return group

    async def group(self, member_id: str, group_id: str) -> dict[str, Any]:
        group: dict[str, Any] = (await self.call("GET", f"/groups/{group_id}", member_id)).json()
        return group

    async def close(self) -> None:
        await self.http.aclose()


def bank_details(account_number: str = "000123456") -> dict[str, Any]:
    return {
        "bsb_number": "000000",
        "account_number": account_number,
        "account_holder_name": "Test Member",
        "mandate_accepted": True,
        "ip_address": MANDATE_DATA_IP,
        "user_agent": "Mozilla/5.0 (rosca tests)",
    }


def group_terms(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Friday circle",
        "contribution_amount": 5_000,
        "currency": "aud",
        "cadence": "fortnightly",
        "size": 3,
        "start_date": (date.today() + timedelta(days=30)).isoformat(),
        "timezone": "Australia/Sydney",
        **overrides,
    }


def visit(url: str) -> str:
    """Follow an onboarding link as the member's browser would; returns where it redirects."""
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def publish(
    js: JetStreamContext, namespace: str, subject: str, message: Message, msg_id: str | None
) -> None:
    headers = message_headers(message)
    if msg_id is not None:
        headers["Nats-Msg-Id"] = msg_id
    await js.publish(
        Namespace(namespace).subject(subject), message.model_dump_json().encode(), headers=headers
    )


def _json(data: bytes) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(data)
    return decoded
