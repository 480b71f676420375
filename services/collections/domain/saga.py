"""The cycle saga as one pure function: (state, message) -> (new state, commands, postings)."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from services.collections.domain import postings
from services.collections.domain.attempts import (
    debit_failed,
    debit_succeeded,
    is_current_debit,
    record_payment_intent,
    submit_next_attempt,
    wait_for_mandate,
)
from services.collections.domain.business_days import BusinessCalendar
from services.collections.domain.commands import (
    CancelDeadline,
    CancelRetry,
    Command,
    PayoutCharge,
    RequestPayout,
    ScheduleDeadline,
)
from services.collections.domain.contribution import (
    IN_FLIGHT,
    SETTLED_FOR_CANCELLATION,
    Contribution,
    ContributionStatus,
    deadline_timer_id,
    retry_timer_id,
)
from services.collections.domain.cycle import CycleState, CycleStatus, PayoutRecord
from services.collections.domain.disputes import dispute_closed, dispute_opened
from services.collections.domain.fees import platform_fee_shares
from services.collections.domain.ledger import LedgerError, Transaction
from services.collections.domain.messages import (
    AttemptMessage,
    CyclePaid,
    CycleStarted,
    DeadlineReached,
    DisputeClosed,
    DisputeOpened,
    MandateActivated,
    PaymentIntentCreated,
    PaymentIntentFailed,
    PaymentIntentProcessing,
    PaymentIntentSucceeded,
    PayoutPaused,
    RefundFailed,
    RefundSucceeded,
    RetryDue,
    SagaMessage,
)
from services.collections.domain.refunds import (
    ask_for_wanted_refund,
    refund_debit,
    refund_failed,
    refund_succeeded,
)
from services.collections.domain.step import Decision, Step

Status = ContributionStatus


def decide(
    state: CycleState, message: SagaMessage, business_days: BusinessCalendar, now: datetime
) -> Decision:
    """The cycle's next state, and the commands and postings of this step.

    ``now`` is the platform clock as the message is handled: new debits and retries are timed
    from it, since a message may arrive long after it ``occurred_at``.

    Stripe repeats and reorders its reports, so every rule first checks that the message moves
    something forward; a duplicate or stale one decides nothing. A report that implies an earlier
    one not yet seen (a refund or dispute of a debit still processing here) applies that one first.
    """
    step = Step(state, now, business_days)
    if isinstance(message, AttemptMessage):
        _on_attempt_message(step, message)
    else:
        _on_cycle_message(step, message)
    _move_cycle_on(step)
    return step.decision()


def decide_in_turn(
    state: CycleState, messages: Sequence[SagaMessage], business_days: BusinessCalendar, now: datetime
) -> Decision:
    """``messages`` decided one after the other, as one decision: the last state, and every
    command and posting in the order the steps made them. What Stripe says in one answer (created,
    and processing already) is then loaded, saved and projected once, not once per report."""
    commands: list[Command] = []
    booked: list[Transaction] = []
    for message in messages:
        decision = decide(state, message, business_days, now)
        state = decision.new_state
        commands.extend(decision.commands)
        booked.extend(decision.postings)
    return Decision(state, tuple(commands), tuple(booked))


def _on_attempt_message(step: Step, message: AttemptMessage) -> None:
    """A report about one debit attempt, its refund or its dispute."""
    contribution = step.state.contribution(message.contribution_id)
    if contribution is None or step.state.status is CycleStatus.SCHEDULED:
        return
    current = is_current_debit(contribution, message.attempt)
    match message:
        case PaymentIntentCreated() | PaymentIntentProcessing() if current:
            processing = isinstance(message, PaymentIntentProcessing)
            known = record_payment_intent(
                step, contribution, message.payment_intent_id, processing=processing
            )
            ask_for_wanted_refund(step, known)
        case PaymentIntentSucceeded() if current:
            collected = debit_succeeded(
                step, contribution, message.payment_intent_id, message.charge_id, message.stripe_fee
            )
            if step.state.status is CycleStatus.CANCELLING:
                refund_debit(step, collected)
        case PaymentIntentFailed() if current:
            debit_failed(step, contribution, message.failure_code, message.occurred_at)
        case RetryDue() if _retry_is_due(
            step.state, contribution.status, contribution.attempt, message.attempt
        ):
            submit_next_attempt(step, contribution)
        case RefundSucceeded():
            refund_succeeded(step, contribution, message)
        case RefundFailed():
            refund_failed(step, contribution, message)
        case DisputeOpened():
            dispute_opened(step, contribution, message)
        case DisputeClosed():
            dispute_closed(step, contribution, message)
        case _:
            pass


def _on_cycle_message(step: Step, message: SagaMessage) -> None:
    """The cycle's own timers, onboarding's mandates, and payouts' reports."""
    status = step.state.status
    match message:
        case CycleStarted() if status is CycleStatus.SCHEDULED:
            _start(step, message)
        case MandateActivated():
            _new_mandate(step, message)
        case DeadlineReached() if status is CycleStatus.COLLECTING:
            _cancel(step)
        case PayoutPaused() if status is CycleStatus.PAYING_OUT:
            step.state = replace(step.state, payout_paused_reason=message.reason)
            step.enter(CycleStatus.PAYOUT_PAUSED)
        case CyclePaid() if status in (CycleStatus.PAYING_OUT, CycleStatus.PAYOUT_PAUSED):
            _complete(step, message)
        case _:
            pass


def _start(step: Step, message: CycleStarted) -> None:
    plan = step.state.plan
    step.enter(CycleStatus.COLLECTING)
    step.command(ScheduleDeadline(deadline_timer_id(plan.cycle_id), plan.cycle_id, plan.deadline_at))
    mandates = {member.member_id: member.payment_method for member in message.members}
    for planned in step.state.contributions:
        known = mandates.get(planned.member_id, planned.payment_method)
        contribution = replace(planned, payment_method=known)
        if known.mandate_active:
            submit_next_attempt(step, contribution)
        else:
            wait_for_mandate(step, contribution)


def _new_mandate(step: Step, message: MandateActivated) -> None:
    """The member authorised a bank account again: debit it from now on, at once if they wait."""
    contribution = step.state.contribution_of(message.member_id)
    if contribution is None or not message.payment_method.mandate_active:
        return
    held = contribution.payment_method
    reported = message.payment_method.mandate_id
    if reported == held.mandate_id or reported in contribution.lost_mandate_ids:
        # Already held, or one that failed: a Stripe mandate never turns active again.
        return
    if held.mandate_active and held.as_of is not None and message.occurred_at < held.as_of:
        return  # an older mandate than the active one held
    contribution = replace(
        contribution, payment_method=replace(message.payment_method, as_of=message.occurred_at)
    )
    step.update(contribution)
    if contribution.status is Status.AWAITING_MANDATE and step.state.status is CycleStatus.COLLECTING:
        submit_next_attempt(step, contribution)


def _retry_is_due(state: CycleState, status: Status, current_attempt: int, attempt: int) -> bool:
    return (
        state.status is CycleStatus.COLLECTING
        and status is Status.RETRY_SCHEDULED
        and attempt == current_attempt + 1
    )


def _cancel(step: Step) -> None:
    """Give back every debit collected or still out, stop every retry, and wait for the refunds."""
    step.enter(CycleStatus.CANCELLING)
    for contribution in step.state.contributions:
        if contribution.status in (Status.SUCCEEDED, *IN_FLIGHT) and contribution.attempt > 0:
            refund_debit(step, contribution)
        elif contribution.status not in SETTLED_FOR_CANCELLATION:
            if contribution.status is Status.RETRY_SCHEDULED:
                step.command(
                    CancelRetry(retry_timer_id(contribution.contribution_id, contribution.attempt + 1))
                )
            step.update(replace(contribution, status=Status.FAILED_FINAL, next_attempt_at=None))


def _move_cycle_on(step: Step) -> None:
    """After any change: fund a cycle whose every debit succeeded, cancel one that cannot be
    funded any more, and close a cancelled one once every refund settled."""
    state = step.state
    statuses = [contribution.status for contribution in state.contributions]
    if state.status is CycleStatus.COLLECTING:
        if all(status is Status.SUCCEEDED for status in statuses):
            _fund(step)
        elif Status.FAILED_FINAL in statuses:
            step.command(CancelDeadline(deadline_timer_id(state.plan.cycle_id)))
            _cancel(step)
    if step.state.status is CycleStatus.CANCELLING and all(
        contribution.status in SETTLED_FOR_CANCELLATION for contribution in step.state.contributions
    ):
        step.enter(CycleStatus.CANCELLED)


def _fund(step: Step) -> None:
    plan = step.state.plan
    step.enter(CycleStatus.FUNDED)
    step.command(CancelDeadline(deadline_timer_id(plan.cycle_id)))
    contributions = step.state.contributions
    shares = platform_fee_shares([c.amount for c in contributions], plan.policy.platform_fee_bps)
    charges = tuple(_payout_charge(c, share) for c, share in zip(contributions, shares, strict=True))
    payout = PayoutRecord(charges)
    step.state = replace(step.state, payout=payout)
    step.post(
        postings.payout_requested(plan.cycle_id, plan.currency, payout.transfer_total, payout.fee_total)
    )
    step.command(
        RequestPayout(
            group_id=plan.group_id,
            cycle_id=plan.cycle_id,
            cycle_number=plan.cycle_number,
            recipient_member_id=plan.recipient.member_id,
            connected_account_id=plan.recipient.connected_account_id,
            currency=plan.currency,
            transfer_group=plan.transfer_group,
            charges=charges,
        )
    )
    step.enter(CycleStatus.PAYING_OUT)


def _complete(step: Step, message: CyclePaid) -> None:
    plan = step.state.plan
    payout = step.state.payout
    if payout is None or message.transferred_amount != payout.transfer_total:
        # The pot must equal transfers plus fees; anything else is for an operator, not a guess.
        raise LedgerError(
            f"cycle {plan.cycle_id}: payouts reports {message.transferred_amount} transferred, "
            f"{payout.transfer_total if payout else 0} was requested"
        )
    step.post(postings.cycle_paid(plan.cycle_id, plan.currency, payout.transfer_total))
    step.state = replace(step.state, payout_paused_reason=None)
    step.enter(CycleStatus.COMPLETED)


def _payout_charge(contribution: Contribution, platform_fee: int) -> PayoutCharge:
    if contribution.payment_intent_id is None or contribution.charge_id is None:
        # Every report of a collected debit names its charge; without one there is nothing to
        # transfer from (a transfer's source_transaction), so stop rather than guess.
        raise LedgerError(f"contribution {contribution.contribution_id} was collected without a charge id")
    return PayoutCharge(
        contribution_id=contribution.contribution_id,
        member_id=contribution.member_id,
        payment_intent_id=contribution.payment_intent_id,
        charge_id=contribution.charge_id,
        amount=contribution.amount,
        platform_fee=platform_fee,
        transfer_amount=contribution.amount - platform_fee,
    )
