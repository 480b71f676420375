"""What Stripe takes: the BECS processing fee and the dispute fee, in AUD cents."""

# Stripe Australia's published BECS Direct Debit price: 1% + A$0.30, capped at A$3.50.
BECS_PERCENT = 1
BECS_FIXED = 30
BECS_CAP = 350
# Unconfirmed for BECS: Stripe Australia's dispute fee for cards, charged when funds are withdrawn.
DISPUTE_FEE = 2_500


def becs_fee(amount: int) -> int:
    return min(BECS_CAP, round(amount * BECS_PERCENT / 100) + BECS_FIXED)
