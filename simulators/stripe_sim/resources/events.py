"""Listing and retrieving events, kept for 30 days as on Stripe."""

from datetime import timedelta
from typing import Any

from simulators.stripe_sim.resources.common import find
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import resource_missing
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

RETENTION = timedelta(days=30)


def retrieve_event(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    event = find(sim, "event", request.path_params["id"], request.account)
    if not _retained(sim, event):
        raise resource_missing("event", event.id)
    return event.body


def list_events(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    wanted: set[str] | None = None
    if "type" in params:
        wanted = {params["type"]}
    if "types" in params:
        wanted = (wanted or set()) | set(params["types"])
    in_range = created_filter(params)
    return list_page(
        sim.objects.newest_first("event", request.account),
        params,
        "/v1/events",
        lambda e: _retained(sim, e) and in_range(e) and _matches(e, wanted),
    )


def _matches(event: StoredObject, wanted: set[str] | None) -> bool:
    if wanted is None:
        return True
    event_type: str = event.body["type"]
    # `type` accepts a trailing `*` wildcard, e.g. `payment_intent.*`.
    return any(
        event_type == pattern or (pattern.endswith("*") and event_type.startswith(pattern[:-1]))
        for pattern in wanted
    )


def _retained(sim: Simulator, event: StoredObject) -> bool:
    return bool(event.body["created"] >= sim.timestamp() - RETENTION.total_seconds())


def add_routes(router: Router) -> None:
    router.add("get", "/v1/events", list_events)
    router.add("get", "/v1/events/{id}", retrieve_event)
