"""The admin's decisions after a cycle was cancelled at its deadline: retry the round, remove the
defaulting members, or dissolve the group.

While the admin decides, every cycle not yet started is held (its start timer cancelled). When no
cancelled round waits any more, the held cycles run again in their order, the first on the day the
last decision names (or the next business day), each later one a cadence after the one before.
"""

from dataclasses import replace
from datetime import date

from services.collections.domain.delinquency import hold_payout, release_payout
from services.collections.domain.rotation_commands import (
    CancelCycleStart,
    DropCycle,
    MembersRemoved,
    PlanCycle,
    RotationCompleted,
    RotationDissolved,
    RotationNoticeKind,
    RotationResumed,
    RoundRetried,
    ScheduleCycleStart,
    StopCycle,
)
from services.collections.domain.rotation_errors import (
    DecisionNotExpectedError,
    InvalidDecisionError,
    NotGroupAdminError,
)
from services.collections.domain.rotation_messages import (
    AdminDecision,
    DissolveGroup,
    RemoveMembers,
    RetryRound,
    RoundDecision,
)
from services.collections.domain.rotation_schedule import (
    first_start_day,
    replan_cycle,
    round_cycle_id,
    slot_date,
    start_timer_id,
)
from services.collections.domain.rotation_state import (
    SETTLED_PROGRESS,
    CycleProgress,
    RotationCycle,
    RotationStatus,
)
from services.collections.domain.rotation_step import RotationStep


def check_admin(step: RotationStep, decision: AdminDecision) -> None:
    if decision.decided_by != step.state.activation.admin_member_id:
        raise NotGroupAdminError(
            f"member {decision.decided_by} is not the admin of group {step.state.group_id}"
        )


def already_decided(step: RotationStep, decision: AdminDecision) -> bool:
    return any(decision.same_as(earlier) for earlier in step.state.decisions)


def decide_round(step: RotationStep, decision: RoundDecision) -> None:
    """Apply the admin's decision about cancelled cycle ``decision.cycle_id``; refused unless the
    rotation waits for exactly that; the same decision asked again changes nothing."""
    check_admin(step, decision)
    if already_decided(step, decision):
        return
    cycle = step.state.cycle(decision.cycle_id)
    if step.state.status is not RotationStatus.AWAITING_ADMIN_DECISION:
        raise DecisionNotExpectedError(f"the rotation is {step.state.status}, not awaiting an admin decision")
    if cycle is None or cycle.progress is not CycleProgress.CANCELLED:
        raise DecisionNotExpectedError(
            f"cycle {decision.cycle_id} is not a cancelled round awaiting a decision"
        )
    starts_on = _first_start_day(step, decision)
    step.state = replace(step.state, decisions=(*step.state.decisions, decision))
    match decision:
        case RetryRound():
            _retry(step, cycle)
        case RemoveMembers():
            _remove(step, cycle, decision.member_ids)
        case DissolveGroup():
            _dissolve(step)
            return
    if not step.state.cycles_in(CycleProgress.CANCELLED) and starts_on is not None:
        step.state = replace(step.state, status=RotationStatus.RUNNING)
        _schedule_held_cycles(step, starts_on)
        complete_if_done(step)


def complete_if_done(step: RotationStep) -> None:
    """Every cycle paid (or dropped with its removed recipient): the rotation is complete."""
    state = step.state
    if state.status is not RotationStatus.RUNNING or any(
        c.progress not in SETTLED_PROGRESS for c in state.cycles
    ):
        return
    step.state = replace(state, status=RotationStatus.COMPLETED)
    paid = state.cycles_in(CycleProgress.COMPLETED)
    step.command(
        RotationCompleted(state.group_id, tuple((c.plan.cycle_number, c.recipient_id) for c in paid))
    )


def _first_start_day(step: RotationStep, decision: RoundDecision) -> date | None:
    if isinstance(decision, DissolveGroup):
        return None
    if decision.start_on is not None and decision.start_on < step.today:
        raise InvalidDecisionError(f"start_on {decision.start_on} is in the past (today is {step.today})")
    return first_start_day(step.today, decision.start_on, step.business_days)


def _retry(step: RotationStep, cancelled: RotationCycle) -> None:
    """The same cycle number and recipient run again as a new round, paid into by every member
    still in the rotation; dated when the held cycles are scheduled again."""
    round_number = cancelled.round + 1
    cycle_id = round_cycle_id(step.state.group_id, cancelled.plan.cycle_number, round_number)
    plan = replan_cycle(
        step.state.activation,
        cycle_id=cycle_id,
        cycle_number=cancelled.plan.cycle_number,
        recipient=cancelled.plan.recipient,
        members=step.state.members,
        nominal=cancelled.plan.nominal_date,  # dated again when the held cycles are scheduled
        business_days=step.business_days,
    )
    new_round = RotationCycle(plan, round=round_number)
    cycles = step.state.cycles
    at = cycles.index(cancelled)
    step.state = replace(
        step.state,
        cycles=(
            *cycles[:at],
            replace(cancelled, progress=CycleProgress.RETRIED),
            new_round,
            *cycles[at + 1 :],
        ),
    )
    step.command(
        RoundRetried(
            step.state.group_id, cancelled.cycle_id, cycle_id, cancelled.plan.cycle_number, round_number
        )
    )


def _remove(step: RotationStep, cancelled: RotationCycle, member_ids: tuple[str, ...]) -> None:
    """The members leave; a cycle of theirs not yet run is dropped (later ones move up); the
    cancelled round runs again without them unless it was theirs. A cycle already running goes on."""
    removing = tuple(dict.fromkeys(member_ids))
    not_defaulting = [
        m for m in removing if m not in cancelled.defaulting_member_ids or m not in step.state.member_ids
    ]
    if not removing or not_defaulting:
        raise InvalidDecisionError(
            f"only defaulting members of cycle {cancelled.cycle_id} still in the rotation may be removed "
            f"({', '.join(cancelled.defaulting_member_ids)}); not {', '.join(not_defaulting) or 'nobody'}"
        )
    balances = step.balances(removing)
    state = step.state
    step.state = replace(
        state,
        member_ids=tuple(m for m in state.member_ids if m not in removing),
        removed_member_ids=(*state.removed_member_ids, *removing),
    )
    dropped: list[int] = []
    for cycle in step.state.cycles:
        if cycle.recipient_id not in removing:
            continue
        if cycle.progress is CycleProgress.PLANNED:
            step.command(
                DropCycle(state.group_id, cycle.cycle_id, cycle.plan.cycle_number, "recipient_removed")
            )
        if cycle.progress in (CycleProgress.PLANNED, CycleProgress.CANCELLED):
            step.update(replace(cycle, progress=CycleProgress.DROPPED, start_timer_id=None))
            dropped.append(cycle.plan.cycle_number)
    refreshed = step.state.cycle(cancelled.cycle_id)
    if refreshed is not None and refreshed.progress is CycleProgress.CANCELLED:
        _retry(step, refreshed)
    step.command(MembersRemoved(state.group_id, removing, tuple(dropped), balances))
    for member_id in removing:
        step.notify(member_id, RotationNoticeKind.MEMBER_REMOVED, cycle=cancelled)


def _dissolve(step: RotationStep) -> None:
    """No cycle runs any more: those not started are dropped, one collecting is stopped (its saga
    refunds every debit); one already funded pays out, since every member paid that recipient."""
    state = step.state
    dropped: list[int] = []
    for cycle in state.cycles:
        if cycle.progress is CycleProgress.PLANNED:
            if cycle.start_timer_id is not None:
                step.command(CancelCycleStart(cycle.start_timer_id))
            step.command(
                DropCycle(state.group_id, cycle.cycle_id, cycle.plan.cycle_number, "group_dissolved")
            )
        if cycle.progress in (CycleProgress.PLANNED, CycleProgress.CANCELLED):
            step.update(replace(cycle, progress=CycleProgress.DROPPED, start_timer_id=None))
            dropped.append(cycle.plan.cycle_number)
        elif cycle.progress is CycleProgress.RUNNING:
            if cycle.reported_status == "collecting":
                step.command(StopCycle(state.group_id, cycle.cycle_id))
            else:
                # The group ends; the pot collected for this recipient is theirs. What they owe
                # stays a receivable, collected outside the rotation.
                release_payout(step, cycle)
    balances = step.balances(state.member_ids + state.removed_member_ids)
    step.command(RotationDissolved(state.group_id, tuple(dropped), balances))
    for member_id in state.member_ids:
        step.notify(member_id, RotationNoticeKind.GROUP_DISSOLVED)
    step.state = replace(step.state, status=RotationStatus.DISSOLVED)


def _schedule_held_cycles(step: RotationStep, starts_on: date) -> None:
    """Every cycle not started runs again, in order, from ``starts_on`` at the group's cadence,
    paid into by the members still in the rotation, under start timers of a new generation."""
    generation = step.state.generation + 1
    step.state = replace(step.state, generation=generation)
    members = step.state.members
    scheduled = []
    for slot, cycle in enumerate(step.state.cycles_in(CycleProgress.PLANNED)):
        if cycle.start_timer_id is not None:
            step.command(CancelCycleStart(cycle.start_timer_id))
        plan = replan_cycle(
            step.state.activation,
            cycle_id=cycle.cycle_id,
            cycle_number=cycle.plan.cycle_number,
            recipient=cycle.plan.recipient,
            members=members,
            nominal=slot_date(starts_on, step.state.activation, slot),
            business_days=step.business_days,
        )
        timer_id = start_timer_id(plan.cycle_id, generation)
        step.command(
            PlanCycle(plan, cycle.round),
            ScheduleCycleStart(timer_id, plan.group_id, plan.cycle_id, plan.cycle_number, plan.start_at),
        )
        replanned = replace(cycle, plan=plan, start_timer_id=timer_id)
        step.update(replanned)
        if step.state.is_delinquent(replanned.recipient_id):
            hold_payout(step, replanned)
        scheduled.append(plan)
    if scheduled:
        first = scheduled[0].starts_on
        step.command(RotationResumed(step.state.group_id, first, tuple(p.cycle_id for p in scheduled)))
        for member_id in step.state.member_ids:
            step.notify(member_id, RotationNoticeKind.ROUND_RESCHEDULED, starts_on=first)
