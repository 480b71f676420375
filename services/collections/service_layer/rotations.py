"""A group's activation planned into cycles, each cycle's start timer, and its start."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.collections import StartCycle
from contracts.onboarding import GroupActivated
from contracts.scheduler import ScheduleTimer
from services.collections.domain.contribution import PaymentMethodRef
from services.collections.domain.cycle import CycleState
from services.collections.domain.messages import CycleStarted, MemberMandate
from services.collections.domain.rotation import CyclePlan, plan_rotation
from services.collections.service_layer.cycle_steps import BUSINESS_DAYS, UnknownCycleError, apply_to_cycle
from services.collections.service_layer.outgoing import message_id_for, start_cycle_timer_id, timer
from services.collections.store import mandates
from services.collections.store.cycles import add_cycle, load_cycle
from services.collections.store.rotations import add_rotation
from services.runtime.outbox import add_to_outbox


async def on_group_activated(session: AsyncSession, activation: GroupActivated, now: datetime) -> bool:
    """Plan and store the rotation and schedule each cycle's start; False if it was done before."""
    plans = plan_rotation(activation, BUSINESS_DAYS)
    if not await add_rotation(session, activation, now):
        return False
    for member in activation.members:
        method = PaymentMethodRef(member.customer_id, member.payment_method_id, member.mandate_id, True)
        await mandates.record_mandate(session, member.member_id, method, activation.activated_at)
    for plan in plans:
        await add_cycle(session, CycleState.scheduled(plan), now)
        await add_to_outbox(
            session, subjects.SCHEDULER_SCHEDULE, _start_timer(plan, now, activation.message_id)
        )
    return True


def _start_timer(plan: CyclePlan, now: datetime, cause: UUID) -> ScheduleTimer:
    timer_id = start_cycle_timer_id(plan.cycle_id)
    envelope: dict[str, Any] = {
        "occurred_at": now,
        "correlation_id": str(plan.cycle_id),
        "causation_id": cause,
    }
    start = StartCycle(
        **envelope,
        message_id=message_id_for(timer_id),
        group_id=plan.group_id,
        cycle_id=plan.cycle_id,
        cycle_number=plan.cycle_number,
    )
    return timer(timer_id, plan.start_at, subjects.COLLECTIONS_START_CYCLE, start, envelope)


async def on_start_cycle(session: AsyncSession, command: StartCycle, now: datetime) -> bool:
    """Start the cycle with each member's payment method as last reported."""
    stored = await load_cycle(session, command.cycle_id)
    if stored is None:
        raise UnknownCycleError(f"no cycle {command.cycle_id} to start")
    members = [c.member_id for c in stored.state.contributions]
    known = await mandates.mandates_of(session, members)
    started = CycleStarted(
        occurred_at=command.occurred_at,
        members=tuple(
            MemberMandate(member_id, known[member_id]) for member_id in members if member_id in known
        ),
    )
    return await apply_to_cycle(session, command.cycle_id, started, now, command.message_id)
