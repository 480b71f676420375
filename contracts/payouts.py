"""Collections' command to payouts, and the facts payouts reports back about a cycle's pot."""

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.messages import Message


class PayCycleCharge(BaseModel):
    """One collected debit of the pot, and how it splits: ``transfer_amount + platform_fee == amount``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    contribution_id: UUID = Field(description="The contribution the debit collected.")
    member_id: str = Field(description="The member debited.")
    payment_intent_id: str = Field(description="The debit's PaymentIntent (pi_…).")
    charge_id: str = Field(
        description="Its charge (py_…): the transfer's source_transaction, so the transfer waits for "
        "its funds."
    )
    amount: int = Field(ge=1, description="The debit, in minor units.")
    platform_fee: int = Field(ge=0, description="The platform's share of the fee kept from this debit.")
    transfer_amount: int = Field(ge=0, description="What is transferred to the recipient from this debit.")


class PayCycle(Message):
    """Every contribution of a cycle is collected: transfer the pot to its recipient, one transfer
    per charge (idempotent per cycle and charge)."""

    group_id: UUID = Field(description="The group.")
    cycle_id: UUID = Field(description="The cycle paid.")
    cycle_number: int = Field(ge=1, description="1 for the first cycle, and so on.")
    recipient_member_id: str = Field(description="The member who receives the pot.")
    connected_account_id: str = Field(description="The recipient's Express account (acct_…).")
    currency: str = Field(description="Currency of every charge.")
    transfer_group: str = Field(description="Stripe transfer_group of the cycle's debits and transfers.")
    transfer_total: int = Field(ge=0, description="Sum of the charges' transfer amounts, in minor units.")
    platform_fee_total: int = Field(ge=0, description="Sum of the charges' platform fees, in minor units.")
    charges: list[PayCycleCharge] = Field(description="The cycle's collected debits.")


class PaidTransfer(BaseModel):
    """One transfer of a paid cycle, as Stripe made it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    charge_id: str = Field(
        description="The debit's charge the transfer took its funds from (source_transaction)."
    )
    transfer_id: str = Field(description="Stripe's transfer (tr_…).")
    amount: int = Field(ge=0, description="What it transferred, in minor units.")
    idempotency_key: str = Field(description="The key it was created with, e.g. payout-<cycle>-<charge>.")


class CyclePaid(Message):
    """Every transfer of a cycle was made."""

    cycle_id: UUID = Field(description="The cycle paid.")
    transferred_amount: int = Field(ge=0, description="Total transferred to the recipient, in minor units.")
    group_id: UUID | None = Field(default=None, description="The group (null from older publishers).")
    recipient_member_id: str | None = Field(default=None, description="The member who received the pot.")
    connected_account_id: str | None = Field(default=None, description="The account transferred to (acct_…).")
    transfers: list[PaidTransfer] = Field(
        default_factory=list, description="Every transfer of the cycle, one per charge of the pot."
    )


class PayoutPaused(Message):
    """A transfer of a cycle could not be made now (the recipient's account cannot receive)."""

    cycle_id: UUID = Field(description="The cycle whose payout waits.")
    reason: str = Field(description="Why, e.g. Stripe's error code.")


class PayoutResumed(Message):
    """A paused cycle's payout is being tried again: the recipient's account can receive again, or
    the group's admin or an operator retried it."""

    cycle_id: UUID = Field(description="The cycle whose payout is tried again.")
    reason: str = Field(description="Why now: account_ready, admin_retry, operator_retry, hold_over.")


class MakeTransfers(Message):
    """Payouts to itself, after the transaction that decided it: make the cycle's transfers not made
    yet, with the idempotency keys stored for them."""

    cycle_id: UUID = Field(description="The cycle whose transfers to make.")
    round: int = Field(ge=1, description="Which try of the payout decided this (1, then 1 more per resume).")


class RetryPayout(Message):
    """Payouts to itself, from a timer or a person: look at a waiting payout again (a first-payout
    hold is over, the admin or an operator asked to retry)."""

    cycle_id: UUID = Field(description="The cycle whose payout to look at again.")
    reason: str = Field(description="Why: hold_over, admin_retry, operator_retry.")
    force: bool = Field(
        default=False,
        description="True when a person asked: try Stripe even if payouts' view says the account "
        "cannot receive yet (Stripe decides).",
    )


class HoldCyclePayout(Message):
    """Do not transfer this cycle's pot (now, or when ``pay_cycle`` comes) until it is released:
    its recipient owes the group after a dispute. Idempotent per cycle."""

    group_id: UUID = Field(description="The group.")
    cycle_id: UUID = Field(description="The cycle whose pot is held.")
    recipient_member_id: str = Field(description="The recipient who owes.")


class ReleaseCyclePayout(Message):
    """The recipient's debt is settled or written off: the cycle's pot may be transferred."""

    group_id: UUID = Field(description="The group.")
    cycle_id: UUID = Field(description="The cycle whose pot is released.")
    recipient_member_id: str = Field(description="The recipient.")
