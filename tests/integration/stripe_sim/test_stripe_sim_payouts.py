"""Connected-account payouts to the `110000` test bank accounts, manual and automatic."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import contribution, saved_becs_customer
from tests.integration.stripe_sim.connect_fixtures import onboarded_account, onboarding_link, visit
from tests.integration.stripe_sim.stripe_schema_check import stripe_schemas
from tests.integration.stripe_sim.stripe_sim_harness import (
    RunningSimulator,
    WebhookReceiver,
    start_simulator,
    start_webhook_receiver,
)

SETTLE = timedelta(seconds=2)
FUNDS_AVAILABLE = timedelta(seconds=2)
IN_TRANSIT = timedelta(seconds=1)
ARRIVED = timedelta(seconds=2)


@dataclass
class Connect:
    sim: RunningSimulator
    receiver: WebhookReceiver
    secret: str

    def events_of(self, account_id: str) -> list[stripe.Event]:
        events = [
            stripe.Webhook.construct_event(w.body, w.signature, self.secret) for w in self.receiver.received
        ]
        return [e for e in events if e.account == account_id]


@pytest.fixture(scope="module")
def connect() -> Iterator[Connect]:
    sim = start_simulator()
    receiver = start_webhook_receiver()
    endpoint = sim.client().v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["*"], "connect": True}
    )
    yield Connect(sim, receiver, str(endpoint.secret))
    receiver.close()
    sim.stop()
    # Every Connect event delivered in this module matches Stripe's schemas, object included.
    for delivered in receiver.received:
        assert stripe_schemas().violations_of_object(json.loads(delivered.body)) == []


def _funded_account(
    sim: RunningSimulator, bank_account_number: str, amount: int = 7_000, schedule: str = "manual"
) -> stripe.Account:
    client = sim.client()
    account = onboarded_account(client, bank_account_number, payout_schedule=schedule)
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method), amount=10_000)
    sim.advance(SETTLE)
    client.v1.transfers.create(
        {
            "amount": amount,
            "currency": "aud",
            "destination": account.id,
            "source_transaction": str(intent.latest_charge),
        }
    )
    sim.advance(FUNDS_AVAILABLE)
    return account


def _available(client: stripe.StripeClient, account_id: str) -> int:
    return client.v1.balance.retrieve({}, {"stripe_account": account_id}).available[0].amount


@dataclass(frozen=True)
class PayoutCase:
    account_number: str
    status: str
    failure_code: str | None


TABLE = [
    PayoutCase("000123456", "paid", None),
    PayoutCase("111111116", "failed", "no_account"),
    PayoutCase("111111113", "failed", "account_closed"),
    PayoutCase("222222227", "failed", "insufficient_funds"),
    PayoutCase("333333335", "failed", "debit_not_authorized"),
    PayoutCase("444444440", "failed", "invalid_currency"),
]


@pytest.mark.parametrize("case", TABLE, ids=[c.failure_code or "paid" for c in TABLE])
def test_each_payout_test_account_ends_as_stripe_documents(connect: Connect, case: PayoutCase) -> None:
    sim, client = connect.sim, connect.sim.client()
    account = _funded_account(sim, case.account_number)
    options: stripe.RequestOptions = {"stripe_account": account.id}

    payout = client.v1.payouts.create({"amount": 7_000, "currency": "aud"}, options)
    assert (payout.status, payout.automatic, payout.method) == ("pending", False, "standard")
    assert _available(client, account.id) == 0
    sim.advance(IN_TRANSIT)
    assert client.v1.payouts.retrieve(payout.id, {}, options).status == "in_transit"
    sim.advance(ARRIVED)

    done = client.v1.payouts.retrieve(payout.id, {}, options)
    bank = client.v1.accounts.external_accounts.retrieve(account.id, str(done.destination))
    assert isinstance(bank, stripe.BankAccount)
    assert (done.status, done.failure_code) == (case.status, case.failure_code)
    connect.receiver.wait_for(
        lambda got: any(
            payout.id.encode() in w.body and b'"payout.' + case.status.encode() in w.body for w in got
        )
    )
    expected = (
        ["payout.updated", "payout.updated", "payout.paid"]
        if case.failure_code is None
        else ["payout.updated", "payout.failed", "account.external_account.updated", "account.updated"]
    )
    in_order = [e.type for e in reversed(client.v1.events.list({"limit": 100}, options).data)]
    assert in_order[-len(expected) :] == expected
    # Deliveries run concurrently, so they may arrive in any order, each signed.
    assert set(expected) <= {e.type for e in connect.events_of(account.id)}
    if case.failure_code is None:
        assert _available(client, account.id) == 0
        assert bank.status == "new"
    else:
        assert done.failure_message
        assert _available(client, account.id) == 7_000
        assert bank.status == "errored"
        updated = client.v1.accounts.retrieve(account.id)
        assert updated.requirements is not None
        assert "external_account" in (updated.requirements.currently_due or [])
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.payouts.create({"amount": 1_000, "currency": "aud"}, options)
        assert refused.value.code == "bank_account_unusable"


def test_a_new_bank_account_from_onboarding_again_lets_payouts_resume(connect: Connect) -> None:
    sim, client = connect.sim, connect.sim.client()
    account = _funded_account(sim, "111111113")
    options: stripe.RequestOptions = {"stripe_account": account.id}
    client.v1.payouts.create({"amount": 7_000, "currency": "aud"}, options)
    sim.advance(IN_TRANSIT + ARRIVED)

    visit(onboarding_link(client, account.id).url, "000123456")
    payout = client.v1.payouts.create({"amount": 7_000, "currency": "aud"}, options)
    sim.advance(IN_TRANSIT + ARRIVED)

    assert client.v1.payouts.retrieve(payout.id, {}, options).status == "paid"


def test_a_payout_needs_the_available_balance(connect: Connect) -> None:
    client = connect.sim.client()
    account = _funded_account(connect.sim, "000123456", amount=2_000)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payouts.create({"amount": 2_001, "currency": "aud"}, {"stripe_account": account.id})

    assert refused.value.code == "balance_insufficient"


def test_a_restricted_account_cannot_be_paid_out(connect: Connect) -> None:
    sim, client = connect.sim, connect.sim.client()
    account = _funded_account(sim, "000123456")
    sim.helper(f"accounts/{account.id}/restrict")

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payouts.create({"amount": 1_000, "currency": "aud"}, {"stripe_account": account.id})

    assert refused.value.code == "payouts_not_allowed"


def test_a_pending_payout_can_be_canceled_and_its_funds_return(connect: Connect) -> None:
    client = connect.sim.client()
    account = _funded_account(connect.sim, "000123456")
    options: stripe.RequestOptions = {"stripe_account": account.id}
    payout = client.v1.payouts.create({"amount": 3_000, "currency": "aud"}, options)

    canceled = client.v1.payouts.cancel(payout.id, {}, options)

    assert canceled.status == "canceled"
    assert _available(client, account.id) == 7_000
    assert [p.id for p in client.v1.payouts.list({"status": "canceled"}, options).data] == [payout.id]


def test_daily_automatic_payouts_sweep_the_available_balance(connect: Connect) -> None:
    sim, client = connect.sim, connect.sim.client()
    account = _funded_account(sim, "000123456", schedule="daily")

    sim.advance(timedelta(days=1))
    sim.advance(IN_TRANSIT + ARRIVED)

    payouts = client.v1.payouts.list({}, {"stripe_account": account.id}).data
    assert [(p.automatic, p.amount, p.status) for p in payouts] == [(True, 7_000, "paid")]
    assert _available(client, account.id) == 0
    received = [json.loads(w.body) for w in connect.receiver.received]
    assert any(e["type"] == "payout.paid" and e["account"] == account.id for e in received)


async def test_payouts_through_the_async_sdk(connect: Connect) -> None:
    client = connect.sim.client()
    account = _funded_account(connect.sim, "000123456")

    payout = await client.v1.payouts.create_async(
        {"amount": 1_000, "currency": "aud"}, {"stripe_account": account.id}
    )

    assert payout.amount == 1_000
