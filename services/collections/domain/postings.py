"""The ledger transactions of each saga step, each referenced by the step that causes it."""

from dataclasses import dataclass
from uuid import UUID

from services.collections.domain.ledger import Account, AccountKind, Entry, Transaction, transfer

PLATFORM_FUNDS = Account(AccountKind.PLATFORM_FUNDS)
STRIPE_FEES = Account(AccountKind.STRIPE_FEES)
WRITE_OFF = Account(AccountKind.WRITE_OFF)


def member_contributions(member_id: str) -> Account:
    return Account(AccountKind.MEMBER_CONTRIBUTIONS, member_id)


def cycle_pot(cycle_id: UUID) -> Account:
    return Account(AccountKind.CYCLE_POT, str(cycle_id))


def recipient_payable(cycle_id: UUID) -> Account:
    return Account(AccountKind.RECIPIENT_PAYABLE, str(cycle_id))


def transfers(cycle_id: UUID) -> Account:
    return Account(AccountKind.TRANSFERS, str(cycle_id))


def platform_fees(cycle_id: UUID) -> Account:
    return Account(AccountKind.PLATFORM_FEES, str(cycle_id))


def refunds(cycle_id: UUID) -> Account:
    return Account(AccountKind.REFUNDS, str(cycle_id))


def refund_owed(member_id: str) -> Account:
    return Account(AccountKind.REFUND_OWED, member_id)


def dispute_receivable(member_id: str) -> Account:
    return Account(AccountKind.DISPUTE_RECEIVABLE, member_id)


@dataclass(frozen=True)
class Debit:
    """One debit attempt of a contribution, as the ledger names it."""

    cycle_id: UUID
    member_id: str
    contribution_id: UUID
    attempt: int
    amount: int
    currency: str

    @property
    def reference(self) -> str:
        return debit_reference(self.contribution_id, self.attempt)


def debit_reference(contribution_id: UUID, attempt: int) -> str:
    return f"{contribution_id}-{attempt}"


def debit_collected(debit: Debit, stripe_fee: int) -> tuple[Transaction, ...]:
    collected = transfer(
        f"debit-collected-{debit.reference}",
        debit.currency,
        debit.amount,
        member_contributions(debit.member_id),
        cycle_pot(debit.cycle_id),
    )
    return (collected, *debit_stripe_fee(debit.reference, debit.currency, stripe_fee))


def debit_stripe_fee(debit_reference: str, currency: str, fee: int) -> tuple[Transaction, ...]:
    """Stripe's fee on one collected debit: the platform's cost, never taken from the pot. Booked
    once per debit attempt (``debit_reference``), however often it is read."""
    return _stripe_fee(f"debit-stripe-fee-{debit_reference}", currency, fee)


def debit_refunded(debit: Debit) -> Transaction:
    return transfer(
        f"debit-refunded-{debit.reference}",
        debit.currency,
        debit.amount,
        cycle_pot(debit.cycle_id),
        refunds(debit.cycle_id),
    )


def refund_failed(debit: Debit) -> Transaction:
    """Stripe could not return the money: it leaves the pot and is owed to the member instead."""
    return transfer(
        f"refund-failed-{debit.reference}",
        debit.currency,
        debit.amount,
        cycle_pot(debit.cycle_id),
        refund_owed(debit.member_id),
    )


def dispute_reversed_from_pot(debit: Debit, dispute_id: str, dispute_fee: int) -> tuple[Transaction, ...]:
    """The bank gave the member their money back while it was still in the pot."""
    reversal = transfer(
        f"dispute-opened-{dispute_id}",
        debit.currency,
        debit.amount,
        cycle_pot(debit.cycle_id),
        member_contributions(debit.member_id),
    )
    return (reversal, *dispute_fee_paid(dispute_id, debit.currency, dispute_fee))


def dispute_receivable_opened(debit: Debit, dispute_id: str, dispute_fee: int) -> tuple[Transaction, ...]:
    """The money was already paid out or refunded: the platform covers it and the member owes it."""
    receivable = transfer(
        f"dispute-opened-{dispute_id}",
        debit.currency,
        debit.amount,
        PLATFORM_FUNDS,
        dispute_receivable(debit.member_id),
    )
    return (receivable, *dispute_fee_paid(dispute_id, debit.currency, dispute_fee))


def refund_after_dispute(debit: Debit) -> Transaction:
    """A refund went out, and the bank also returned the debit: the member owes it once."""
    return transfer(
        f"refund-after-dispute-{debit.reference}",
        debit.currency,
        debit.amount,
        PLATFORM_FUNDS,
        dispute_receivable(debit.member_id),
    )


def refund_owed_settled_by_dispute(
    debit: Debit, dispute_id: str, dispute_fee: int
) -> tuple[Transaction, ...]:
    """The member's bank returned a debit we owed back but could not refund: the debt is paid."""
    settled = transfer(
        f"dispute-opened-{dispute_id}",
        debit.currency,
        debit.amount,
        refund_owed(debit.member_id),
        member_contributions(debit.member_id),
    )
    return (settled, *dispute_fee_paid(dispute_id, debit.currency, dispute_fee))


def dispute_won(
    member_id: str, dispute_id: str, amount: int, currency: str, *, was_receivable: bool
) -> Transaction:
    """The money comes back: it clears the member's debt, or (taken from the pot before) is owed
    back to them, since their contribution was collected again or the cycle was cancelled."""
    reference = f"dispute-won-{dispute_id}"
    if was_receivable:
        return transfer(reference, currency, amount, dispute_receivable(member_id), PLATFORM_FUNDS)
    return transfer(reference, currency, amount, member_contributions(member_id), refund_owed(member_id))


def payout_requested(cycle_id: UUID, currency: str, transfer_total: int, fee_total: int) -> Transaction:
    entries = [
        Entry(cycle_pot(cycle_id), -(transfer_total + fee_total)),
        Entry(recipient_payable(cycle_id), transfer_total),
    ]
    if fee_total:
        entries.append(Entry(platform_fees(cycle_id), fee_total))
    return Transaction(f"payout-requested-{cycle_id}", currency, tuple(entries))


def cycle_paid(cycle_id: UUID, currency: str, transfer_total: int) -> Transaction:
    return transfer(
        f"cycle-paid-{cycle_id}", currency, transfer_total, recipient_payable(cycle_id), transfers(cycle_id)
    )


def receivable_written_off(
    member_id: str, amount: int, currency: str, decision_reference: str
) -> Transaction:
    """An admin gives up on a member's debt (``decision_reference`` names that decision)."""
    return transfer(
        f"write-off-{decision_reference}", currency, amount, dispute_receivable(member_id), WRITE_OFF
    )


def debt_collected(
    debt_collection_id: UUID,
    member_id: str,
    currency: str,
    *,
    cleared: int,
    recovered_from_write_off: int = 0,
    owed_back: int = 0,
) -> Transaction:
    """A member paid their dispute debt by a debit they authorised: the receivable (``cleared``)
    turns into the platform's money again, as does a debt written off meanwhile (recovered from
    ``write_off``); what no debt is left for (``owed_back``) came from the member and is owed back
    to them. Once per debt collection, whichever attempt collected it."""
    entries = [
        Entry(dispute_receivable(member_id), -cleared),
        Entry(WRITE_OFF, -recovered_from_write_off),
        Entry(PLATFORM_FUNDS, cleared + recovered_from_write_off),
        Entry(member_contributions(member_id), -owed_back),
        Entry(refund_owed(member_id), owed_back),
    ]
    return Transaction(
        f"debt-collected-{debt_collection_id}", currency, tuple(e for e in entries if e.amount != 0)
    )


def debt_paid_twice(member_id: str, dispute_id: str, amount: int, currency: str) -> Transaction:
    """The member paid their debt of ``dispute_id``, then the dispute was won: the win's clearing
    of the receivable (``dispute-won``: receivable to platform funds) is undone, since the debt was
    paid already, and the money the bank returned is the member's, owed back to them (as a won
    dispute of money taken from the pot is: ``dispute_won(was_receivable=False)``) until the
    refund of their debt debit lands."""
    return Transaction(
        f"debt-paid-twice-{dispute_id}",
        currency,
        (
            Entry(dispute_receivable(member_id), amount),
            Entry(PLATFORM_FUNDS, -amount),
            Entry(member_contributions(member_id), -amount),
            Entry(refund_owed(member_id), amount),
        ),
    )


def write_off_recovered(member_id: str, dispute_id: str, amount: int, currency: str) -> Transaction:
    """The dispute of a debt the admin wrote off was won: the bank returned the money, so the
    write-off is recovered. The win was booked as clearing the receivable (``dispute-won``:
    receivable to platform funds); the receivable was cleared by the write-off already, so the
    write-off, not the receivable, gives way."""
    return transfer(
        f"write-off-recovered-{dispute_id}", currency, amount, WRITE_OFF, dispute_receivable(member_id)
    )


def debt_refunded(
    debt_collection_id: UUID, dispute_id: str, member_id: str, amount: int, currency: str
) -> Transaction:
    """The refund of a debt paid twice landed: what was owed back is back with the member."""
    return transfer(
        f"debt-refunded-{debt_collection_id}-{dispute_id}",
        currency,
        amount,
        refund_owed(member_id),
        member_contributions(member_id),
    )


def debt_debit_disputed(
    member_id: str, dispute_id: str, amount: int, currency: str, dispute_fee: int
) -> tuple[Transaction, ...]:
    """The bank returned the debit that paid a member's debt: the platform covers it again and the
    member owes it again, as after any dispute of money already paid out."""
    receivable = transfer(
        f"dispute-opened-{dispute_id}", currency, amount, PLATFORM_FUNDS, dispute_receivable(member_id)
    )
    return (receivable, *dispute_fee_paid(dispute_id, currency, dispute_fee))


def debt_stripe_fee(debt_collection_id: UUID, currency: str, fee: int) -> tuple[Transaction, ...]:
    """Stripe's fee on the debit that paid a member's debt: the platform's cost, as on a contribution."""
    return _stripe_fee(f"debt-stripe-fee-{debt_collection_id}", currency, fee)


def _stripe_fee(reference: str, currency: str, fee: int) -> tuple[Transaction, ...]:
    if fee <= 0:
        return ()
    return (transfer(reference, currency, fee, PLATFORM_FUNDS, STRIPE_FEES),)


def dispute_fee_paid(dispute_id: str, currency: str, fee: int) -> tuple[Transaction, ...]:
    return _stripe_fee(f"dispute-fee-{dispute_id}", currency, fee)
