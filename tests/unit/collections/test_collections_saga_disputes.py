"""Disputes in the cycle saga: before payout the debit counts as failed, after it the member owes."""

from datetime import datetime
from zoneinfo import ZoneInfo

from services.collections.domain import postings
from services.collections.domain.commands import CreatePaymentIntent, NoticeKind, NotifyMember, RequestPayout
from services.collections.domain.contribution import ContributionStatus
from services.collections.domain.cycle import CycleStatus
from services.collections.domain.ledger import cycle_books_problems
from services.collections.domain.messages import CyclePaid, DisputeClosed, DisputeOpened, MandateActivated
from tests.unit.collections.cycle_fixtures import CycleRun, charge_id, collected_run, pi_id

SYDNEY = ZoneInfo("Australia/Sydney")
Status = ContributionStatus


def dispute(run: CycleRun, index: int, dispute_id: str = "dp_1", fee: int = 0) -> DisputeOpened:
    c = run.contribution(index)
    return DisputeOpened(
        run.now,
        c.contribution_id,
        c.attempt,
        dispute_id,
        pi_id(c.contribution_id, c.attempt),
        charge_id(c.contribution_id, c.attempt),
        fee,
    )


def closed(
    run: CycleRun, index: int, *, won: bool, dispute_id: str = "dp_1", attempt: int = 1
) -> DisputeClosed:
    c = run.contribution(index)
    return DisputeClosed(
        run.now,
        c.contribution_id,
        attempt,
        dispute_id,
        pi_id(c.contribution_id, attempt),
        charge_id(c.contribution_id, attempt),
        won,
    )


def test_a_dispute_before_payout_takes_the_debit_out_of_the_pot_and_counts_as_failed() -> None:
    run = collected_run()
    run.now = datetime(2026, 3, 18, 10, 0, tzinfo=SYDNEY)
    run.succeed(0)
    run.now = datetime(2026, 3, 19, 10, 0, tzinfo=SYDNEY)
    decision = run.apply(dispute(run, 0, fee=2_500))
    cycle_id = run.state.plan.cycle_id
    member = run.contribution(0).member_id
    assert run.ledger.balance(postings.cycle_pot(cycle_id)) == 0
    assert run.ledger.balance(postings.member_contributions(member)) == 0
    assert run.ledger.balance(postings.STRIPE_FEES) == 2_500
    # Collected again only once the member authorises again: they told their bank it was not.
    assert run.contribution(0).status is Status.AWAITING_MANDATE
    [notice] = [command for command in decision.commands if isinstance(command, NotifyMember)]
    assert notice.kind is NoticeKind.DEBIT_FAILED_AUTHORISE_AGAIN
    c = run.contribution(0)
    method = c.payment_method.__class__("cus_x", "pm_new", "mandate_new", mandate_active=True)
    again = run.apply(MandateActivated(run.now, c.member_id, method))
    assert [command.attempt for command in again.commands if isinstance(command, CreatePaymentIntent)] == [2]
    assert run.state.delinquent_member_ids == ()


def test_a_dispute_reported_before_its_debits_success_is_applied_after_that_success() -> None:
    run = collected_run()
    run.apply(dispute(run, 0))
    assert run.ledger.balance(postings.cycle_pot(run.state.plan.cycle_id)) == 0
    assert run.contribution(0).status is Status.AWAITING_MANDATE
    assert run.succeed(0, attempt=1).postings == ()


def test_a_dispute_after_payout_books_a_receivable_and_makes_the_member_delinquent() -> None:
    run = collected_run()
    for index in range(3):
        run.succeed(index)
    run.apply(CyclePaid(run.now, 15_000))
    assert run.status() is CycleStatus.COMPLETED
    decision = run.apply(dispute(run, 1, fee=2_500))
    member = run.contribution(1).member_id
    assert run.contribution(1).status is Status.DISPUTED
    assert run.ledger.balance(postings.dispute_receivable(member)) == 5_000
    assert run.ledger.balance(postings.PLATFORM_FUNDS) == -7_500
    assert run.state.delinquent_member_ids == (member,)
    [notice] = [command for command in decision.commands if isinstance(command, NotifyMember)]
    assert notice.kind is NoticeKind.DEBIT_DISPUTED_OWED
    # The cycle's own books still balance: the pot was paid in full.
    assert cycle_books_problems(run.ledger.transactions, str(run.state.plan.cycle_id), "completed") == []


def test_a_dispute_while_the_payout_is_under_way_is_owed_by_the_member() -> None:
    run = collected_run()
    for index in range(3):
        run.succeed(index)
    assert run.sent_of(RequestPayout)
    run.apply(dispute(run, 2))
    assert run.state.delinquent_member_ids == (run.contribution(2).member_id,)
    run.apply(CyclePaid(run.now, 15_000))
    assert run.status() is CycleStatus.COMPLETED


def test_a_duplicate_dispute_changes_nothing() -> None:
    run = collected_run()
    for index in range(3):
        run.succeed(index)
    run.apply(dispute(run, 0))
    again = run.apply(dispute(run, 0))
    assert again.commands == ()
    assert again.postings == ()


def test_a_won_dispute_clears_the_receivable_and_the_delinquency() -> None:
    run = collected_run()
    for index in range(3):
        run.succeed(index)
    run.apply(dispute(run, 0))
    member = run.contribution(0).member_id
    run.apply(closed(run, 0, won=True))
    assert run.ledger.balance(postings.dispute_receivable(member)) == 0
    assert run.state.delinquent_member_ids == ()
    assert run.apply(closed(run, 0, won=True)).postings == ()


def test_a_lost_dispute_moves_no_money_and_the_member_stays_delinquent() -> None:
    run = collected_run()
    for index in range(3):
        run.succeed(index)
    run.apply(dispute(run, 0))
    decision = run.apply(closed(run, 0, won=False))
    assert decision.postings == ()
    assert run.state.delinquent_member_ids == (run.contribution(0).member_id,)


def test_a_dispute_closed_before_it_was_heard_to_open_is_opened_first() -> None:
    run = collected_run()
    for index in range(3):
        run.succeed(index)
    run.apply(closed(run, 0, won=False))
    member = run.contribution(0).member_id
    assert run.ledger.balance(postings.dispute_receivable(member)) == 5_000
    assert run.state.delinquent_member_ids == (member,)


def test_a_lost_dispute_the_bank_reverses_is_won_and_a_stale_lost_never_undoes_a_win() -> None:
    run = collected_run()
    for index in range(3):
        run.succeed(index)
    run.apply(dispute(run, 0))
    member = run.contribution(0).member_id
    run.apply(closed(run, 0, won=False))
    reversed_ = run.apply(closed(run, 0, won=True))
    assert [t.reference for t in reversed_.postings] == ["dispute-won-dp_1"]
    assert run.ledger.balance(postings.dispute_receivable(member)) == 0
    assert run.state.delinquent_member_ids == ()
    stale = run.apply(closed(run, 0, won=False))
    assert (stale.postings, stale.commands) == ((), ())
    kept = run.state.dispute("dp_1")
    assert kept is not None
    assert kept.closed_won is True
