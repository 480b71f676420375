"""What the collections I/O layer writes and reads, without a database or a broker: the cycle state
as stored, the saga's commands as messages, Stripe's events as the saga's messages."""

import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
import stripe

from contracts import subjects
from contracts.catalog import CHANNELS
from contracts.stripe_events import StripeEventReceived
from services.collections.domain import postings
from services.collections.domain.commands import (
    CancelDeadline,
    CancelRetry,
    CreatePaymentIntent,
    NoticeKind,
    NotifyMember,
    ReadStripeFee,
    RequestPayout,
    ScheduleRetry,
)
from services.collections.domain.messages import (
    DisputeClosed,
    DisputeOpened,
    PaymentIntentFailed,
    PaymentIntentSucceeded,
    RefundFailed,
    RefundSucceeded,
)
from services.collections.service_layer.outgoing import outgoing
from services.collections.service_layer.stripe_calls import RATE_LIMITED_AGAIN_AFTER_SECONDS, put_off
from services.collections.service_layer.stripe_reports import attempt_in_metadata, saga_message
from services.collections.store.cycles import state_document, state_of
from services.runtime.request_budget import RequestBudgetExhaustedError
from services.runtime.stripe_client import StripeBusyError, stripe_errors_translated
from tests.unit.collections.cycle_fixtures import CycleRun, collected_run, started_run

NOW = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)


def funded_run() -> CycleRun:
    run = collected_run()
    for index in range(len(run.state.contributions)):
        run.succeed(index)
    return run


def test_a_cycle_state_mid_saga_survives_its_json_document_unchanged() -> None:
    run = started_run()
    run.fail(1, "refer_to_customer")  # a retry time, a failure code, a changed status
    run.succeed(0)
    stored = json.loads(json.dumps(state_document(run.state)))
    assert state_of(stored) == run.state


def test_a_funded_cycle_with_its_payout_survives_its_json_document_unchanged() -> None:
    run = funded_run()
    assert run.state.payout is not None
    assert state_of(json.loads(json.dumps(state_document(run.state)))) == run.state


def _message_for(run: CycleRun, command: Any) -> tuple[str, dict[str, Any]]:
    subject, message = outgoing(run.state, command, NOW, None)
    return subject, message.model_dump(mode="json")


def test_every_command_of_a_cycle_goes_to_a_catalogued_subject() -> None:
    run = funded_run()
    assert run.sent_of(RequestPayout)
    catalogued = {channel.subject for channel in CHANNELS}
    for command in run.sent:
        subject, _ = _message_for(run, command)
        assert subject in catalogued or subject.startswith(
            subjects.COLLECTIONS_CYCLE_STATUS_PREFIX + ".cycle_"
        )


def test_a_debit_goes_out_as_a_command_carrying_the_whole_request_and_its_key() -> None:
    run = started_run()
    debit = next(c for c in run.sent if isinstance(c, CreatePaymentIntent))
    subject, body = _message_for(run, debit)
    assert subject == subjects.COLLECTIONS_CREATE_PAYMENT_INTENT
    assert body["idempotency_key"] == f"contribution-{debit.contribution_id}-1"
    assert (body["amount"], body["mandate_id"], body["metadata"]) == (
        debit.amount,
        debit.mandate_id,
        debit.metadata,
    )
    # The same debit always becomes the same message, so a repeat is dropped by the inbox.
    assert _message_for(run, debit)[1]["message_id"] == body["message_id"]


def test_a_retry_is_a_timer_whose_payload_is_the_retry_command_and_a_cancel_cancels_it() -> None:
    run = started_run()
    run.fail(1, "refer_to_customer")
    (retry,) = run.sent_of(ScheduleRetry)
    subject, body = _message_for(run, retry)
    assert subject == subjects.SCHEDULER_SCHEDULE
    assert body["timer_id"] == retry.timer_id
    assert body["target_subject"] == subjects.COLLECTIONS_RETRY_CONTRIBUTION
    assert body["payload"]["attempt"] == 2
    assert datetime.fromisoformat(body["due_at"]) == retry.at
    for cancel in (CancelRetry(retry.timer_id), CancelDeadline("cycle:x:deadline")):
        subject, body = _message_for(run, cancel)
        assert (subject, body["timer_id"]) == (subjects.SCHEDULER_CANCEL, cancel.timer_id)


def test_a_payout_request_names_every_charge_and_its_totals() -> None:
    run = funded_run()
    (payout,) = run.sent_of(RequestPayout)
    subject, body = _message_for(run, payout)
    assert subject == subjects.PAYOUTS_PAY_CYCLE
    assert len(body["charges"]) == len(payout.charges)
    assert body["transfer_total"] == sum(c.transfer_amount for c in payout.charges)
    assert body["platform_fee_total"] == sum(c.platform_fee for c in payout.charges)


def test_a_notice_asks_for_a_new_mandate_only_when_one_is_needed() -> None:
    run = started_run()
    run.fail(0, "account_closed")
    run.fail(1, "refer_to_customer")
    notices = {n.kind: n for n in run.sent_of(NotifyMember)}
    authorise = _message_for(run, notices[NoticeKind.DEBIT_FAILED_AUTHORISE_AGAIN])
    retrying = _message_for(run, notices[NoticeKind.DEBIT_FAILED_RETRYING])
    assert authorise[0] == subjects.NOTIFY_MEMBER_CONTRIBUTION_DEBIT_FAILED_AUTHORISE_AGAIN
    assert authorise[1]["action"] == "POST /onboarding/members/me/becs/setup-intents"
    assert retrying[0] == subjects.NOTIFY_MEMBER_CONTRIBUTION_DEBIT_FAILED_RETRYING
    assert retrying[1]["action"] is None
    assert "50.00 AUD" in retrying[1]["body"]


def stripe_event(event_type: str, raw: dict[str, Any], **fields: Any) -> StripeEventReceived:
    return StripeEventReceived(
        occurred_at=NOW,
        correlation_id="c",
        event_id=f"evt_{uuid4().hex}",
        event_type=event_type,
        created=NOW,
        livemode=False,
        account=None,
        api_version=None,
        object_type=raw["object"],
        object_id=raw.get("id"),
        object_status=raw.get("status"),
        metadata=raw.get("metadata", {}),
        amount=raw.get("amount"),
        currency="aud",
        failure_code=fields.get("failure_code"),
        previous_attributes=None,
        raw_object=raw,
    )


CONTRIBUTION = uuid4()
CYCLE = uuid4()
METADATA = {"cycle_id": str(CYCLE), "contribution_id": str(CONTRIBUTION), "attempt": "2"}


def test_our_metadata_names_the_cycle_contribution_and_attempt_and_anything_else_is_not_ours() -> None:
    ours = stripe_event(
        "payment_intent.succeeded", {"object": "payment_intent", "id": "pi_1", "metadata": METADATA}
    )
    tagged = attempt_in_metadata(ours)
    assert tagged is not None
    assert (tagged.cycle_id, tagged.contribution_id, tagged.attempt) == (CYCLE, CONTRIBUTION, 2)
    foreign = stripe_event(
        "payment_intent.succeeded", {"object": "payment_intent", "id": "pi_2", "metadata": {"attempt": "x"}}
    )
    assert attempt_in_metadata(foreign) is None


@pytest.mark.parametrize(
    ("event_type", "raw", "failure_code", "expected"),
    [
        (
            "payment_intent.succeeded",
            {"object": "payment_intent", "id": "pi_1", "status": "succeeded", "latest_charge": "py_1"},
            None,
            PaymentIntentSucceeded(NOW, CONTRIBUTION, 2, "pi_1", "py_1"),
        ),
        # A success without its charge has nothing to pay out from: the saga is not told.
        (
            "payment_intent.succeeded",
            {"object": "payment_intent", "id": "pi_1", "latest_charge": None},
            None,
            None,
        ),
        (
            "payment_intent.payment_failed",
            {"object": "payment_intent", "id": "pi_1", "status": "requires_payment_method"},
            "refer_to_customer",
            PaymentIntentFailed(NOW, CONTRIBUTION, 2, "pi_1", "refer_to_customer"),
        ),
        (
            "refund.updated",
            {
                "object": "refund",
                "id": "re_1",
                "status": "succeeded",
                "payment_intent": "pi_1",
                "charge": "py_1",
            },
            None,
            RefundSucceeded(NOW, CONTRIBUTION, 2, "re_1", "pi_1", "py_1"),
        ),
        (
            "charge.refund.updated",
            {
                "object": "refund",
                "id": "re_1",
                "status": "canceled",
                "payment_intent": "pi_1",
                "charge": "py_1",
            },
            None,
            RefundFailed(NOW, CONTRIBUTION, 2, "re_1", "canceled"),
        ),
        (
            "refund.updated",
            {"object": "refund", "id": "re_1", "status": "pending", "payment_intent": "pi_1"},
            None,
            None,
        ),
        (
            "charge.dispute.created",
            {
                "object": "dispute",
                "id": "dp_1",
                "status": "lost",
                "payment_intent": "pi_1",
                "charge": "py_1",
                "balance_transactions": [{"fee": 2_500}],
            },
            None,
            DisputeOpened(NOW, CONTRIBUTION, 2, "dp_1", "pi_1", "py_1", 2_500),
        ),
        (
            "charge.dispute.closed",
            {"object": "dispute", "id": "dp_1", "status": "won", "payment_intent": "pi_1", "charge": "py_1"},
            None,
            DisputeClosed(NOW, CONTRIBUTION, 2, "dp_1", "pi_1", "py_1", won=True),
        ),
        (
            "refund.failed",
            {
                "object": "refund",
                "id": "re_1",
                "status": "failed",
                "payment_intent": "pi_1",
                "charge": "py_1",
            },
            "insufficient_funds",
            RefundFailed(NOW, CONTRIBUTION, 2, "re_1", "insufficient_funds"),
        ),
        # A dispute names no attempt in metadata and without its PaymentIntent is nobody's.
        ("charge.dispute.created", {"object": "dispute", "id": "dp_2", "charge": "py_1"}, None, None),
    ],
)
def test_stripe_events_become_the_saga_messages_they_report(
    event_type: str, raw: dict[str, Any], failure_code: str | None, expected: object
) -> None:
    event = stripe_event(event_type, raw, failure_code=failure_code)
    assert saga_message(event, CONTRIBUTION, 2) == expected


def test_a_fee_read_goes_out_once_per_charge_and_is_booked_under_its_debits_reference() -> None:
    run = funded_run()
    reads = run.sent_of(ReadStripeFee)
    assert len(reads) == len(run.state.contributions)
    subject, body = _message_for(run, reads[0])
    assert subject == subjects.COLLECTIONS_READ_CHARGE_FEE
    assert (body["charge_id"], body["attempt"], body["cycle_id"]) == (
        reads[0].charge_id,
        1,
        str(run.state.plan.cycle_id),
    )
    assert _message_for(run, reads[0])[1]["message_id"] == body["message_id"]
    reference = postings.debit_reference(reads[0].contribution_id, 1)
    (fee,) = postings.debit_stripe_fee(reference, "aud", 80)
    assert fee.reference == f"debit-stripe-fee-{reads[0].contribution_id}-1"
    assert postings.debit_stripe_fee(reference, "aud", 0) == ()


def test_stripe_busy_puts_the_call_off_until_the_budgets_next_slot_and_a_429_a_few_seconds() -> None:
    def busy(cause: Exception) -> StripeBusyError:
        try:
            with stripe_errors_translated():
                raise cause
        except StripeBusyError as error:
            return error
        raise AssertionError("not translated as busy")

    full = busy(RequestBudgetExhaustedError("the next free request slot is 42.0 s away", wait_seconds=42.0))
    assert put_off(full).delay_seconds == 42.0
    limited = busy(stripe.RateLimitError("Too many requests"))
    assert put_off(limited).delay_seconds == RATE_LIMITED_AGAIN_AFTER_SECONDS
