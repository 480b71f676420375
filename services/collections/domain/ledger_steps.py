"""Which saga step a ledger transaction records, read from its reference (``postings.py`` names
each transaction ``<step>-<what it is about>``), so a member sees why every cent moved."""

from typing import Final

# Longest first: "debit-collected" must not be read as a shorter step that shares its start.
STEPS: Final = (
    "refund-after-dispute",
    "payout-requested",
    "debit-stripe-fee",
    "debt-stripe-fee",
    "debit-collected",
    "debt-collected",
    "debt-paid-twice",
    "debt-refunded",
    "debit-refunded",
    "dispute-opened",
    "refund-failed",
    "dispute-fee",
    "dispute-won",
    "cycle-paid",
    "write-off-recovered",
    "write-off",
)
UNKNOWN_STEP: Final = "other"


def step_of(reference: str) -> str:
    """The step that posted the transaction ``reference``, or ``other`` for one this list lacks."""
    return next((step for step in STEPS if reference.startswith(f"{step}-")), UNKNOWN_STEP)
