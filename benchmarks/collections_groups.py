"""What both collections benchmarks build alike: a benchmark group's activation, a cycle's start as
its timer carries it, and a process's CPU time."""

import os
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from contracts.collections import StartCycle
from contracts.onboarding import ActivatedMember, GroupActivated, GroupPolicy
from services.collections.domain.rotation import CyclePlan
from services.collections.domain.rotation_schedule import start_timer_id
from services.collections.service_layer.outgoing import message_id_for

AMOUNT = 5_000
POLICY = GroupPolicy(
    attempt_limit=3, retry_spacing_business_days=1, collection_window_business_days=10, platform_fee_bps=100
)


def activation_of(members: list[ActivatedMember], now: datetime) -> GroupActivated:
    """A group of ``members`` (in payout order, the first its admin) activated at ``now``."""
    group_id = uuid.uuid4()
    return GroupActivated(
        occurred_at=now,
        correlation_id=str(group_id),
        group_id=group_id,
        name="Benchmark circle",
        admin_member_id=members[0].member_id,
        contribution_amount=AMOUNT,
        currency="aud",
        cadence="fortnightly",
        start_date=now.astimezone(ZoneInfo("Australia/Sydney")).date(),
        timezone="Australia/Sydney",
        size=len(members),
        policy=POLICY,
        payout_order_method="fixed",
        draw=None,
        members=members,
        activated_at=now,
    )


def start_command(plan: CyclePlan) -> StartCycle:
    """The cycle's start, as its timer carries it when the scheduler fires it."""
    return StartCycle(
        occurred_at=datetime.now(UTC),
        correlation_id=str(plan.cycle_id),
        message_id=message_id_for(start_timer_id(plan.cycle_id, 0)),
        group_id=plan.group_id,
        cycle_id=plan.cycle_id,
        cycle_number=plan.cycle_number,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
