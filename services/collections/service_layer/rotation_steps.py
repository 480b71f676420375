"""One rotation saga step of a group: load it (locked), decide, save the state, book the postings,
then carry out the commands, all in the caller's transaction.

How the rotation is fed. Every cycle step (``cycle_steps.apply_to_cycle``) hands what the rotation
must hear to ``cycle_step_taken`` in the same transaction: each status the cycle saga announces
(its ``PublishCycleStatus``) as ``CycleReported``, each dispute it booked as a receivable as
``ReceivableOpened``, and each such dispute won back as ``ReceivableSettled``. Both sagas live in
collections' database, so a direct call is exactly-once for free (it commits or rolls back with
the cycle's step and its inbox row), where a consumer of ``collections.evt.cycle_<status>`` would
need an inbox of its own, would see the rotation's reports late and out of order with the admin's
decisions, and could not hold a start timer before the next cycle starts.
A member's debt paid by a debit they asked for (``debts``) is fed the same way, in the
transaction that books it: ``ReceivableSettled`` for each dispute it paid, ``ReceivableOpened``
should that debit be disputed in turn.

Locks: a cycle step locks its cycle, then the rotation. A decision of the admin may stop or
replan cycles, so it first locks every cycle of the group (``lock_cycles_of_group``), then the
rotation: one order, no deadlock. The rotation is saved before its commands run, so a cycle
step a command makes (``StopCycle``) reports back to the saved state, in this transaction.
"""

import logging
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.domain import rotation_commands as rc
from services.collections.domain.commands import PublishCycleStatus
from services.collections.domain.cycle import CycleState, CycleStatus, DisputeBooking
from services.collections.domain.messages import DeadlineReached
from services.collections.domain.rotation_messages import (
    CycleReported,
    ReceivableOpened,
    ReceivableSettled,
    RotationMessage,
)
from services.collections.domain.rotation_saga import decide_rotation
from services.collections.domain.rotation_state import RotationState
from services.collections.domain.step import Decision
from services.collections.service_layer import cycle_steps, debt_refunds
from services.collections.service_layer.rotation_outgoing import rotation_outgoing
from services.collections.store import ledger
from services.collections.store.cycles import add_cycle, load_cycle
from services.collections.store.rotation_state import (
    drop_scheduled_cycle,
    load_rotation,
    replace_scheduled_plan,
    save_rotation,
)
from services.runtime.outbox import add_to_outbox

log = logging.getLogger(__name__)


class UnknownRotationError(Exception):
    """The group has no rotation here (never activated, or activated before the rotation saga)."""

    kind = "rotation_not_found"


async def cycle_step_taken(
    session: AsyncSession, before: CycleState, decision: Decision, now: datetime, cause: UUID | None
) -> None:
    """Tell the group's rotation what one cycle step announced and booked."""
    messages = rotation_messages_of(before, decision, now)
    if not messages:
        return
    group_id = before.plan.group_id
    for message in messages:
        try:
            await apply_to_rotation(session, group_id, message, now, cause)
        except UnknownRotationError:
            # Found out on the first message, before anything was saved (the rotation is loaded
            # once a message, not once more to ask whether it exists: it is a large document).
            log.warning(
                "group %s has no rotation saga: its cycle %s runs alone", group_id, before.plan.cycle_id
            )
            return


def rotation_messages_of(before: CycleState, decision: Decision, now: datetime) -> list[RotationMessage]:
    """What the rotation hears of one cycle step: the debts it opened or cleared, its statuses."""
    after = decision.new_state
    messages: list[RotationMessage] = []
    # Debts first: a report of a funded cycle then finds its recipient's debt.
    for dispute in after.disputes:
        if dispute.booking is not DisputeBooking.RECEIVABLE:
            continue
        earlier = before.dispute(dispute.dispute_id)
        if earlier is None:
            messages.append(ReceivableOpened(now, dispute.member_id, dispute.dispute_id, dispute.amount))
        if dispute.closed_won is True and (earlier is None or earlier.closed_won is not True):
            messages.append(ReceivableSettled(now, dispute.member_id, dispute.dispute_id, won=True))
    messages.extend(
        CycleReported(
            now,
            command.cycle_id,
            command.status,
            command.defaulting_member_ids,
            command.delinquent_member_ids,
        )
        for command in decision.commands
        if isinstance(command, PublishCycleStatus)
    )
    return messages


async def apply_to_rotation(
    session: AsyncSession, group_id: UUID, message: RotationMessage, now: datetime, cause: UUID | None
) -> RotationState:
    """Feed ``message`` to the group's rotation saga; the state it leaves. An admin's decision the
    saga refuses raises its ``rotation_errors`` type, and nothing is saved."""
    stored = await load_rotation(session, group_id)
    if stored is None:
        raise UnknownRotationError(f"no rotation of group {group_id}")
    decision = decide_rotation(stored.state, message, now, cycle_steps.BUSINESS_DAYS)
    if decision.new_state == stored.state and not decision.commands and not decision.postings:
        return stored.state
    await save_rotation(session, stored, decision.new_state, now)
    # The ledger files transactions by cycle; the rotation's own (a debt written off) belong to
    # no cycle, so they are filed under the group's id.
    await ledger.post(session, group_id, decision.postings, now)
    for command in decision.commands:
        await carry_out(session, group_id, command, now, cause)
    return decision.new_state


# The rotation's commands that read and write the database (cycles; a dispute won after its debt
# closed, its books and refund); the others are messages (the outbox).
COMMANDS_ON_CYCLES = (rc.PlanCycle, rc.DropCycle, rc.StopCycle, rc.DisputeWonAfterDebtClosed)


async def carry_out(
    session: AsyncSession, group_id: UUID, command: rc.RotationCommand, now: datetime, cause: UUID | None
) -> None:
    match command:
        case rc.PlanCycle():
            await _plan_cycle(session, command, now)
        case rc.DropCycle():
            if not await drop_scheduled_cycle(session, command.cycle_id, now):
                log.warning("cycle %s to drop (%s) had started", command.cycle_id, command.reason)
        case rc.StopCycle():
            await cycle_steps.apply_to_cycle(session, command.cycle_id, DeadlineReached(now), now, cause)
        case rc.DisputeWonAfterDebtClosed():
            await debt_refunds.on_dispute_won_after_debt_closed(session, command, now, cause)
        case _:
            subject, message = rotation_outgoing(group_id, command, now, cause)
            await add_to_outbox(session, subject, message)


async def _plan_cycle(session: AsyncSession, command: rc.PlanCycle, now: datetime) -> None:
    """A new round's cycle is stored scheduled; a cycle still scheduled gets its new plan."""
    plan = command.plan
    stored = await load_cycle(session, plan.cycle_id)
    if stored is None:
        await add_cycle(session, CycleState.scheduled(plan), now)
        return
    if stored.state.status is not CycleStatus.SCHEDULED:
        log.warning("cycle %s started before it could be planned again: its plan stays", plan.cycle_id)
        return
    await replace_scheduled_plan(session, stored, CycleState.scheduled(plan), now)
