"""Delinquency: a member who owes the group after a dispute cannot receive a pot until the debt
is collected or the admin writes it off.

The hold is asked of payouts as soon as the debt is known (so it reaches payouts before the
cycle's ``pay_cycle`` can), and announced when the member's cycle is funded and so would pay out.
"""

from dataclasses import replace

from services.collections.domain import postings
from services.collections.domain.rotation_commands import (
    DisputeWonAfterDebtClosed,
    HoldPayout,
    PayoutHeldForDelinquency,
    ReleasePayout,
    RotationNoticeKind,
)
from services.collections.domain.rotation_errors import InvalidDecisionError
from services.collections.domain.rotation_messages import (
    ReceivableOpened,
    ReceivableSettled,
    WriteOffReceivable,
)
from services.collections.domain.rotation_state import CLOSED, FUNDED_STATUSES, Receivable, RotationCycle
from services.collections.domain.rotation_step import RotationStep


def receivable_opened(step: RotationStep, message: ReceivableOpened) -> None:
    if any(r.dispute_id == message.dispute_id for r in step.state.receivables):
        return
    receivable = Receivable(message.member_id, message.dispute_id, message.amount)
    step.state = replace(step.state, receivables=(*step.state.receivables, receivable))
    cycle = step.state.receiving_cycle(message.member_id)
    if cycle is None or step.state.status in CLOSED:
        return
    if cycle.reported_status in FUNDED_STATUSES:
        announce_hold_if_owing(step, cycle)
    else:
        hold_payout(step, cycle)


def receivable_settled(step: RotationStep, message: ReceivableSettled) -> None:
    known = next((r for r in step.state.receivables if r.dispute_id == message.dispute_id), None)
    if known is None or (known.won and message.won):
        return
    if known.outstanding:
        _replace_receivable(step, replace(known, settled=True, won=message.won))
        _release_if_cured(step, known.member_id)
    elif message.won:
        # Paid by the member's debit, or written off, and now the bank returned the disputed money
        # as well. The win was booked as clearing the receivable (the cycle does not know it was
        # closed); which debit, if any, paid it is in the debt collections, not here: the command
        # books the rest there (a debt paid twice is refunded; a write-off is recovered).
        _replace_receivable(step, replace(known, won=True))
        step.command(
            DisputeWonAfterDebtClosed(
                step.state.group_id,
                known.member_id,
                known.dispute_id,
                known.amount,
                step.state.activation.currency,
                written_off=known.written_off,
            )
        )


def write_off(step: RotationStep, message: WriteOffReceivable) -> None:
    """Every outstanding debt of the member, from their receivable to the write-off account; a
    write-off of debts already written off is the same decision again and changes nothing."""
    owed = [r for r in step.state.receivables if r.member_id == message.member_id]
    if not owed:
        raise InvalidDecisionError(f"member {message.member_id} owes the group nothing")
    for receivable in (r for r in owed if r.outstanding):
        step.post(
            postings.receivable_written_off(
                receivable.member_id,
                receivable.amount,
                step.state.activation.currency,
                decision_reference=receivable.dispute_id,
            )
        )
        _replace_receivable(step, replace(receivable, written_off=True))
    _release_if_cured(step, message.member_id)


def hold_payout(step: RotationStep, cycle: RotationCycle) -> RotationCycle:
    if cycle.payout_held:
        return cycle
    step.command(HoldPayout(step.state.group_id, cycle.cycle_id, cycle.recipient_id))
    held = replace(cycle, payout_held=True)
    step.update(held)
    return held


def announce_hold_if_owing(step: RotationStep, cycle: RotationCycle) -> None:
    """The cycle is funded and would pay out now: not to a recipient who owes the group."""
    owed = step.state.owed_by(cycle.recipient_id)
    if owed == 0 or cycle.hold_announced or step.state.status in CLOSED:
        return
    cycle = hold_payout(step, cycle)
    step.update(replace(cycle, hold_announced=True))
    step.command(
        PayoutHeldForDelinquency(
            group_id=step.state.group_id,
            cycle_id=cycle.cycle_id,
            cycle_number=cycle.plan.cycle_number,
            member_id=cycle.recipient_id,
            amount_owed=owed,
        )
    )
    step.notify(cycle.recipient_id, RotationNoticeKind.PAYOUT_HELD, cycle=cycle, amount_owed=owed)


def release_payout(step: RotationStep, cycle: RotationCycle) -> None:
    if not cycle.payout_held:
        return
    step.command(ReleasePayout(step.state.group_id, cycle.cycle_id, cycle.recipient_id))
    step.update(replace(cycle, payout_held=False, hold_announced=False))
    if cycle.hold_announced:
        step.notify(cycle.recipient_id, RotationNoticeKind.PAYOUT_RELEASED, cycle=cycle)


def _release_if_cured(step: RotationStep, member_id: str) -> None:
    if step.state.is_delinquent(member_id) or step.state.status in CLOSED:
        return
    for cycle in step.state.cycles:
        if cycle.recipient_id == member_id and cycle.payout_held:
            release_payout(step, cycle)


def _replace_receivable(step: RotationStep, updated: Receivable) -> None:
    step.state = replace(
        step.state,
        receivables=tuple(
            updated if r.dispute_id == updated.dispute_id else r for r in step.state.receivables
        ),
    )
