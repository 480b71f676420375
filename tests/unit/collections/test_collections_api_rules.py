"""What the API's views decide without I/O: when an unfinished cycle is overdue in its status and
what holds it, and which saga step each ledger reference names."""

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from services.collections.domain import postings
from services.collections.domain.contribution import ContributionStatus
from services.collections.domain.cycle import CycleState, CycleStatus
from services.collections.domain.ledger import Transaction
from services.collections.domain.ledger_steps import STEPS, UNKNOWN_STEP, step_of
from services.collections.domain.stuck import REFUND_SETTLEMENT_BUSINESS_DAYS, overdue
from tests.unit.collections.cycle_fixtures import BECS, first_cycle

SINCE = datetime(2027, 3, 4, 3, 0, tzinfo=UTC)  # a Thursday, 14:00 in Sydney


def with_statuses(state: CycleState, *statuses: ContributionStatus) -> CycleState:
    return replace(
        state,
        contributions=tuple(replace(c, status=s) for c, s in zip(state.contributions, statuses, strict=True)),
    )


def test_a_scheduled_cycle_is_due_at_its_start_and_a_collecting_one_at_its_deadline() -> None:
    scheduled = first_cycle()
    due = overdue(scheduled, SINCE, BECS)
    assert due is not None
    assert due.expected_by == scheduled.plan.start_at

    collecting = with_statuses(
        replace(scheduled, status=CycleStatus.COLLECTING),
        ContributionStatus.SUCCEEDED,
        ContributionStatus.RETRY_SCHEDULED,
        ContributionStatus.PROCESSING,
    )
    due = overdue(collecting, SINCE, BECS)
    assert due is not None
    assert due.expected_by == collecting.plan.deadline_at
    assert due.waiting_for == tuple(c.member_id for c in collecting.contributions[1:])


def test_a_cancelling_cycle_has_five_business_days_for_its_refunds_and_names_who_waits() -> None:
    cancelling = with_statuses(
        replace(first_cycle(), status=CycleStatus.CANCELLING),
        ContributionStatus.REFUNDED,
        ContributionStatus.REFUND_PENDING,
        ContributionStatus.FAILED_FINAL,
    )
    due = overdue(cancelling, SINCE, BECS)
    assert due is not None
    # Thursday 4 March + 5 business days (over a weekend) is Thursday 11 March; late from its end.
    assert REFUND_SETTLEMENT_BUSINESS_DAYS == 5
    assert due.expected_by.isoformat() == "2027-03-12T00:00:00+11:00"
    assert due.waiting_for == (cancelling.contributions[1].member_id,)


@pytest.mark.parametrize("status", [CycleStatus.FUNDED, CycleStatus.PAYING_OUT, CycleStatus.PAYOUT_PAUSED])
def test_a_cycle_that_should_move_on_at_once_is_due_when_it_entered_its_status(status: CycleStatus) -> None:
    state = replace(first_cycle(), status=status, payout_paused_reason="account_restricted")
    due = overdue(state, SINCE, BECS)
    assert due is not None
    assert due.expected_by == SINCE
    assert ("account_restricted" in due.reason) is (status is CycleStatus.PAYOUT_PAUSED)


@pytest.mark.parametrize("status", [CycleStatus.COMPLETED, CycleStatus.CANCELLED])
def test_a_finished_cycle_is_never_overdue(status: CycleStatus) -> None:
    assert overdue(replace(first_cycle(), status=status), SINCE, BECS) is None


def test_every_status_has_a_rule() -> None:
    for status in CycleStatus:
        due = overdue(replace(first_cycle(), status=status), SINCE, BECS)
        assert (due is None) is (status in {CycleStatus.COMPLETED, CycleStatus.CANCELLED})


def every_posting() -> list[Transaction]:
    """One transaction of each kind the saga books (``postings.py``), fees included."""
    cycle_id = uuid4()
    debit = postings.Debit(cycle_id, "m1", uuid4(), 2, 5_000, "aud")
    return [
        *postings.debit_collected(debit, stripe_fee=30),
        postings.debit_refunded(debit),
        postings.refund_failed(debit),
        *postings.dispute_reversed_from_pot(debit, "dp_1", dispute_fee=250),
        *postings.dispute_receivable_opened(debit, "dp_2", dispute_fee=250),
        postings.refund_after_dispute(debit),
        *postings.refund_owed_settled_by_dispute(debit, "dp_3", dispute_fee=0),
        postings.dispute_won("m1", "dp_1", 5_000, "aud", was_receivable=True),
        postings.payout_requested(cycle_id, "aud", 14_850, 150),
        postings.cycle_paid(cycle_id, "aud", 14_850),
        postings.receivable_written_off("m1", 5_000, "aud", "decision-1"),
        postings.debt_collected(uuid4(), "m1", "aud", cleared=5_000),
        *postings.debt_stripe_fee(uuid4(), "aud", 55),
        postings.debt_paid_twice("m1", "dp_1", 5_000, "aud"),
        postings.debt_refunded(uuid4(), "dp_1", "m1", 5_000, "aud"),
        postings.write_off_recovered("m1", "dp_1", 5_000, "aud"),
    ]


def test_every_ledger_reference_the_saga_books_names_its_step() -> None:
    steps = {step_of(transaction.reference) for transaction in every_posting()}
    assert UNKNOWN_STEP not in steps
    assert steps == set(STEPS)
    assert step_of("debit-collected-abc-1") == "debit-collected"
    assert step_of("debit-stripe-fee-abc-1") == "debit-stripe-fee"
    assert step_of("something-new-1") == UNKNOWN_STEP
