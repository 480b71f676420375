"""Stripe's list object and its cursor pagination (limit, starting_after, ending_before)."""

from collections.abc import Callable, Iterable
from typing import Any

from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request, resource_missing

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


def list_page(
    newest_first: Iterable[StoredObject],
    params: dict[str, Any],
    url: str,
    keep: Callable[[StoredObject], bool] = lambda _: True,
) -> dict[str, Any]:
    limit: int = params.get("limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid_request(f"Invalid limit: must be between 1 and {MAX_LIMIT}", param="limit")
    matching = [stored for stored in newest_first if keep(stored)]
    ids = [stored.id for stored in matching]
    if starting_after := params.get("starting_after"):
        start = _position(ids, starting_after, "starting_after") + 1
        page, has_more = matching[start : start + limit], len(matching) > start + limit
    elif ending_before := params.get("ending_before"):
        end = _position(ids, ending_before, "ending_before")
        page, has_more = matching[max(0, end - limit) : end], end - limit > 0
    else:
        page, has_more = matching[:limit], len(matching) > limit
    return {
        "object": "list",
        "data": [stored.body for stored in page],
        "has_more": has_more,
        "url": url,
    }


def _position(ids: list[str], cursor: str, param: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        raise resource_missing("object", cursor, param) from None


def created_filter(params: dict[str, Any]) -> Callable[[StoredObject], bool]:
    """`created=<ts>` or `created[gt|gte|lt|lte]=<ts>`."""
    created = params.get("created")
    if created is None:
        return lambda _: True
    if isinstance(created, int):
        return lambda stored: bool(stored.body["created"] == created)
    bounds: dict[str, int] = created

    def within(stored: StoredObject) -> bool:
        at: int = stored.body["created"]
        return (
            ("gt" not in bounds or at > bounds["gt"])
            and ("gte" not in bounds or at >= bounds["gte"])
            and ("lt" not in bounds or at < bounds["lt"])
            and ("lte" not in bounds or at <= bounds["lte"])
        )

    return within
