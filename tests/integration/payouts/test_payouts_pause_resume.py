"""A recipient whose account cannot receive: the payout pauses, collections and the recipient are
told (with the API step that fixes it), and it resumes by itself when the account is ready again,
or when the group's admin retries it; paid exactly once either way."""

import uuid
from datetime import UTC, date, datetime

import pytest

from contracts import subjects
from contracts.onboarding import (
    ActivatedMember,
    GroupActivated,
    GroupPolicy,
    PayoutAccountRestored,
    PayoutAccountRestricted,
)
from tests.integration.collections.support import eventually
from tests.integration.payouts.support import PayoutsWiring, pay_cycle, recipient_account
from tests.integration.stripe_sim.connect_fixtures import RETURN_URL, onboarding_link, visit

pytestmark = pytest.mark.integration

FIX = "POST /onboarding/members/me/payout-account/onboarding-link"


async def test_a_restricted_recipient_is_paused_notified_and_paid_once_when_restored(
    stack: PayoutsWiring,
) -> None:
    account = recipient_account(stack.sim)
    command = pay_cycle(stack.sim, account, 3)
    member = command.recipient_member_id
    stack.sim.helper(f"accounts/{account}/restrict")
    await stack.publish(subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTRICTED, _restricted(member, account))
    await eventually(
        lambda: stack.consumers_idle("ONBOARDING", "payouts-payout-account-restricted"),
        "the restriction is seen",
    )

    await stack.publish(subjects.PAYOUTS_PAY_CYCLE, command)
    await eventually(lambda: _status_is(stack, command.cycle_id, "paused"), "the payout is paused")
    # The status commits first; the fact leaves through the outbox just after.
    await eventually(
        lambda: _has_facts(stack, subjects.PAYOUTS_PAYOUT_PAUSED, command.cycle_id), "the pause is told"
    )
    (paused,) = await stack.facts(subjects.PAYOUTS_PAYOUT_PAUSED, command.cycle_id)
    await eventually(lambda: _noticed(stack, member, "payout_paused"), "the recipient is told")
    (notice,) = [n for n in await stack.notices(member) if n["kind"] == "payout_paused"]
    assert stack.transfers_at_stripe(command.cycle_id) == []

    assert visit(onboarding_link(stack.sim.client(), account).url) == RETURN_URL
    await stack.publish(subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTORED, _restored(member, account))
    await eventually(lambda: _status_is(stack, command.cycle_id, "paid"), "the payout is paid")

    await eventually(stack.outbox_empty, "every fact published")
    assert paused["reason"] == "requirements.past_due"
    assert notice["action"] == FIX
    assert "individual.verification.document" in notice["body"]
    assert len(await stack.facts(subjects.PAYOUTS_PAYOUT_RESUMED, command.cycle_id)) == 1
    transfers = stack.transfers_at_stripe(command.cycle_id)
    assert sorted(t["source_transaction"] for t in transfers) == sorted(c.charge_id for c in command.charges)
    assert len(await stack.facts(subjects.PAYOUTS_CYCLE_PAID, command.cycle_id)) == 1


async def test_stripes_account_updated_pauses_and_resumes_a_payout(stack: PayoutsWiring) -> None:
    account = recipient_account(stack.sim)
    command = pay_cycle(stack.sim, account, 2)
    stack.sim.helper(f"accounts/{account}/restrict")
    await stack.deliver_account_events(account, "account.updated")
    await eventually(lambda: stack.consumers_idle("STRIPE", "payouts-account-updated"), "the account is seen")

    await stack.publish(subjects.PAYOUTS_PAY_CYCLE, command)
    await eventually(lambda: _status_is(stack, command.cycle_id, "paused"), "the payout is paused")
    assert stack.transfers_at_stripe(command.cycle_id) == []
    assert visit(onboarding_link(stack.sim.client(), account).url) == RETURN_URL
    await stack.deliver_account_events(account, "account.updated")
    await eventually(lambda: _status_is(stack, command.cycle_id, "paid"), "the payout is paid")

    assert len(stack.transfers_at_stripe(command.cycle_id)) == 2


async def test_a_refused_transfer_pauses_the_payout_and_the_groups_admin_retries_it(
    stack: PayoutsWiring,
) -> None:
    account = recipient_account(stack.sim)
    admin, recipient, outsider = (
        f"{who}-{uuid.uuid4().hex[:6]}" for who in ("admin", "recipient", "outsider")
    )
    group = _activated(admin, recipient, account)
    await stack.publish(subjects.ONBOARDING_GROUP_ACTIVATED, group)
    command = pay_cycle(stack.sim, account, 2, recipient=recipient, group_id=group.group_id)
    stack.sim.helper(f"accounts/{account}/restrict")  # payouts hears nothing of it: Stripe refuses

    await stack.publish(subjects.PAYOUTS_PAY_CYCLE, command)
    await eventually(lambda: _status_is(stack, command.cycle_id, "paused"), "the payout is paused")
    retry = f"/groups/{group.group_id}/cycles/{command.cycle_id}/retry"
    await stack.api("POST", retry, member=recipient, expect=403)
    await stack.api("POST", retry, member=outsider, expect=404)
    assert visit(onboarding_link(stack.sim.client(), account).url) == RETURN_URL
    waiting = await stack.api("GET", "/operator/waiting-payouts", operator=True)
    accepted = await stack.api("POST", retry, member=admin, expect=202)
    await eventually(lambda: _status_is(stack, command.cycle_id, "paid"), "the payout is paid")
    await stack.api("POST", retry, member=admin, expect=409)
    await eventually(stack.outbox_empty, "every fact published")

    # The status commits first; the fact leaves through the outbox just after.
    await eventually(
        lambda: _has_facts(stack, subjects.PAYOUTS_PAYOUT_PAUSED, command.cycle_id), "the pause is told"
    )
    (paused,) = await stack.facts(subjects.PAYOUTS_PAYOUT_PAUSED, command.cycle_id)
    assert paused["reason"] == "insufficient_capabilities_for_transfer"
    assert [(p["cycle_id"], p["status"], p["reason"]) for p in waiting["payouts"]] == [
        (str(command.cycle_id), "paused", "insufficient_capabilities_for_transfer")
    ]
    assert accepted["status"] == "paused"
    transfers = stack.transfers_at_stripe(command.cycle_id)
    assert len(transfers) == 2
    rows = await stack.transfer_rows(command.cycle_id)
    # The refused try made nothing; the retry's is a new attempt with a key of its own.
    assert {r["idempotency_key"] for r in rows} == {
        f"payout-{command.cycle_id}-{c.charge_id}-2" for c in command.charges
    }
    seen = await stack.api("GET", f"/groups/{group.group_id}/payouts", member=admin)
    assert [(p["status"], len(p["transfers"])) for p in seen["payouts"]] == [("paid", 2)]


def _restricted(member: str, account: str) -> PayoutAccountRestricted:
    return PayoutAccountRestricted(
        occurred_at=datetime.now(UTC),
        correlation_id=member,
        member_id=member,
        connected_account_id=account,
        status="restricted",
        requirements_due=["individual.verification.document"],
        disabled_reason="requirements.past_due",
        group_ids=[],
    )


def _restored(member: str, account: str) -> PayoutAccountRestored:
    return PayoutAccountRestored(
        occurred_at=datetime.now(UTC),
        correlation_id=member,
        member_id=member,
        connected_account_id=account,
        group_ids=[],
    )


def _activated(admin: str, recipient: str, account: str) -> GroupActivated:
    group_id = uuid.uuid4()
    members = [
        ActivatedMember(
            position=position,
            member_id=member,
            customer_id=f"cus_{position}",
            payment_method_id=f"pm_{position}",
            mandate_id=f"mandate_{position}",
            connected_account_id=connected,
        )
        for position, (member, connected) in enumerate([(recipient, account), (admin, "acct_admin")], start=1)
    ]
    now = datetime.now(UTC)
    return GroupActivated(
        occurred_at=now,
        correlation_id=str(group_id),
        group_id=group_id,
        name="Payouts circle",
        admin_member_id=admin,
        contribution_amount=5_000,
        currency="aud",
        cadence="fortnightly",
        start_date=date.today(),
        timezone="Australia/Sydney",
        size=2,
        policy=GroupPolicy(
            attempt_limit=3,
            retry_spacing_business_days=1,
            collection_window_business_days=10,
            platform_fee_bps=100,
        ),
        payout_order_method="fixed",
        draw=None,
        members=members,
        activated_at=now,
    )


async def _status_is(stack: PayoutsWiring, cycle_id: uuid.UUID, status: str) -> bool:
    return await stack.status(cycle_id) == status


async def _noticed(stack: PayoutsWiring, member: str, kind: str) -> bool:
    return any(n["kind"] == kind for n in await stack.notices(member))


async def test_an_operator_retries_a_paused_payout_behind_the_operator_token(stack: PayoutsWiring) -> None:
    account = recipient_account(stack.sim)
    command = pay_cycle(stack.sim, account, 2)
    stack.sim.helper(f"accounts/{account}/restrict")
    await stack.publish(subjects.PAYOUTS_PAY_CYCLE, command)
    await eventually(lambda: _status_is(stack, command.cycle_id, "paused"), "the payout is paused")
    retry = f"/operator/cycles/{command.cycle_id}/retry"

    await stack.api("POST", retry, expect=401)
    await stack.api("POST", f"/operator/cycles/{uuid.uuid4()}/retry", operator=True, expect=404)
    assert visit(onboarding_link(stack.sim.client(), account).url) == RETURN_URL
    await stack.api("POST", retry, operator=True, expect=202)
    await eventually(lambda: _status_is(stack, command.cycle_id, "paid"), "the payout is paid")

    await eventually(stack.outbox_empty, "every fact published")
    assert len(stack.transfers_at_stripe(command.cycle_id)) == 2
    (resumed,) = await stack.facts(subjects.PAYOUTS_PAYOUT_RESUMED, command.cycle_id)
    assert resumed["reason"] == "operator_retry"
    waiting = await stack.api("GET", "/operator/waiting-payouts", operator=True)
    assert str(command.cycle_id) not in {p["cycle_id"] for p in waiting["payouts"]}


async def _has_facts(stack: PayoutsWiring, subject: str, cycle_id: uuid.UUID) -> bool:
    return bool(await stack.facts(subject, cycle_id))
