"""What payouts sends, as messages into the outbox of the transaction that decided them: its facts
for collections, its commands to itself, timers, and notices to recipients."""

from datetime import datetime
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.messages import Message
from contracts.notifications import MemberNotification
from contracts.scheduler import ScheduleTimer
from services.runtime.outbox import add_all_to_outbox, add_to_outbox

# The API step that fixes a payout account (restricted, capability inactive, bad bank details): a
# fresh Stripe onboarding link for the member's Express account.
FIX_PAYOUT_ACCOUNT: Final = "POST /onboarding/members/me/payout-account/onboarding-link"


def message_id_for(purpose: str) -> UUID:
    """The same purpose always gets the same message id, so a repeat is dropped as a duplicate."""
    return uuid5(NAMESPACE_URL, f"rosca:payouts:{purpose}")


def envelope(purpose: str, now: datetime, correlation_id: str, cause: UUID | None) -> dict[str, Any]:
    return {
        "message_id": message_id_for(purpose),
        "occurred_at": now,
        "correlation_id": correlation_id,
        "causation_id": cause,
    }


async def send(session: AsyncSession, subject: str, message: Message) -> None:
    await add_to_outbox(session, subject, message)


async def send_all(session: AsyncSession, messages: list[tuple[str, Message]]) -> None:
    """Each ``(subject, message)``, in order, in one statement."""
    await add_all_to_outbox(session, messages)


async def schedule(
    session: AsyncSession, timer_id: str, *, due_at: datetime, subject: str, message: Message, now: datetime
) -> None:
    """Have the scheduler publish ``message`` on ``subject`` at ``due_at``."""
    timer = ScheduleTimer(
        message_id=message_id_for(f"timer:{timer_id}:{due_at.isoformat()}"),
        occurred_at=now,
        correlation_id=message.correlation_id,
        causation_id=message.causation_id,
        timer_id=timer_id,
        due_at=due_at,
        target_subject=subject,
        payload=message.model_dump(mode="json"),
    )
    await add_to_outbox(session, subjects.SCHEDULER_SCHEDULE, timer)


async def notify(
    session: AsyncSession,
    subject: str,
    *,
    purpose: str,
    member_id: str,
    title: str,
    body: str,
    action: str | None,
    group_ids: list[UUID],
    now: datetime,
    cause: UUID | None,
) -> None:
    told = notice(
        subject,
        purpose=purpose,
        member_id=member_id,
        title=title,
        body=body,
        action=action,
        group_ids=group_ids,
        now=now,
        cause=cause,
    )
    await add_to_outbox(session, subject, told)


def notice(
    subject: str,
    *,
    purpose: str,
    member_id: str,
    title: str,
    body: str,
    action: str | None,
    group_ids: list[UUID],
    now: datetime,
    cause: UUID | None,
) -> MemberNotification:
    """The notice ``notify`` sends, for sending with other messages."""
    return MemberNotification(
        **envelope(f"notify:{purpose}", now, member_id, cause),
        member_id=member_id,
        kind=subject.removeprefix(f"{subjects.NOTIFY_MEMBER_PREFIX}."),
        title=title,
        body=body,
        action=action,
        group_ids=group_ids,
    )
