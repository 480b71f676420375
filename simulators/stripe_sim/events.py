"""Events as Stripe emits them: a snapshot of the object, queued for every matching endpoint."""

from typing import Any

from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.copies import json_copy
from simulators.stripe_sim.state.objects import StoredObject

DELIVER_WEBHOOK = "deliver_webhook"


def emit_event(
    sim: Simulator,
    event_type: str,
    subject: dict[str, Any],
    *,
    account: str | None,
    previous_attributes: dict[str, Any] | None = None,
) -> StoredObject:
    origin = sim.request_origin()
    data: dict[str, Any] = {"object": json_copy(subject)}
    if previous_attributes is not None:
        data["previous_attributes"] = json_copy(previous_attributes)
    endpoints = [
        e for e in sim.objects.newest_first("webhook_endpoint", None) if _wants(e, event_type, account)
    ]
    body: dict[str, Any] = {
        "object": "event",
        "api_version": sim.settings.api_version,
        "created": sim.timestamp(),
        "data": data,
        "livemode": False,
        "pending_webhooks": len(endpoints),
        "request": {
            "id": origin.request_id if origin else None,
            "idempotency_key": origin.idempotency_key if origin else None,
        },
        "type": event_type,
    }
    if account is not None:
        body["account"] = account
    event = sim.objects.create("event", "evt", body, account=account)
    now = sim.now().timestamp()
    for endpoint in reversed(endpoints):
        # More than one delay means the fault settings duplicate this delivery.
        for copy_number, delay in enumerate(sim.faults.delivery_delays()):
            payload: dict[str, Any] = {"event": event.id, "endpoint": endpoint.id, "attempt": 1}
            if copy_number > 0:
                payload["duplicate"] = True
            sim.due_work.schedule(now + delay, DELIVER_WEBHOOK, payload)
    return event


def _wants(endpoint: StoredObject, event_type: str, account: str | None) -> bool:
    body = endpoint.body
    if body["status"] != "enabled":
        return False
    # Connect endpoints hear connected accounts' events; platform endpoints the platform's own.
    if bool(endpoint.internal.get("connect")) != (account is not None):
        return False
    enabled: list[str] = body["enabled_events"]
    return "*" in enabled or event_type in enabled
