"""The saga's commands as the messages that carry them: Stripe calls to make after this
transaction, timers for the scheduler, the payout, notices to members, the cycle's status.

Every one goes to the outbox in the transaction that saves the decision, so none is lost and none
is sent for a decision that did not commit.
"""

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts import collections as messages
from contracts import subjects
from contracts.messages import Message
from contracts.notifications import MemberNotification
from contracts.payouts import PayCycle, PayCycleCharge
from contracts.scheduler import CancelTimer, ScheduleTimer
from services.collections.domain import commands
from services.collections.domain.commands import Command, NoticeKind
from services.collections.domain.cycle import CycleState

_NOTICES = {
    NoticeKind.MANDATE_NEEDED: (
        "Authorise your bank account",
        "Your circle's cycle started, but your bank account is not authorised for direct debit.",
    ),
    NoticeKind.DEBIT_FAILED_RETRYING: (
        "Your contribution did not go through",
        "Your bank declined the debit of your contribution; we will try again.",
    ),
    NoticeKind.DEBIT_FAILED_AUTHORISE_AGAIN: (
        "Authorise your bank account again",
        "Your bank refused the debit of your contribution: authorise a bank account again.",
    ),
    NoticeKind.DEBIT_FAILED_FINAL: (
        "Your contribution could not be collected",
        "Your contribution could not be collected before this cycle's deadline.",
    ),
    NoticeKind.DEBIT_DISPUTED_OWED: (
        "You owe a disputed contribution",
        "Your bank returned a contribution already paid out; its amount is owed to your circle.",
    ),
    NoticeKind.REFUND_FAILED: (
        "Your refund could not be made",
        "We could not refund your contribution; it is owed to you and we will contact you.",
    ),
}
_AUTHORISE = "POST /onboarding/members/me/becs/setup-intents"


def message_id_for(purpose: str) -> UUID:
    """The same purpose always gets the same message id, so a repeat is dropped as a duplicate."""
    return uuid5(NAMESPACE_URL, f"rosca:collections:{purpose}")


def outgoing(state: CycleState, command: Command, now: datetime, cause: UUID | None) -> tuple[str, Message]:
    plan = state.plan
    envelope: dict[str, Any] = {
        "occurred_at": now,
        "correlation_id": str(plan.cycle_id),
        "causation_id": cause,
    }
    match command:
        case commands.CreatePaymentIntent() | commands.CreateRefund():
            return _stripe_call(state, command, envelope)
        case (
            commands.ScheduleRetry()
            | commands.ScheduleDeadline()
            | commands.CancelRetry()
            | commands.CancelDeadline()
        ):
            return _timer_command(state, command, envelope)
        case commands.ReadStripeFee():
            return subjects.COLLECTIONS_READ_CHARGE_FEE, messages.ReadChargeFee(
                **envelope,
                message_id=message_id_for(f"read-charge-fee-{command.charge_id}"),
                cycle_id=plan.cycle_id,
                contribution_id=command.contribution_id,
                attempt=command.attempt,
                payment_intent_id=command.payment_intent_id,
                charge_id=command.charge_id,
                currency=command.currency,
            )
        case commands.RequestPayout():
            return subjects.PAYOUTS_PAY_CYCLE, _pay_cycle(command, envelope)
        case commands.NotifyMember():
            return subjects.notify_member(command.kind.value), _notice(command, envelope)
        case commands.PublishCycleStatus():
            return subjects.cycle_status(command.status), messages.CycleStatusChanged(
                **envelope,
                group_id=command.group_id,
                cycle_id=command.cycle_id,
                cycle_number=command.cycle_number,
                status=command.status,
                defaulting_member_ids=list(command.defaulting_member_ids),
                delinquent_member_ids=list(command.delinquent_member_ids),
            )


def _stripe_call(
    state: CycleState,
    command: commands.CreatePaymentIntent | commands.CreateRefund,
    envelope: dict[str, Any],
) -> tuple[str, Message]:
    plan = state.plan
    match command:
        case commands.CreatePaymentIntent():
            return subjects.COLLECTIONS_CREATE_PAYMENT_INTENT, messages.CreatePaymentIntent(
                **envelope,
                message_id=message_id_for(command.idempotency_key),
                cycle_id=plan.cycle_id,
                contribution_id=command.contribution_id,
                member_id=command.member_id,
                attempt=command.attempt,
                idempotency_key=command.idempotency_key,
                amount=command.amount,
                currency=command.currency,
                customer_id=command.customer_id,
                payment_method_id=command.payment_method_id,
                mandate_id=command.mandate_id,
                transfer_group=command.transfer_group,
                metadata=command.metadata,
            )
        case commands.CreateRefund():
            return subjects.COLLECTIONS_CREATE_REFUND, messages.CreateRefund(
                **envelope,
                message_id=message_id_for(command.idempotency_key),
                cycle_id=plan.cycle_id,
                contribution_id=command.contribution_id,
                member_id=command.member_id,
                attempt=command.attempt,
                idempotency_key=command.idempotency_key,
                payment_intent_id=command.payment_intent_id,
                amount=command.amount,
                currency=command.currency,
                metadata=command.metadata,
            )


def _timer_command(
    state: CycleState,
    command: commands.ScheduleRetry
    | commands.ScheduleDeadline
    | commands.CancelRetry
    | commands.CancelDeadline,
    envelope: dict[str, Any],
) -> tuple[str, Message]:
    plan = state.plan
    match command:
        case commands.ScheduleRetry():
            retry = messages.RetryContribution(
                **envelope,
                message_id=message_id_for(command.timer_id),
                cycle_id=plan.cycle_id,
                contribution_id=command.contribution_id,
                attempt=command.attempt,
            )
            return subjects.SCHEDULER_SCHEDULE, timer(
                command.timer_id, command.at, subjects.COLLECTIONS_RETRY_CONTRIBUTION, retry, envelope
            )
        case commands.ScheduleDeadline():
            close = messages.CloseCollection(
                **envelope, message_id=message_id_for(command.timer_id), cycle_id=command.cycle_id
            )
            return subjects.SCHEDULER_SCHEDULE, timer(
                command.timer_id, command.at, subjects.COLLECTIONS_CLOSE_COLLECTION, close, envelope
            )
        case commands.CancelRetry() | commands.CancelDeadline():
            return subjects.SCHEDULER_CANCEL, CancelTimer(**envelope, timer_id=command.timer_id)


def timer(
    timer_id: str, due_at: datetime, target: str, payload: Message, envelope: dict[str, Any]
) -> ScheduleTimer:
    return ScheduleTimer.model_validate(
        {
            **envelope,
            "timer_id": timer_id,
            "due_at": due_at,
            "target_subject": target,
            "payload": payload.model_dump(mode="json"),
        }
    )


def _pay_cycle(command: commands.RequestPayout, envelope: dict[str, Any]) -> PayCycle:
    charges = [
        PayCycleCharge(
            contribution_id=charge.contribution_id,
            member_id=charge.member_id,
            payment_intent_id=charge.payment_intent_id,
            charge_id=charge.charge_id,
            amount=charge.amount,
            platform_fee=charge.platform_fee,
            transfer_amount=charge.transfer_amount,
        )
        for charge in command.charges
    ]
    return PayCycle.model_validate(
        {
            **envelope,
            "message_id": message_id_for(f"pay-cycle-{command.cycle_id}"),
            "group_id": command.group_id,
            "cycle_id": command.cycle_id,
            "cycle_number": command.cycle_number,
            "recipient_member_id": command.recipient_member_id,
            "connected_account_id": command.connected_account_id,
            "currency": command.currency,
            "transfer_group": command.transfer_group,
            "transfer_total": sum(charge.transfer_amount for charge in charges),
            "platform_fee_total": sum(charge.platform_fee for charge in charges),
            "charges": charges,
        }
    )


def _notice(command: commands.NotifyMember, envelope: dict[str, Any]) -> MemberNotification:
    title, body = _NOTICES[command.kind]
    dollars, cents = divmod(command.amount, 100)
    amount = f"{dollars}.{cents:02d} {command.currency.upper()}"
    details = [f"Cycle {command.cycle_number}, {amount}, due by {command.deadline_on.isoformat()}."]
    if command.failure_code:
        details.append(f"Reason: {command.failure_code}.")
    if command.next_attempt_at is not None:
        details.append(f"Next attempt: {command.next_attempt_at.isoformat()}.")
    needs_mandate = command.kind in (NoticeKind.MANDATE_NEEDED, NoticeKind.DEBIT_FAILED_AUTHORISE_AGAIN)
    return MemberNotification.model_validate(
        {
            **envelope,
            "member_id": command.member_id,
            "kind": command.kind.value,
            "title": title,
            "body": " ".join([body, *details]),
            "action": _AUTHORISE if needs_mandate else None,
            "group_ids": [command.group_id],
        }
    )
