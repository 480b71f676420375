"""The cycle saga from funded to completed, and from the deadline through refunds to cancelled."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.collections.domain import postings
from services.collections.domain.commands import (
    CancelDeadline,
    CancelRetry,
    CreateRefund,
    NoticeKind,
    NotifyMember,
    PublishCycleStatus,
    RequestPayout,
)
from services.collections.domain.contribution import ContributionStatus, RefundProgress
from services.collections.domain.cycle import CycleStatus
from services.collections.domain.ledger import LedgerError, cycle_books_problems
from services.collections.domain.messages import (
    CyclePaid,
    DeadlineReached,
    PaymentIntentCreated,
    PayoutPaused,
    RefundFailed,
    RefundSucceeded,
)
from tests.unit.collections.cycle_fixtures import (
    DEFAULT_POLICY,
    CycleRun,
    activation,
    charge_id,
    collected_run,
    pi_id,
    started_run,
)

SYDNEY = ZoneInfo("Australia/Sydney")
Status = ContributionStatus


def funded_run(fee_bps: int = 0, amount: int = 5_000) -> CycleRun:
    policy = DEFAULT_POLICY.model_copy(update={"platform_fee_bps": fee_bps})
    run = collected_run(activation(policy=policy, amount=amount))
    run.now = datetime(2026, 3, 18, 10, 0, tzinfo=SYDNEY)
    for index in range(3):
        run.succeed(index)
    return run


def books(run: CycleRun) -> list[str]:
    return cycle_books_problems(run.ledger.transactions, str(run.state.plan.cycle_id), run.state.status.value)


def refund_message(run: CycleRun, index: int, kind: type[RefundSucceeded] | type[RefundFailed]) -> object:
    c = run.contribution(index)
    if kind is RefundSucceeded:
        return RefundSucceeded(
            run.now,
            c.contribution_id,
            c.attempt,
            f"re_{index}",
            pi_id(c.contribution_id, c.attempt),
            charge_id(c.contribution_id, c.attempt),
        )
    return RefundFailed(run.now, c.contribution_id, c.attempt, f"re_{index}", "declined")


def test_when_every_debit_succeeded_the_payout_is_requested_with_each_charges_fee_share() -> None:
    run = funded_run(fee_bps=150, amount=3_333)
    plan = run.state.plan
    [payout] = run.sent_of(RequestPayout)
    assert isinstance(payout, RequestPayout)
    assert payout.recipient_member_id == plan.recipient.member_id
    assert payout.connected_account_id == plan.recipient.connected_account_id
    assert payout.transfer_group == f"cycle_{plan.cycle_id}"
    assert [charge.platform_fee for charge in payout.charges] == [50, 50, 49]
    assert [charge.transfer_amount for charge in payout.charges] == [3_283, 3_283, 3_284]
    assert [charge.charge_id for charge in payout.charges] == [
        charge_id(c.contribution_id, 1) for c in run.state.contributions
    ]
    assert run.status() is CycleStatus.PAYING_OUT
    statuses = [command.status for command in run.sent_of(PublishCycleStatus)]
    assert statuses == ["collecting", "funded", "paying_out"]
    assert CancelDeadline(f"cycle:{plan.cycle_id}:deadline") in run.sent
    assert run.ledger.balance(postings.cycle_pot(plan.cycle_id)) == 0
    assert run.ledger.balance(postings.recipient_payable(plan.cycle_id)) == 9_850
    assert run.ledger.balance(postings.platform_fees(plan.cycle_id)) == 149


def test_cycle_paid_completes_the_cycle_with_pot_equal_to_transfers_plus_fees() -> None:
    run = funded_run(fee_bps=100)
    plan = run.state.plan
    run.apply(CyclePaid(run.now, 14_850))
    assert run.status() is CycleStatus.COMPLETED
    assert run.ledger.balance(postings.transfers(plan.cycle_id)) == 14_850
    assert books(run) == []
    assert run.apply(CyclePaid(run.now, 14_850)).postings == ()


def test_a_paused_payout_waits_on_its_recipient_until_paid() -> None:
    run = funded_run()
    run.apply(PayoutPaused(run.now, "transfers capability inactive"))
    assert run.status() is CycleStatus.PAYOUT_PAUSED
    assert run.state.waiting_on == "recipient"
    assert run.apply(PayoutPaused(run.now, "again")).commands == ()
    run.apply(CyclePaid(run.now, 15_000))
    assert run.status() is CycleStatus.COMPLETED
    assert run.state.waiting_on is None


def test_payouts_reporting_another_amount_than_requested_is_refused() -> None:
    run = funded_run()
    with pytest.raises(LedgerError, match="requested"):
        run.apply(CyclePaid(run.now, 14_999))


def test_the_deadline_after_funding_changes_nothing() -> None:
    run = funded_run()
    before = run.state
    decision = run.apply(DeadlineReached(run.now))
    assert decision.new_state == before
    assert decision.commands == ()


def test_the_deadline_refunds_collected_and_processing_debits_and_cancels_retries() -> None:
    run = collected_run()
    run.now = datetime(2026, 3, 18, 10, 0, tzinfo=SYDNEY)
    run.succeed(0)
    run.fail(2, "refer_to_customer")
    retry_timer = f"contribution:{run.contribution(2).contribution_id}:attempt:2"
    run.now = run.state.plan.deadline_at
    decision = run.apply(DeadlineReached(run.now))
    refunds = [command for command in decision.commands if isinstance(command, CreateRefund)]
    assert [(r.member_id, r.idempotency_key) for r in refunds] == [
        (c.member_id, f"refund-{c.contribution_id}-1") for c in run.state.contributions[:2]
    ]
    assert CancelRetry(retry_timer) in decision.commands
    assert run.status() is CycleStatus.CANCELLING
    assert [c.status for c in run.state.contributions] == [
        Status.REFUND_PENDING,
        Status.PROCESSING,
        Status.FAILED_FINAL,
    ]
    assert run.state.defaulting_member_ids == (run.contribution(2).member_id,)
    [announced] = [command for command in decision.commands if isinstance(command, PublishCycleStatus)]
    assert announced.status == "cancelling"
    assert announced.defaulting_member_ids == (run.contribution(2).member_id,)


def test_the_cycle_is_cancelled_once_every_refund_settled_and_every_cent_is_back() -> None:
    run = collected_run()
    run.now = datetime(2026, 3, 18, 10, 0, tzinfo=SYDNEY)
    run.succeed(0)
    run.fail(2, "account_closed")
    run.now = run.state.plan.deadline_at
    run.apply(DeadlineReached(run.now))
    run.apply(refund_message(run, 0, RefundSucceeded))  # type: ignore[arg-type]
    assert run.status() is CycleStatus.CANCELLING  # member 1's debit is still processing
    run.fail(1, "refer_to_customer")  # it failed: Stripe cancels its held refund
    assert run.status() is CycleStatus.CANCELLED
    assert run.state.defaulting_member_ids == (run.contribution(1).member_id, run.contribution(2).member_id)
    assert run.ledger.balance(postings.refunds(run.state.plan.cycle_id)) == 5_000
    assert books(run) == []


def test_a_processing_debit_that_succeeds_after_the_deadline_is_refunded_once() -> None:
    run = collected_run()
    run.now = run.state.plan.deadline_at
    run.apply(DeadlineReached(run.now))
    requested = len(run.sent_of(CreateRefund))
    run.succeed(0)
    assert run.contribution(0).status is Status.REFUND_PENDING
    assert len(run.sent_of(CreateRefund)) == requested  # already asked for at the deadline
    assert run.ledger.balance(postings.cycle_pot(run.state.plan.cycle_id)) == 5_000


def test_a_refund_reported_before_its_debits_success_books_both_in_order() -> None:
    run = collected_run()
    run.now = run.state.plan.deadline_at
    run.apply(DeadlineReached(run.now))
    run.apply(refund_message(run, 0, RefundSucceeded))  # type: ignore[arg-type]
    assert run.contribution(0).status is Status.REFUNDED
    assert run.ledger.balance(postings.refunds(run.state.plan.cycle_id)) == 5_000
    assert run.succeed(0).postings == ()  # the late success report is now a duplicate


def test_a_refund_is_asked_for_as_soon_as_the_payment_intent_is_known() -> None:
    run = started_run()  # debits requested, no PaymentIntent id known yet
    run.now = run.state.plan.deadline_at
    decision = run.apply(DeadlineReached(run.now))
    assert not any(isinstance(command, CreateRefund) for command in decision.commands)
    assert run.contribution(0).refund is RefundProgress.WANTED
    c = run.contribution(0)
    created = run.apply(PaymentIntentCreated(run.now, c.contribution_id, 1, "pi_late"))
    [refund] = [command for command in created.commands if isinstance(command, CreateRefund)]
    assert refund.payment_intent_id == "pi_late"
    assert run.apply(PaymentIntentCreated(run.now, c.contribution_id, 1, "pi_late")).commands == ()


def test_a_failed_refund_is_owed_to_the_member_who_is_told() -> None:
    run = collected_run()
    run.succeed(0)
    run.now = run.state.plan.deadline_at
    run.apply(DeadlineReached(run.now))
    decision = run.apply(refund_message(run, 0, RefundFailed))  # type: ignore[arg-type]
    assert run.contribution(0).status is Status.REFUND_FAILED
    member = run.contribution(0).member_id
    assert run.ledger.balance(postings.refund_owed(member)) == 5_000
    [notice] = [command for command in decision.commands if isinstance(command, NotifyMember)]
    assert notice.kind is NoticeKind.REFUND_FAILED
    assert run.ledger.balance(postings.cycle_pot(run.state.plan.cycle_id)) == 0
