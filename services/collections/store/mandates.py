"""Each member's BECS payment method and mandate, as onboarding last reported them."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.domain.contribution import PaymentMethodRef
from services.collections.store.tables import member_mandates


async def record_mandate(
    session: AsyncSession,
    member_id: str,
    method: PaymentMethodRef,
    as_of: datetime,
    *,
    succeeds: tuple[str, bool] | None = None,
) -> bool:
    """Keep ``method`` unless a newer report is held; True when it is kept.

    ``succeeds`` is the (payment method, mandate active) the report says it replaces. Two reports
    of one instant (a frozen simulated clock; a mandate lost and a new one given in one step) are
    ordered by it: the one that replaces what is held is newer, whichever arrives first.
    """
    held = member_mandates.c
    newer = held.as_of < as_of
    if succeeds is not None:
        previous_method, previous_active = succeeds
        newer = or_(
            newer,
            and_(
                held.as_of == as_of,
                held.payment_method_id == previous_method,
                held.mandate_active.is_(previous_active),
                or_(
                    held.payment_method_id != method.payment_method_id,
                    held.mandate_active.is_not(method.mandate_active),
                ),
            ),
        )
    values = {
        "customer_id": method.customer_id,
        "payment_method_id": method.payment_method_id,
        "mandate_id": method.mandate_id,
        "mandate_active": method.mandate_active,
        "as_of": as_of,
    }
    kept = await session.execute(
        insert(member_mandates)
        .values(member_id=member_id, **values)
        .on_conflict_do_update(
            index_elements=[member_mandates.c.member_id],
            set_=values,
            where=newer,
        )
        .returning(member_mandates.c.member_id)
    )
    return kept.first() is not None


async def mandates_of(session: AsyncSession, member_ids: Iterable[str]) -> dict[str, PaymentMethodRef]:
    rows = await session.execute(
        select(member_mandates).where(member_mandates.c.member_id.in_(list(member_ids)))
    )
    return {
        row.member_id: PaymentMethodRef(
            customer_id=row.customer_id,
            payment_method_id=row.payment_method_id,
            mandate_id=row.mandate_id,
            mandate_active=row.mandate_active,
            as_of=row.as_of,
        )
        for row in rows
    }
