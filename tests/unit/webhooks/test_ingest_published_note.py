"""An event published here is never published again because its "published" note was written
while a later delivery (or a backfill) was reading the table."""

import json
import uuid
from typing import cast

from contracts.stripe_events import StripeEventReceived
from services.runtime.db import Database
from services.webhooks.batching import Batcher
from services.webhooks.db import NewEvent
from services.webhooks.ingest import EventIngest, EventPublisher, Outcome, Stored
from services.webhooks.normalize import normalize
from services.webhooks.verification import Endpoint, VerifiedEvent, parse_event


class RecordingPublisher(EventPublisher):
    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, message: StripeEventReceived, *, ack_wait_seconds: float) -> bool:
        self.published.append(message.event_id)
        return False


def listed_event() -> tuple[VerifiedEvent, StripeEventReceived]:
    body = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "created": 1_790_000_000,
        "livemode": False,
        "type": "customer.created",
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    event = parse_event(json.dumps(body).encode(), endpoint=Endpoint.platform, expected_livemode=False)
    return event, normalize(event.body)


async def test_a_note_written_while_the_table_is_read_does_not_make_the_event_published_again() -> None:
    publisher = RecordingPublisher()
    ingest = EventIngest(cast(Database, None), publisher, timeout=1.0)
    event, message = listed_event()
    # Published by this process a moment ago; its note is being written.
    ingest._published[event.event_id] = None

    async def read_as_the_note_commits(batch: list[NewEvent]) -> list[Stored]:
        # The row was read just before the note committed, and the note was done (so no longer
        # held here) by the time the read's answer came back.
        ingest._published.clear()
        return [Stored.unpublished for _ in batch]

    ingest._store = Batcher(read_as_the_note_commits, max_batch=10, writers=1, name="test")
    outcome = await ingest.ingest(event, message, "backfill")

    assert outcome is Outcome.duplicate
    assert publisher.published == []
