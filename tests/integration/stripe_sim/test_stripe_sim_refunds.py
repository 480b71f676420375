"""Refunds of BECS debits: asynchronous, partial, waiting on processing debits, the 90-day rule."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import contribution, event_types_for, saved_becs_customer
from tests.integration.stripe_sim.stripe_sim_harness import (
    RunningSimulator,
    WebhookReceiver,
    shared_simulator,
    start_simulator,
    start_webhook_receiver,
)

SETTLE = timedelta(seconds=2)
REFUND_LANDS = timedelta(seconds=3)


def _succeeded_debit(sim: RunningSimulator, amount: int = 5_000, account_number: str = "000123456") -> str:
    client = sim.client()
    customer, setup = saved_becs_customer(client, account_number)
    intent = contribution(client, customer, str(setup.payment_method), amount=amount)
    sim.advance(SETTLE)
    return str(intent.latest_charge)


def test_a_refund_is_pending_then_succeeds_with_its_events() -> None:
    sim = shared_simulator()
    client = sim.client()
    charge_id = _succeeded_debit(sim)

    refund = client.v1.refunds.create({"charge": charge_id, "reason": "requested_by_customer"})
    charge = client.v1.charges.retrieve(charge_id)
    assert (refund.status, refund.amount, refund.reason) == ("pending", 5_000, "requested_by_customer")
    assert refund.id.startswith("re_")
    assert (charge.amount_refunded, charge.refunded) == (5_000, True)

    sim.advance(REFUND_LANDS)

    assert client.v1.refunds.retrieve(refund.id).status == "succeeded"
    assert event_types_for(client, refund.id) == ["refund.created", "refund.updated", "charge.refund.updated"]
    assert "charge.refunded" in event_types_for(client, charge_id)


def test_partial_refunds_add_up_to_the_charge_and_no_further() -> None:
    sim = shared_simulator()
    client = sim.client()
    charge_id = _succeeded_debit(sim, amount=10_000)

    client.v1.refunds.create({"charge": charge_id, "amount": 3_000})
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create({"charge": charge_id, "amount": 7_001})
    rest = client.v1.refunds.create({"charge": charge_id})
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create({"charge": charge_id, "amount": 100})

    assert (too_much.value.code, too_much.value.param) == ("amount_too_large", "amount")
    assert rest.amount == 7_000
    assert again.value.code == "charge_already_refunded"
    assert [r.amount for r in client.v1.refunds.list({"charge": charge_id}).data] == [7_000, 3_000]


def test_a_refund_of_a_processing_debit_waits_for_it_then_goes_ahead() -> None:
    sim = shared_simulator()
    client = sim.client()
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method))

    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 1_000})
    assert (refund.status, refund.pending_reason, refund.balance_transaction) == (
        "pending",
        "charge_pending",
        None,
    )
    sim.advance(SETTLE)
    under_way = client.v1.refunds.retrieve(refund.id)
    sim.advance(REFUND_LANDS)

    assert under_way.status == "pending"
    assert under_way.balance_transaction is not None
    assert client.v1.refunds.retrieve(refund.id).status == "succeeded"


def test_a_refund_of_a_debit_that_fails_is_canceled() -> None:
    sim = shared_simulator()
    client = sim.client()
    customer, setup = saved_becs_customer(client, "222222227")
    intent = contribution(client, customer, str(setup.payment_method))
    refund = client.v1.refunds.create({"payment_intent": intent.id})

    sim.advance(SETTLE)

    canceled = client.v1.refunds.retrieve(refund.id)
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert canceled.status == "canceled"
    assert (charge.status, charge.amount_refunded, charge.refunded) == ("failed", 0, False)
    assert event_types_for(client, refund.id)[-2:] == ["refund.updated", "charge.refund.updated"]


@pytest.mark.parametrize("reason", ["insufficient_funds", "declined", "unknown"])
def test_a_refund_the_bank_returns_fails_with_its_reason_and_the_money_comes_back(reason: str) -> None:
    sim = shared_simulator()
    client = sim.client()
    charge_id = _succeeded_debit(sim)
    refund = client.v1.refunds.create({"charge": charge_id})

    sim.fail_refund(refund.id, reason)

    failed = client.v1.refunds.retrieve(refund.id, {"expand": ["failure_balance_transaction"]})
    assert (failed.status, failed.failure_reason) == ("failed", reason)
    assert isinstance(failed.failure_balance_transaction, stripe.BalanceTransaction)
    assert (failed.failure_balance_transaction.type, failed.failure_balance_transaction.amount) == (
        "refund_failure",
        5_000,
    )
    assert client.v1.charges.retrieve(charge_id).amount_refunded == 0
    assert event_types_for(client, refund.id)[-1] == "refund.failed"


def test_a_refund_cannot_be_canceled_and_its_metadata_can_be_updated() -> None:
    sim = shared_simulator()
    client = sim.client()
    refund = client.v1.refunds.create({"charge": _succeeded_debit(sim)})

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.cancel(refund.id)
    updated = client.v1.refunds.update(refund.id, {"metadata": {"ticket": "42"}})

    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {"ticket": "42"}


def test_a_failed_or_disputed_debit_cannot_be_refunded() -> None:
    sim = shared_simulator()
    client = sim.client()
    failed = _succeeded_debit(sim, account_number="111111113")
    disputed = _succeeded_debit(sim, account_number="666666660")

    with pytest.raises(stripe.InvalidRequestError) as refused_failed:
        client.v1.refunds.create({"charge": failed})
    with pytest.raises(stripe.InvalidRequestError) as refused_disputed:
        client.v1.refunds.create({"charge": disputed})

    assert refused_failed.value.code == "charge_not_refundable"
    assert refused_disputed.value.code == "charge_disputed"


@pytest.fixture
def own_simulator() -> Iterator[RunningSimulator]:
    running = start_simulator()
    yield running
    running.stop()


def test_a_debit_older_than_90_days_cannot_be_refunded(own_simulator: RunningSimulator) -> None:
    client = own_simulator.client()
    recent = _succeeded_debit(own_simulator)
    own_simulator.advance(timedelta(days=89))
    client.v1.refunds.create({"charge": recent, "amount": 100})
    own_simulator.advance(timedelta(days=2))

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create({"charge": recent, "amount": 100})

    assert refused.value.code == "charge_not_refundable"


def test_refund_events_arrive_signed(own_simulator: RunningSimulator) -> None:
    receiver: WebhookReceiver = start_webhook_receiver()
    try:
        client = own_simulator.client()
        endpoint = client.v1.webhook_endpoints.create(
            {"url": receiver.url, "enabled_events": ["refund.created", "refund.updated", "charge.refunded"]}
        )
        refund = client.v1.refunds.create({"charge": _succeeded_debit(own_simulator)})
        own_simulator.advance(REFUND_LANDS)
        receiver.wait_for(lambda got: len(got) == 3)

        events = [
            stripe.Webhook.construct_event(w.body, w.signature, str(endpoint.secret))
            for w in receiver.received
        ]
        assert sorted(e.type for e in events) == ["charge.refunded", "refund.created", "refund.updated"]
        assert {e.data.object["id"] for e in events if e.type.startswith("refund.")} == {refund.id}
    finally:
        receiver.close()


async def test_refunds_through_the_async_sdk() -> None:
    sim = shared_simulator()
    client = sim.client()
    charge_id = _succeeded_debit(sim)

    refund = await client.v1.refunds.create_async({"charge": charge_id, "amount": 2_500})
    listed = await client.v1.refunds.list_async({"charge": charge_id})

    assert [r.id for r in listed.data] == [refund.id]
    assert (await client.v1.refunds.retrieve_async(refund.id)).amount == 2_500


def test_a_charges_refunds_are_there_only_when_expanded() -> None:
    sim = shared_simulator()
    client = sim.client()
    charge_id = _succeeded_debit(sim, amount=5_000)
    first = client.v1.refunds.create({"charge": charge_id, "amount": 1_000})
    second = client.v1.refunds.create({"charge": charge_id, "amount": 2_000})

    plain = client.v1.charges.retrieve(charge_id)
    expanded = client.v1.charges.retrieve(charge_id, {"expand": ["refunds"]})
    through_intent = client.v1.payment_intents.retrieve(
        str(plain.payment_intent), {"expand": ["latest_charge.refunds"]}
    )

    assert "refunds" not in plain.to_dict()
    assert expanded.refunds is not None
    assert [r.id for r in expanded.refunds.data] == [second.id, first.id]
    assert expanded.refunds.url == f"/v1/charges/{charge_id}/refunds"
    latest = through_intent.latest_charge
    assert isinstance(latest, stripe.Charge)
    assert latest.refunds is not None
    assert [r.id for r in latest.refunds.data] == [second.id, first.id]
