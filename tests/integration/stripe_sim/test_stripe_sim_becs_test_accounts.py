"""Every BECS test bank account in facts.md, by account number and by its PaymentMethod token."""

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import (
    MANDATE_DATA,
    contribution,
    event_types_for,
    saved_becs_customer,
)
from tests.integration.stripe_sim.stripe_sim_harness import shared_simulator

SETTLE = timedelta(seconds=2)
DELAY = timedelta(minutes=3)


@dataclass(frozen=True)
class Expected:
    account_number: str
    token: str
    status: str
    failure_code: str | None
    mandate_status: str
    delayed: bool = False
    disputed: bool = False
    refused_at_confirm: bool = False


FAILED = "requires_payment_method"
TABLE = [
    Expected("000123456", "pm_auBecsDebit_success", "succeeded", None, "active"),
    Expected("900123456", "pm_auBecsDebit_successDelayed", "succeeded", None, "active", delayed=True),
    Expected("111111113", "pm_auBecsDebit_accountClosed", FAILED, "account_closed", "inactive"),
    Expected("111111116", "pm_auBecsDebit_noAccount", FAILED, "no_account", "inactive"),
    Expected("222222227", "pm_auBecsDebit_referToCustomer", FAILED, "refer_to_customer", "active"),
    Expected(
        "922222227", "pm_auBecsDebit_referToCustomerDelayed", FAILED, "refer_to_customer", "active",
        delayed=True,
    ),
    Expected(
        "333333335", "pm_auBecsDebit_debitNotAuthorized", FAILED, "debit_not_authorized", "inactive"
    ),
    Expected("666666660", "pm_auBecsDebit_dispute", "succeeded", None, "active", disputed=True),
    Expected(
        "343434343", "pm_auBecsDebit_exceedsWeeklyLimit", FAILED, "charge_exceeds_source_limit",
        "active", refused_at_confirm=True,
    ),
    Expected(
        "121212121", "pm_auBecsDebit_exceedsTransactionLimit", FAILED,
        "charge_exceeds_transaction_limit", "active", refused_at_confirm=True,
    ),
]  # fmt: skip


def _debit(client: stripe.StripeClient, expected: Expected, method_reference: str) -> str:
    customer, setup = saved_becs_customer(client, expected.account_number)
    method = setup.payment_method if method_reference == "account_number" else expected.token
    if method == expected.token:
        setup = client.v1.setup_intents.create(
            {
                "customer": customer.id,
                "payment_method": expected.token,
                "mandate_data": MANDATE_DATA,
                "confirm": True,
            }
        )
        method = setup.payment_method
    assert isinstance(method, str)
    if expected.refused_at_confirm:
        with pytest.raises(stripe.CardError) as refused:
            contribution(client, customer, method)
        assert refused.value.code == expected.failure_code
        intent = refused.value.error.payment_intent if refused.value.error else None
        assert intent is not None
        return str(intent.id)
    intent = contribution(client, customer, method)
    assert intent.status == "processing"
    return intent.id


@pytest.mark.parametrize("method_reference", ["account_number", "token"])
@pytest.mark.parametrize("expected", TABLE, ids=[row.token for row in TABLE])
def test_each_becs_test_account_ends_as_stripe_documents(expected: Expected, method_reference: str) -> None:
    sim = shared_simulator()
    client = sim.client()
    intent_id = _debit(client, expected, method_reference)

    sim.advance(SETTLE)
    intent = client.v1.payment_intents.retrieve(intent_id, {"expand": ["latest_charge"]})
    if expected.delayed:
        assert intent.status == "processing"
        sim.advance(DELAY)
        intent = client.v1.payment_intents.retrieve(intent_id, {"expand": ["latest_charge"]})

    assert intent.status == expected.status
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert charge.failure_code == expected.failure_code
    assert charge.disputed is expected.disputed
    mandate = client.v1.mandates.retrieve(str(charge.payment_method_details.au_becs_debit.mandate))  # type: ignore[union-attr]
    assert mandate.status == expected.mandate_status
    if expected.failure_code:
        assert intent.last_payment_error is not None
        assert intent.last_payment_error.code == expected.failure_code


def test_a_successful_debit_emits_its_events_in_order() -> None:
    sim = shared_simulator()
    client = sim.client()
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method))
    sim.advance(SETTLE)

    assert event_types_for(client, intent.id) == [
        "payment_intent.created",
        "payment_intent.processing",
        "payment_intent.succeeded",
    ]
    assert event_types_for(client, str(intent.latest_charge)) == ["charge.pending", "charge.succeeded"]


def test_a_permanent_failure_makes_the_mandate_inactive_and_says_so() -> None:
    sim = shared_simulator()
    client = sim.client()
    customer, setup = saved_becs_customer(client, "111111113")
    intent = contribution(client, customer, str(setup.payment_method))
    sim.advance(SETTLE)

    assert event_types_for(client, intent.id)[-1] == "payment_intent.payment_failed"
    assert event_types_for(client, str(intent.latest_charge))[-1] == "charge.failed"
    mandate_events = client.v1.events.list({"type": "mandate.updated", "limit": 100}).data
    updated = [e for e in mandate_events if e.data.object["id"] == setup.mandate]
    assert len(updated) == 1
    assert updated[0].data.object["status"] == "inactive"
    assert updated[0].data.to_dict()["previous_attributes"] == {"status": "active"}


def test_a_disputed_debit_raises_a_dispute_event_for_its_charge() -> None:
    sim = shared_simulator()
    client = sim.client()
    customer, setup = saved_becs_customer(client, "666666660")
    intent = contribution(client, customer, str(setup.payment_method))
    sim.advance(SETTLE)

    disputes = client.v1.events.list({"type": "charge.dispute.created", "limit": 100}).data
    assert [e.data.object["charge"] for e in disputes].count(
        client.v1.payment_intents.retrieve(intent.id).latest_charge
    ) == 1


def test_expected_debit_date_is_the_settlement_day() -> None:
    sim = shared_simulator()
    client = sim.client()
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method))
    charge = client.v1.charges.retrieve(str(intent.latest_charge))

    details = charge.payment_method_details
    assert details is not None
    assert details.au_becs_debit is not None
    assert details.au_becs_debit.expected_debit_date is not None
    settles_in_melbourne = (sim.clock.now() + SETTLE).astimezone(ZoneInfo("Australia/Melbourne"))
    assert date.fromisoformat(details.au_becs_debit.expected_debit_date) == settles_in_melbourne.date()
