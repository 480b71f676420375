"""A verified Stripe event turned into the message consumers read (pure: no I/O).

Deterministic: the same event always gives the same message, byte for byte, so a redelivery,
a replay or a backfill of it is the same message to JetStream and to every inbox.
"""

from datetime import UTC, datetime
from typing import Any

from contracts.stripe_events import StripeEventReceived, stripe_event_message_id

# Where the reason of a failure sits, by object: charges and payouts, intents, refunds.
_FAILURE_PATHS: tuple[tuple[str, ...], ...] = (
    ("failure_code",),
    ("last_payment_error", "code"),
    ("last_setup_error", "code"),
    ("failure_reason",),
)
# The business threads rosca sets in metadata, most specific first.
_CORRELATION_KEYS = ("cycle_id", "group_id")


def normalize(event: dict[str, Any]) -> StripeEventReceived:
    """The message for a Stripe event body that passed ``verification.parse_event``."""
    data: dict[str, Any] = event["data"]
    subject: dict[str, Any] = data["object"]
    created = datetime.fromtimestamp(event["created"], UTC)
    metadata = _metadata(subject)
    object_id = _text(subject.get("id"))
    return StripeEventReceived(
        message_id=stripe_event_message_id(event["id"]),
        # The fact happened when Stripe says it did, not when it reached us.
        occurred_at=created,
        correlation_id=_correlation(metadata, object_id, event["id"]),
        event_id=event["id"],
        event_type=event["type"],
        created=created,
        livemode=event["livemode"],
        account=event.get("account"),
        api_version=_text(event.get("api_version")),
        object_type=subject["object"],
        object_id=object_id,
        object_status=_text(subject.get("status")),
        metadata=metadata,
        amount=_integer(subject.get("amount")),
        currency=_text(subject.get("currency")),
        failure_code=_failure_code(subject),
        previous_attributes=_mapping(data.get("previous_attributes")),
        raw_object=subject,
    )


def _correlation(metadata: dict[str, str], object_id: str | None, event_id: str) -> str:
    for key in _CORRELATION_KEYS:
        if metadata.get(key):
            return metadata[key][:200]
    return (object_id or event_id)[:200]


def _metadata(subject: dict[str, Any]) -> dict[str, str]:
    metadata = subject.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    return {str(key): str(value) for key, value in metadata.items() if value is not None}


def _failure_code(subject: dict[str, Any]) -> str | None:
    for path in _FAILURE_PATHS:
        value: Any = subject
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mapping(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None
