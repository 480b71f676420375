"""Held payouts: a recipient who owes the group after a dispute is held until collections releases
the cycle; a recipient's first pot waits the configured business days after their account became
ready. A held payout says why and until when."""

import uuid
from datetime import UTC, datetime

import pytest

from contracts import subjects
from contracts.onboarding import MemberReadinessChanged
from contracts.payouts import HoldCyclePayout, ReleaseCyclePayout
from services.runtime.clock import CLOCK_BUCKET, advance_simulated_clock
from services.runtime.naming import Namespace
from tests.integration.collections.support import eventually
from tests.integration.payouts.support import PayoutsWiring, pay_cycle, recipient_account

pytestmark = pytest.mark.integration


async def test_a_recipient_who_owes_the_group_is_held_until_released(stack: PayoutsWiring) -> None:
    command = pay_cycle(stack.sim, recipient_account(stack.sim), 2)
    hold = HoldCyclePayout(
        occurred_at=datetime.now(UTC),
        correlation_id=str(command.cycle_id),
        group_id=command.group_id,
        cycle_id=command.cycle_id,
        recipient_member_id=command.recipient_member_id,
    )
    await stack.publish(subjects.PAYOUTS_HOLD_CYCLE, hold)
    await eventually(lambda: stack.consumers_idle("PAYOUTS", "payouts-hold-cycle"), "the hold is taken")

    await stack.publish(subjects.PAYOUTS_PAY_CYCLE, command)
    await eventually(lambda: _status_is(stack, command.cycle_id, "held"), "the payout is held")
    pots = await stack.api("GET", "/members/me/pots", member=command.recipient_member_id)
    assert stack.transfers_at_stripe(command.cycle_id) == []
    await stack.publish(
        subjects.PAYOUTS_RELEASE_CYCLE,
        ReleaseCyclePayout.model_validate(
            {**hold.model_dump(exclude={"message_id"}), "occurred_at": datetime.now(UTC)}
        ),
    )
    await eventually(lambda: _status_is(stack, command.cycle_id, "paid"), "the payout is paid")

    ((held,),) = [pots["in_progress"]]
    assert (held["status"], held["reason"], held["held_until"]) == ("held", "recipient_owes_the_group", None)
    assert len(stack.transfers_at_stripe(command.cycle_id)) == 2
    mine = await stack.api("GET", "/members/me/pots", member=command.recipient_member_id)
    assert [(p["status"], len(p["transfers"])) for p in mine["received"]] == [("paid", 2)]


async def test_a_first_pot_waits_the_configured_business_days_after_the_account_became_ready(
    held_stack: PayoutsWiring,
) -> None:
    stack = held_stack
    account = recipient_account(stack.sim)
    member = f"recipient-{uuid.uuid4().hex[:8]}"
    now = (await stack.api("GET", "/operator/waiting-payouts", operator=True))["as_of"]
    await stack.publish(
        subjects.ONBOARDING_MEMBER_READINESS_CHANGED, _ready(member, account, datetime.fromisoformat(now))
    )
    await eventually(
        lambda: stack.consumers_idle("ONBOARDING", "payouts-member-readiness-changed"), "readiness seen"
    )
    command = pay_cycle(stack.sim, account, 2, recipient=member)

    await stack.publish(subjects.PAYOUTS_PAY_CYCLE, command)
    await eventually(lambda: _status_is(stack, command.cycle_id, "held"), "the payout is held")
    await eventually(stack.outbox_empty, "every fact and timer published")
    payout = await stack.payout(command.cycle_id)
    assert payout is not None
    until = payout["held_until"]
    (timer,) = await stack.timers_for(subjects.PAYOUTS_RETRY_PAYOUT)
    assert datetime.fromisoformat(timer["due_at"]) == until
    assert until > datetime.fromisoformat(now)
    notices = [n for n in await stack.notices(member) if n["kind"] == "payout_held"]
    assert len(notices) == 1

    await advance_simulated_clock(
        stack.js, until - datetime.fromisoformat(now), bucket=Namespace(stack.namespace).bucket(CLOCK_BUCKET)
    )

    async def clock_moved() -> bool:
        as_of = (await stack.api("GET", "/operator/waiting-payouts", operator=True))["as_of"]
        moved: bool = datetime.fromisoformat(as_of) >= until
        return moved

    await eventually(clock_moved, "the service's clock reaches the hold's end")
    await stack.fire_timer(timer)
    await eventually(lambda: _status_is(stack, command.cycle_id, "paid"), "the payout is paid")

    assert payout["reason"] == "first_payout_hold"
    assert len(stack.transfers_at_stripe(command.cycle_id)) == 2


def _ready(member: str, account: str, at: datetime) -> MemberReadinessChanged:
    return MemberReadinessChanged(
        occurred_at=at,
        correlation_id=member,
        member_id=member,
        ready=True,
        missing=[],
        previously_missing=["payout_account_onboarding"],
        customer_id="cus_x",
        payment_method_id="pm_x",
        mandate_id="mandate_x",
        connected_account_id=account,
        group_ids=[],
    )


async def _status_is(stack: PayoutsWiring, cycle_id: uuid.UUID, status: str) -> bool:
    return await stack.status(cycle_id) == status
