"""Which message travels on which subject: the source of the AsyncAPI document.

Each later feature adds its channels here, next to the model it defines.
"""

from dataclasses import dataclass

from contracts import subjects
from contracts.deadletter import MessageDeadLettered
from contracts.messages import Message
from contracts.scheduler import CancelTimer, ScheduleTimer
from contracts.stripe_events import StripeEventReceived


@dataclass(frozen=True)
class Channel:
    subject: str
    payload: type[Message]
    publisher: str
    description: str


CHANNELS: tuple[Channel, ...] = (
    Channel(
        subject=subjects.DEADLETTER_ALL,
        payload=MessageDeadLettered,
        publisher="any consumer",
        description="A message its consumer gave up on after max_deliver attempts (or could not "
        "parse), kept with its last error. Subject: deadletter.<service>.<consumer>.",
    ),
    Channel(
        subject=subjects.SCHEDULER_SCHEDULE,
        payload=ScheduleTimer,
        publisher="any service",
        description="Set a durable timer, or move it while pending; idempotent per timer_id. When "
        "due, its payload is published once to its target subject.",
    ),
    Channel(
        subject=subjects.SCHEDULER_CANCEL,
        payload=CancelTimer,
        publisher="any service",
        description="Cancel a durable timer for good, even one whose schedule has not arrived yet.",
    ),
    Channel(
        subject=subjects.STRIPE_ALL,
        payload=StripeEventReceived,
        publisher="webhooks",
        description="A verified Stripe event (platform or connected account), normalized; one message "
        "per event id, whatever Stripe redelivers. Subject: stripe.<event type>, e.g. "
        "stripe.payment_intent.succeeded. Neither ordered nor free of stale states: consumers "
        "compare object_status and created with what they hold.",
    ),
)
