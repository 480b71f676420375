"""Reconciliation's comparison: the ledger's books beside Stripe's, every difference with its kind,
the objects concerned and both amounts."""

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

from services.collections.domain.reconciliation import (
    DifferenceKind,
    LedgerBooks,
    LedgerDebit,
    LedgerDebtDebit,
    LedgerDispute,
    StripeBooks,
    StripeDebit,
    StripeDispute,
    StripeTransfer,
    compare,
    daily_run_due_at,
    daily_timer_id,
    day_bounds,
)

CYCLE = uuid.uuid4()
CONTRIBUTION = uuid.uuid4()


def booked(**changes: object) -> LedgerDebit:
    values: dict[str, object] = {
        "cycle_id": CYCLE,
        "contribution_id": CONTRIBUTION,
        "attempt": 1,
        "payment_intent_id": "pi_1",
        "amount": 5_000,
        "currency": "aud",
        "collected": 5_000,
        "stripe_fee": 50,
        "refunded": 0,
        **changes,
    }
    return LedgerDebit(**values)  # type: ignore[arg-type]


def at_stripe(**changes: object) -> StripeDebit:
    values: dict[str, object] = {
        "payment_intent_id": "pi_1",
        "status": "succeeded",
        "amount": 5_000,
        "currency": "aud",
        "metadata": {"cycle_id": str(CYCLE), "contribution_id": str(CONTRIBUTION), "attempt": "1"},
        "charge_id": "py_1",
        "fee": 50,
        "refunded": 0,
        **changes,
    }
    return StripeDebit(**values)  # type: ignore[arg-type]


def ledger(*debits: LedgerDebit, **changes: object) -> LedgerBooks:
    return LedgerBooks(frozenset({CYCLE}), debits, **changes)  # type: ignore[arg-type]


def test_books_that_agree_to_the_cent_have_no_difference() -> None:
    transfers = (StripeTransfer("tr_1", f"cycle_{CYCLE}", 4_950, 0, "aud"),)
    assert (
        compare(ledger(booked(), transferred={CYCLE: 4_950}), StripeBooks((at_stripe(),), (), transfers))
        == []
    )


def test_a_payment_intent_no_attempt_recorded_is_unknown_to_the_ledger_with_stripes_amount() -> None:
    stray = at_stripe(payment_intent_id="pi_stray", metadata={})
    (difference,) = compare(ledger(booked()), StripeBooks((at_stripe(), stray)))
    assert difference.kind is DifferenceKind.DEBIT_UNKNOWN_TO_LEDGER
    assert (difference.object_ids, difference.expected, difference.actual) == (("pi_stray",), 0, 5_000)


def test_a_second_payment_intent_for_one_attempt_is_unknown_to_the_ledger() -> None:
    (difference,) = compare(ledger(booked()), StripeBooks((at_stripe(), at_stripe(payment_intent_id="pi_2"))))
    assert difference.kind is DifferenceKind.DEBIT_UNKNOWN_TO_LEDGER
    assert difference.cycle_id == CYCLE


def test_an_attempt_whose_answer_was_lost_is_matched_by_its_metadata() -> None:
    assert compare(ledger(booked(payment_intent_id=None)), StripeBooks((at_stripe(),))) == []


def test_an_attempt_naming_a_payment_intent_stripe_lacks_is_missing_at_stripe() -> None:
    (difference,) = compare(ledger(booked()), StripeBooks())
    assert difference.kind is DifferenceKind.DEBIT_MISSING_AT_STRIPE
    assert (difference.expected, difference.actual) == (5_000, 0)


def test_collected_fee_and_refunds_are_each_compared() -> None:
    found = compare(
        ledger(booked(collected=5_000, stripe_fee=40, refunded=0)),
        StripeBooks((at_stripe(status="processing", fee=None, refunded=1_000, refund_ids=("re_1",)),)),
    )
    assert [(d.kind, d.expected, d.actual) for d in found] == [
        (DifferenceKind.COLLECTED_DIFFERS, 5_000, 0),
        (DifferenceKind.REFUNDED_DIFFERS, 0, 1_000),
    ]
    assert found[1].object_ids == ("pi_1", "re_1")
    (fee,) = compare(ledger(booked(stripe_fee=40)), StripeBooks((at_stripe(),)))
    assert (fee.kind, fee.expected, fee.actual, fee.ledger_reference) == (
        DifferenceKind.STRIPE_FEE_DIFFERS,
        40,
        50,
        f"debit-stripe-fee-{CONTRIBUTION}-1",
    )


def test_disputes_are_compared_by_id_opened_and_won() -> None:
    books = ledger(booked(), disputes=(LedgerDispute("du_1", CYCLE, "aud", 5_000, 0),))
    assert (
        compare(books, StripeBooks((at_stripe(),), (StripeDispute("du_1", "pi_1", 5_000, "aud", "lost"),)))
        == []
    )
    (won,) = compare(
        books, StripeBooks((at_stripe(),), (StripeDispute("du_1", "pi_1", 5_000, "aud", "won"),))
    )
    assert (won.kind, won.expected, won.actual) == (DifferenceKind.DISPUTE_WON_DIFFERS, 0, 5_000)
    (unknown,) = compare(
        ledger(booked()), StripeBooks((at_stripe(),), (StripeDispute("du_2", "pi_1", 5_000, "aud", "lost"),))
    )
    assert (unknown.kind, unknown.cycle_id, unknown.actual) == (DifferenceKind.DISPUTED_DIFFERS, CYCLE, 5_000)


def test_a_cycles_transfers_are_compared_with_what_the_ledger_paid_unless_told_not_to() -> None:
    transfers = (StripeTransfer("tr_1", f"cycle_{CYCLE}", 5_000, 1_000, "aud"),)
    (difference,) = compare(
        ledger(booked(), transferred={CYCLE: 4_950}), StripeBooks((at_stripe(),), (), transfers)
    )
    assert (difference.kind, difference.expected, difference.actual, difference.object_ids) == (
        DifferenceKind.TRANSFERRED_DIFFERS,
        4_950,
        4_000,
        ("tr_1",),
    )
    no_transfers = StripeBooks((at_stripe(),))
    assert compare(ledger(booked(), transferred={CYCLE: 4_950}), no_transfers, compare_transfers=False) == []


def test_a_day_is_a_day_in_sydney_and_its_run_is_due_at_three_the_next_morning() -> None:
    start, end = day_bounds(date(2027, 3, 2))
    assert (start, end) == (datetime(2027, 3, 1, 13, tzinfo=UTC), datetime(2027, 3, 2, 13, tzinfo=UTC))
    assert daily_run_due_at(date(2027, 3, 2)) == datetime(2027, 3, 2, 16, tzinfo=UTC)
    assert daily_timer_id(date(2027, 3, 2)) == "collections:reconcile:2027-03-02"


GROUP = uuid.uuid4()
DEBT = uuid.uuid4()
DEBT_TAGS = {"debt_collection_id": str(DEBT), "attempt": "1", "group_id": str(GROUP), "member_id": "bob"}


def test_a_debt_debit_is_compared_with_its_collections_books_not_taken_for_an_unknown_debit() -> None:
    debt = LedgerDebtDebit(GROUP, DEBT, 1, "pi_debt", "aud", collected=5_000, stripe_fee=80, refunded=5_000)
    paid_back = at_stripe(payment_intent_id="pi_debt", metadata=DEBT_TAGS, fee=80, refunded=5_000)
    books = LedgerBooks(frozenset(), debt_debits=(debt,))
    assert compare(books, StripeBooks((paid_back,))) == []
    # The refund of the debt paid twice landed at Stripe, but the ledger did not book it.
    (unbooked,) = compare(
        LedgerBooks(frozenset(), debt_debits=(replace(debt, refunded=0),)), StripeBooks((paid_back,))
    )
    assert (unbooked.kind, unbooked.ledger_reference, unbooked.expected, unbooked.actual) == (
        DifferenceKind.REFUNDED_DIFFERS,
        f"debt-refunded-{DEBT}",
        0,
        5_000,
    )
    (unknown,) = compare(LedgerBooks(frozenset()), StripeBooks((paid_back,)))
    assert unknown.kind is DifferenceKind.DEBIT_UNKNOWN_TO_LEDGER


def test_a_dispute_of_a_debt_debit_is_compared_with_its_books_under_the_group() -> None:
    debt = LedgerDebtDebit(GROUP, DEBT, 1, "pi_debt", "aud", collected=5_000, stripe_fee=80, refunded=0)
    disputed = at_stripe(payment_intent_id="pi_debt", metadata=DEBT_TAGS, fee=80)
    won = StripeDispute("du_debt", "pi_debt", 5_000, "aud", "won")
    books = LedgerBooks(frozenset(), debt_debits=(debt,), debt_disputes={"du_debt": (5_000, 5_000)})
    assert compare(books, StripeBooks((disputed,), (won,))) == []
    (not_won,) = compare(
        replace(books, debt_disputes={"du_debt": (5_000, 0)}), StripeBooks((disputed,), (won,))
    )
    assert (not_won.kind, not_won.expected, not_won.actual) == (DifferenceKind.DISPUTE_WON_DIFFERS, 0, 5_000)
