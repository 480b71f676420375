"""A group's activation planned into cycles, each cycle's start timer, and its start."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.collections import StartCycle
from contracts.onboarding import GroupActivated
from services.collections.domain.contribution import PaymentMethodRef
from services.collections.domain.cycle import CycleState
from services.collections.domain.messages import CycleStarted, MemberMandate
from services.collections.domain.rotation import plan_rotation
from services.collections.domain.rotation_commands import ScheduleCycleStart
from services.collections.domain.rotation_schedule import start_timer_id
from services.collections.domain.rotation_state import RotationState
from services.collections.service_layer.cycle_steps import BUSINESS_DAYS, UnknownCycleError, apply_to_cycle
from services.collections.service_layer.rotation_outgoing import envelope_of, start_timer
from services.collections.store import mandates
from services.collections.store.cycles import add_cycle, load_cycle
from services.collections.store.rotation_state import is_dropped, start_rotation
from services.collections.store.rotations import add_rotation
from services.runtime.outbox import add_to_outbox


async def on_group_activated(session: AsyncSession, activation: GroupActivated, now: datetime) -> bool:
    """Plan and store the rotation (its cycles and its saga) and schedule each cycle's start;
    False if it was done before."""
    plans = plan_rotation(activation, BUSINESS_DAYS)
    if not await add_rotation(session, activation, now):
        return False
    for member in activation.members:
        method = PaymentMethodRef(member.customer_id, member.payment_method_id, member.mandate_id, True)
        await mandates.record_mandate(session, member.member_id, method, activation.activated_at)
    rotation = RotationState.activated(activation, plans)
    await start_rotation(session, rotation, now)
    for plan in plans:
        await add_cycle(session, CycleState.scheduled(plan), now)
        envelope = {
            **envelope_of(plan.group_id, now, activation.message_id),
            "correlation_id": str(plan.cycle_id),
        }
        # Under the id the rotation saga holds and schedules it again by.
        start = ScheduleCycleStart(
            start_timer_id(plan.cycle_id, 0), plan.group_id, plan.cycle_id, plan.cycle_number, plan.start_at
        )
        await add_to_outbox(session, subjects.SCHEDULER_SCHEDULE, start_timer(start, envelope))
    return True


async def on_start_cycle(session: AsyncSession, command: StartCycle, now: datetime) -> bool:
    """Start the cycle with each member's payment method as last reported."""
    stored = await load_cycle(session, command.cycle_id)
    if stored is None:
        raise UnknownCycleError(f"no cycle {command.cycle_id} to start")
    if await is_dropped(session, command.cycle_id):
        return False  # its start timer fired as the rotation dropped it
    members = [c.member_id for c in stored.state.contributions]
    known = await mandates.mandates_of(session, members)
    started = CycleStarted(
        occurred_at=command.occurred_at,
        members=tuple(
            MemberMandate(member_id, known[member_id]) for member_id in members if member_id in known
        ),
    )
    return await apply_to_cycle(session, command.cycle_id, started, now, command.message_id)
