"""The money checker's rules on hand-made books: each holds on true books and fails on false ones."""

import uuid

from rosca.money_checker.invariants import (
    DebtPaidTwice,
    LedgerEntry,
    ViolationKind,
    debt_refunds_unaccounted,
    duplicated_stripe_objects,
    money_of_cycles,
    paid_and_refunded,
    paid_cycles,
    transfers_before_funded,
    unaccounted_cycles,
    unbalanced_transactions,
)
from services.collections.domain.reconciliation import StripeDebit, StripeTransfer

CYCLE = uuid.uuid4()
POT = str(CYCLE)


def entry(reference: str, kind: str, amount: int, key: str = POT) -> LedgerEntry:
    return LedgerEntry(reference, CYCLE, kind, key, amount)


def paid_books() -> list[LedgerEntry]:
    return [
        entry("debit-collected-a-1", "member_contributions", -5_000, "alice"),
        entry("debit-collected-a-1", "cycle_pot", 5_000),
        entry("payout-requested-c", "cycle_pot", -5_000),
        entry("payout-requested-c", "recipient_payable", 4_950),
        entry("payout-requested-c", "platform_fees", 50),
        entry("cycle-paid-c", "recipient_payable", -4_950),
        entry("cycle-paid-c", "transfers", 4_950),
    ]


def intent(contribution: uuid.UUID, payment_intent_id: str = "pi_1", **changes: object) -> StripeDebit:
    values: dict[str, object] = {
        "payment_intent_id": payment_intent_id,
        "status": "succeeded",
        "amount": 5_000,
        "currency": "aud",
        "metadata": {"cycle_id": POT, "contribution_id": str(contribution), "attempt": "1"},
        "charge_id": "py_1",
        "fee": 50,
        "refunded": 0,
        **changes,
    }
    return StripeDebit(**values)  # type: ignore[arg-type]


def test_true_books_break_no_rule() -> None:
    books = paid_books()
    money = money_of_cycles(books)
    assert unbalanced_transactions(books) == []
    assert unaccounted_cycles(money, {CYCLE: "completed"}) == []
    assert money[CYCLE].collected == money[CYCLE].transferred + money[CYCLE].platform_fees == 5_000


def test_an_unbalanced_transaction_and_money_left_in_a_finished_cycle_are_violations() -> None:
    books = [*paid_books(), entry("other-x", "cycle_pot", 10)]
    (unbalanced,) = unbalanced_transactions(books)
    assert (unbalanced.kind, unbalanced.subject) == (ViolationKind.TRANSACTION_UNBALANCED, "other-x")
    (unaccounted,) = unaccounted_cycles(money_of_cycles(books), {CYCLE: "completed"})
    assert unaccounted.kind is ViolationKind.CYCLE_MONEY_UNACCOUNTED
    leaked = [*paid_books(), entry("other-y", "cycle_pot", -10), entry("other-y", "platform_funds", 10, "")]
    assert unaccounted_cycles(money_of_cycles(leaked), {CYCLE: "collecting"}) != []


def test_a_payout_before_every_contribution_is_collected_and_a_paid_cycle_refunded_are_violations() -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    money = money_of_cycles(paid_books())
    paid = paid_cycles(money, (), ())
    assert paid == {CYCLE}
    (early,) = transfers_before_funded(paid, {CYCLE: [alice, bob]}, [alice, bob], [intent(alice)])
    assert str(bob) in early.detail
    assert transfers_before_funded(paid, {CYCLE: [alice]}, [alice], [intent(alice)]) == []
    (refunded,) = paid_and_refunded(paid, money, [intent(alice, refunded=1)])
    assert refunded.kind is ViolationKind.PAID_AND_REFUNDED
    assert paid_and_refunded(paid, money, [intent(alice)]) == []


def test_two_stripe_objects_for_one_idempotent_step_are_a_violation() -> None:
    alice = uuid.uuid4()
    assert duplicated_stripe_objects([intent(alice)], [], []) == []
    (twice,) = duplicated_stripe_objects([intent(alice), intent(alice, "pi_2")], [], [])
    assert "pi_1, pi_2" in twice.detail
    refund = {"id": "re_1", "metadata": {"contribution_id": str(alice), "attempt": "1"}}
    assert len(duplicated_stripe_objects([], [refund, {**refund, "id": "re_2"}], [])) == 1
    transfer = StripeTransfer("tr_1", f"cycle_{CYCLE}", 4_950, 0, "aud", "py_1")
    assert (
        len(
            duplicated_stripe_objects(
                [], [], [transfer, StripeTransfer("tr_2", f"cycle_{CYCLE}", 1, 0, "aud", "py_1")]
            )
        )
        == 1
    )


def test_a_debt_paid_twice_is_refunded_once_and_booked_as_stripe_returned_it() -> None:
    debt = DebtPaidTwice("c1", "dp_1", "pi_debt", "aud")
    tags = {"debt_collection_id": "c1", "dispute_id": "dp_1"}
    landed = {"id": "re_1", "amount": 5_000, "status": "succeeded", "metadata": tags}
    booked = [
        entry("debt-refunded-c1-dp_1", "refund_owed", -5_000, "bob"),
        entry("debt-refunded-c1-dp_1", "member_contributions", 5_000, "bob"),
    ]
    assert debt_refunds_unaccounted(booked, [debt], {"pi_debt": [landed]}) == []
    # Still pending at Stripe, nothing booked yet: that agrees too.
    pending = {**landed, "status": "pending"}
    assert debt_refunds_unaccounted([], [debt], {"pi_debt": [pending]}) == []
    # Landed at Stripe but not booked; refunded twice.
    (unbooked,) = debt_refunds_unaccounted([], [debt], {"pi_debt": [landed]})
    assert unbooked.kind is ViolationKind.BOOKS_DISAGREE
    twice = debt_refunds_unaccounted(booked, [debt], {"pi_debt": [landed, {**landed, "id": "re_2"}]})
    assert {v.kind for v in twice} == {ViolationKind.STRIPE_OBJECT_DUPLICATED, ViolationKind.BOOKS_DISAGREE}
