"""Disputes: a member's bank takes a settled debit back, before or after the pot was paid out."""

from dataclasses import replace

from services.collections.domain import postings
from services.collections.domain.attempts import debit_failed, debit_succeeded, is_current_debit
from services.collections.domain.commands import NoticeKind
from services.collections.domain.contribution import IN_POT, Contribution, ContributionStatus
from services.collections.domain.cycle import CycleStatus, DisputeBooking, DisputeRecord
from services.collections.domain.messages import DisputeClosed, DisputeOpened
from services.collections.domain.step import Step

Status = ContributionStatus
# Statuses in which the debit of the current attempt was collected at some point.
_COLLECTED = frozenset({*IN_POT, Status.REFUNDED, Status.REFUND_FAILED})


def dispute_opened(step: Step, contribution: Contribution, message: DisputeOpened) -> None:
    if step.state.dispute(message.dispute_id) is not None or contribution.attempt != message.attempt:
        return
    if is_current_debit(contribution, message.attempt):
        # Only a settled debit can be disputed: its success report is late, apply it first.
        contribution = debit_succeeded(step, contribution, message.payment_intent_id, message.charge_id, 0)
    if contribution.status not in _COLLECTED:
        return
    if contribution.status in IN_POT and step.state.payout is None:
        booking = DisputeBooking.REVERSED_FROM_POT
        step.post(
            *postings.dispute_reversed_from_pot(
                step.debit(contribution), message.dispute_id, message.dispute_fee
            )
        )
    elif contribution.status is Status.REFUND_FAILED:
        booking = DisputeBooking.REFUND_OWED_SETTLED
        step.post(
            *postings.refund_owed_settled_by_dispute(
                step.debit(contribution), message.dispute_id, message.dispute_fee
            ),
        )
    else:
        # Paid out (or promised to the recipient) or refunded already: the member owes it.
        booking = DisputeBooking.RECEIVABLE
        step.post(
            *postings.dispute_receivable_opened(
                step.debit(contribution), message.dispute_id, message.dispute_fee
            )
        )
    step.record_dispute(
        DisputeRecord(
            dispute_id=message.dispute_id,
            contribution_id=contribution.contribution_id,
            member_id=contribution.member_id,
            attempt=contribution.attempt,
            amount=contribution.amount,
            booking=booking,
        )
    )
    if booking is DisputeBooking.REVERSED_FROM_POT and step.state.status is CycleStatus.COLLECTING:
        # Before payout a disputed debit counts as failed, and is collected again under the
        # failure rules (as a lost mandate: the member said the debit was not authorised).
        debit_failed(step, contribution, "disputed", message.occurred_at)
        return
    step.update(replace(contribution, status=Status.DISPUTED))
    if booking is DisputeBooking.RECEIVABLE:
        step.notify(contribution, NoticeKind.DEBIT_DISPUTED_OWED, failure_code="disputed")


def dispute_closed(step: Step, contribution: Contribution, message: DisputeClosed) -> None:
    if step.state.dispute(message.dispute_id) is None:
        # Closed before we heard it open: a dispute must open before it closes.
        opened = DisputeOpened(
            occurred_at=message.occurred_at,
            contribution_id=message.contribution_id,
            attempt=message.attempt,
            dispute_id=message.dispute_id,
            payment_intent_id=message.payment_intent_id,
            charge_id=message.charge_id,
        )
        dispute_opened(step, contribution, opened)
    dispute = step.state.dispute(message.dispute_id)
    if dispute is None or dispute.closed_won is True or (dispute.closed_won is False and not message.won):
        # Won is final. Lost is final in practice too (BECS), but should the bank reverse it, the
        # money it returns is real: a later won is booked; a stale lost never undoes a won.
        return
    step.record_dispute(replace(dispute, closed_won=message.won))
    if message.won:
        # BECS disputes are final in practice; should one be reversed, the money returns and
        # clears the member's debt, or is owed back to them (their contribution was collected
        # again or refunded meanwhile).
        step.post(
            postings.dispute_won(
                dispute.member_id,
                dispute.dispute_id,
                dispute.amount,
                step.state.plan.currency,
                was_receivable=dispute.booking is DisputeBooking.RECEIVABLE,
            )
        )
