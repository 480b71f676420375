"""The rotation saga's commands as the messages that carry them: start timers for the scheduler,
payout holds for payouts, notices to members, and the rotation's facts. Commands on cycle sagas
(plan, drop, stop) are not messages: ``rotation_steps`` carries them out in the same transaction.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from contracts import rotation as facts
from contracts import subjects
from contracts.collections import StartCycle
from contracts.messages import Message
from contracts.notifications import MemberNotification
from contracts.payouts import HoldCyclePayout, ReleaseCyclePayout
from contracts.scheduler import CancelTimer, ScheduleTimer
from services.collections.domain import rotation_commands as rc
from services.collections.domain.rotation_commands import RotationNoticeKind
from services.collections.service_layer.outgoing import message_id_for, timer

_NOTICES = {
    RotationNoticeKind.ROUND_CANCELLED: (
        "Your circle's round was cancelled",
        "Not every contribution of this round could be collected, so every debit is refunded. "
        "Your circle's admin decides how the circle goes on.",
    ),
    RotationNoticeKind.ROUND_RESCHEDULED: (
        "Your circle goes on",
        "Your circle's admin decided how it goes on.",
    ),
    RotationNoticeKind.MEMBER_REMOVED: (
        "You were removed from your circle",
        "Your circle's admin removed you from the rotation; you will not be debited again.",
    ),
    RotationNoticeKind.GROUP_DISSOLVED: (
        "Your circle was dissolved",
        "Your circle's admin dissolved it: no cycle runs and no one is debited any more.",
    ),
    RotationNoticeKind.PAYOUT_HELD: (
        "Your pot is held",
        "Your pot is held until you pay what you owe your circle after a disputed debit.",
    ),
    RotationNoticeKind.PAYOUT_RELEASED: ("Your pot is released", "Your pot will be paid to you."),
}

_FACT_SUBJECTS: dict[type[rc.RotationFact], str] = {
    rc.RotationAwaitingAdminDecision: subjects.COLLECTIONS_ROTATION_AWAITING_ADMIN_DECISION,
    rc.RoundRetried: subjects.COLLECTIONS_ROTATION_ROUND_RETRIED,
    rc.MembersRemoved: subjects.COLLECTIONS_ROTATION_MEMBERS_REMOVED,
    rc.RotationResumed: subjects.COLLECTIONS_ROTATION_RESUMED,
    rc.RotationDissolved: subjects.COLLECTIONS_ROTATION_DISSOLVED,
    rc.RotationCompleted: subjects.COLLECTIONS_ROTATION_COMPLETED,
    rc.PayoutHeldForDelinquency: subjects.COLLECTIONS_PAYOUT_HELD_FOR_DELINQUENCY,
}

MessageCommand = (
    rc.ScheduleCycleStart | rc.CancelCycleStart | rc.HoldPayout | rc.ReleasePayout | rc.NotifyRotationMember
)


def envelope_of(group_id: UUID, now: datetime, cause: UUID | None) -> dict[str, Any]:
    return {"occurred_at": now, "correlation_id": str(group_id), "causation_id": cause}


def start_timer(command: rc.ScheduleCycleStart, envelope: dict[str, Any]) -> ScheduleTimer:
    """The timer that starts a cycle; its payload's id follows the timer's, so a timer set again
    after a hold starts the cycle under a message id of its own."""
    start = StartCycle(
        **{**envelope, "correlation_id": str(command.cycle_id)},
        message_id=message_id_for(command.timer_id),
        group_id=command.group_id,
        cycle_id=command.cycle_id,
        cycle_number=command.cycle_number,
    )
    return timer(command.timer_id, command.at, subjects.COLLECTIONS_START_CYCLE, start, envelope)


def rotation_outgoing(
    group_id: UUID, command: MessageCommand | rc.RotationFact, now: datetime, cause: UUID | None
) -> tuple[str, Message]:
    envelope = envelope_of(group_id, now, cause)
    match command:
        case rc.ScheduleCycleStart():
            return subjects.SCHEDULER_SCHEDULE, start_timer(command, envelope)
        case rc.CancelCycleStart():
            return subjects.SCHEDULER_CANCEL, CancelTimer(**envelope, timer_id=command.timer_id)
        case rc.HoldPayout():
            return subjects.PAYOUTS_HOLD_CYCLE, HoldCyclePayout(
                **envelope,
                group_id=command.group_id,
                cycle_id=command.cycle_id,
                recipient_member_id=command.recipient_member_id,
            )
        case rc.ReleasePayout():
            return subjects.PAYOUTS_RELEASE_CYCLE, ReleaseCyclePayout(
                **envelope,
                group_id=command.group_id,
                cycle_id=command.cycle_id,
                recipient_member_id=command.recipient_member_id,
            )
        case rc.NotifyRotationMember():
            return subjects.notify_member(command.kind.value), _notice(command, envelope)
    return _FACT_SUBJECTS[type(command)], _fact(command, envelope)


def _fact(fact: rc.RotationFact, envelope: dict[str, Any]) -> Message:
    match fact:
        case rc.RoundRetried() | rc.MembersRemoved() | rc.RotationResumed() | rc.RotationDissolved():
            return _decision_fact(fact, envelope)
        case rc.RotationAwaitingAdminDecision():
            return facts.RotationAwaitingAdminDecision(
                **envelope,
                group_id=fact.group_id,
                cycle_id=fact.cycle_id,
                cycle_number=fact.cycle_number,
                defaulting_member_ids=list(fact.defaulting_member_ids),
            )
        case rc.RotationCompleted():
            return facts.RotationCompleted(
                **envelope,
                message_id=message_id_for(f"rotation-completed-{fact.group_id}"),
                group_id=fact.group_id,
                recipients=[
                    facts.CycleRecipient(cycle_number=number, member_id=member_id)
                    for number, member_id in fact.recipients
                ],
            )
        case rc.PayoutHeldForDelinquency():
            return facts.PayoutHeldForDelinquency(
                **envelope,
                group_id=fact.group_id,
                cycle_id=fact.cycle_id,
                cycle_number=fact.cycle_number,
                member_id=fact.member_id,
                amount_owed=fact.amount_owed,
            )


def _decision_fact(
    fact: rc.RoundRetried | rc.MembersRemoved | rc.RotationResumed | rc.RotationDissolved,
    envelope: dict[str, Any],
) -> Message:
    match fact:
        case rc.RoundRetried():
            return facts.RoundRetried(
                **envelope,
                message_id=message_id_for(f"round-retried-{fact.cycle_id}"),
                group_id=fact.group_id,
                cancelled_cycle_id=fact.cancelled_cycle_id,
                cycle_id=fact.cycle_id,
                cycle_number=fact.cycle_number,
                round=fact.round,
            )
        case rc.MembersRemoved():
            return facts.MembersRemoved(
                **envelope,
                group_id=fact.group_id,
                member_ids=list(fact.member_ids),
                dropped_cycle_numbers=list(fact.dropped_cycle_numbers),
                balances=_standings(fact.balances),
            )
        case rc.RotationResumed():
            return facts.RotationResumed(
                **envelope, group_id=fact.group_id, starts_on=fact.starts_on, cycle_ids=list(fact.cycle_ids)
            )
        case rc.RotationDissolved():
            return facts.RotationDissolved(
                **envelope,
                message_id=message_id_for(f"rotation-dissolved-{fact.group_id}"),
                group_id=fact.group_id,
                dropped_cycle_numbers=list(fact.dropped_cycle_numbers),
                balances=_standings(fact.balances),
            )


def _standings(balances: tuple[rc.MemberBalance, ...]) -> list[facts.MemberStanding]:
    return [
        facts.MemberStanding(
            member_id=b.member_id, paid_in=b.paid_in, received=b.received, owes_the_group=b.owes_the_group
        )
        for b in balances
    ]


def _notice(command: rc.NotifyRotationMember, envelope: dict[str, Any]) -> MemberNotification:
    title, body = _NOTICES[command.kind]
    details = []
    if command.cycle_number is not None:
        details.append(f"Cycle {command.cycle_number}.")
    if command.defaulted:
        details.append("Your contribution to it could not be collected.")
    if command.starts_on is not None:
        details.append(f"The next cycle starts on {command.starts_on.isoformat()}.")
    if command.amount_owed is not None:
        dollars, cents = divmod(command.amount_owed, 100)
        details.append(f"You owe {dollars}.{cents:02d}.")
    return MemberNotification.model_validate(
        {
            **envelope,
            "member_id": command.member_id,
            "kind": command.kind.value,
            "title": title,
            "body": " ".join([body, *details]),
            "action": None,
            "group_ids": [command.group_id],
        }
    )
