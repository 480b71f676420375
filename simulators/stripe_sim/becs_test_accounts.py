"""Stripe's BECS Direct Debit test bank accounts and what each one does to a debit."""

from dataclasses import dataclass
from enum import Enum

TEST_BSB = "000000"
# Stripe's limit for new accounts, in cents: AUD 10,000 per transaction.
TRANSACTION_LIMIT = 1_000_000


class Outcome(Enum):
    SUCCEEDS = "succeeds"
    FAILS = "fails"
    # Refused when the debit is confirmed, before it reaches the bank (see README).
    REFUSED_AT_CONFIRM = "refused_at_confirm"


@dataclass(frozen=True)
class BecsTestAccount:
    account_number: str
    token: str
    outcome: Outcome
    failure_code: str | None = None
    delayed: bool = False
    disputed: bool = False

    @property
    def deactivates_mandate(self) -> bool:
        return self.failure_code in PERMANENT_FAILURE_CODES


PERMANENT_FAILURE_CODES = frozenset({"account_closed", "no_account", "debit_not_authorized"})

FAILURE_MESSAGES = {
    "account_closed": "The customer's bank account has been closed.",
    "no_account": "The customer's bank account could not be located.",
    "refer_to_customer": "The customer's bank account has insufficient funds.",
    "debit_not_authorized": "The customer has notified their bank that this payment was unauthorized.",
    "charge_exceeds_source_limit": "This payment would exceed the weekly volume limit for this account.",
    "charge_exceeds_transaction_limit": "This payment exceeds the per-transaction limit for this account.",
}

TEST_ACCOUNTS = (
    BecsTestAccount("000123456", "pm_auBecsDebit_success", Outcome.SUCCEEDS),
    BecsTestAccount("900123456", "pm_auBecsDebit_successDelayed", Outcome.SUCCEEDS, delayed=True),
    BecsTestAccount("111111113", "pm_auBecsDebit_accountClosed", Outcome.FAILS, "account_closed"),
    BecsTestAccount("111111116", "pm_auBecsDebit_noAccount", Outcome.FAILS, "no_account"),
    BecsTestAccount("222222227", "pm_auBecsDebit_referToCustomer", Outcome.FAILS, "refer_to_customer"),
    BecsTestAccount(
        "922222227",
        "pm_auBecsDebit_referToCustomerDelayed",
        Outcome.FAILS,
        "refer_to_customer",
        delayed=True,
    ),
    BecsTestAccount("333333335", "pm_auBecsDebit_debitNotAuthorized", Outcome.FAILS, "debit_not_authorized"),
    BecsTestAccount("666666660", "pm_auBecsDebit_dispute", Outcome.SUCCEEDS, disputed=True),
    BecsTestAccount(
        "343434343",
        "pm_auBecsDebit_exceedsWeeklyLimit",
        Outcome.REFUSED_AT_CONFIRM,
        "charge_exceeds_source_limit",
    ),
    BecsTestAccount(
        "121212121",
        "pm_auBecsDebit_exceedsTransactionLimit",
        Outcome.REFUSED_AT_CONFIRM,
        "charge_exceeds_transaction_limit",
    ),
)

_BY_NUMBER = {account.account_number: account for account in TEST_ACCOUNTS}
_BY_TOKEN = {account.token: account for account in TEST_ACCOUNTS}
# Any other account number behaves like the plain success account.
_ORDINARY = BecsTestAccount("", "", Outcome.SUCCEEDS)


def behaviour_of(bsb_number: str, account_number: str) -> BecsTestAccount:
    if bsb_number != TEST_BSB:
        return _ORDINARY
    return _BY_NUMBER.get(account_number, _ORDINARY)


def account_for_token(token: str) -> BecsTestAccount | None:
    return _BY_TOKEN.get(token)
