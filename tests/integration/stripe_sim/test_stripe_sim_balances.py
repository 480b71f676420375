"""The platform's balance and its balance transactions: debits, refunds, disputes, fees."""

from datetime import timedelta

import stripe

from tests.integration.stripe_sim.becs_fixtures import contribution, saved_becs_customer
from tests.integration.stripe_sim.stripe_sim_harness import RunningSimulator

SETTLE = timedelta(seconds=2)
FUNDS_AVAILABLE = timedelta(seconds=2)
BECS_FEE_ON_50 = 80  # 1% + 30c


def _balance(client: stripe.StripeClient, options: stripe.RequestOptions | None = None) -> tuple[int, int]:
    balance = client.v1.balance.retrieve({}, options)
    return balance.available[0].amount, balance.pending[0].amount


def _settled_charge(sim: RunningSimulator, account_number: str = "000123456") -> stripe.Charge:
    client = sim.client()
    customer, setup = saved_becs_customer(client, account_number)
    intent = contribution(client, customer, str(setup.payment_method))
    sim.advance(SETTLE)
    return client.v1.charges.retrieve(str(intent.latest_charge), {"expand": ["balance_transaction"]})


def test_a_debit_is_pending_on_the_balance_until_its_funds_are_available(sim: RunningSimulator) -> None:
    client = sim.client()
    assert _balance(client) == (0, 0)

    charge = _settled_charge(sim)
    entry = charge.balance_transaction
    assert isinstance(entry, stripe.BalanceTransaction)
    assert (entry.type, entry.amount, entry.fee, entry.net, entry.status) == (
        "payment",
        5_000,
        BECS_FEE_ON_50,
        5_000 - BECS_FEE_ON_50,
        "pending",
    )
    assert entry.source == charge.id
    assert _balance(client) == (0, 5_000 - BECS_FEE_ON_50)

    sim.advance(FUNDS_AVAILABLE)

    assert _balance(client) == (5_000 - BECS_FEE_ON_50, 0)
    assert client.v1.balance_transactions.retrieve(entry.id).status == "available"


def test_a_failed_debit_never_touches_the_balance(sim: RunningSimulator) -> None:
    charge = _settled_charge(sim, "111111113")

    assert charge.balance_transaction is None
    assert _balance(sim.client()) == (0, 0)


def test_a_refund_takes_its_amount_from_the_balance_at_once(sim: RunningSimulator) -> None:
    client = sim.client()
    charge = _settled_charge(sim)
    sim.advance(FUNDS_AVAILABLE)

    refund = client.v1.refunds.create({"charge": charge.id, "amount": 2_000})

    assert _balance(client) == (5_000 - BECS_FEE_ON_50 - 2_000, 0)
    entries = client.v1.balance_transactions.list({"source": refund.id}).data
    assert [(e.type, e.amount, e.net) for e in entries] == [("payment_refund", -2_000, -2_000)]


def test_a_dispute_withdraws_the_funds_and_a_fee(sim: RunningSimulator) -> None:
    client = sim.client()
    charge = _settled_charge(sim, "666666660")
    sim.advance(FUNDS_AVAILABLE)

    dispute = client.v1.disputes.list({"charge": charge.id}).data[0]
    withdrawal = dispute.balance_transactions[0]

    assert (withdrawal.type, withdrawal.reporting_category) == ("adjustment", "dispute")
    assert withdrawal.amount == -5_000
    assert withdrawal.net == -5_000 - withdrawal.fee
    assert withdrawal.fee > 0
    assert _balance(client) == (5_000 - BECS_FEE_ON_50 + withdrawal.net, 0)


def test_balance_transactions_list_newest_first_and_filter_by_type(sim: RunningSimulator) -> None:
    client = sim.client()
    first = _settled_charge(sim)
    second = _settled_charge(sim)
    client.v1.refunds.create({"charge": first.id})

    payments = client.v1.balance_transactions.list({"type": "payment"}).data
    everything = client.v1.balance_transactions.list().data

    assert [p.source for p in payments] == [second.id, first.id]
    assert [e.type for e in everything] == ["payment_refund", "payment", "payment"]


async def test_the_balance_through_the_async_sdk(sim: RunningSimulator) -> None:
    client = sim.client()

    balance = await client.v1.balance.retrieve_async()

    assert balance.available[0].currency == "aud"


def test_a_succeeded_debit_can_be_disputed_later_through_the_test_helper(sim: RunningSimulator) -> None:
    client = sim.client()
    charge = _settled_charge(sim)
    sim.advance(timedelta(days=30))

    opened = sim.helper(f"charges/{charge.id}/dispute")

    dispute = client.v1.disputes.list({"charge": charge.id}).data[0]
    assert (dispute.id, dispute.status, dispute.amount) == (opened["id"], "lost", 5_000)
    assert client.v1.charges.retrieve(charge.id).disputed is True
    again = sim.control.post(f"{sim.base_url}/_sim/charges/{charge.id}/dispute")
    assert again.status_code == 400
    assert "already been disputed" in again.json()["error"]["message"]
    assert len(client.v1.disputes.list({"charge": charge.id}).data) == 1


def test_a_dispute_the_bank_decides_for_the_platform_reinstates_its_amount_but_not_its_fee(
    sim: RunningSimulator,
) -> None:
    client = sim.client()
    charge = _settled_charge(sim, "666666660")
    sim.advance(FUNDS_AVAILABLE)
    dispute = client.v1.disputes.list({"charge": charge.id}).data[0]
    before = _balance(client)

    won = sim.helper(f"disputes/{dispute.id}/win")

    assert won["status"] == "won"
    withdrawal, reinstatement = client.v1.disputes.retrieve(dispute.id).balance_transactions
    assert withdrawal.amount == -5_000  # still withdrawn: the reinstatement is a second movement
    assert (reinstatement.reporting_category, reinstatement.amount, reinstatement.fee) == (
        "dispute_reversal",
        5_000,
        0,
    )
    assert _balance(client) == (before[0] + 5_000, 0)
    again = sim.control.post(f"{sim.base_url}/_sim/disputes/{dispute.id}/win")
    assert again.status_code == 400
    events = client.v1.events.list({"type": "charge.dispute.closed"}).data
    assert [e.data.object["status"] for e in events if e.data.object["id"] == dispute.id] == ["won", "lost"]
