"""Stripe's payout test bank accounts (BSB 110000) and what each does to a payout."""

from dataclasses import dataclass

PAYOUT_TEST_BSB = "110000"


@dataclass(frozen=True)
class PayoutOutcome:
    failure_code: str | None
    message: str | None = None


PAID = PayoutOutcome(None)

FAILURES = {
    "111111116": PayoutOutcome(
        "no_account", "The bank account details on file are probably incorrect. No bank account could be "
        "located with those details.",
    ),
    "111111113": PayoutOutcome("account_closed", "The bank account has been closed."),
    "222222227": PayoutOutcome(
        "insufficient_funds", "Your Stripe account has insufficient funds to cover the payout."
    ),
    "333333335": PayoutOutcome(
        "debit_not_authorized", "Debit transactions are not approved on the bank account. (Stripe requires "
        "bank accounts to be set up for both credit and debit payouts.)",
    ),
    "444444440": PayoutOutcome(
        "invalid_currency", "The bank was unable to process this payout because of its currency. This is "
        "probably because the bank account cannot accept payments in that currency.",
    ),
}  # fmt: skip


def outcome_for(bsb_number: str, account_number: str) -> PayoutOutcome:
    """000123456, and any number that is not a failing test number, is paid."""
    if bsb_number != PAYOUT_TEST_BSB:
        return PAID
    return FAILURES.get(account_number, PAID)
