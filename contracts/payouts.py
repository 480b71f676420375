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


class CyclePaid(Message):
    """Every transfer of a cycle was made."""

    cycle_id: UUID = Field(description="The cycle paid.")
    transferred_amount: int = Field(ge=0, description="Total transferred to the recipient, in minor units.")


class PayoutPaused(Message):
    """A transfer of a cycle could not be made now (the recipient's account cannot receive)."""

    cycle_id: UUID = Field(description="The cycle whose payout waits.")
    reason: str = Field(description="Why, e.g. Stripe's error code.")


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
