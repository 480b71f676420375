"""A change to one member is made under their row lock, then told through the outbox.

The caller locks the member (``MemberStore.get(…, lock=True)``), keeps the state it read as
``before``, makes its change, and calls ``publish_member_changes``: whatever the change did to
readiness, the payment method or the payout account is published in the same transaction. (A
member who became ready does not start a group: its admin does, see ``groups.start_group``.)
"""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.domain.member_facts import member_facts
from services.onboarding.domain.members import MemberState
from services.onboarding.metrics import READINESS_CHANGES
from services.onboarding.store.members import MemberStore
from services.runtime.clock import Clock
from services.runtime.outbox import add_to_outbox


async def publish_member_changes(
    session: AsyncSession, before: MemberState, *, clock: Clock, causation_id: UUID | None
) -> MemberState:
    after = (await MemberStore(session).get(before.member_id)).state
    for fact in member_facts(before, after, now=clock.now(), causation_id=causation_id):
        await add_to_outbox(session, fact.subject, fact.message)
    if before.ready != after.ready:
        READINESS_CHANGES.labels("ready" if after.ready else "not_ready").inc()
    return after
