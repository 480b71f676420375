"""A debt paid twice and its refund, pure: the rotation finds it (a dispute won after its debt was
paid) and books it once; the refund of the debit that paid it never moves backwards, whatever
order Stripe's reports come in; and the books of the whole story sum to zero per transaction and
leave nothing owed either way once the refund lands."""

from uuid import uuid4

import pytest

from services.collections.domain import postings
from services.collections.domain.debt_collection import (
    DebitReport,
    Debt,
    DebtAttemptStatus,
    DebtCollection,
    PaymentMethod,
    reported,
    settlement,
    start_collection,
)
from services.collections.domain.debt_refunds import (
    DebtRefundOutcome,
    DebtRefundStatus,
    NoDebitToRefundError,
    RefundReport,
    refund_paid_twice,
    refund_reported,
    won_after_debt_closed,
)
from services.collections.domain.ledger import Ledger
from services.collections.domain.postings import Debit
from services.collections.domain.rotation_commands import DisputeWonAfterDebtClosed
from services.collections.domain.rotation_messages import (
    ReceivableOpened,
    ReceivableSettled,
    WriteOffReceivable,
)
from services.collections.domain.rotation_state import Receivable
from tests.unit.collections.rotation_fixtures import RotationRun, member, rotation

Status = DebtRefundStatus
METHOD = PaymentMethod("cus_1", "pm_1", "mandate_1")


def paid_collection(
    dispute_ids: tuple[str, ...] = ("dp_1",), amount: int = 5_000, member_id: str = "bob"
) -> DebtCollection:
    started = start_collection(
        uuid4(),
        uuid4(),
        Debt(member_id, amount, dispute_ids),
        currency="aud",
        request_key="k1",
        payment_method=METHOD,
    )
    paid, _ = reported(started, DebitReport(1, DebtAttemptStatus.SUCCEEDED, "pi_debt"))
    return paid


def test_the_refund_returns_the_won_disputes_amount_of_the_debit_that_paid_it_under_one_key() -> None:
    paid = paid_collection(("dp_1", "dp_2"), 8_000)
    refund = refund_paid_twice(paid, "dp_1", 5_000)
    assert (refund.payment_intent_id, refund.amount, refund.status) == ("pi_debt", 5_000, Status.REQUESTED)
    assert refund.idempotency_key == f"debt-refund-{paid.debt_collection_id}-dp_1"
    assert refund.metadata()["dispute_id"] == "dp_1"
    assert "attempt" not in refund.metadata()  # never read as a debit attempt's report
    assert refund_paid_twice(paid, "dp_1", 5_000) == refund  # the same refund, however often decided


def test_no_refund_without_a_collected_debit_or_of_a_dispute_it_did_not_pay() -> None:
    started = start_collection(
        uuid4(),
        uuid4(),
        Debt("bob", 5_000, ("dp_1",)),
        currency="aud",
        request_key="k1",
        payment_method=METHOD,
    )
    with pytest.raises(NoDebitToRefundError):
        refund_paid_twice(started, "dp_1", 5_000)
    with pytest.raises(NoDebitToRefundError):
        refund_paid_twice(paid_collection(), "dp_9", 5_000)
    with pytest.raises(NoDebitToRefundError):
        refund_paid_twice(paid_collection(), "dp_1", 6_000)


def test_a_refund_lands_once_and_never_moves_back() -> None:
    refund = refund_paid_twice(paid_collection(), "dp_1", 5_000)
    pending, outcome = refund_reported(refund, RefundReport(Status.PENDING, "re_1"))
    assert (pending.status, pending.refund_id, outcome) == (Status.PENDING, "re_1", DebtRefundOutcome.MOVED)
    landed, outcome = refund_reported(pending, RefundReport(Status.SUCCEEDED, "re_1"))
    assert (landed.status, outcome) == (Status.SUCCEEDED, DebtRefundOutcome.REFUNDED)
    for late in (Status.PENDING, Status.SUCCEEDED, Status.FAILED, Status.REQUESTED):
        assert refund_reported(landed, RefundReport(late, "re_1")) == (landed, DebtRefundOutcome.NO_CHANGE)


def test_a_refund_that_fails_fails_once_with_its_reason_even_heard_before_it_was_pending() -> None:
    refund = refund_paid_twice(paid_collection(), "dp_1", 5_000)
    failed, outcome = refund_reported(refund, RefundReport(Status.FAILED, "re_1", "declined"))
    assert (failed.status, failed.failure_reason, outcome) == (
        Status.FAILED,
        "declined",
        DebtRefundOutcome.FAILED,
    )
    assert refund_reported(failed, RefundReport(Status.PENDING, "re_1")) == (
        failed,
        DebtRefundOutcome.NO_CHANGE,
    )
    assert refund_reported(failed, RefundReport(Status.FAILED, "re_1")) == (
        failed,
        DebtRefundOutcome.NO_CHANGE,
    )


def owing_and_paid(run: RotationRun, dispute_id: str = "dp_1") -> str:
    """Member 3's paid-out debit was disputed (booked as the cycle saga books it), and they paid
    the debt by a debit (booked as ``debts`` books it)."""
    debtor = member(run, 3)
    paid = run.state.cycles[0].plan
    debit = Debit(paid.cycle_id, debtor, paid.contributions[2].contribution_id, 1, 5_000, "aud")
    run.ledger = run.ledger.post_all(postings.dispute_receivable_opened(debit, dispute_id, 2_500))
    run.apply(ReceivableOpened(run.now, debtor, dispute_id, 5_000))
    collection = paid_collection((dispute_id,), member_id=debtor)
    run.ledger = run.ledger.post(settlement(collection, run.state.receivables).transaction)
    run.apply(ReceivableSettled(run.now, debtor, dispute_id))
    return debtor


def won(run: RotationRun, debtor: str, dispute_id: str = "dp_1") -> None:
    """The dispute is decided for the platform: the cycle saga books it clearing the receivable
    (it cannot know the debt was closed), and the rotation hears it."""
    run.ledger = run.ledger.post(postings.dispute_won(debtor, dispute_id, 5_000, "aud", was_receivable=True))
    run.apply(ReceivableSettled(run.now, debtor, dispute_id, won=True))


def test_a_dispute_won_after_its_debt_was_paid_books_the_debt_paid_twice_and_refunds_it_once() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    debtor = owing_and_paid(run)
    paid_by = paid_collection(("dp_1",), member_id=debtor)
    won(run, debtor)
    [closed] = run.sent_of(DisputeWonAfterDebtClosed)
    assert (closed.member_id, closed.dispute_id, closed.amount, closed.written_off) == (
        debtor,
        "dp_1",
        5_000,
        False,
    )
    decided = won_after_debt_closed(debtor, "dp_1", 5_000, "aud", written_off=False, paid_by=paid_by)
    assert decided.refund == refund_paid_twice(paid_by, "dp_1", 5_000)
    run.ledger = run.ledger.post_all(decided.postings)
    assert run.ledger.balance(postings.dispute_receivable(debtor)) == 0
    assert run.ledger.balance(postings.refund_owed(debtor)) == 5_000
    # The platform is left with its own cost only (the dispute fee), not the member's money.
    assert run.ledger.balance(postings.PLATFORM_FUNDS) == -2_500
    won(run, debtor)  # the win heard again (a duplicate, or a stale lost then won again)
    assert len(run.sent_of(DisputeWonAfterDebtClosed)) == 1
    assert not run.state.is_delinquent(debtor)

    landed = postings.debt_refunded(paid_by.debt_collection_id, "dp_1", debtor, 5_000, "aud")
    run.ledger = run.ledger.post(landed)
    assert run.ledger.balance(postings.refund_owed(debtor)) == 0
    assert all(sum(e.amount for e in t.entries) == 0 for t in run.ledger.transactions)


def test_a_dispute_won_while_its_debt_is_owed_clears_it_and_refunds_nothing() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    debtor = member(run, 3)
    run.apply(ReceivableOpened(run.now, debtor, "dp_1", 5_000))
    run.apply(ReceivableSettled(run.now, debtor, "dp_1", won=True))
    assert not run.state.is_delinquent(debtor)
    assert run.sent_of(DisputeWonAfterDebtClosed) == []
    assert run.apply(ReceivableSettled(run.now, debtor, "dp_1", won=True)).postings == ()


def test_a_dispute_won_after_its_debt_was_written_off_recovers_the_write_off() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    debtor = member(run, 3)
    paid = run.state.cycles[0].plan
    debit = Debit(paid.cycle_id, debtor, paid.contributions[2].contribution_id, 1, 5_000, "aud")
    run.ledger = run.ledger.post_all(postings.dispute_receivable_opened(debit, "dp_1", 0))
    run.apply(ReceivableOpened(run.now, debtor, "dp_1", 5_000))
    run.apply(WriteOffReceivable(run.now, run.admin, debtor))
    won(run, debtor)
    [closed] = run.sent_of(DisputeWonAfterDebtClosed)
    assert closed.written_off
    decided = won_after_debt_closed(debtor, "dp_1", 5_000, "aud", written_off=True, paid_by=None)
    assert decided.refund is None
    run.ledger = run.ledger.post_all(decided.postings)
    assert run.ledger.balance(postings.dispute_receivable(debtor)) == 0
    assert run.ledger.balance(postings.WRITE_OFF) == 0
    assert run.ledger.balance(postings.PLATFORM_FUNDS) == 0  # the group's loss came back


def test_a_written_off_debt_a_debit_recovered_and_then_won_was_paid_twice() -> None:
    paid_by = paid_collection(("dp_1",), member_id="bob")
    decided = won_after_debt_closed("bob", "dp_1", 5_000, "aud", written_off=True, paid_by=paid_by)
    assert [t.reference for t in decided.postings] == ["debt-paid-twice-dp_1"]
    assert decided.refund is not None
    assert decided.refund.amount == 5_000


def test_the_debt_paid_twice_sums_to_zero() -> None:
    transaction = postings.debt_paid_twice("bob", "dp_1", 5_000, "aud")
    assert sum(e.amount for e in transaction.entries) == 0
    assert Ledger().post(transaction).balance(postings.refund_owed("bob")) == 5_000


def test_a_debit_that_collects_a_debt_whose_dispute_was_won_meanwhile_is_refunded_from() -> None:
    collection = paid_collection(("dp_1", "dp_2"), 8_000)
    receivables = (
        Receivable("bob", "dp_1", 5_000, settled=True, won=True),
        Receivable("bob", "dp_2", 3_000),
    )
    books = settlement(collection, receivables)
    assert (books.cleared_dispute_ids, books.paid_twice) == (("dp_2",), (("dp_1", 5_000),))
    assert Ledger().post(books.transaction).balance(postings.refund_owed("bob")) == 5_000


def test_a_debit_collecting_a_debt_written_off_and_then_won_meanwhile_recovers_nothing_twice() -> None:
    collection = paid_collection(("dp_1",), 5_000)
    receivables = (Receivable("bob", "dp_1", 5_000, written_off=True, won=True),)
    books = settlement(collection, receivables)
    assert books.paid_twice == (("dp_1", 5_000),)
    assert Ledger().post(books.transaction).balance(postings.WRITE_OFF) == 0
