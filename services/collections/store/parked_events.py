"""Stripe events about a PaymentIntent no attempt has recorded yet: kept, and applied once it is."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.stripe_events import StripeEventReceived
from services.collections.store.tables import parked_stripe_events


async def park(
    session: AsyncSession, event: StripeEventReceived, payment_intent_id: str, now: datetime
) -> None:
    await session.execute(
        insert(parked_stripe_events)
        .values(
            event_id=event.event_id,
            payment_intent_id=payment_intent_id,
            event=event.model_dump(mode="json"),
            parked_at=now,
        )
        .on_conflict_do_nothing()
    )


async def take_waiting(
    session: AsyncSession, payment_intent_id: str, now: datetime
) -> list[StripeEventReceived]:
    """The events parked for ``payment_intent_id``, oldest first, marked applied in this transaction."""
    rows = await session.execute(
        update(parked_stripe_events)
        .where(
            parked_stripe_events.c.payment_intent_id == payment_intent_id,
            parked_stripe_events.c.applied_at.is_(None),
        )
        .values(applied_at=now)
        .returning(parked_stripe_events.c.event)
    )
    events = [StripeEventReceived.model_validate(row.event) for row in rows]
    return sorted(events, key=lambda event: (event.created, event.event_id))


async def waiting_count(session: AsyncSession) -> int:
    rows = await session.execute(
        select(parked_stripe_events.c.event_id).where(parked_stripe_events.c.applied_at.is_(None))
    )
    return len(rows.all())
