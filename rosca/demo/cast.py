"""Who is in the demo's circle, and the Stripe test bank account each brings (see the simulator's README)."""

from dataclasses import dataclass

BSB = "000000"  # Stripe's BECS test BSB
SUCCEEDS = "000123456"
ACCOUNT_CLOSED = "111111113"  # the debit fails and the mandate ends: the member must authorise again
INSUFFICIENT_FUNDS = "222222227"  # refer_to_customer: how BECS says insufficient funds; the mandate stays


@dataclass(frozen=True)
class Member:
    key: str
    name: str
    bank_account: str


ALICE = Member("alice", "Alice", SUCCEEDS)  # the admin; receives the first pot
BO = Member("bo", "Bo", ACCOUNT_CLOSED)  # his bank account was closed: he authorises another one
CY = Member("cy", "Cy", SUCCEEDS)  # later disputes a debit with her bank
DEE = Member("dee", "Dee", INSUFFICIENT_FUNDS)  # never has the money: retried, then removed
CIRCLE = (ALICE, BO, CY, DEE)  # in the order they join, which is the payout order

CONTRIBUTION = 5_000  # cents, AUD 50 a week each
