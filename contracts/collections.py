"""Commands addressed to collections (its timers and its own Stripe calls) and the facts it publishes.

``StartCycle``, ``RetryContribution`` and ``CloseCollection`` arrive through the scheduler's
timers; ``CreatePaymentIntent`` and ``CreateRefund`` are collections' own Stripe calls, decided
by the cycle saga in one transaction and made by a consumer after it, so a crash repeats the call
with the same idempotency key and never makes a second debit; ``ReadChargeFee`` (a read) fetches
Stripe's fee on a collected debit for the ledger. ``correlation_id`` is the cycle id.
"""

from typing import Final
from uuid import UUID

from pydantic import Field

from contracts.messages import Message

CYCLE_STATUSES: Final = (
    "collecting",
    "funded",
    "paying_out",
    "payout_paused",
    "completed",
    "cancelling",
    "cancelled",
)


class StartCycle(Message):
    """A cycle's start date came: debit every member's contribution."""

    group_id: UUID = Field(description="The group.")
    cycle_id: UUID = Field(description="The cycle to start.")
    cycle_number: int = Field(ge=1, description="1 for the first cycle, and so on.")


class RetryContribution(Message):
    """A contribution's retry timer fired: make debit attempt ``attempt`` now, if still wanted."""

    cycle_id: UUID = Field(description="The contribution's cycle.")
    contribution_id: UUID = Field(description="The contribution to debit again.")
    attempt: int = Field(ge=2, description="The attempt to make now (the first retry is attempt 2).")


class CloseCollection(Message):
    """A cycle's collection deadline passed: a cycle not funded by now is cancelled."""

    cycle_id: UUID = Field(description="The cycle whose deadline passed.")


class CreatePaymentIntent(Message):
    """Make one BECS debit attempt at Stripe (confirmed, off-session), exactly as given."""

    cycle_id: UUID = Field(description="The contribution's cycle.")
    contribution_id: UUID = Field(description="The contribution debited.")
    member_id: str = Field(description="The member debited.")
    attempt: int = Field(ge=1, description="Which debit attempt of the contribution this is.")
    idempotency_key: str = Field(
        min_length=1, description="Stripe's Idempotency-Key: contribution-<contribution_id>-<attempt>."
    )
    amount: int = Field(ge=1, description="The debit, in minor units.")
    currency: str = Field(description="Its currency, e.g. aud.")
    customer_id: str = Field(description="The member's Stripe customer (cus_…).")
    payment_method_id: str = Field(description="The BECS payment method debited (pm_…).")
    mandate_id: str = Field(description="Its mandate (mandate_…).")
    transfer_group: str = Field(description="The cycle's transfer group, shared with its payout transfers.")
    metadata: dict[str, str] = Field(
        description="Stripe metadata (group_id, cycle_id, cycle_number, member_id, contribution_id, attempt)."
    )


class CreateDebtPaymentIntent(Message):
    """Make one BECS debit of a member's dispute debt at Stripe (confirmed, off-session), which the
    member asked for through the API: their request is the authorisation of this one debit."""

    group_id: UUID = Field(description="The group the member owes.")
    debt_collection_id: UUID = Field(description="The debt collection the debit is an attempt of.")
    member_id: str = Field(description="The member debited.")
    attempt: int = Field(ge=1, description="Which debit attempt of the debt collection this is.")
    idempotency_key: str = Field(
        min_length=1, description="Stripe's Idempotency-Key: debt-<debt_collection_id>-<attempt>."
    )
    amount: int = Field(ge=1, description="The debt, in minor units.")
    currency: str = Field(description="Its currency, e.g. aud.")
    customer_id: str = Field(description="The member's Stripe customer (cus_…).")
    payment_method_id: str = Field(description="The BECS payment method debited (pm_…).")
    mandate_id: str = Field(description="Its active mandate (mandate_…).")
    metadata: dict[str, str] = Field(
        description="Stripe metadata (debt_collection_id, attempt, group_id, member_id, dispute_ids)."
    )


class ReadDebtChargeFee(Message):
    """Read Stripe's fee on a member's collected debit of their dispute debt and book it in the
    ledger's ``stripe_fees``, a platform cost (once per debt collection)."""

    group_id: UUID = Field(description="The group the debt was owed to.")
    debt_collection_id: UUID = Field(description="The debt collection the debit paid.")
    payment_intent_id: str = Field(description="The debit's PaymentIntent (pi_…).")
    currency: str = Field(description="The debit's currency.")


class CreateDebtRefund(Message):
    """Refund the debit that paid a member's dispute debt, for one dispute of it the bank decided for
    the platform after the debt was paid: the member paid that amount twice."""

    group_id: UUID = Field(description="The group the debt was owed to.")
    debt_collection_id: UUID = Field(description="The debt collection whose debit is refunded.")
    dispute_id: str = Field(description="The dispute won after its debt was paid (du_… / dp_…).")
    member_id: str = Field(description="The member refunded.")
    idempotency_key: str = Field(
        min_length=1, description="Stripe's Idempotency-Key: debt-refund-<debt_collection_id>-<dispute_id>."
    )
    payment_intent_id: str = Field(description="The debt debit's PaymentIntent (pi_…).")
    amount: int = Field(ge=1, description="The refund (the dispute's amount), in minor units.")
    currency: str = Field(description="Its currency.")
    metadata: dict[str, str] = Field(
        description="Stripe metadata (debt_collection_id, dispute_id, group_id, member_id, debt_refund)."
    )


class CreateRefund(Message):
    """Refund one debit in full at Stripe (a cancelled cycle gives its money back)."""

    cycle_id: UUID = Field(description="The contribution's cycle.")
    contribution_id: UUID = Field(description="The contribution whose debit is refunded.")
    member_id: str = Field(description="The member refunded.")
    attempt: int = Field(ge=1, description="The debit attempt refunded.")
    idempotency_key: str = Field(
        min_length=1, description="Stripe's Idempotency-Key: refund-<contribution_id>-<attempt>."
    )
    payment_intent_id: str = Field(description="The debit's PaymentIntent (pi_…).")
    amount: int = Field(ge=1, description="The refund, in minor units.")
    currency: str = Field(description="Its currency.")
    metadata: dict[str, str] = Field(description="Stripe metadata, as on the debit.")


class CycleStatusChanged(Message):
    """A cycle moved on, on ``collections.evt.cycle_<status>`` (e.g. cycle_funded)."""

    group_id: UUID = Field(description="The group.")
    cycle_id: UUID = Field(description="The cycle.")
    cycle_number: int = Field(ge=1, description="1 for the first cycle, and so on.")
    status: str = Field(description=f"The cycle's new status: one of {', '.join(CYCLE_STATUSES)}.")
    defaulting_member_ids: list[str] = Field(
        description="Members whose contribution can no longer be collected this cycle."
    )
    delinquent_member_ids: list[str] = Field(
        description="Members who owe money after a dispute of a debit already paid out or refunded."
    )


class ReadChargeFee(Message):
    """Read Stripe's fee on a collected debit (its charge's balance transaction) and book it in the
    ledger's ``stripe_fees``, a platform cost apart from the pot."""

    cycle_id: UUID = Field(description="The contribution's cycle.")
    contribution_id: UUID = Field(description="The contribution whose debit was collected.")
    attempt: int = Field(ge=1, description="The debit attempt collected.")
    payment_intent_id: str = Field(description="The debit's PaymentIntent (pi_…).")
    charge_id: str = Field(description="Its charge (py_… or ch_…).")
    currency: str = Field(description="The debit's currency.")
