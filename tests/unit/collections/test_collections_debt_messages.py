"""A debt collection's I/O without a database or a broker: Stripe's events of a debt debit as
reports (and a contribution's never mistaken for one), the debit as a command carrying its key,
and what a failed debit's notice asks the member to do."""

from uuid import uuid4

import pytest

from contracts import subjects
from contracts.catalog import CHANNELS
from contracts.stripe_events import StripeEventReceived
from services.collections.domain.debt_collection import (
    DebitReport,
    DebtAttemptStatus,
    DebtCollection,
    PaymentMethod,
    debt_of,
    reported,
    start_collection,
)
from services.collections.domain.rotation_state import Receivable
from services.collections.service_layer import debt_outgoing
from services.collections.service_layer.debt_reports import debt_report_of, is_debt_debit
from tests.unit.collections.test_collections_io_translation import METADATA, NOW, stripe_event

Status = DebtAttemptStatus


def collection() -> DebtCollection:
    return start_collection(
        uuid4(),
        uuid4(),
        debt_of("bob", (Receivable("bob", "dp_1", 5_000),)),
        currency="aud",
        request_key="key-1",
        payment_method=PaymentMethod("cus_1", "pm_1", "mandate_1"),
    )


def debt_event(event_type: str, metadata: dict[str, str], **fields: str) -> StripeEventReceived:
    return stripe_event(
        event_type, {"object": "payment_intent", "id": "pi_d", "metadata": metadata}, **fields
    )


@pytest.mark.parametrize(
    ("event_type", "status", "failure"),
    [
        ("payment_intent.processing", Status.PROCESSING, None),
        ("payment_intent.succeeded", Status.SUCCEEDED, None),
        ("payment_intent.payment_failed", Status.FAILED, "refer_to_customer"),
    ],
)
def test_a_debt_debits_events_are_reports_of_the_attempt_its_metadata_names(
    event_type: str, status: DebtAttemptStatus, failure: str | None
) -> None:
    debt = collection()
    event = debt_event(event_type, debt.metadata(1), failure_code="refer_to_customer")
    assert is_debt_debit(event)
    found = debt_report_of(event)
    assert found is not None
    assert found.debt_collection_id == debt.debt_collection_id
    assert found.report == DebitReport(1, status, "pi_d", failure)


def test_a_contributions_event_is_never_taken_for_a_debt_debit() -> None:
    contribution = debt_event("payment_intent.succeeded", METADATA)
    assert not is_debt_debit(contribution)
    assert debt_report_of(contribution) is None
    refund = stripe_event(
        "refund.updated", {"object": "refund", "id": "re_1", "metadata": collection().metadata(1)}
    )
    assert debt_report_of(refund) is None


def test_the_debit_goes_out_as_a_catalogued_command_with_the_attempts_key_and_metadata() -> None:
    debt = collection()
    command = debt_outgoing.debit_command(debt, NOW, None)
    assert command.idempotency_key == f"debt-{debt.debt_collection_id}-1"
    assert (command.amount, command.currency, command.mandate_id) == (5_000, "aud", "mandate_1")
    assert command.metadata["debt_collection_id"] == str(debt.debt_collection_id)
    assert command.message_id == debt_outgoing.debit_command(debt, NOW, None).message_id  # one per attempt
    catalogued = {channel.subject: channel.payload for channel in CHANNELS}
    assert catalogued[subjects.COLLECTIONS_CREATE_DEBT_PAYMENT_INTENT] is type(command)
    assert subjects.NOTIFY_MEMBER_DEBT_COLLECTED in catalogued
    assert subjects.NOTIFY_MEMBER_DEBT_DEBIT_FAILED in catalogued


def test_a_failed_debit_asks_to_pay_again_or_first_to_authorise_a_bank_account() -> None:
    passing, _ = reported(collection(), DebitReport(1, Status.FAILED, "pi_d", "refer_to_customer"))
    subject, notice = debt_outgoing.debt_debit_failed(passing, NOW, None)
    assert subject == subjects.NOTIFY_MEMBER_DEBT_DEBIT_FAILED
    assert notice.action == f"POST /collections/groups/{passing.group_id}/members/me/debt/payments"
    assert "refer_to_customer" in notice.body
    assert "50.00 AUD" in notice.body
    closed, _ = reported(collection(), DebitReport(1, Status.FAILED, "pi_d", "account_closed"))
    assert debt_outgoing.debt_debit_failed(closed, NOW, None)[1].action == debt_outgoing.AUTHORISE_AGAIN
