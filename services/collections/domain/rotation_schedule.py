"""Plans of cycles made after activation: a new round of a cycle, or a held cycle moved to new
dates or left with fewer members; and the ids of their start timers."""

from datetime import date, timedelta
from typing import Final
from uuid import UUID, uuid5

from contracts.onboarding import ActivatedMember, GroupActivated
from services.collections.domain.business_days import BusinessCalendar
from services.collections.domain.rotation import (
    CyclePlan,
    cycle_id_for,
    nominal_cycle_date,
    plan_cycle,
)

_ROUND_NAMESPACE: Final = UUID("3d1f6b2e-8a4c-5e70-9b13-2c6a4f8e0d59")


def round_cycle_id(group_id: UUID, cycle_number: int, round_number: int) -> UUID:
    """Round 1 is the cycle planned at activation; a retried round gets an id of its own, so its
    debits, refunds and timers never meet the cancelled round's."""
    if round_number == 1:
        return cycle_id_for(group_id, cycle_number)
    return uuid5(_ROUND_NAMESPACE, f"{group_id}:{cycle_number}:round:{round_number}")


def start_timer_id(cycle_id: UUID, generation: int) -> str:
    """The start timer of a cycle in the schedule's ``generation`` (0: the activation's).

    The scheduler cancels a timer for good, so a held cycle scheduled again needs a new id.
    Generation 0 is the id the activation handler gives (``cycle:<cycle id>:start``).
    """
    if generation == 0:
        return f"cycle:{cycle_id}:start"
    return f"cycle:{cycle_id}:start:{generation}"


def first_start_day(today: date, asked: date | None, business_days: BusinessCalendar) -> date:
    """The admin's day rolled to a business day, or the next business day after ``today``."""
    if asked is None:
        return business_days.add_business_days(today + timedelta(days=1), 0)
    return business_days.add_business_days(asked, 0)


def replan_cycle(
    activation: GroupActivated,
    *,
    cycle_id: UUID,
    cycle_number: int,
    recipient: ActivatedMember,
    members: tuple[ActivatedMember, ...],
    nominal: date,
    business_days: BusinessCalendar,
) -> CyclePlan:
    """A cycle as ``rotation.plan_rotation`` plans one, on ``nominal`` (rolled to a business day),
    paid into by ``members``: the contribution stays the same, so fewer members make a smaller pot."""
    return plan_cycle(
        activation,
        cycle_id=cycle_id,
        cycle_number=cycle_number,
        recipient=recipient,
        members=members,
        nominal=nominal,
        business_days=business_days,
    )


def slot_date(anchor: date, activation: GroupActivated, slot: int) -> date:
    """The ``slot``-th cycle (0 first) from ``anchor``, at the group's cadence."""
    return nominal_cycle_date(anchor, activation.cadence, slot + 1)
