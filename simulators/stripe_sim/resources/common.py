"""Small rules every resource shares: lookups scoped to an account, metadata updates."""

from typing import Any

from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import resource_missing
from simulators.stripe_sim.wire.metadata import check_metadata

# How Stripe names each kind of object in "No such …" messages.
_LABELS = {"payment_method": "PaymentMethod", "payment_intent": "payment_intent"}


def find(
    sim: Simulator, kind: str, object_id: str, account: str | None, *, param: str = "id"
) -> StoredObject:
    """An object visible to the calling account, or Stripe's 404."""
    stored = sim.objects.get(object_id, kind)
    if stored is None or stored.account != account or stored.internal.get("deleted"):
        raise resource_missing(_LABELS.get(kind, kind), object_id, param)
    return stored


def updated_metadata(current: dict[str, str], change: Any) -> dict[str, str]:
    """An empty string clears all metadata; a key set to "" is removed; others are merged.

    The request's own metadata was checked with its parameters; what the merge makes can still
    hold too many keys.
    """
    if change == "":
        return {}
    merged = dict(current)
    for key, value in change.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    check_metadata(merged, "metadata")
    return merged


def empty_address() -> dict[str, None]:
    return {
        "city": None,
        "country": None,
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }


def previous_values(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What `data.previous_attributes` shows for an update: the old values of changed keys."""
    return {key: before.get(key) for key in after if before.get(key) != after[key]}
