"""A Stripe event as the webhook gateway publishes it on ``stripe.<event type>``, normalized."""

from typing import Final
from uuid import UUID, uuid5

from pydantic import AwareDatetime, Field, JsonValue

from contracts.messages import Message

STRIPE_EVENT_ID_PATTERN: Final = r"^evt_[A-Za-z0-9_]{1,250}$"
# Lower-case dotted words only: the type becomes a NATS subject, where `*`, `>` or spaces would break it.
STRIPE_EVENT_TYPE_PATTERN: Final = r"^[a-z0-9_]+(\.[a-z0-9_]+){1,5}$"

_STRIPE_EVENT_NAMESPACE: Final = UUID("5d0b8a8e-6f2c-5c43-9a53-2a6f0e8b7c11")


def stripe_event_message_id(event_id: str) -> UUID:
    """The ``message_id`` of the message for Stripe event ``event_id``: the same on every publish.

    A redelivered, replayed or backfilled event is therefore the same message to every inbox.
    """
    return uuid5(_STRIPE_EVENT_NAMESPACE, event_id)


class StripeEventReceived(Message):
    """A verified Stripe event, published once per event id on ``stripe.<event type>``.

    ``message_id`` is ``stripe_event_message_id(event_id)``; ``occurred_at`` is the event's
    ``created``; ``correlation_id`` is the object's ``metadata.cycle_id``, else
    ``metadata.group_id``, else the object id. Stripe neither orders nor deduplicates its events:
    consumers drop duplicates by ``message_id`` and stale ones by comparing ``object_status`` and
    ``created`` with what they already hold (a status never moves backwards).
    """

    event_id: str = Field(pattern=STRIPE_EVENT_ID_PATTERN, description="Stripe's event id (evt_…).")
    event_type: str = Field(
        pattern=STRIPE_EVENT_TYPE_PATTERN,
        description="Stripe's event type, e.g. 'payment_intent.succeeded'; also the subject's suffix.",
    )
    created: AwareDatetime = Field(
        description="When Stripe created the event (whole seconds); the order to judge staleness by."
    )
    livemode: bool = Field(description="True for live-mode events, false for test mode.")
    account: str | None = Field(
        description="The connected account (acct_…) the event happened on; null for platform events."
    )
    api_version: str | None = Field(description="The API version data.object is rendered in.")
    object_type: str = Field(
        min_length=1, description="data.object's `object`, e.g. 'payment_intent', 'charge', 'account'."
    )
    object_id: str | None = Field(description="data.object's id (pi_…, py_…, acct_…), when it has one.")
    object_status: str | None = Field(
        description="data.object's status at the time of the event (e.g. 'succeeded'), when it has one."
    )
    metadata: dict[str, str] = Field(
        description="data.object's metadata (group_id, cycle_id, member_id, … as set by rosca); "
        "empty when it has none."
    )
    amount: int | None = Field(description="data.object's amount in minor units (cents), when it has one.")
    currency: str | None = Field(description="data.object's currency (e.g. 'aud'), when it has one.")
    failure_code: str | None = Field(
        description="Why it failed, when it did: failure_code, last_payment_error.code, "
        "last_setup_error.code or failure_reason of data.object."
    )
    previous_attributes: dict[str, JsonValue] | None = Field(
        description="data.previous_attributes: the changed fields' old values (on *.updated events)."
    )
    raw_object: dict[str, JsonValue] = Field(
        description="data.object exactly as Stripe sent it: a snapshot of the object at the event."
    )
