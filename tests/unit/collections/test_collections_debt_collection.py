"""A member's dispute debt collected by a debit they ask for: the debt collection's state machine
(never backwards, whatever order Stripe's reports come in) and the books of a collected debt."""

from dataclasses import replace
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.collections.domain.contribution import PaymentMethodRef
from services.collections.domain.debt_collection import (
    DebitReport,
    DebtAttemptStatus,
    DebtCollection,
    DebtOutcome,
    DebtStatus,
    NoActiveMandateError,
    NothingOwedError,
    NotRetryableError,
    PaymentMethod,
    debit_source,
    debt_debit_disputed,
    debt_of,
    reported,
    settlement,
    start_collection,
    try_again,
)
from services.collections.domain.ledger import Account, AccountKind, balance
from services.collections.domain.rotation_state import Receivable

Status = DebtAttemptStatus
METHOD = PaymentMethod("cus_1", "pm_1", "mandate_1")
NEW_METHOD = PaymentMethod("cus_1", "pm_2", "mandate_2")
RECEIVABLES = (
    Receivable("bob", "dp_2", 3_000),
    Receivable("bob", "dp_1", 5_000),
    Receivable("bob", "dp_0", 5_000, written_off=True),
    Receivable("carol", "dp_9", 5_000),
)


def collection() -> DebtCollection:
    return start_collection(
        uuid4(),
        uuid4(),
        debt_of("bob", RECEIVABLES),
        currency="aud",
        request_key="key-1",
        payment_method=METHOD,
    )


def test_the_debt_is_what_the_member_still_owes_and_the_disputes_behind_it() -> None:
    debt = debt_of("bob", RECEIVABLES)
    assert (debt.amount, debt.dispute_ids) == (8_000, ("dp_1", "dp_2"))
    assert debt_of("dave", RECEIVABLES).amount == 0


def test_asking_to_pay_makes_its_first_attempt_under_a_key_of_the_collection_and_attempt() -> None:
    started = collection()
    assert started.status is DebtStatus.COLLECTING
    assert (started.latest.attempt, started.latest.status) == (1, Status.REQUESTED)
    assert started.idempotency_key(1) == f"debt-{started.debt_collection_id}-1"
    assert started.metadata(1)["debt_collection_id"] == str(started.debt_collection_id)
    assert started.metadata(1)["dispute_ids"] == "dp_1,dp_2"


def test_nothing_owed_is_nothing_to_collect() -> None:
    with pytest.raises(NothingOwedError):
        start_collection(
            uuid4(),
            uuid4(),
            debt_of("dave", RECEIVABLES),
            currency="aud",
            request_key="k",
            payment_method=METHOD,
        )


def test_only_an_active_mandate_is_debited() -> None:
    active = PaymentMethodRef("cus_1", "pm_1", "mandate_1", mandate_active=True)
    assert debit_source("bob", active) == METHOD
    with pytest.raises(NoActiveMandateError):
        debit_source("bob", replace(active, mandate_active=False))
    with pytest.raises(NoActiveMandateError):
        debit_source("bob", None)


def test_a_debit_collected_once_settles_once_and_never_moves_back() -> None:
    created, outcome = reported(collection(), DebitReport(1, Status.PROCESSING, "pi_1"))
    assert outcome is DebtOutcome.MOVED
    collected, outcome = reported(created, DebitReport(1, Status.SUCCEEDED, "pi_1"))
    assert outcome is DebtOutcome.COLLECTED
    assert collected.status is DebtStatus.SUCCEEDED
    for late in (
        DebitReport(1, Status.SUCCEEDED, "pi_1"),  # a duplicate
        DebitReport(1, Status.PROCESSING, "pi_1"),  # a late one
        DebitReport(1, Status.FAILED, "pi_1", "refer_to_customer"),
        DebitReport(1, Status.REQUESTED, "pi_1"),  # the create's answer, after Stripe's report
        DebitReport(7, Status.SUCCEEDED, "pi_7"),  # no such attempt
    ):
        assert reported(collected, late) == (collected, DebtOutcome.NO_CHANGE)


def test_a_success_reported_before_the_creates_answer_counts_and_keeps_its_payment_intent() -> None:
    collected, outcome = reported(collection(), DebitReport(1, Status.SUCCEEDED, "pi_1"))
    assert outcome is DebtOutcome.COLLECTED
    assert collected.latest.payment_intent_id == "pi_1"
    assert reported(collected, DebitReport(1, Status.PROCESSING, "pi_1"))[1] is DebtOutcome.NO_CHANGE


def test_a_failed_debit_leaves_the_debt_owed_and_the_member_may_ask_again() -> None:
    failed, outcome = reported(collection(), DebitReport(1, Status.FAILED, "pi_1", "refer_to_customer"))
    assert outcome is DebtOutcome.FAILED
    assert failed.status is DebtStatus.FAILED
    assert failed.latest.failure_code == "refer_to_customer"
    again = try_again(failed, "key-2", NEW_METHOD)
    assert again.status is DebtStatus.COLLECTING
    assert (again.latest.attempt, again.latest.payment_method, again.latest.request_key) == (
        2,
        NEW_METHOD,
        "key-2",
    )
    assert again.asked_by("key-1") is not None
    with pytest.raises(NotRetryableError):
        try_again(again, "key-3", NEW_METHOD)
    # A late report of the failed attempt changes nothing of the new one.
    assert reported(again, DebitReport(1, Status.PROCESSING, "pi_1"))[1] is DebtOutcome.NO_CHANGE
    collected, outcome = reported(again, DebitReport(2, Status.SUCCEEDED, "pi_2"))
    assert (outcome, collected.status) == (DebtOutcome.COLLECTED, DebtStatus.SUCCEEDED)


_REPORTS = st.builds(
    DebitReport,
    attempt=st.integers(1, 2),
    status=st.sampled_from(list(Status)),
    payment_intent_id=st.sampled_from([None, "pi_a"]),
    failure_code=st.sampled_from([None, "refer_to_customer"]),
)
_RANK = {Status.REQUESTED: 0, Status.PROCESSING: 1, Status.SUCCEEDED: 2, Status.FAILED: 2}


@given(st.lists(_REPORTS, max_size=12))
def test_no_order_of_reports_moves_an_attempt_back_or_settles_twice(reports: list[DebitReport]) -> None:
    state = collection()
    settled = 0
    for report in reports:
        before = state
        state, outcome = reported(state, report)
        settled += outcome is DebtOutcome.COLLECTED
        for was in before.attempts:
            now = state.attempt(was.attempt)
            assert now is not None
            assert _RANK[now.status] >= _RANK[was.status]
            if was.status in (Status.SUCCEEDED, Status.FAILED):
                assert now.status is was.status
    assert settled == (1 if state.status is DebtStatus.SUCCEEDED else 0)


def test_the_collected_debt_clears_the_receivables_it_was_asked_for() -> None:
    collected = collection()
    books = settlement(collected, RECEIVABLES)
    assert books.cleared_dispute_ids == ("dp_1", "dp_2")
    assert books.transaction.reference == f"debt-collected-{collected.debt_collection_id}"
    entries = (books.transaction,)
    assert balance(entries, Account(AccountKind.DISPUTE_RECEIVABLE, "bob")) == -8_000
    assert balance(entries, Account(AccountKind.PLATFORM_FUNDS)) == 8_000


def test_a_debt_written_off_or_cleared_while_its_debit_processed_is_recovered_or_owed_back() -> None:
    collected = collection()
    meanwhile = (
        Receivable("bob", "dp_1", 5_000, written_off=True),  # the admin wrote it off
        Receivable("bob", "dp_2", 3_000, settled=True),  # the dispute was reversed
    )
    books = settlement(collected, meanwhile)
    assert books.cleared_dispute_ids == ()
    entries = (books.transaction,)
    assert balance(entries, Account(AccountKind.WRITE_OFF)) == -5_000
    assert balance(entries, Account(AccountKind.PLATFORM_FUNDS)) == 5_000
    assert balance(entries, Account(AccountKind.REFUND_OWED, "bob")) == 3_000
    assert balance(entries, Account(AccountKind.MEMBER_CONTRIBUTIONS, "bob")) == -3_000


def test_a_dispute_of_the_debit_that_paid_the_debt_makes_the_member_owe_again() -> None:
    paid = collection()
    opened = debt_debit_disputed(paid, "dp_debt", 250, won=None)
    assert (opened.opened, opened.won) == (Receivable("bob", "dp_debt", 8_000), False)
    assert [t.reference for t in opened.postings] == ["dispute-opened-dp_debt", "dispute-fee-dp_debt"]
    assert balance(opened.postings, Account(AccountKind.DISPUTE_RECEIVABLE, "bob")) == 8_000
    assert balance(opened.postings, Account(AccountKind.STRIPE_FEES)) == 250
    # Decided for the platform: the money comes back, booked as clearing that debt (the rotation
    # books the rest should the debt have been paid again or written off meanwhile).
    won = debt_debit_disputed(paid, "dp_debt", 250, won=True)
    assert won.won
    assert balance(won.postings, Account(AccountKind.DISPUTE_RECEIVABLE, "bob")) == 0
    assert [t.reference for t in won.postings][-1] == "dispute-won-dp_debt"
    assert not debt_debit_disputed(paid, "dp_debt", 250, won=False).won
