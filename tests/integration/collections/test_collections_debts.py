"""A member's dispute debt paid by a debit they ask for, on real NATS, Postgres and the Stripe
simulator: a debit disputed after its pot was paid out makes its member owe and holds their pot;
their request to pay (retried, and sent again with another key) makes one debit at Stripe; its
success clears the debt in the books and the rotation and releases the pot; a failed one leaves
the debt owed until they ask again; without an active mandate they are told to authorise one."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts import subjects
from contracts.onboarding import ActivatedMember, GroupActivated, MemberPaymentMethodChanged
from contracts.streams import COLLECTIONS, NOTIFY, PAYOUTS
from services.collections.domain.rotation import CyclePlan
from services.collections.settings import CollectionsSettings
from services.collections.store import mandates
from services.runtime.member_tokens import mint_token
from tests.integration.collections.support import (
    DISPUTED_AT_ONCE,
    REFER_TO_CUSTOMER,
    SUCCEEDS,
    Stack,
    eventually,
    member_with_mandate,
)
from tests.integration.collections.test_collections_api import Api, activated_group, start_first_cycle
from tests.integration.collections.test_collections_rotation import pay

pytestmark = pytest.mark.integration

AMOUNT = 5_000


class Member:
    """One member calling the debt API with their own token."""

    def __init__(self, api: Api, member_id: str, group_id: UUID) -> None:
        self.api, self.member_id, self.group_id = api, member_id, group_id

    def _headers(self, **extra: str) -> dict[str, str]:
        settings = self.api.stack.service.app.state.runtime.settings
        assert isinstance(settings, CollectionsSettings)
        token = mint_token(settings, self.member_id, lifetime=timedelta(hours=1), issued_at=datetime.now(UTC))
        return {"Authorization": f"Bearer {token}", **extra}

    async def debt(self) -> dict[str, Any]:
        answer = await self.api.http.get(f"/groups/{self.group_id}/members/me/debt", headers=self._headers())
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def pay(self, key: str | None, expect: int) -> dict[str, Any]:
        headers = self._headers(**({"Idempotency-Key": key} if key is not None else {}))
        answer = await self.api.http.post(
            f"/groups/{self.group_id}/members/me/debt/payments", headers=headers
        )
        assert answer.status_code == expect, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture
async def api(api_stack: Stack) -> AsyncIterator[Api]:
    async with Api(api_stack) as client:
        yield client


async def owing_after_payout(stack: Stack, api: Api) -> tuple[GroupActivated, CyclePlan, ActivatedMember]:
    """Cycle 1 collects and pays out; then the bank returns member 2's debit (a dispute): member 2,
    cycle 2's recipient, owes the group and their pot is held."""
    activation, plans = await activated_group(stack, SUCCEEDS, DISPUTED_AT_ONCE)
    await api.move_clock_to(plans[0].start_at)
    intents = await start_first_cycle(stack, plans[0])
    await pay(stack, plans[0].cycle_id, intents)
    owing = next(m for m in activation.members if m.position == 2)
    disputed = {pi["id"] for pi in intents if pi["customer"] == owing.customer_id}
    disputes = {
        e["data"]["object"]["id"]
        for e in stack.stripe_events("charge.dispute.created")
        if e["data"]["object"]["payment_intent"] in disputed
    }
    assert len(disputes) == 1
    await stack.deliver_stripe_events("charge.dispute.created", disputes)

    async def held() -> bool:
        holds = await stack.published(PAYOUTS.name, subjects.PAYOUTS_HOLD_CYCLE)
        return [h["cycle_id"] for h in holds] == [str(plans[1].cycle_id)]

    await eventually(held, "the owing member's pot is held")
    return activation, plans[1], owing


def debt_intents(stack: Stack, customer_id: str) -> list[Any]:
    """The member's debt debits at Stripe, counted through the SDK."""
    listed = stack.sim.client().v1.payment_intents.list({"customer": customer_id, "limit": 100})
    return [pi for pi in listed.data if "debt_collection_id" in pi.metadata.to_dict()]


async def new_mandate(
    stack: Stack, member: ActivatedMember, group_id: UUID, account: str, status: str
) -> ActivatedMember:
    """Onboarding reports the member's new bank account (or their mandate's new status)."""
    fresh = member_with_mandate(stack.sim, member.position, account)
    change = MemberPaymentMethodChanged(
        occurred_at=datetime.now(UTC),
        correlation_id=member.member_id,
        member_id=member.member_id,
        customer_id=fresh.customer_id,
        payment_method_id=fresh.payment_method_id,
        mandate_id=fresh.mandate_id,
        mandate_status=status,  # type: ignore[arg-type]
        previous_payment_method_id=member.payment_method_id,
        previous_mandate_id=member.mandate_id,
        previous_mandate_status="active",
        group_ids=[group_id],
    )
    await stack.publish(subjects.ONBOARDING_MEMBER_PAYMENT_METHOD_CHANGED, change)

    async def kept() -> bool:
        async with stack.database.transaction() as session:
            held = (await mandates.mandates_of(session, [member.member_id]))[member.member_id]
        return (held.payment_method_id, held.mandate_active) == (fresh.payment_method_id, status == "active")

    await eventually(kept, "collections keeps the member's new mandate")
    return fresh


async def debit_settles(stack: Stack, member: Member, event_type: str, attempt: int) -> str:
    """The attempt's debit is out at Stripe; it settles and Stripe's report is delivered (twice)."""

    async def out() -> bool:
        collection = (await member.debt())["collection"]
        latest = collection["attempts"][-1]
        return latest["attempt"] == attempt and latest["payment_intent_id"] is not None

    await eventually(out, f"debit attempt {attempt} is made at Stripe")
    payment_intent_id: str = (await member.debt())["collection"]["attempts"][-1]["payment_intent_id"]
    stack.sim.advance(timedelta(seconds=3))
    for _ in range(2):  # a duplicate changes nothing
        await stack.deliver_stripe_events(event_type, {payment_intent_id})
    return payment_intent_id


async def test_a_member_who_owes_after_a_dispute_pays_by_one_debit_and_gets_their_pot_released(
    api_stack: Stack, api: Api
) -> None:
    stack = api_stack
    activation, held_cycle, owing = await owing_after_payout(stack, api)
    member = Member(api, owing.member_id, activation.group_id)
    before = await member.debt()
    assert (before["owed"], before["delinquent"], before["collection"]) == (AMOUNT, True, None)
    assert [d["status"] for d in before["disputes"]] == ["owed"]
    everywhere = await api.member(owing.member_id, "/members/me/debts")
    assert [(d["group_id"], d["owed"]) for d in everywhere["debts"]] == [(str(activation.group_id), AMOUNT)]
    assert await api.member(activation.admin_member_id, "/members/me/debts") == {"debts": []}
    other = Member(api, activation.admin_member_id, activation.group_id)
    refused = await other.pay("nothing-to-pay", expect=409)
    assert refused["error"]["type"] == "nothing_owed"
    missing_key = await member.pay(None, expect=422)
    assert missing_key["error"]["problems"][0]["field"] == "header.Idempotency-Key"

    first = await member.pay("pay-1", expect=202)
    assert (first["status"], first["amount"], first["dispute_ids"]) == (
        "collecting",
        AMOUNT,
        [d["dispute_id"] for d in before["disputes"]],
    )
    again = await member.pay("pay-1", expect=200)  # the client retried its request
    other_key = await member.pay("pay-2", expect=200)  # a second tap while the debit is under way
    assert again["debt_collection_id"] == other_key["debt_collection_id"] == first["debt_collection_id"]

    await debit_settles(stack, member, "payment_intent.succeeded", attempt=1)

    async def paid() -> bool:
        debt = await member.debt()
        return bool(debt["owed"] == 0 and debt["collection"]["status"] == "succeeded")

    await eventually(paid, "the debt is collected")
    assert len(debt_intents(stack, owing.customer_id)) == 1
    (debit,) = debt_intents(stack, owing.customer_id)
    assert (debit.amount, debit.currency, debit.payment_method_types) == (AMOUNT, "aud", ["au_becs_debit"])
    assert debit.metadata["debt_collection_id"] == first["debt_collection_id"]
    assert debit.metadata["member_id"] == owing.member_id
    after = await member.debt()
    assert (after["delinquent"], [d["status"] for d in after["disputes"]]) == (False, ["settled"])
    # The first request retried late is answered with what it did, not refused as nothing owed.
    late_retry = await member.pay("pay-1", expect=200)
    assert (late_retry["debt_collection_id"], late_retry["status"]) == (
        first["debt_collection_id"],
        "succeeded",
    )

    await eventually(stack.outbox_empty, "everything decided is published")
    (release,) = await stack.published(PAYOUTS.name, subjects.PAYOUTS_RELEASE_CYCLE)
    assert (release["cycle_id"], release["recipient_member_id"]) == (
        str(held_cycle.cycle_id),
        owing.member_id,
    )
    notices = await stack.published(NOTIFY.name, subjects.NOTIFY_MEMBER_DEBT_COLLECTED)
    assert [n["member_id"] for n in notices] == [owing.member_id]
    ledger = await api.member(owing.member_id, f"/groups/{activation.group_id}/ledger", limit=500)
    receivable = [b for b in ledger["balances"] if b["account"] == f"dispute_receivable:{owing.member_id}"]
    assert [b["balance"] for b in receivable] == [0]
    collected = [e for e in ledger["entries"] if e["step"] == "debt-collected"]
    assert sum(e["amount"] for e in collected) == 0
    assert {e["reference"] for e in collected} == {f"debt-collected-{first['debt_collection_id']}"}
    assert sorted(e["amount"] for e in collected) == [-AMOUNT, AMOUNT]

    async def fee_booked() -> bool:
        entries = (await api.member(owing.member_id, f"/groups/{activation.group_id}/ledger", limit=500))[
            "entries"
        ]
        return any(e["step"] == "debt-stripe-fee" for e in entries)

    await eventually(fee_booked, "Stripe's fee on the debt debit is booked")
    ledger = await api.member(owing.member_id, f"/groups/{activation.group_id}/ledger", limit=500)
    fee = {e["account"]: e["amount"] for e in ledger["entries"] if e["step"] == "debt-stripe-fee"}
    assert fee["stripe_fees"] > 0
    assert fee == {"platform_funds": -fee["stripe_fees"], "stripe_fees": fee["stripe_fees"]}

    # The member's bank returns the debit that paid the debt too (their account disputes every
    # debit): they owe it again, and their pot is held again.
    disputes_of_debit = {
        e["data"]["object"]["id"]
        for e in stack.stripe_events("charge.dispute.created")
        if e["data"]["object"]["payment_intent"] == debit.id
    }
    assert len(disputes_of_debit) == 1
    for _ in range(2):  # a duplicate changes nothing
        await stack.deliver_stripe_events("charge.dispute.created", disputes_of_debit)

    async def owes_again() -> bool:
        return bool((await member.debt())["owed"] == AMOUNT)

    await eventually(owes_again, "the member owes again after the debt's debit is disputed")
    again_owed = await member.debt()
    assert again_owed["delinquent"] is True
    assert sorted((d["dispute_id"], d["status"]) for d in again_owed["disputes"]) == sorted(
        [(before["disputes"][0]["dispute_id"], "settled"), (next(iter(disputes_of_debit)), "owed")]
    )
    await eventually(stack.outbox_empty, "everything decided is published")
    holds = await stack.published(PAYOUTS.name, subjects.PAYOUTS_HOLD_CYCLE)
    assert [h["cycle_id"] for h in holds] == [str(held_cycle.cycle_id)] * 2
    disputed_notices = await stack.published(NOTIFY.name, subjects.NOTIFY_MEMBER_DEBT_DEBIT_DISPUTED)
    assert [n["member_id"] for n in disputed_notices] == [owing.member_id]
    ledger = await api.member(owing.member_id, f"/groups/{activation.group_id}/ledger", limit=500)
    receivable = [b for b in ledger["balances"] if b["account"] == f"dispute_receivable:{owing.member_id}"]
    assert [b["balance"] for b in receivable] == [AMOUNT]


async def test_a_failed_debt_debit_leaves_the_member_owing_until_they_ask_again(
    api_stack: Stack, api: Api
) -> None:
    stack = api_stack
    activation, _, owing = await owing_after_payout(stack, api)
    group_id = activation.group_id
    member = Member(api, owing.member_id, group_id)

    await new_mandate(stack, owing, group_id, SUCCEEDS, "inactive")
    no_mandate = await member.pay("k0", expect=409)
    assert no_mandate["error"]["type"] == "no_active_mandate"
    assert "POST /onboarding/members/me/becs/setup-intents" in no_mandate["error"]["message"]
    assert (await member.debt())["collection"] is None

    failing = await new_mandate(stack, owing, group_id, REFER_TO_CUSTOMER, "active")
    await member.pay("k1", expect=202)
    await debit_settles(stack, member, "payment_intent.payment_failed", attempt=1)

    async def failed() -> bool:
        return bool((await member.debt())["collection"]["status"] == "failed")

    await eventually(failed, "the debit failed")
    debt = await member.debt()
    assert (debt["owed"], debt["delinquent"]) == (AMOUNT, True)
    assert debt["collection"]["attempts"][0]["failure_code"] == "refer_to_customer"
    await eventually(stack.outbox_empty, "everything decided is published")
    (notice,) = await stack.published(NOTIFY.name, subjects.NOTIFY_MEMBER_DEBT_DEBIT_FAILED)
    assert "refer_to_customer" in notice["body"]
    assert notice["action"] == f"POST /collections/groups/{group_id}/members/me/debt/payments"
    assert await stack.published(PAYOUTS.name, subjects.PAYOUTS_RELEASE_CYCLE) == []
    assert await member.pay("k1", expect=200) == debt["collection"]  # that request, answered again

    working = await new_mandate(stack, owing, group_id, SUCCEEDS, "active")
    retried = await member.pay("k2", expect=202)
    assert (retried["debt_collection_id"], len(retried["attempts"])) == (
        debt["collection"]["debt_collection_id"],
        2,
    )
    await debit_settles(stack, member, "payment_intent.succeeded", attempt=2)

    async def paid() -> bool:
        return bool((await member.debt())["owed"] == 0)

    await eventually(paid, "the retried debit collected the debt")
    assert (await member.debt())["delinquent"] is False
    assert len(debt_intents(stack, failing.customer_id)) == 1
    assert len(debt_intents(stack, working.customer_id)) == 1
    await eventually(stack.outbox_empty, "everything decided is published")
    assert len(await stack.published(PAYOUTS.name, subjects.PAYOUTS_RELEASE_CYCLE)) == 1


def debt_intents_held_by_simulator(stack: Stack, member_id: str) -> list[dict[str, Any]]:
    """The simulator's debt debits of the member, read from its store (while its API drops every
    connection)."""
    held = stack.sim.app.sim.objects.newest_first("payment_intent", None)
    return [
        dict(o.body)
        for o in held
        if "debt_collection_id" in o.body.get("metadata", {})
        and o.body["metadata"].get("member_id") == member_id
    ]


async def test_a_debt_debit_reported_before_its_creates_answer_counts_and_a_repeated_call_debits_once(
    api_stack: Stack, api: Api
) -> None:
    stack = api_stack
    activation, _, owing = await owing_after_payout(stack, api)
    member = Member(api, owing.member_id, activation.group_id)
    try:
        stack.sim.faults(dropped_connection_percent=100)  # Stripe makes the debit; its answer is lost
        asked = await member.pay("lost-answer", expect=202)

        async def made_at_stripe() -> bool:
            return len(debt_intents_held_by_simulator(stack, owing.member_id)) == 1

        await eventually(made_at_stripe, "Stripe made the debit")
        (intent,) = debt_intents_held_by_simulator(stack, owing.member_id)
        stack.sim.advance(timedelta(seconds=3))
        await stack.deliver_stripe_events("payment_intent.succeeded", {intent["id"]})

        async def paid() -> bool:
            collection = (await member.debt())["collection"]
            return bool(collection["status"] == "succeeded")

        await eventually(paid, "the success is applied before the create's answer is heard")
    finally:
        stack.sim.faults(dropped_connection_percent=0)
    debt = await member.debt()
    assert (debt["owed"], debt["collection"]["attempts"][0]["payment_intent_id"]) == (0, intent["id"])

    # The call made again as a new message: Stripe answers from the key, nothing moves back.
    (command,) = await stack.published(COLLECTIONS.name, subjects.COLLECTIONS_CREATE_DEBT_PAYMENT_INTENT)
    assert command["idempotency_key"] == f"debt-{asked['debt_collection_id']}-1"
    body = {k: v for k, v in command.items() if k != "subject"}
    await stack.publish(subjects.COLLECTIONS_CREATE_DEBT_PAYMENT_INTENT, {**body, "message_id": str(uuid4())})
    await eventually(
        lambda: stack.consumers_idle(COLLECTIONS.name, "collections-create-debt-payment-intent"),
        "the repeated call is taken",
    )
    assert [pi.id for pi in debt_intents(stack, owing.customer_id)] == [intent["id"]]
    assert (await member.debt())["collection"]["status"] == "succeeded"
    await eventually(stack.outbox_empty, "everything decided is published")
    assert len(await stack.published(PAYOUTS.name, subjects.PAYOUTS_RELEASE_CYCLE)) == 1
