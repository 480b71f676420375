"""The relay's batches: published in order, marked up to the first row JetStream did not take."""

import nats.errors
import pytest
from nats.js import JetStreamContext
from sqlalchemy import select

from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.outbox import OutboxRelay, add_to_outbox
from services.runtime.tables import outbox
from tests.integration.helpers import prepare, probe_message, stream_messages
from tests.integration.probe.schema import PROBE_SUBJECT

pytestmark = pytest.mark.integration

NO_STREAM_SUBJECT = "nowhere.probe.recorded"


async def test_a_batch_is_published_in_order_and_marked_up_to_the_row_jetstream_refused(
    js: JetStreamContext, namespace: str, database_url: str
) -> None:
    await prepare(js, namespace, database_url, duplicate_window=120)
    database = Database(database_url)
    async with database.transaction() as session:
        await add_to_outbox(session, PROBE_SUBJECT, probe_message("first"))
        await add_to_outbox(session, NO_STREAM_SUBJECT, probe_message("refused"))
        await add_to_outbox(session, PROBE_SUBJECT, probe_message("after the refusal"))
    relay = OutboxRelay(database, js, Namespace(namespace), batch_size=50, poll_seconds=5)

    with pytest.raises((nats.errors.Error, TimeoutError)):
        await relay.publish_pending()

    async with database.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    outbox.c.subject, outbox.c.published_at, outbox.c.publish_attempts, outbox.c.last_error
                ).order_by(outbox.c.id)
            )
        ).all()
    await database.dispose()
    first, refused, after = rows
    assert first.published_at is not None
    assert (refused.published_at, refused.publish_attempts) == (None, 1)
    assert refused.last_error
    # Written with the others and taken by JetStream, but left for the next batch: published again,
    # its copy is dropped by JetStream's duplicate window.
    assert (after.published_at, after.publish_attempts) == (None, 0)
    assert await stream_messages(js, namespace) == 2
