"""Refunds of a cancelled cycle: asking for them, and what Stripe reports of them."""

from dataclasses import replace

from services.collections.domain import postings
from services.collections.domain.attempts import debit_succeeded, is_current_debit
from services.collections.domain.commands import CreateRefund, NoticeKind
from services.collections.domain.contribution import (
    IN_FLIGHT,
    Contribution,
    ContributionStatus,
    RefundProgress,
    refund_idempotency_key,
)
from services.collections.domain.cycle import DisputeBooking
from services.collections.domain.messages import RefundFailed, RefundSucceeded
from services.collections.domain.step import Step

Status = ContributionStatus


def refund_debit(step: Step, contribution: Contribution) -> None:
    """Give back the current attempt's debit, collected or still processing.

    Stripe holds a refund of a processing debit until the debit settles, and cancels it if the
    debit fails. Until Stripe names the PaymentIntent the refund is only wanted; it is asked for
    as soon as the id arrives.
    """
    if contribution.status is Status.SUCCEEDED:
        contribution = replace(contribution, status=Status.REFUND_PENDING)
    if contribution.refund is RefundProgress.NONE:
        contribution = replace(contribution, refund=RefundProgress.WANTED)
    step.update(contribution)
    ask_for_wanted_refund(step, contribution)


def ask_for_wanted_refund(step: Step, contribution: Contribution) -> None:
    if contribution.refund is not RefundProgress.WANTED or contribution.payment_intent_id is None:
        return
    plan = step.state.plan
    step.update(replace(contribution, refund=RefundProgress.REQUESTED))
    step.command(
        CreateRefund(
            idempotency_key=refund_idempotency_key(contribution.contribution_id, contribution.attempt),
            contribution_id=contribution.contribution_id,
            member_id=contribution.member_id,
            attempt=contribution.attempt,
            payment_intent_id=contribution.payment_intent_id,
            amount=contribution.amount,
            currency=plan.currency,
            metadata=step.stripe_metadata(contribution),
        )
    )


def refund_succeeded(step: Step, contribution: Contribution, message: RefundSucceeded) -> None:
    if not _refund_open(contribution, message.attempt):
        return
    if is_current_debit(contribution, message.attempt):
        # Stripe completes a refund only once its debit settled: that report is late, apply it first.
        contribution = debit_succeeded(step, contribution, message.payment_intent_id, message.charge_id, 0)
        contribution = replace(contribution, status=Status.REFUND_PENDING)
    refunded = replace(contribution, refund=RefundProgress.SUCCEEDED)
    if contribution.status is Status.REFUND_PENDING:
        step.update(replace(refunded, status=Status.REFUNDED))
        step.post(postings.debit_refunded(step.debit(contribution)))
    elif contribution.status is Status.DISPUTED:
        # Refunded before the dispute opened (Stripe refuses to refund a disputed debit), though
        # we heard of the dispute first: the member got the money twice and owes it once.
        step.update(refunded)
        step.post(postings.refund_after_dispute(step.debit(contribution)))
        dispute = step.state.dispute_of_attempt(contribution.contribution_id, contribution.attempt)
        if dispute is not None:
            step.record_dispute(replace(dispute, booking=DisputeBooking.RECEIVABLE))
    else:
        step.update(refunded)


def refund_failed(step: Step, contribution: Contribution, message: RefundFailed) -> None:
    if not _refund_open(contribution, message.attempt):
        return
    not_refunded = replace(contribution, refund=RefundProgress.FAILED)
    if contribution.status in IN_FLIGHT:
        # Stripe cancels a held refund only when its debit failed: nothing was collected.
        step.update(replace(not_refunded, status=Status.FAILED_FINAL))
    elif contribution.status is Status.REFUND_PENDING:
        step.update(replace(not_refunded, status=Status.REFUND_FAILED))
        step.post(postings.refund_failed(step.debit(contribution)))
        step.notify(contribution, NoticeKind.REFUND_FAILED, failure_code=message.failure_reason)
    else:
        # Failed, or disputed (a disputed debit cannot be refunded): nothing was to be returned.
        step.update(not_refunded)


def _refund_open(contribution: Contribution, attempt: int) -> bool:
    return contribution.attempt == attempt and contribution.refund in (
        RefundProgress.WANTED,
        RefundProgress.REQUESTED,
    )
