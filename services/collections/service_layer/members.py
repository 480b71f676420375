"""Onboarding's news of a member's payment method: kept for the cycles to come, and given to the
cycles collecting now (a new active mandate is a waiting contribution's cue to debit again)."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.onboarding import MemberPaymentMethodChanged
from services.collections.domain.contribution import PaymentMethodRef
from services.collections.domain.cycle import CycleStatus
from services.collections.domain.messages import MandateActivated
from services.collections.service_layer.cycle_steps import apply_to_cycle
from services.collections.store import mandates
from services.collections.store.cycles import cycles_of_member


async def on_payment_method_changed(
    session: AsyncSession, change: MemberPaymentMethodChanged, now: datetime
) -> int:
    """Returns how many collecting cycles the change moved."""
    method = PaymentMethodRef(
        customer_id=change.customer_id,
        payment_method_id=change.payment_method_id,
        mandate_id=change.mandate_id,
        mandate_active=change.mandate_status == "active",
        as_of=change.occurred_at,
    )
    succeeds = (
        (change.previous_payment_method_id, change.previous_mandate_status == "active")
        if change.previous_payment_method_id is not None
        else None
    )
    if not await mandates.record_mandate(
        session, change.member_id, method, change.occurred_at, succeeds=succeeds
    ):
        return 0  # older than what is held
    if not method.mandate_active:
        return 0  # a debit on it fails and says so; the next cycle starts waiting for a new one
    activated = MandateActivated(
        occurred_at=change.occurred_at, member_id=change.member_id, payment_method=method
    )
    moved = 0
    for cycle_id in await cycles_of_member(session, change.member_id, {CycleStatus.COLLECTING}):
        moved += await apply_to_cycle(session, cycle_id, activated, now, change.message_id)
    return moved
