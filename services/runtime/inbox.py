"""Inbox: a consumer records each message id in the same transaction as the message's effect."""

from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.tables import inbox


async def first_delivery(session: AsyncSession, consumer: str, message_id: UUID, subject: str) -> bool:
    """True if ``consumer`` has not applied ``message_id`` before; records it in the transaction."""
    recorded = await session.execute(
        insert(inbox)
        .values(consumer=consumer, message_id=message_id, subject=subject)
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )
    return recorded.first() is not None
