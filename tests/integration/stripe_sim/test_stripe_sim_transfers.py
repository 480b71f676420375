"""Transfers to connected accounts (separate charges and transfers) and their reversals."""

import uuid
from datetime import timedelta

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import contribution, event_types_for, saved_becs_customer
from tests.integration.stripe_sim.connect_fixtures import (
    RETURN_URL,
    express_account,
    onboarded_account,
    onboarding_link,
    visit,
)
from tests.integration.stripe_sim.stripe_sim_harness import RunningSimulator

SETTLE = timedelta(seconds=2)
FUNDS_AVAILABLE = timedelta(seconds=2)


def _balance(client: stripe.StripeClient, account: str | None = None) -> tuple[int, int]:
    balance = client.v1.balance.retrieve({}, {"stripe_account": account} if account else {})
    return balance.available[0].amount, balance.pending[0].amount


def _succeeded_charge(sim: RunningSimulator, amount: int = 10_000) -> str:
    client = sim.client()
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method), amount=amount)
    sim.advance(SETTLE)
    return str(intent.latest_charge)


def test_a_transfer_from_a_charge_is_made_at_once_and_its_funds_follow_the_charge(
    sim: RunningSimulator,
) -> None:
    client = sim.client()
    member = onboarded_account(client)
    charge_id = _succeeded_charge(sim)

    transfer = client.v1.transfers.create(
        {
            "amount": 9_000,
            "currency": "aud",
            "destination": member.id,
            "source_transaction": charge_id,
            "transfer_group": "cycle_1",
            "metadata": {"payout_id": "p-1"},
        }
    )

    assert transfer.id.startswith("tr_")
    assert (transfer.source_transaction, transfer.transfer_group, transfer.reversed) == (
        charge_id,
        "cycle_1",
        False,
    )
    assert _balance(client, member.id) == (0, 9_000)
    sim.advance(FUNDS_AVAILABLE)
    assert _balance(client, member.id) == (9_000, 0)
    assert event_types_for(client, transfer.id) == ["transfer.created"]


def test_a_transfer_without_a_source_needs_the_available_balance(sim: RunningSimulator) -> None:
    client = sim.client()
    member = onboarded_account(client)
    _succeeded_charge(sim, amount=10_000)  # A$99.00 net once available

    with pytest.raises(stripe.InvalidRequestError) as short:
        client.v1.transfers.create({"amount": 5_000, "currency": "aud", "destination": member.id})
    sim.advance(FUNDS_AVAILABLE)
    transfer = client.v1.transfers.create({"amount": 5_000, "currency": "aud", "destination": member.id})
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.transfers.create({"amount": 5_000, "currency": "aud", "destination": member.id})

    assert short.value.code == "balance_insufficient"
    assert transfer.amount == 5_000
    assert too_much.value.code == "balance_insufficient"
    assert _balance(client) == (10_000 - 130 - 5_000, 0)
    assert _balance(client, member.id) == (5_000, 0)


def test_a_destination_without_an_active_transfers_capability_is_refused(sim: RunningSimulator) -> None:
    client = sim.client()
    charge_id = _succeeded_charge(sim)
    not_onboarded = express_account(client)
    paused = onboarded_account(client)
    sim.helper(f"accounts/{paused.id}/capabilities/transfers/disable")

    for destination in (not_onboarded.id, paused.id):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.transfers.create(
                {
                    "amount": 1_000,
                    "currency": "aud",
                    "destination": destination,
                    "source_transaction": charge_id,
                }
            )
        assert (refused.value.code, refused.value.param) == (
            "insufficient_capabilities_for_transfer",
            "destination",
        )


def test_a_transfer_cannot_take_more_than_its_source_charge(sim: RunningSimulator) -> None:
    client = sim.client()
    member = onboarded_account(client)
    charge_id = _succeeded_charge(sim, amount=10_000)
    client.v1.transfers.create(
        {"amount": 6_000, "currency": "aud", "destination": member.id, "source_transaction": charge_id}
    )

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.transfers.create(
            {"amount": 4_001, "currency": "aud", "destination": member.id, "source_transaction": charge_id}
        )

    assert refused.value.code == "balance_insufficient"


def test_a_processing_charge_cannot_be_a_source_transaction(sim: RunningSimulator) -> None:
    client = sim.client()
    member = onboarded_account(client)
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method))

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.transfers.create(
            {
                "amount": 1_000,
                "currency": "aud",
                "destination": member.id,
                "source_transaction": str(intent.latest_charge),
            }
        )

    assert refused.value.param == "source_transaction"


def test_reversals_return_funds_to_the_platform_partially_then_fully(sim: RunningSimulator) -> None:
    client = sim.client()
    member = onboarded_account(client)
    charge_id = _succeeded_charge(sim)
    sim.advance(FUNDS_AVAILABLE)
    transfer = client.v1.transfers.create(
        {"amount": 8_000, "currency": "aud", "destination": member.id, "source_transaction": charge_id}
    )

    partial = client.v1.transfers.reversals.create(transfer.id, {"amount": 3_000})
    rest = client.v1.transfers.reversals.create(transfer.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.reversals.create(transfer.id, {"amount": 1})

    reversed_transfer = client.v1.transfers.retrieve(transfer.id)
    assert partial.id.startswith("trr_")
    assert (partial.amount, rest.amount) == (3_000, 5_000)
    assert (reversed_transfer.amount_reversed, reversed_transfer.reversed) == (8_000, True)
    assert [r.id for r in client.v1.transfers.reversals.list(transfer.id).data] == [rest.id, partial.id]
    assert client.v1.transfers.reversals.retrieve(transfer.id, partial.id).amount == 3_000
    assert _balance(client, member.id) == (0, 0)
    assert _balance(client) == (10_000 - 130, 0)
    assert event_types_for(client, transfer.id) == [
        "transfer.created",
        "transfer.reversed",
        "transfer.reversed",
    ]


def test_transfers_list_by_group_and_destination_and_update_their_metadata(sim: RunningSimulator) -> None:
    client = sim.client()
    first, second = onboarded_account(client), onboarded_account(client)
    charge_id = _succeeded_charge(sim)
    group = f"cycle_{uuid.uuid4().hex[:8]}"
    made = [
        client.v1.transfers.create(
            {
                "amount": 1_000,
                "currency": "aud",
                "destination": destination,
                "source_transaction": charge_id,
                "transfer_group": group,
            }
        )
        for destination in (first.id, second.id)
    ]

    in_group = client.v1.transfers.list({"transfer_group": group}).data
    to_first = client.v1.transfers.list({"destination": first.id}).data
    updated = client.v1.transfers.update(made[0].id, {"metadata": {"note": "late"}})

    assert [t.id for t in in_group] == [made[1].id, made[0].id]
    assert [t.id for t in to_first] == [made[0].id]
    assert updated.metadata.to_dict() == {"note": "late"}
    assert event_types_for(client, made[0].id) == ["transfer.created", "transfer.updated"]


async def test_a_transfer_through_the_async_sdk(sim: RunningSimulator) -> None:
    client = sim.client()
    member = onboarded_account(client)
    charge_id = _succeeded_charge(sim)

    transfer = await client.v1.transfers.create_async(
        {"amount": 1_000, "currency": "aud", "destination": member.id, "source_transaction": charge_id}
    )
    reversal = await client.v1.transfers.reversals.create_async(transfer.id, {"amount": 500})

    assert reversal.transfer == transfer.id


def test_a_transfer_arrives_as_a_payment_on_the_connected_account(sim: RunningSimulator) -> None:
    client = sim.client()
    member = onboarded_account(client)
    charge_id = _succeeded_charge(sim)
    on_member: stripe.RequestOptions = {"stripe_account": member.id}

    transfer = client.v1.transfers.create(
        {"amount": 9_000, "currency": "aud", "destination": member.id, "source_transaction": charge_id}
    )
    payment = client.v1.charges.retrieve(str(transfer.destination_payment), {}, on_member)
    (booked,) = client.v1.balance_transactions.list({}, on_member).data

    assert str(transfer.destination_payment).startswith("py_")
    assert (payment.amount, payment.status, payment.paid, payment.source_transfer) == (
        9_000,
        "succeeded",
        True,
        transfer.id,
    )
    assert (booked.type, booked.source, booked.amount, booked.fee) == ("payment", payment.id, 9_000, 0)
    assert payment.balance_transaction == booked.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.charges.retrieve(payment.id)  # it lives on the connected account only
    expanded = client.v1.transfers.retrieve(transfer.id, {"expand": ["destination_payment"]})
    assert isinstance(expanded.destination_payment, stripe.Charge)


def test_a_reversal_refunds_the_transfers_payment_on_the_connected_account(sim: RunningSimulator) -> None:
    client = sim.client()
    member = onboarded_account(client)
    charge_id = _succeeded_charge(sim)
    sim.advance(FUNDS_AVAILABLE)
    on_member: stripe.RequestOptions = {"stripe_account": member.id}
    transfer = client.v1.transfers.create(
        {"amount": 8_000, "currency": "aud", "destination": member.id, "source_transaction": charge_id}
    )

    reversal = client.v1.transfers.reversals.create(transfer.id, {"amount": 3_000})
    refund = client.v1.refunds.retrieve(str(reversal.destination_payment_refund), {}, on_member)
    payment = client.v1.charges.retrieve(str(transfer.destination_payment), {}, on_member)
    booked = client.v1.balance_transactions.list({"type": "payment_refund"}, on_member).data

    assert str(reversal.destination_payment_refund).startswith("pyr_")
    assert (refund.charge, refund.amount, refund.status) == (payment.id, 3_000, "succeeded")
    assert refund.source_transfer_reversal == reversal.id
    assert (payment.amount_refunded, payment.refunded) == (3_000, False)
    assert [(b.source, b.amount) for b in booked] == [(refund.id, -3_000)]
    assert refund.balance_transaction == booked[0].id
    assert _balance(client, member.id) == (5_000, 0)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create({"charge": payment.id}, on_member)
    assert refused.value.code == "charge_not_refundable"


def test_a_restricted_account_cannot_receive_a_transfer_until_onboarded_again(sim: RunningSimulator) -> None:
    client = sim.client()
    member = onboarded_account(client)
    charge_id = _succeeded_charge(sim)
    sim.helper(f"accounts/{member.id}/restrict")

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.transfers.create(
            {"amount": 1_000, "currency": "aud", "destination": member.id, "source_transaction": charge_id}
        )
    restricted = client.v1.accounts.retrieve(member.id)
    assert visit(onboarding_link(client, member.id).url) == RETURN_URL
    transfer = client.v1.transfers.create(
        {"amount": 1_000, "currency": "aud", "destination": member.id, "source_transaction": charge_id}
    )

    assert refused.value.code == "insufficient_capabilities_for_transfer"
    assert restricted.capabilities is not None
    assert restricted.capabilities.transfers == "inactive"
    assert transfer.destination == member.id
