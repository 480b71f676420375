"""The facts collections publishes about a group's rotation across its cycles
(``collections.evt.rotation_*``, ``collections.evt.payout_held_for_delinquency``).

``correlation_id`` is the group id. A member's balance is what they paid into pots that were paid
out, and what they received, before fees: where they stand when they leave or the group ends,
for the group to settle (rosca neither collects nor pays it).
"""

from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.messages import Message


class MemberStanding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: str = Field(description="The member.")
    paid_in: int = Field(ge=0, description="Their contributions to pots paid out, in minor units.")
    received: int = Field(ge=0, description="The pot they received, in minor units (0 if none).")
    owes_the_group: int = Field(
        description="received - paid_in: positive, they owe the group; negative, the group owes them."
    )


class CycleRecipient(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cycle_number: int = Field(ge=1, description="The cycle's number in the rotation.")
    member_id: str = Field(description="The member who received its pot.")


class RotationAwaitingAdminDecision(Message):
    """A round was cancelled at its deadline: every cycle not started is held until the admin
    retries the round, removes the defaulting members, or dissolves the group."""

    group_id: UUID = Field(description="The group.")
    cycle_id: UUID = Field(description="The cancelled cycle.")
    cycle_number: int = Field(ge=1, description="Its number in the rotation.")
    defaulting_member_ids: list[str] = Field(description="Members whose contribution was not collected.")


class RoundRetried(Message):
    """The admin retried a cancelled round: cycle ``cycle_number`` runs again as ``cycle_id``."""

    group_id: UUID = Field(description="The group.")
    cancelled_cycle_id: UUID = Field(description="The cancelled round's cycle.")
    cycle_id: UUID = Field(description="The new round's cycle.")
    cycle_number: int = Field(ge=1, description="The cycle's number in the rotation.")
    round: int = Field(ge=2, description="Which round of that cycle this is (the first is 1).")


class MembersRemoved(Message):
    """The admin removed defaulting members; they are debited no more."""

    group_id: UUID = Field(description="The group.")
    member_ids: list[str] = Field(description="The members removed.")
    dropped_cycle_numbers: list[int] = Field(description="Cycles that will not run (the removed members').")
    balances: list[MemberStanding] = Field(description="Where each removed member stands.")


class RotationResumed(Message):
    """The held cycles run again, the first on ``starts_on``."""

    group_id: UUID = Field(description="The group.")
    starts_on: date = Field(description="The first held cycle's new start day.")
    cycle_ids: list[UUID] = Field(description="The cycles scheduled again, in order.")


class RotationDissolved(Message):
    """The admin dissolved the group: no cycle runs any more."""

    group_id: UUID = Field(description="The group.")
    dropped_cycle_numbers: list[int] = Field(description="Cycles that will not run.")
    balances: list[MemberStanding] = Field(description="Where every member stands.")


class RotationCompleted(Message):
    """Every cycle of the rotation was paid out."""

    group_id: UUID = Field(description="The group.")
    recipients: list[CycleRecipient] = Field(description="Who received each cycle's pot, in order.")


class PayoutHeldForDelinquency(Message):
    """A cycle is funded but its recipient owes the group after a dispute: payouts holds the pot."""

    group_id: UUID = Field(description="The group.")
    cycle_id: UUID = Field(description="The cycle whose payout is held.")
    cycle_number: int = Field(ge=1, description="Its number in the rotation.")
    member_id: str = Field(description="The recipient who owes.")
    amount_owed: int = Field(ge=1, description="What they owe, in minor units.")
