"""Delinquency: a member who owes after a dispute receives no pot until the debt is cleared."""

import pytest

from services.collections.domain import postings
from services.collections.domain.ledger import Account, AccountKind
from services.collections.domain.postings import Debit
from services.collections.domain.rotation_commands import (
    HoldPayout,
    NotifyRotationMember,
    PayoutHeldForDelinquency,
    ReleasePayout,
    RotationNoticeKind,
)
from services.collections.domain.rotation_errors import InvalidDecisionError, NotGroupAdminError
from services.collections.domain.rotation_messages import (
    ReceivableOpened,
    ReceivableSettled,
    WriteOffReceivable,
)
from services.collections.domain.rotation_state import RotationStatus
from tests.unit.collections.rotation_fixtures import RotationRun, cancelled_first_round, member, rotation


def owes(run: RotationRun, position: int, dispute_id: str, amount: int = 5_000) -> None:
    """Member ``position``'s debit of the first cycle, paid out, was disputed: as the cycle saga
    books it (the platform covers it; the member owes it), then as the rotation hears of it."""
    debtor = member(run, position)
    paid = run.state.cycles[0].plan
    debit = Debit(paid.cycle_id, debtor, paid.contributions[position - 1].contribution_id, 1, amount, "aud")
    run.ledger = run.ledger.post_all(postings.dispute_receivable_opened(debit, dispute_id, 0))
    run.apply(ReceivableOpened(run.now, debtor, dispute_id, amount))


def test_a_member_who_owes_has_the_payout_of_their_coming_cycle_held_at_once() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    owes(run, 3, "dp_1")
    [hold] = run.sent_of(HoldPayout)
    assert (hold.cycle_id, hold.recipient_member_id) == (run.state.cycles[2].cycle_id, member(run, 3))
    assert run.state.cycles[2].payout_held
    owes(run, 3, "dp_1")  # the same dispute again
    assert len(run.sent_of(HoldPayout)) == 1


def test_the_funded_cycle_of_a_recipient_who_owes_announces_its_held_payout_once() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    owes(run, 2, "dp_1")
    second = run.cycle(0)
    run.report(second, "collecting")
    run.report(second, "funded")
    run.report(second, "paying_out")
    [held] = run.sent_of(PayoutHeldForDelinquency)
    assert (held.cycle_number, held.member_id, held.amount_owed) == (2, member(run, 2), 5_000)
    [notice] = run.sent_of(NotifyRotationMember)
    assert (notice.member_id, notice.kind, notice.amount_owed) == (
        member(run, 2),
        RotationNoticeKind.PAYOUT_HELD,
        5_000,
    )


def test_a_member_who_owes_nothing_is_paid_without_a_hold() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    owes(run, 3, "dp_1")
    run.pay(run.cycle(0))
    assert [h.recipient_member_id for h in run.sent_of(HoldPayout)] == [member(run, 3)]
    assert not run.sent_of(PayoutHeldForDelinquency)


def test_the_debt_collected_releases_the_held_payout() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    owes(run, 2, "dp_1")
    second = run.cycle(0)
    run.report(second, "funded")
    run.apply(ReceivableSettled(run.now, member(run, 2), "dp_1"))
    [release] = run.sent_of(ReleasePayout)
    assert release.cycle_id == second.cycle_id
    assert not run.state.cycles[1].payout_held
    assert RotationNoticeKind.PAYOUT_RELEASED in {n.kind for n in run.sent_of(NotifyRotationMember)}
    assert run.apply(ReceivableSettled(run.now, member(run, 2), "dp_1")).commands == ()


def test_a_member_with_two_debts_stays_held_until_both_are_cleared() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    owes(run, 3, "dp_1")
    owes(run, 3, "dp_2", 2_500)
    run.apply(ReceivableSettled(run.now, member(run, 3), "dp_1"))
    assert not run.sent_of(ReleasePayout)
    assert run.state.owed_by(member(run, 3)) == 2_500
    run.apply(WriteOffReceivable(run.now, run.admin, member(run, 3)))
    assert len(run.sent_of(ReleasePayout)) == 1


def test_a_write_off_moves_the_debt_to_the_write_off_account_in_balance_and_releases_the_payout() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    owes(run, 2, "dp_1")
    debtor = member(run, 2)
    decision = run.apply(WriteOffReceivable(run.now, run.admin, debtor))
    [write_off] = decision.postings
    assert sum(e.amount for e in write_off.entries) == 0
    assert run.ledger.balance(Account(AccountKind.DISPUTE_RECEIVABLE, debtor)) == 0
    assert run.ledger.balance(Account(AccountKind.WRITE_OFF)) == 5_000
    assert not run.state.is_delinquent(debtor)
    assert [r.cycle_id for r in run.sent_of(ReleasePayout)] == [run.state.cycles[1].cycle_id]
    again = run.apply(WriteOffReceivable(run.now, run.admin, debtor))
    assert (again.commands, again.postings) == ((), ())


def test_only_the_admin_writes_off_and_only_a_debt_that_exists() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    owes(run, 2, "dp_1")
    with pytest.raises(NotGroupAdminError):
        run.apply(WriteOffReceivable(run.now, member(run, 2), member(run, 2)))
    with pytest.raises(InvalidDecisionError, match="owes the group nothing"):
        run.apply(WriteOffReceivable(run.now, run.admin, member(run, 3)))
    assert run.state.is_delinquent(member(run, 2))


def test_a_retried_round_for_a_recipient_who_owes_is_held_too() -> None:
    run = rotation()
    owes(run, 1, "dp_1")
    held_first = run.state.cycles[0].cycle_id
    cancelled_first_round(run, member(run, 2))
    run.retry(run.state.cycles[0])
    new_round = run.state.cycles[1]
    assert [h.cycle_id for h in run.sent_of(HoldPayout)] == [held_first, new_round.cycle_id]
    assert new_round.payout_held


def test_a_debt_heard_after_the_rotation_ended_is_kept_without_commands_and_can_be_written_off() -> None:
    run = rotation()
    for _ in range(3):
        run.pay(run.cycle(0))
    assert run.status() is RotationStatus.COMPLETED
    owes(run, 1, "dp_late")
    assert run.state.owed_by(member(run, 1)) == 5_000
    decision = run.apply(WriteOffReceivable(run.now, run.admin, member(run, 1)))
    assert decision.commands == ()
    assert len(decision.postings) == 1


def test_a_debt_heard_while_the_members_cycle_is_funded_holds_and_announces_at_once() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    second = run.cycle(0)
    run.report(second, "funded")
    owes(run, 2, "dp_1")
    assert [h.cycle_id for h in run.sent_of(HoldPayout)] == [second.cycle_id]
    assert len(run.sent_of(PayoutHeldForDelinquency)) == 1
    assert run.report(second, "paying_out").commands == ()
