"""HTTP edge: Stripe's two webhook endpoints.

A delivery is answered 2xx only once its event is stored and on JetStream; 400 (with a short
reason, nothing stored or published) when it is not a genuine event for this endpoint; 503 when
Postgres or NATS cannot take it, or no signing secret is configured, so that Stripe retries.
"""

import logging
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from contracts.stripe_events import StripeEventReceived
from services.runtime.errors import error_response
from services.webhooks.ingest import EventIngest, IngestUnavailableError
from services.webhooks.metrics import DELIVERIES, INGEST_SECONDS, REJECTIONS
from services.webhooks.normalize import normalize
from services.webhooks.settings import WebhooksSettings
from services.webhooks.verification import (
    DeliveryRejectedError,
    Endpoint,
    Rejection,
    VerificationPolicy,
    verify_delivery,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gateway:
    """What the edge works with, built once in ``create_app``."""

    settings: WebhooksSettings
    ingest: EventIngest
    policies: dict[Endpoint, VerificationPolicy]

    @classmethod
    def build(cls, settings: WebhooksSettings, ingest: EventIngest) -> "Gateway":
        def policy(secrets: list[str]) -> VerificationPolicy:
            return VerificationPolicy(
                secrets=tuple(secrets),
                tolerance_seconds=settings.signature_tolerance_seconds,
                max_body_bytes=settings.max_body_bytes,
                expected_livemode=settings.expected_livemode,
            )

        return cls(
            settings,
            ingest,
            {
                Endpoint.platform: policy([s.get_secret_value() for s in settings.platform_signing_secrets]),
                Endpoint.connect: policy([s.get_secret_value() for s in settings.connect_signing_secrets]),
            },
        )


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.webhooks
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]

router = APIRouter(tags=["stripe"])

PLATFORM_PATH = "/stripe/platform"
CONNECT_PATH = "/stripe/connect"

# The delivery endpoints take the raw request and nothing FastAPI would parse or inject: the
# signature is over the exact bytes, and every microsecond here is spent per Stripe event.

_DELIVERY_RESPONSES: dict[int | str, dict[str, str]] = {
    400: {"description": "Not a genuine Stripe event for this endpoint; nothing was stored."},
    503: {"description": "No signing secret configured, or Postgres/NATS unavailable; Stripe retries."},
}


@router.post(
    PLATFORM_PATH,
    summary="Stripe events of the platform account",
    responses=_DELIVERY_RESPONSES,
)
async def on_platform_event(request: Request) -> JSONResponse:
    return await receive(Endpoint.platform, request)


@router.post(
    CONNECT_PATH,
    summary="Stripe events of connected accounts",
    responses=_DELIVERY_RESPONSES,
)
async def on_connect_event(request: Request) -> JSONResponse:
    return await receive(Endpoint.connect, request)


async def receive(endpoint: Endpoint, request: Request) -> JSONResponse:
    gateway = get_gateway(request)
    policy = gateway.policies[endpoint]
    if not policy.secrets:
        DELIVERIES.labels(endpoint.value, "not_configured").inc()
        return error_response(503, "not_configured", "signing secret not configured")
    try:
        body = await _read_body(request, policy.max_body_bytes)
        # Wall time, not the platform clock: Stripe signs with its real clock, so a signature's age
        # means something only against ours; the simulator signs with wall time for the same reason.
        event = verify_delivery(
            body,
            request.headers.get("stripe-signature"),
            endpoint=endpoint,
            policy=policy,
            now=int(time.time()),
        )
        message = _normalized(event.body)
    except DeliveryRejectedError as rejected:
        DELIVERIES.labels(endpoint.value, "rejected").inc()
        REJECTIONS.labels(endpoint.value, rejected.reason.value).inc()
        # Never the body or the signature: the first may hold personal data, the second is a credential.
        log.warning(
            "Stripe delivery rejected: %s",
            rejected.reason.value,
            extra={"endpoint": endpoint.value, "reason": rejected.reason.value},
        )
        return error_response(400, rejected.reason.value, rejected.reason.explanation)
    started = time.perf_counter()
    try:
        outcome = await gateway.ingest.ingest(event, message, endpoint.value)
    except IngestUnavailableError as unavailable:
        DELIVERIES.labels(endpoint.value, "unavailable").inc()
        log.warning(
            "Stripe event %s not taken, store or stream unavailable: %s",
            event.event_id,
            unavailable,
            extra={"endpoint": endpoint.value},
        )
        return error_response(503, "unavailable", "event store or stream unavailable; retry later")
    INGEST_SECONDS.labels(endpoint.value).observe(time.perf_counter() - started)
    DELIVERIES.labels(endpoint.value, outcome.value).inc()
    return JSONResponse({"received": event.event_id, "outcome": outcome.value})


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise DeliveryRejectedError(Rejection.body_too_large)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise DeliveryRejectedError(Rejection.body_too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def _normalized(body: dict[str, Any]) -> StripeEventReceived:
    try:
        return normalize(body)
    except ValidationError:
        raise DeliveryRejectedError(Rejection.not_an_event) from None
