"""Inbox: a consumer records each message id in the same transaction as the message's effect."""

from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.tables import inbox

# Built once, run with each message's values: building a statement and its cache key on every call
# cost as much CPU as running it (benchmarks/README.md, "Payouts latency").
_RECORD = insert(inbox).on_conflict_do_nothing().returning(inbox.c.message_id)


async def first_delivery(session: AsyncSession, consumer: str, message_id: UUID, subject: str) -> bool:
    """True if ``consumer`` has not applied ``message_id`` before; records it in the transaction."""
    recorded = await session.execute(
        _RECORD, {"consumer": consumer, "message_id": message_id, "subject": subject}
    )
    return recorded.first() is not None


async def first_deliveries(session: AsyncSession, consumer: str, subjects: dict[UUID, str]) -> set[UUID]:
    """Of the message ids (each with its subject), those ``consumer`` has not applied before; records
    them in the transaction, in one statement. In id order, so two replicas inserting overlapping
    batches wait on each other's rows in the same order, never in a deadlock."""
    if not subjects:
        return set()
    recorded = await session.execute(
        _RECORD,
        [
            {"consumer": consumer, "message_id": message_id, "subject": subjects[message_id]}
            for message_id in sorted(subjects)
        ],
    )
    return set(recorded.scalars())
