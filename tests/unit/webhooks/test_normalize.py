"""The normalized event: what consumers read, derived deterministically from Stripe's event."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.stripe_events import StripeEventReceived, stripe_event_message_id
from services.webhooks.normalize import normalize


def an_event(data_object: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": 1_790_000_000,
        "data": {"object": data_object},
        "livemode": False,
        "type": "payment_intent.payment_failed",
    }
    event.update(overrides)
    return event


def a_failed_intent(**metadata: str) -> dict[str, Any]:
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "status": "requires_payment_method",
        "amount": 5_000,
        "currency": "aud",
        "metadata": metadata,
        "last_payment_error": {"code": "refer_to_customer", "type": "card_error"},
    }


def test_a_payment_intent_event_carries_status_amount_failure_and_metadata() -> None:
    event = an_event(a_failed_intent(group_id="grp_1", cycle_id="cyc_7", member_id="mem_3"))

    message = normalize(event)

    assert message.message_id == stripe_event_message_id(event["id"])
    assert message.occurred_at == message.created == datetime.fromtimestamp(1_790_000_000, UTC)
    assert (message.event_type, message.object_type, message.object_id) == (
        "payment_intent.payment_failed",
        "payment_intent",
        "pi_1",
    )
    assert (message.object_status, message.amount, message.currency) == (
        "requires_payment_method",
        5_000,
        "aud",
    )
    assert message.failure_code == "refer_to_customer"
    assert message.correlation_id == "cyc_7"
    assert message.metadata["member_id"] == "mem_3"
    assert message.raw_object == event["data"]["object"]
    assert message.account is None
    assert message.causation_id is None


def test_correlation_falls_back_from_cycle_to_group_to_object_id() -> None:
    assert normalize(an_event(a_failed_intent(group_id="grp_1"))).correlation_id == "grp_1"
    assert normalize(an_event(a_failed_intent())).correlation_id == "pi_1"


@pytest.mark.parametrize(
    ("data_object", "code"),
    [
        ({"id": "py_1", "object": "charge", "failure_code": "account_closed"}, "account_closed"),
        ({"id": "re_1", "object": "refund", "failure_reason": "charge_for_pending_refund_disputed"},
         "charge_for_pending_refund_disputed"),
        ({"id": "seti_1", "object": "setup_intent", "last_setup_error": {"code": "x_failed"}}, "x_failed"),
        ({"id": "po_1", "object": "payout", "failure_code": None, "status": "paid"}, None),
    ],
)  # fmt: skip
def test_the_failure_code_is_found_wherever_the_object_keeps_it(
    data_object: dict[str, Any], code: str | None
) -> None:
    assert normalize(an_event(data_object, type="charge.failed")).failure_code == code


def test_an_account_event_has_no_status_amount_or_currency_but_keeps_changes() -> None:
    account = {"id": "acct_1", "object": "account", "payouts_enabled": True, "metadata": {}}
    event = an_event(account, type="account.updated", account="acct_1")
    event["data"]["previous_attributes"] = {"payouts_enabled": False}

    message = normalize(event)

    assert (message.object_status, message.amount, message.currency) == (None, None, None)
    assert message.account == "acct_1"
    assert message.previous_attributes == {"payouts_enabled": False}
    assert message.correlation_id == "acct_1"


def test_the_same_event_always_gives_the_same_message_byte_for_byte() -> None:
    event = an_event(a_failed_intent(cycle_id="cyc_1"))
    again = json.loads(json.dumps(event))
    assert normalize(event).model_dump_json() == normalize(again).model_dump_json()
    assert stripe_event_message_id(event["id"]) != stripe_event_message_id(f"{event['id']}x")


def test_the_contract_is_frozen_and_refuses_unknown_fields() -> None:
    message = normalize(an_event(a_failed_intent()))
    with pytest.raises(ValidationError):
        message.event_type = "other.type"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra_forbidden"):
        StripeEventReceived.model_validate({**message.model_dump(), "surprise": 1})
