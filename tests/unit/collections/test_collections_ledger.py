"""The group ledger: balanced, append-only transactions, unique references, a pot never negative."""

from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.collections.domain import postings
from services.collections.domain.fees import BASIS_POINTS, platform_fee_shares
from services.collections.domain.ledger import (
    Account,
    AccountKind,
    Entry,
    Ledger,
    LedgerError,
    Transaction,
    balance_of_kind,
    balances,
    cycle_books_problems,
    transfer,
)


def debit(amount: int = 5_000) -> postings.Debit:
    return postings.Debit(uuid4(), f"member-{uuid4().hex[:6]}", uuid4(), 1, amount, "aud")


def test_a_transaction_whose_entries_do_not_sum_to_zero_is_refused() -> None:
    pot, member = Account(AccountKind.CYCLE_POT, "c"), Account(AccountKind.MEMBER_CONTRIBUTIONS, "m")
    with pytest.raises(LedgerError, match="sum to zero"):
        Transaction("t", "aud", (Entry(member, -100), Entry(pot, 99)))
    with pytest.raises(LedgerError, match="two accounts"):
        Transaction("t", "aud", (Entry(pot, 0),))
    with pytest.raises(LedgerError, match="zero records nothing"):
        Transaction("t", "aud", (Entry(member, 0), Entry(pot, 0)))


def test_posting_the_same_step_twice_changes_nothing() -> None:
    collected = postings.debit_collected(debit(), stripe_fee=0)
    once = Ledger().post_all(collected)
    assert once.post_all(collected) is once
    assert len(once.transactions) == 1


def test_a_reference_posted_with_other_entries_is_refused() -> None:
    step = debit()
    ledger = Ledger().post_all(postings.debit_collected(step, stripe_fee=0))
    other = postings.debit_collected(postings.Debit(**{**step.__dict__, "amount": 1}), stripe_fee=0)
    with pytest.raises(LedgerError, match="already posted"):
        ledger.post_all(other)


def test_the_pot_can_never_go_negative() -> None:
    step = debit()
    with pytest.raises(LedgerError, match="cannot give"):
        Ledger().post(postings.debit_refunded(step))
    ledger = (
        Ledger().post_all(postings.debit_collected(step, stripe_fee=0)).post(postings.debit_refunded(step))
    )
    assert ledger.balance(postings.cycle_pot(step.cycle_id)) == 0
    assert ledger.balance(postings.refunds(step.cycle_id)) == step.amount


def test_stripe_fees_are_the_platforms_cost_apart_from_members_money() -> None:
    step = debit(5_000)
    ledger = Ledger().post_all(postings.debit_collected(step, stripe_fee=55))
    assert ledger.balance(postings.cycle_pot(step.cycle_id)) == 5_000
    assert ledger.balance(postings.STRIPE_FEES) == 55
    assert ledger.balance(postings.PLATFORM_FUNDS) == -55


def test_balances_and_balances_by_kind_add_every_entry() -> None:
    a, b = debit(100), debit(250)
    ledger = Ledger().post_all([*postings.debit_collected(a, 0), *postings.debit_collected(b, 0)])
    assert balance_of_kind(ledger.transactions, AccountKind.MEMBER_CONTRIBUTIONS) == -350
    assert balances(ledger.transactions)[postings.cycle_pot(a.cycle_id)] == 100
    assert sum(balances(ledger.transactions).values()) == 0


def test_a_completed_cycle_needs_pot_equal_to_transfers_plus_fees() -> None:
    step = debit(10_000)
    cycle = str(step.cycle_id)
    ledger = Ledger().post_all(postings.debit_collected(step, 0))
    ledger = ledger.post(postings.payout_requested(step.cycle_id, "aud", transfer_total=9_900, fee_total=100))
    assert cycle_books_problems(ledger.transactions, cycle, "completed")  # not transferred yet
    ledger = ledger.post(postings.cycle_paid(step.cycle_id, "aud", 9_900))
    assert cycle_books_problems(ledger.transactions, cycle, "completed") == []
    assert cycle_books_problems(ledger.transactions, cycle, "cancelled") != []


def test_a_written_off_receivable_leaves_the_members_debt() -> None:
    step = debit(3_000)
    ledger = Ledger().post_all(postings.dispute_receivable_opened(step, "dp_1", dispute_fee=0))
    ledger = ledger.post(postings.receivable_written_off(step.member_id, 3_000, "aud", "admin-decision-1"))
    assert ledger.balance(postings.dispute_receivable(step.member_id)) == 0
    assert ledger.balance(postings.WRITE_OFF) == 3_000


def test_transfer_moves_money_from_source_to_destination() -> None:
    source, destination = Account(AccountKind.PLATFORM_FUNDS), Account(AccountKind.STRIPE_FEES)
    assert transfer("r", "aud", 7, source, destination).entries == (Entry(source, -7), Entry(destination, 7))
    assert str(Account(AccountKind.CYCLE_POT, "c1")) == "cycle_pot:c1"
    assert str(source) == "platform_funds"


def test_platform_fee_shares_round_down_the_cycle_fee_and_spread_the_leftover_cents() -> None:
    # 3 x $33.33 at 1.5%: the pot's fee is floor(9999 * 150 / 10000) = 149 cents; each exact
    # share is 49.995, so two charges bear 50 and one 49.
    assert platform_fee_shares([3_333, 3_333, 3_333], 150) == (50, 50, 49)
    assert platform_fee_shares([5_000, 5_000], 0) == (0, 0)
    with pytest.raises(ValueError, match="basis points"):
        platform_fee_shares([100], BASIS_POINTS + 1)


@given(
    amounts=st.lists(st.integers(min_value=50, max_value=1_000_000), min_size=1, max_size=50),
    fee_bps=st.integers(min_value=0, max_value=BASIS_POINTS),
)
def test_platform_fee_shares_sum_exactly_to_the_cycle_fee(amounts: list[int], fee_bps: int) -> None:
    shares = platform_fee_shares(amounts, fee_bps)
    assert sum(shares) == sum(amounts) * fee_bps // BASIS_POINTS
    for amount, share in zip(amounts, shares, strict=True):
        exact = amount * fee_bps / BASIS_POINTS
        assert exact - 1 < share < exact + 1
        assert 0 <= share <= amount
