"""The rotation saga: the group across its cycles, as one pure function
(state, message) -> (new state, commands, postings), beside the per-cycle saga (``saga.py``).

Progress. Every cycle's start timer is scheduled at activation (the handler does it, under
``rotation_schedule.start_timer_id(cycle_id, 0)``), so a paid cycle needs nothing more: the next
one is already scheduled. When the last cycle is paid the rotation is ``completed``
(``RotationCompleted``). Cycles may overlap (a short cadence, a long collection window); each
runs on its own.

A cycle cancelled at its deadline (its saga refunded every debit) puts the rotation in
``awaiting_admin_decision``: every cycle not started yet is held (its start timer cancelled), the
defaulting members are recorded, and every member is told. A cycle already running goes on. The
admin decides (``group_decisions``): retry the round, remove the defaulting members, or dissolve.

What members stand to lose, decided here where the design is silent:

- Retry: the same recipient, a new round with its own cycle id (the cancelled round's debits and
  refunds stay its own); every held cycle moves by the delay, keeping the cadence.
- Remove: the removed members are debited no more. A removed member's cycle not yet run is dropped
  and later cycles move up; the contribution stays the same, so every later pot shrinks by one
  contribution per removed member. Where each removed member stands (paid into pots that were
  paid out, against the pot they received) is published with ``MembersRemoved``: a member who
  received and leaves owes the members who paid for their pot, one who paid and leaves before
  receiving is owed. Rosca does not collect or pay these (no debit outside a cycle, no clawback):
  they are the group's to settle, and the ledger books money that moves, not promises. Debts
  after disputes are different: the platform advanced that money, so they stay receivables.
- Dissolve: no cycle runs any more and no member is debited again; a cycle still collecting is
  stopped and refunded; one already funded pays its recipient (every member paid for it). As
  the design says, nothing more is owed through rosca; ``RotationDissolved`` publishes every
  member's balance, as for a removal, for the group to settle. Dispute receivables stay.

Delinquency (``delinquency``): a member who owes after a dispute cannot receive a pot; their
cycle's payout is held until the debt is settled or written off (written off in the ledger).

After ``completed`` or ``dissolved`` the saga sends no command: late reports are recorded, and a
debt can still be settled or written off (a posting, no command).
"""

from dataclasses import replace
from datetime import datetime

from services.collections.domain.business_days import BusinessCalendar
from services.collections.domain.delinquency import (
    announce_hold_if_owing,
    receivable_opened,
    receivable_settled,
    write_off,
)
from services.collections.domain.group_decisions import check_admin, complete_if_done, decide_round
from services.collections.domain.rotation_commands import (
    CancelCycleStart,
    RotationAwaitingAdminDecision,
    RotationNoticeKind,
)
from services.collections.domain.rotation_messages import (
    CycleReported,
    DissolveGroup,
    ReceivableOpened,
    ReceivableSettled,
    RemoveMembers,
    RetryRound,
    RotationMessage,
    WriteOffReceivable,
)
from services.collections.domain.rotation_state import (
    CLOSED,
    FUNDED_STATUSES,
    CycleProgress,
    RotationCycle,
    RotationState,
    RotationStatus,
)
from services.collections.domain.rotation_step import RotationDecision, RotationStep

# The cycle saga's statuses (``cycle.CycleStatus`` values) once it has started.
_STARTED = frozenset({"collecting", "funded", "paying_out", "payout_paused", "cancelling"})


def decide_rotation(
    state: RotationState, message: RotationMessage, now: datetime, business_days: BusinessCalendar
) -> RotationDecision:
    """The rotation's next state, and the commands and postings of this step.

    ``business_days`` dates the cycles a decision schedules again. An admin decision that cannot
    apply raises ``rotation_errors.DecisionRefusedError`` (nothing changes); a duplicate or stale
    report decides nothing.
    """
    step = RotationStep(state, now, business_days)
    match message:
        case CycleReported():
            _cycle_reported(step, message)
        case ReceivableOpened():
            receivable_opened(step, message)
        case ReceivableSettled():
            receivable_settled(step, message)
        case WriteOffReceivable():
            check_admin(step, message)
            write_off(step, message)
        case RetryRound() | RemoveMembers() | DissolveGroup():
            decide_round(step, message)
    return step.decision()


def _cycle_reported(step: RotationStep, message: CycleReported) -> None:
    cycle = step.state.cycle(message.cycle_id)
    if cycle is None or cycle.progress in (CycleProgress.COMPLETED, CycleProgress.RETRIED):
        return  # not this rotation's, or already done with: a late or repeated report
    if cycle.progress is CycleProgress.DROPPED and message.status != "completed":
        return
    cycle = replace(cycle, reported_status=message.status)
    if message.status in _STARTED and cycle.progress is CycleProgress.PLANNED:
        # Its start timer fired (perhaps just before the rotation held it).
        cycle = replace(cycle, progress=CycleProgress.RUNNING, start_timer_id=None)
    step.update(cycle)
    if message.status in FUNDED_STATUSES:
        announce_hold_if_owing(step, cycle)
    elif message.status == "completed":
        step.update(replace(cycle, progress=CycleProgress.COMPLETED, payout_held=False, start_timer_id=None))
        complete_if_done(step)
    elif message.status == "cancelled" and cycle.progress in (CycleProgress.PLANNED, CycleProgress.RUNNING):
        _await_admin(step, replace(cycle, defaulting_member_ids=message.defaulting_member_ids))


def _await_admin(step: RotationStep, cycle: RotationCycle) -> None:
    """The round was cancelled: hold every cycle not started, and ask the admin to decide."""
    if step.state.status in CLOSED:
        step.update(replace(cycle, progress=CycleProgress.DROPPED))
        return
    step.update(replace(cycle, progress=CycleProgress.CANCELLED, start_timer_id=None))
    step.state = replace(step.state, status=RotationStatus.AWAITING_ADMIN_DECISION)
    for held in step.state.cycles_in(CycleProgress.PLANNED):
        if held.start_timer_id is not None:
            step.command(CancelCycleStart(held.start_timer_id))
            step.update(replace(held, start_timer_id=None))
    step.command(
        RotationAwaitingAdminDecision(
            step.state.group_id, cycle.cycle_id, cycle.plan.cycle_number, cycle.defaulting_member_ids
        )
    )
    for member_id in step.state.member_ids:
        step.notify(
            member_id,
            RotationNoticeKind.ROUND_CANCELLED,
            cycle=cycle,
            defaulted=member_id in cycle.defaulting_member_ids,
        )
