"""Reconciliation of collections' ledger with Stripe's own records: the daily run's timer command
and the fact each run publishes.

A run publishes one ``ReconciliationCompleted`` carrying its counts and its differences (the first
``DIFFERENCES_IN_EVENT``; the operator API has them all): one message is what an alert needs, and
a day with thousands of differences does not become thousands of messages.
"""

from datetime import date, datetime
from typing import Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.messages import Message

DIFFERENCES_IN_EVENT: Final = 100


class ReconcileDay(Message):
    """The daily reconciliation timer fired: reconcile ``day`` (a day in the platform's time zone)."""

    day: date = Field(description="The day reconciled, in the platform's time zone (Australia/Sydney).")


class ReconciliationDifference(BaseModel):
    """One place where the ledger and Stripe disagree."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(
        description="debit_unknown_to_ledger, debit_missing_at_stripe, collected_differs, "
        "stripe_fee_differs, refunded_differs, disputed_differs, dispute_won_differs or "
        "transferred_differs."
    )
    cycle_id: UUID | None = Field(description="The cycle concerned, when known.")
    object_type: str = Field(description="payment_intent, refund, dispute or transfer.")
    object_ids: list[str] = Field(
        description="Stripe's ids of the objects concerned (pi_…, re_…, du_…, tr_…)."
    )
    ledger_reference: str | None = Field(description="The ledger transaction concerned, when there is one.")
    expected: int = Field(description="What the ledger says, in minor units.")
    actual: int = Field(description="What Stripe's records say, in minor units.")
    currency: str = Field(description="The currency of both amounts.")
    note: str = Field(description="The difference in words.")


class ReconciliationCompleted(Message):
    """A reconciliation run finished; zero differences means the ledger and Stripe agree."""

    run_id: UUID = Field(description="The run (GET /collections/operator/reconciliations/{run_id}).")
    scope: Literal["day", "group"] = Field(description="What was reconciled: a day, or one group.")
    day: date | None = Field(description="The day, for a day's run.")
    group_id: UUID | None = Field(description="The group, for a group's run.")
    trigger: str = Field(description="schedule (the daily timer), cli (rosca reconcile) or api.")
    started_at: datetime = Field(description="When the run began (service clock).")
    cycles_checked: int = Field(ge=0, description="Cycles whose books were compared.")
    stripe_objects_read: int = Field(ge=0, description="Stripe objects read.")
    differences_total: int = Field(ge=0, description="Differences found (0: reconciled).")
    differences_by_kind: dict[str, int] = Field(description="How many of each kind.")
    differences: list[ReconciliationDifference] = Field(
        description=f"The differences, the first {DIFFERENCES_IN_EVENT} of them."
    )
    differences_truncated: bool = Field(description="True when the run found more than the event carries.")
