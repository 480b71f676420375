"""Anything but a genuine event for the endpoint: 400 with a reason, counted, nothing stored or published."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.js import JetStreamContext

from services.runtime.db import Database
from services.webhooks.verification import Rejection
from tests.infrastructure import NatsServer, fresh_database
from tests.integration.webhooks.support import (
    CONNECT_PATH,
    PLATFORM_PATH,
    encoded,
    new_secret,
    post_event,
    provision,
    published_ids,
    sign,
    stored_count,
    stripe_event,
    webhooks_serving,
    webhooks_settings,
)

pytestmark = pytest.mark.integration

MAX_BODY = 32_768


@dataclass
class Gateway:
    base_url: str
    platform_secret: str
    connect_secret: str
    database: Database
    namespace: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gateway(nats_server: NatsServer, postgres_admin_url: str) -> AsyncIterator[Gateway]:
    """One gateway for the module's cases, each checking that it left table and stream as they were."""
    import nats

    namespace = f"t{uuid.uuid4().hex[:10]}"
    platform_secret, connect_secret = new_secret(), new_secret()
    client = await nats.connect(nats_server.url)
    await provision(client.jetstream(), namespace)
    await client.close()
    with fresh_database(postgres_admin_url) as database_url:
        settings = webhooks_settings(
            database_url,
            nats_server.url,
            namespace,
            platform_signing_secrets=[platform_secret],
            connect_signing_secrets=[connect_secret],
            max_body_bytes=MAX_BODY,
        )
        database = Database(database_url)
        try:
            async with webhooks_serving(settings) as base_url:
                yield Gateway(base_url, platform_secret, connect_secret, database, namespace)
        finally:
            await database.dispose()


Case = Callable[[Gateway], tuple[str, bytes, str | None]]


def _signed(path: str, event: dict[str, Any], secret_of: Callable[[Gateway], str]) -> Case:
    def case(gateway: Gateway) -> tuple[str, bytes, str | None]:
        body = encoded(event)
        return path, body, sign(body, secret_of(gateway))

    return case


def _platform(gateway: Gateway) -> str:
    return gateway.platform_secret


def _connect(gateway: Gateway) -> str:
    return gateway.connect_secret


def _wrong_secret(gateway: Gateway) -> tuple[str, bytes, str | None]:
    body = encoded(stripe_event())
    return PLATFORM_PATH, body, sign(body, new_secret())


def _other_endpoints_secret(gateway: Gateway) -> tuple[str, bytes, str | None]:
    body = encoded(stripe_event(account="acct_1Abc"))
    return CONNECT_PATH, body, sign(body, gateway.platform_secret)


def _tampered(gateway: Gateway) -> tuple[str, bytes, str | None]:
    body = encoded(stripe_event())
    return (
        PLATFORM_PATH,
        body.replace(b"customer.created", b"customer.deleted"),
        sign(body, _platform(gateway)),
    )


def _missing_header(gateway: Gateway) -> tuple[str, bytes, str | None]:
    return PLATFORM_PATH, encoded(stripe_event()), None


def _malformed_header(gateway: Gateway) -> tuple[str, bytes, str | None]:
    body = encoded(stripe_event())
    return PLATFORM_PATH, body, sign(body, gateway.platform_secret).replace(",", ";")


def _only_wrong_v1s(gateway: Gateway) -> tuple[str, bytes, str | None]:
    body = encoded(stripe_event())
    moment = int(time.time())
    wrong = sign(body, new_secret(), moment).split(",")[1]
    return PLATFORM_PATH, body, f"t={moment},{wrong},v1={'0' * 64}"


# A minute past the tolerance: the exact boundary is the unit tests' (no wall-clock race there).
TOLERANCE_SECONDS = 300


def _stale(gateway: Gateway) -> tuple[str, bytes, str | None]:
    body = encoded(stripe_event())
    return PLATFORM_PATH, body, sign(body, gateway.platform_secret, int(time.time()) - TOLERANCE_SECONDS - 60)


def _future(gateway: Gateway) -> tuple[str, bytes, str | None]:
    body = encoded(stripe_event())
    return PLATFORM_PATH, body, sign(body, gateway.platform_secret, int(time.time()) + TOLERANCE_SECONDS + 60)


def _oversize(gateway: Gateway) -> tuple[str, bytes, str | None]:
    event = stripe_event(data_object={"id": "cus_1", "object": "customer", "note": "x" * MAX_BODY})
    body = encoded(event)
    return PLATFORM_PATH, body, sign(body, gateway.platform_secret)


def _not_json(gateway: Gateway) -> tuple[str, bytes, str | None]:
    body = b"id=evt_1&type=customer.created"
    return PLATFORM_PATH, body, sign(body, gateway.platform_secret)


BAD_DELIVERIES: dict[str, tuple[Case, str]] = {
    "wrong secret": (_wrong_secret, "signature_mismatch"),
    "the other endpoint's secret": (_other_endpoints_secret, "signature_mismatch"),
    "tampered body": (_tampered, "signature_mismatch"),
    "missing header": (_missing_header, "missing_signature"),
    "malformed header": (_malformed_header, "malformed_signature"),
    "several v1, none valid": (_only_wrong_v1s, "signature_mismatch"),
    "stale timestamp": (_stale, "timestamp_too_old"),
    "future timestamp": (_future, "timestamp_in_future"),
    "oversize body": (_oversize, "body_too_large"),
    "not JSON": (_not_json, "not_json"),
    "not an event": (_signed(PLATFORM_PATH, {"object": "charge", "id": "ch_1"}, _platform), "not_an_event"),
    "livemode mismatch": (
        _signed(PLATFORM_PATH, stripe_event(livemode=True), _platform),
        "livemode_mismatch",
    ),
    "Connect event without account": (_signed(CONNECT_PATH, stripe_event(), _connect), "missing_account"),
    "platform event with an account": (
        _signed(PLATFORM_PATH, stripe_event(account="acct_1Abc"), _platform),
        "unexpected_account",
    ),
}


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("case", list(BAD_DELIVERIES))
async def test_a_bad_delivery_is_refused_with_its_reason_and_leaves_nothing(
    gateway: Gateway, js: JetStreamContext, case: str
) -> None:
    make, reason = BAD_DELIVERIES[case]
    path, body, signature = make(gateway)
    stored_before = await stored_count(gateway.database)
    published_before = await published_ids(js, gateway.namespace)
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        before = _rejections(await http.get("/metrics"), path.rsplit("/", 1)[1], reason)
        answer = await post_event(http, path, body, signature)
        after = _rejections(await http.get("/metrics"), path.rsplit("/", 1)[1], reason)

    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == reason
    assert answer.json()["error"]["message"] == Rejection(reason).explanation
    assert after == before + 1
    assert await stored_count(gateway.database) == stored_before
    assert await published_ids(js, gateway.namespace) == published_before


@pytest.mark.asyncio(loop_scope="session")
async def test_one_valid_v1_among_several_is_accepted(gateway: Gateway, js: JetStreamContext) -> None:
    """The control case for the ones above."""
    event = stripe_event()
    body = encoded(event)
    moment = int(time.time())
    genuine = sign(body, gateway.platform_secret, moment).split(",")[1]
    header = f"t={moment},v1={'0' * 64},{genuine},v0={'1' * 64}"
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        answer = await post_event(http, PLATFORM_PATH, body, header)
    assert answer.status_code == 200
    assert (await published_ids(js, gateway.namespace)).count(event["id"]) == 1


def _rejections(metrics: httpx.Response, endpoint: str, reason: str) -> float:
    for line in metrics.text.splitlines():
        if line.startswith("rosca_webhook_rejections_total{") and all(
            label in line for label in (f'endpoint="{endpoint}"', f'reason="{reason}"')
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# Property-based: any mutation of a genuine delivery's header or body is refused, and leaves nothing.


def _mutations() -> st.SearchStrategy[tuple[str, Any]]:
    # Header values never start or end with blanks on the wire.
    ascii_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120).map(str.strip)
    return st.one_of(
        st.tuples(
            st.just("body_bytes"), st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=6))
        ),
        st.tuples(st.just("body_truncated"), st.integers(1, 200)),
        st.tuples(st.just("timestamp_shift"), st.integers(-299, 299).filter(bool)),
        st.tuples(
            st.just("signature_char"), st.tuples(st.integers(0, 63), st.sampled_from("0123456789abcdef"))
        ),
        st.tuples(st.just("header_text"), ascii_text),
        st.tuples(st.just("drop_v1"), st.none()),
        st.tuples(st.just("secret"), st.text(min_size=1, max_size=40)),
    )


def _mutate(body: bytes, secret: str, moment: int, mutation: tuple[str, Any]) -> tuple[bytes, str] | None:
    """The mutated (body, header), or None where the mutation happens to change nothing."""
    kind, detail = mutation
    header = sign(body, secret, moment)
    signature = header.split("v1=")[1]
    mutated: tuple[bytes, str]
    if kind == "body_bytes":
        at = detail[0] % len(body)
        mutated = (body[:at] + detail[1] + body[at + len(detail[1]) :], header)
    elif kind == "body_truncated":
        mutated = (body[: len(body) - detail], header)
    elif kind == "timestamp_shift":
        mutated = (body, f"t={moment + detail},v1={signature}")
    elif kind == "signature_char":
        at, char = detail
        mutated = (body, f"t={moment},v1={signature[:at]}{char}{signature[at + 1 :]}")
    elif kind == "header_text":
        mutated = (body, detail)
    elif kind == "drop_v1":
        mutated = (body, f"t={moment}")
    else:
        mutated = (body, sign(body, detail, moment))
    return None if mutated == (body, header) else mutated


@pytest.mark.asyncio(loop_scope="session")
async def test_mutated_deliveries_are_all_refused_and_leave_nothing(
    nats_server: NatsServer, js: JetStreamContext, database_url: str, namespace: str
) -> None:
    secret = new_secret()
    await provision(js, namespace)
    settings_ = webhooks_settings(database_url, nats_server.url, namespace, platform_signing_secrets=[secret])
    database = Database(database_url)
    answers: list[int] = []
    async with webhooks_serving(settings_) as base_url:

        @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
        @given(mutation=_mutations())
        def post_mutated(mutation: tuple[str, Any]) -> None:
            body = json.dumps(stripe_event()).encode()
            mutated = _mutate(body, secret, int(time.time()), mutation)
            if mutated is None:
                return
            # Sent as the raw bytes and header Stripe's client would send.
            answer = httpx.post(
                f"{base_url}{PLATFORM_PATH}",
                content=mutated[0],
                headers={"Stripe-Signature": mutated[1], "Content-Type": "application/json"},
            )
            answers.append(answer.status_code)
            assert answer.status_code == 400, (mutation, answer.text)

        # The gateway serves on this loop; the property posts from a thread.
        await asyncio.to_thread(post_mutated)
    try:
        assert len(answers) > 50
        assert await stored_count(database) == 0
        assert await published_ids(js, namespace) == []
    finally:
        await database.dispose()


@pytest.mark.asyncio(loop_scope="session")
async def test_an_endpoint_without_a_signing_secret_answers_503_and_the_service_is_ready(
    nats_server: NatsServer, js: JetStreamContext, database_url: str, namespace: str
) -> None:
    await provision(js, namespace)
    settings_ = webhooks_settings(database_url, nats_server.url, namespace)
    body = encoded(stripe_event())
    async with webhooks_serving(settings_) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        assert (await http.get("/readyz")).status_code == 200
        for path in (PLATFORM_PATH, CONNECT_PATH):
            answer = await post_event(http, path, body, sign(body, new_secret()))
            assert answer.status_code == 503
            assert answer.json()["error"]["message"] == "signing secret not configured"
