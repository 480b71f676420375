"""A dispute debt paid twice, on real NATS, Postgres and the Stripe simulator: a member owes after a
dispute of a debit already paid out, pays the debt by a debit they ask for, and then the bank
decides the dispute for the platform after all (the money comes back): the member paid twice, so
collections refunds their debt debit (one Stripe refund, its key stored before the call), books it
so that every transaction sums to zero, tells the member, and follows the refund to its end:
landed (the member is square) or failed (owed to the member). Stripe's reports come twice and out
of order; the money checker passes at the end."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from contracts import subjects
from contracts.streams import COLLECTIONS, NOTIFY
from services.collections.domain.reconciliation import DifferenceKind
from services.collections.service_layer.reconciliation import Scope, reconcile
from services.collections.stripe_books import StripeBooksReader
from tests.integration.collections.support import SUCCEEDS, Stack, assert_money_checks_pass, eventually
from tests.integration.collections.test_collections_api import Api, activated_group, start_first_cycle
from tests.integration.collections.test_collections_debts import (
    AMOUNT,
    Member,
    debit_settles,
    new_mandate,
    owing_after_payout,
)
from tests.integration.collections.test_collections_rotation import pay

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(api_stack: Stack) -> AsyncIterator[Api]:
    async with Api(api_stack) as client:
        yield client


def debt_refunds_at_stripe(stack: Stack, debt_collection_id: str) -> list[dict[str, Any]]:
    held = stack.sim.app.sim.objects.newest_first("refund", None)
    return [
        dict(r.body)
        for r in held
        if r.body.get("metadata", {}).get("debt_collection_id") == debt_collection_id
    ]


async def balances(api: Api, member_id: str, group_id: UUID) -> dict[str, int]:
    ledger = await api.member(member_id, f"/groups/{group_id}/ledger", limit=500)
    return {b["account"]: b["balance"] for b in ledger["balances"]}


async def paid_then_dispute_won(stack: Stack, api: Api) -> tuple[Member, str, str, UUID]:
    """The member owes after a dispute, pays it by a debit from a new bank account, and then the
    bank decides that dispute for the platform (its closing reports delivered twice, the later
    ``won`` one before the earlier ``lost`` one too). Returns the member, the dispute, the debt
    collection and the group."""
    activation, _, owing = await owing_after_payout(stack, api)
    group_id = activation.group_id
    member = Member(api, owing.member_id, group_id)
    (dispute_id,) = [d["dispute_id"] for d in (await member.debt())["disputes"]]
    await new_mandate(stack, owing, group_id, SUCCEEDS, "active")
    asked = await member.pay("pay-once", expect=202)
    await debit_settles(stack, member, "payment_intent.succeeded", attempt=1)

    async def paid() -> bool:
        return bool((await member.debt())["owed"] == 0)

    await eventually(paid, "the debt is collected")

    stack.sim.helper(f"disputes/{dispute_id}/win")
    closings = [
        e for e in stack.stripe_events("charge.dispute.closed") if e["data"]["object"]["id"] == dispute_id
    ]
    assert [e["data"]["object"]["status"] for e in closings] == ["lost", "won"]
    await stack.deliver_stripe_events("charge.dispute.closed", {dispute_id})  # lost, then won
    await stack.deliver_stripe_events("charge.dispute.closed", {dispute_id})  # both again
    return member, dispute_id, str(asked["debt_collection_id"]), group_id


async def refund_asked(stack: Stack, debt_collection_id: str) -> dict[str, Any]:
    async def made() -> bool:
        return len(debt_refunds_at_stripe(stack, debt_collection_id)) == 1

    await eventually(made, "the debt debit is refunded at Stripe")
    (refund,) = debt_refunds_at_stripe(stack, debt_collection_id)
    return refund


async def test_a_debt_paid_before_its_dispute_was_won_is_refunded_to_the_member(
    api_stack: Stack, api: Api
) -> None:
    stack = api_stack
    member, dispute_id, debt_collection_id, group_id = await paid_then_dispute_won(stack, api)

    refund = await refund_asked(stack, debt_collection_id)
    (debt_debit,) = [
        a["payment_intent_id"]
        for a in (await member.debt())["collection"]["attempts"]
        if a["status"] == "succeeded"
    ]
    assert (refund["payment_intent"], refund["amount"], refund["metadata"]["dispute_id"]) == (
        debt_debit,
        AMOUNT,
        dispute_id,
    )
    (command,) = await stack.published(COLLECTIONS.name, subjects.COLLECTIONS_CREATE_DEBT_REFUND)
    assert command["idempotency_key"] == f"debt-refund-{debt_collection_id}-{dispute_id}"
    owed_back = await balances(api, member.member_id, group_id)
    # The member owes nothing, and the money that came back twice is owed to them until it lands.
    assert owed_back[f"dispute_receivable:{member.member_id}"] == 0
    assert owed_back[f"refund_owed:{member.member_id}"] == AMOUNT
    debt = await member.debt()
    assert (debt["owed"], debt["delinquent"]) == (0, False)
    assert [(r["dispute_id"], r["amount"]) for r in debt["refunds"]] == [(dispute_id, AMOUNT)]

    stack.sim.advance(timedelta(seconds=10))  # the refund lands
    for _ in range(2):  # a duplicate changes nothing
        await stack.deliver_stripe_events("refund.updated", {refund["id"]})

    async def refunded() -> bool:
        refunds = (await member.debt())["refunds"]
        return bool(refunds[0]["status"] == "succeeded")

    await eventually(refunded, "the refund of the debt debit landed")
    square = await balances(api, member.member_id, group_id)
    assert square[f"dispute_receivable:{member.member_id}"] == 0
    assert square[f"refund_owed:{member.member_id}"] == 0
    await eventually(stack.outbox_empty, "everything decided is published")
    (started,) = await stack.published(NOTIFY.name, subjects.NOTIFY_MEMBER_DEBT_REFUND_STARTED)
    (landed,) = await stack.published(NOTIFY.name, subjects.NOTIFY_MEMBER_DEBT_REFUNDED)
    assert started["member_id"] == landed["member_id"] == member.member_id
    assert len(debt_refunds_at_stripe(stack, debt_collection_id)) == 1
    await assert_money_checks_pass(stack, transfers_on_stripe=False)
    # Reconciliation of the group (its cycles and its member's debt debits) agrees to the cent,
    # the debt debit's collection, fee and refund included (the test plays payouts: no transfer).
    async with stack.database.transaction() as session:
        run = await reconcile(
            session,
            StripeBooksReader(stack.sim.client()),
            Scope(group_id=group_id),
            trigger="test",
            now=datetime.now(UTC),
        )
    assert [d for d in run.differences if d.kind is not DifferenceKind.TRANSFERRED_DIFFERS] == []
    assert run.stripe_objects_read >= 4  # the three contribution debits and the debt debit, at least


async def test_a_debt_refund_the_bank_returns_stays_owed_to_the_member(api_stack: Stack, api: Api) -> None:
    stack = api_stack
    member, _, debt_collection_id, group_id = await paid_then_dispute_won(stack, api)
    refund = await refund_asked(stack, debt_collection_id)

    stack.sim.fail_refund(refund["id"], "declined")
    await stack.deliver_stripe_events("refund.failed", {refund["id"]})
    await stack.deliver_stripe_events("refund.updated", {refund["id"]})  # pending, heard late

    async def failed() -> bool:
        refunds = (await member.debt())["refunds"]
        return bool(refunds[0]["status"] == "failed")

    await eventually(failed, "the refund of the debt debit failed")
    assert (await member.debt())["refunds"][0]["failure_reason"] == "declined"
    owed = await balances(api, member.member_id, group_id)
    assert owed[f"refund_owed:{member.member_id}"] == AMOUNT
    await eventually(stack.outbox_empty, "everything decided is published")
    (notice,) = await stack.published(NOTIFY.name, subjects.NOTIFY_MEMBER_DEBT_REFUND_FAILED)
    assert "declined" in notice["body"]
    await assert_money_checks_pass(stack, transfers_on_stripe=False)


async def test_a_debt_debit_that_collects_after_its_dispute_was_won_is_refunded(
    api_stack: Stack, api: Api
) -> None:
    stack = api_stack
    activation, _, owing = await owing_after_payout(stack, api)
    group_id = activation.group_id
    member = Member(api, owing.member_id, group_id)
    (dispute_id,) = [d["dispute_id"] for d in (await member.debt())["disputes"]]
    await new_mandate(stack, owing, group_id, SUCCEEDS, "active")
    asked = await member.pay("pay-while-disputed", expect=202)

    async def out() -> bool:
        return (await member.debt())["collection"]["attempts"][0]["payment_intent_id"] is not None

    await eventually(out, "the debt debit is out at Stripe")
    stack.sim.helper(f"disputes/{dispute_id}/win")  # decided while the debit is processing
    await stack.deliver_stripe_events("charge.dispute.closed", {dispute_id})

    async def cleared() -> bool:
        return bool((await member.debt())["owed"] == 0)

    await eventually(cleared, "the won dispute clears the debt")
    await debit_settles(stack, member, "payment_intent.succeeded", attempt=1)
    refund = await refund_asked(stack, str(asked["debt_collection_id"]))
    assert (refund["amount"], refund["metadata"]["dispute_id"]) == (AMOUNT, dispute_id)
    owed_back = await balances(api, member.member_id, group_id)
    assert owed_back[f"refund_owed:{member.member_id}"] == AMOUNT

    stack.sim.advance(timedelta(seconds=10))
    await stack.deliver_stripe_events("refund.updated", {refund["id"]})

    async def refunded() -> bool:
        return bool((await member.debt())["refunds"][0]["status"] == "succeeded")

    await eventually(refunded, "the refund landed")
    assert (await balances(api, member.member_id, group_id))[f"refund_owed:{member.member_id}"] == 0
    await assert_money_checks_pass(stack, transfers_on_stripe=False)


async def test_a_won_dispute_of_a_debt_debit_after_that_debt_was_paid_again_refunds_the_second_debit(
    api_stack: Stack, api: Api
) -> None:
    stack = api_stack
    activation, held_cycle, owing = await owing_after_payout(stack, api)
    group_id = activation.group_id
    member = Member(api, owing.member_id, group_id)
    await member.pay("first", expect=202)  # from the account that disputes every debit
    first_debit = await debit_settles(stack, member, "payment_intent.succeeded", attempt=1)
    (debt_dispute,) = {
        e["data"]["object"]["id"]
        for e in stack.stripe_events("charge.dispute.created")
        if e["data"]["object"]["payment_intent"] == first_debit
    }
    await stack.deliver_stripe_events("charge.dispute.created", {debt_dispute})

    async def owes_again() -> bool:
        return bool((await member.debt())["owed"] == AMOUNT)

    await eventually(owes_again, "the member owes again after their debt debit is disputed")
    await new_mandate(stack, owing, group_id, SUCCEEDS, "active")
    # Days later (the member's latest request is the later one; no timer runs without a scheduler).
    await api.move_clock_to(held_cycle.start_at - timedelta(days=3))
    second = await member.pay("second", expect=202)
    await debit_settles(stack, member, "payment_intent.succeeded", attempt=1)

    async def paid_again() -> bool:
        return bool((await member.debt())["owed"] == 0)

    await eventually(paid_again, "the second debt debit pays the debt again")
    stack.sim.helper(f"disputes/{debt_dispute}/win")  # the first debt debit's money comes back
    await stack.deliver_stripe_events("charge.dispute.closed", {debt_dispute})

    refund = await refund_asked(stack, str(second["debt_collection_id"]))
    assert (refund["amount"], refund["metadata"]["dispute_id"]) == (AMOUNT, debt_dispute)
    assert (await balances(api, member.member_id, group_id))[f"refund_owed:{member.member_id}"] == AMOUNT
    assert (await member.debt())["delinquent"] is False
    await eventually(stack.outbox_empty, "everything decided is published")
    assert len(await stack.published(NOTIFY.name, subjects.NOTIFY_MEMBER_DEBT_REFUND_STARTED)) == 1
    await assert_money_checks_pass(stack, transfers_on_stripe=False)


async def test_a_debt_paid_twice_is_refunded_once_through_stripes_own_duplicated_and_reordered_webhooks(
    heard_api_stack: Stack,
) -> None:
    stack = heard_api_stack
    async with Api(stack) as api:
        # Every debit succeeds; once cycle 1 is paid out, member 2 disputes theirs with their bank
        # (an account that disputes at once would race its own success here, heard on its own).
        activation, plans = await activated_group(stack, SUCCEEDS, SUCCEEDS)
        await api.move_clock_to(plans[0].start_at)
        intents = await start_first_cycle(stack, plans[0])
        await pay(stack, plans[0].cycle_id, intents)
        owing = next(m for m in activation.members if m.position == 2)
        group_id = activation.group_id
        member = Member(api, owing.member_id, group_id)
        (charge,) = [pi["latest_charge"] for pi in intents if pi["customer"] == owing.customer_id]
        dispute_id = stack.sim.helper(f"charges/{charge}/dispute")["id"]
        stack.sim.advance(timedelta(seconds=5))  # the faults' delays and duplicates fall due

        async def owes() -> bool:
            return bool((await member.debt())["owed"] == AMOUNT)

        await eventually(owes, "the dispute, heard through the gateway, makes the member owe")
        asked = await member.pay("through-webhooks", expect=202)
        await debit_settles(stack, member, "payment_intent.succeeded", attempt=1)

        async def paid() -> bool:
            return bool((await member.debt())["owed"] == 0)

        await eventually(paid, "the debt is collected")
        # From here on only the simulator's own webhooks report: the win, then the refund.
        stack.sim.helper(f"disputes/{dispute_id}/win")
        stack.sim.advance(timedelta(seconds=5))  # the faults' delays and duplicates fall due
        refund = await refund_asked(stack, str(asked["debt_collection_id"]))
        stack.sim.advance(timedelta(seconds=15))  # the refund lands; its reports arrive

        async def refunded() -> bool:
            return bool((await member.debt())["refunds"][0]["status"] == "succeeded")

        await eventually(refunded, "the refund landed, as Stripe's webhooks said")
        square = await balances(api, member.member_id, group_id)
        assert (
            square[f"dispute_receivable:{member.member_id}"],
            square[f"refund_owed:{member.member_id}"],
        ) == (
            0,
            0,
        )
        assert [r["id"] for r in debt_refunds_at_stripe(stack, str(asked["debt_collection_id"]))] == [
            refund["id"]
        ]
        await assert_money_checks_pass(stack, transfers_on_stripe=False)


async def test_a_dispute_won_after_the_admin_wrote_its_debt_off_recovers_the_write_off(
    api_stack: Stack, api: Api
) -> None:
    stack = api_stack
    activation, _, owing = await owing_after_payout(stack, api)
    group_id = activation.group_id
    member = Member(api, owing.member_id, group_id)
    (dispute_id,) = [d["dispute_id"] for d in (await member.debt())["disputes"]]
    await api.member_posts(
        activation.admin_member_id, f"/groups/{group_id}/members/{owing.member_id}/write-off", None
    )
    stack.sim.helper(f"disputes/{dispute_id}/win")
    await stack.deliver_stripe_events("charge.dispute.closed", {dispute_id})

    async def recovered() -> bool:
        return (await balances(api, owing.member_id, group_id)).get("write_off") == 0

    await eventually(recovered, "the won dispute recovers the write-off")
    books = await balances(api, owing.member_id, group_id)
    assert books[f"dispute_receivable:{owing.member_id}"] == 0
    assert f"refund_owed:{owing.member_id}" not in books
    assert (await member.debt())["refunds"] == []
    await assert_money_checks_pass(stack, transfers_on_stripe=False)
