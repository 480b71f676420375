"""Deliver one event to one endpoint; on a non-2xx answer, retry later with back-off.

Before anything is sent, the attempt is saved as due again a little after it would time out (a
lease): if the simulator dies mid-delivery, the attempt is made again after the restart instead
of being lost. Deliveries run concurrently, bounded, so a slow endpoint delays no one else.
"""

import asyncio
import json
import time
from urllib.parse import urlsplit

import httpx

from simulators.stripe_sim.events import DELIVER_WEBHOOK
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.deliveries import DeliveryAttempt
from simulators.stripe_sim.state.due_work import DueWork
from simulators.stripe_sim.webhooks.signature import signature_header

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
LEASE_MARGIN_SECONDS = 5.0
ENDPOINT_DOWN = "endpoint down (simulated fault)"


def is_local_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS


class WebhookDeliverer:
    def __init__(self, http: httpx.AsyncClient, concurrency: int) -> None:
        self._http = http
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[tuple[str, str, int, bool]] = set()

    async def __call__(self, sim: Simulator, work: DueWork) -> None:
        key = (
            work.payload["event"],
            work.payload["endpoint"],
            work.payload["attempt"],
            "duplicate" in work.payload,
        )
        if key in self._in_flight:
            return  # the lease of an attempt still running in this process
        event = sim.objects.get(work.payload["event"], "event")
        endpoint = sim.objects.get(work.payload["endpoint"], "webhook_endpoint")
        if event is None or endpoint is None or endpoint.internal.get("deleted"):
            return
        lease = sim.due_work.schedule(
            work.due_at + sim.settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS,
            DELIVER_WEBHOOK,
            work.payload,
        )
        sim.commit()
        self._in_flight.add(key)
        try:
            async with self._slots:
                status, error = await self._send(
                    sim, event.body, endpoint.id, endpoint.body["url"], endpoint.internal["secret"]
                )
        finally:
            self._in_flight.discard(key)
        sim.due_work.cancel(lease)
        attempt_number: int = work.payload["attempt"]
        attempt = DeliveryAttempt(event.id, endpoint.id, attempt_number, sim.now().timestamp(), status, error)
        sim.deliveries.record(attempt)
        if attempt.succeeded:
            if "duplicate" not in work.payload:
                event.body["pending_webhooks"] = max(0, event.body["pending_webhooks"] - 1)
                sim.objects.save(event)
        else:
            delays = sim.settings.retry_delays()
            if attempt_number <= len(delays):
                sim.due_work.schedule(
                    work.due_at + delays[attempt_number - 1],
                    DELIVER_WEBHOOK,
                    {**work.payload, "attempt": attempt_number + 1},
                )
        sim.commit()

    async def _send(
        self, sim: Simulator, event: dict[str, object], endpoint_id: str, url: str, secret: str
    ) -> tuple[int | None, str | None]:
        if sim.faults.endpoint_down(endpoint_id):
            return None, ENDPOINT_DOWN
        if not is_local_url(url):
            return None, "the simulator delivers only to 127.0.0.1 or localhost"
        payload = json.dumps(event, indent=2).encode()
        signed_at = int(time.time()) if sim.settings.signature_time == "wall" else sim.timestamp()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": signature_header(payload, secret, signed_at),
        }
        try:
            response = await self._http.post(url, content=payload, headers=headers)
        except httpx.HTTPError as failure:
            return None, f"{type(failure).__name__}: {failure}"
        return response.status_code, None
