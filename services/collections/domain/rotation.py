"""The rotation plan: one cycle per member, its recipient, its dates and its deterministic ids."""

import calendar as gregorian
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from contracts.onboarding import ActivatedMember, Cadence, GroupActivated, GroupPolicy
from services.collections.domain.business_days import BusinessCalendar

# Fixed namespaces: a redelivered activation must produce exactly the same ids.
_CYCLE_NAMESPACE: Final = UUID("0c6f3c55-1f55-5d0e-9a3e-6c1d2b7f4a10")
_CONTRIBUTION_NAMESPACE: Final = UUID("7a2e9d1b-4c83-5b6f-8e0a-3f5d9c2b1e47")

# Debits go out in the morning of their day, in the group's zone: 09:00 anywhere in Australia is
# before BECS's 18:30 Melbourne cut-off, so the debit joins that day's batch.
DEBIT_SUBMISSION_TIME: Final = time(9, 0)


def cycle_id_for(group_id: UUID, cycle_number: int) -> UUID:
    return uuid5(_CYCLE_NAMESPACE, f"{group_id}:{cycle_number}")


def contribution_id_for(cycle_id: UUID, member_id: str) -> UUID:
    return uuid5(_CONTRIBUTION_NAMESPACE, f"{cycle_id}:{member_id}")


@dataclass(frozen=True)
class PlannedContribution:
    contribution_id: UUID
    member: ActivatedMember


@dataclass(frozen=True)
class CyclePlan:
    """Cycle ``cycle_number`` of a group: who receives, who pays, and by when.

    ``deadline_on`` is the last day a contribution may settle; the deadline passes at the end of
    that day in the group's zone (``deadline_at``), after that day's settlements are reported.
    """

    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    recipient: ActivatedMember
    contributions: tuple[PlannedContribution, ...]
    contribution_amount: int
    currency: str
    policy: GroupPolicy
    timezone: str
    nominal_date: date
    starts_on: date
    start_at: datetime
    deadline_on: date
    deadline_at: datetime

    @property
    def transfer_group(self) -> str:
        return f"cycle_{self.cycle_id}"


def nominal_cycle_date(start_date: date, cadence: Cadence, cycle_number: int) -> date:
    """The start date plus ``cycle_number - 1`` cadences, before moving to a business day.

    Months count from the first cycle's day, not from the previous cycle's, and a day the month
    lacks becomes its last day: a group starting on 31 January runs on 28 (or 29) February, then
    31 March, 30 April, and so on.
    """
    periods = cycle_number - 1
    if cadence == "weekly":
        return start_date + timedelta(weeks=periods)
    if cadence == "fortnightly":
        return start_date + timedelta(weeks=2 * periods)
    month_index = start_date.month - 1 + periods
    year, month = start_date.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start_date.day, gregorian.monthrange(year, month)[1]))


def plan_rotation(activation: GroupActivated, business_days: BusinessCalendar) -> tuple[CyclePlan, ...]:
    """Every cycle of an activated group: cycle k pays the member at position k."""
    members = tuple(sorted(activation.members, key=lambda member: member.position))
    positions = [member.position for member in members]
    if positions != list(range(1, activation.size + 1)):
        raise ValueError(f"payout positions must be 1 to {activation.size} once each, got {positions}")
    return tuple(_plan_cycle(activation, members, recipient, business_days) for recipient in members)


def _plan_cycle(
    activation: GroupActivated,
    members: tuple[ActivatedMember, ...],
    recipient: ActivatedMember,
    business_days: BusinessCalendar,
) -> CyclePlan:
    cycle_number = recipient.position
    return plan_cycle(
        activation,
        cycle_id=cycle_id_for(activation.group_id, cycle_number),
        cycle_number=cycle_number,
        recipient=recipient,
        members=members,
        nominal=nominal_cycle_date(activation.start_date, activation.cadence, cycle_number),
        business_days=business_days,
    )


def plan_cycle(
    activation: GroupActivated,
    *,
    cycle_id: UUID,
    cycle_number: int,
    recipient: ActivatedMember,
    members: tuple[ActivatedMember, ...],
    nominal: date,
    business_days: BusinessCalendar,
) -> CyclePlan:
    """One cycle on ``nominal`` (rolled to a BECS business day), paid into by ``members``; its
    deadline the group's collection window later, passing at the end of that day in its zone."""
    zone = ZoneInfo(activation.timezone)
    starts_on = business_days.add_business_days(nominal, 0)
    deadline_on = business_days.add_business_days(
        starts_on, activation.policy.collection_window_business_days
    )
    return CyclePlan(
        group_id=activation.group_id,
        cycle_id=cycle_id,
        cycle_number=cycle_number,
        recipient=recipient,
        contributions=tuple(
            PlannedContribution(contribution_id_for(cycle_id, member.member_id), member) for member in members
        ),
        contribution_amount=activation.contribution_amount,
        currency=activation.currency,
        policy=activation.policy,
        timezone=activation.timezone,
        nominal_date=nominal,
        starts_on=starts_on,
        start_at=datetime.combine(starts_on, DEBIT_SUBMISSION_TIME, zone),
        deadline_on=deadline_on,
        deadline_at=datetime.combine(deadline_on + timedelta(days=1), time(0, 0), zone),
    )
