"""Facts the onboarding service publishes: member readiness, payment methods, payout accounts, groups.

Money is an integer of minor units (cents) with its currency. Member ids are the identity
provider's ``sub``; group ids are UUIDs. ``correlation_id`` is the member id for member facts and
the group id for group facts.
"""

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.messages import Message

ReadinessGap = Literal[
    "stripe_customer",
    "becs_mandate",
    "becs_mandate_inactive",
    "payout_account",
    "payout_account_onboarding",
    "payout_account_restricted",
]
MandateStatus = Literal["pending", "active", "inactive"]
PayoutAccountStatus = Literal["none", "onboarding_required", "ready", "restricted"]
Cadence = Literal["weekly", "fortnightly", "monthly"]
PayoutOrderMethod = Literal["fixed", "join_order", "random_draw", "members_choice"]


class MemberReadinessChanged(Message):
    """A member became ready to take part in a circle, or stopped being ready.

    Ready means: a Stripe customer, an active BECS mandate, and a payout account that can receive
    transfers. ``missing`` says what stands in the way, empty when ready.
    """

    member_id: str = Field(description="The member (the identity provider's sub).")
    ready: bool = Field(description="True when nothing is missing.")
    missing: list[ReadinessGap] = Field(description="What the member still lacks; empty when ready.")
    previously_missing: list[ReadinessGap] = Field(description="What was missing before this change.")
    customer_id: str | None = Field(description="The member's Stripe customer (cus_…).")
    payment_method_id: str | None = Field(description="The BECS payment method in use (pm_…).")
    mandate_id: str | None = Field(description="The BECS mandate of that payment method.")
    connected_account_id: str | None = Field(description="The member's Express payout account (acct_…).")
    group_ids: list[UUID] = Field(description="Every group the member belongs to.")


class MemberPaymentMethodChanged(Message):
    """The member's BECS payment method or its mandate changed: a new one, or the mandate's status.

    Collections debits ``payment_method_id`` from now on; a new active mandate is its cue to retry
    a debit that failed for good on the old one.
    """

    member_id: str = Field(description="The member (the identity provider's sub).")
    customer_id: str = Field(description="The member's Stripe customer (cus_…).")
    payment_method_id: str = Field(description="The BECS payment method to debit (pm_…).")
    mandate_id: str = Field(description="Its mandate (mandate_…).")
    mandate_status: MandateStatus = Field(description="The mandate's status now; debit only when active.")
    previous_payment_method_id: str | None = Field(description="The payment method before, if any.")
    previous_mandate_id: str | None = Field(description="The mandate before, if any.")
    previous_mandate_status: MandateStatus | None = Field(description="That mandate's status before.")
    group_ids: list[UUID] = Field(description="Every group the member belongs to.")


class PayoutAccountRestricted(Message):
    """A member's payout account that could receive transfers no longer can (Stripe needs more)."""

    member_id: str = Field(description="The member (the identity provider's sub).")
    connected_account_id: str = Field(description="The Express account (acct_…).")
    status: PayoutAccountStatus = Field(description="Its status now (restricted or onboarding_required).")
    requirements_due: list[str] = Field(description="What Stripe asks for (currently or past due).")
    disabled_reason: str | None = Field(description="Stripe's requirements.disabled_reason.")
    group_ids: list[UUID] = Field(description="Every group the member belongs to.")


class PayoutAccountRestored(Message):
    """A restricted payout account can receive transfers again."""

    member_id: str = Field(description="The member (the identity provider's sub).")
    connected_account_id: str = Field(description="The Express account (acct_…).")
    group_ids: list[UUID] = Field(description="Every group the member belongs to.")


class GroupPolicy(BaseModel):
    """The rules collections applies to every cycle of a group."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempt_limit: int = Field(ge=1, description="Most debit attempts per contribution, the first included.")
    retry_spacing_business_days: int = Field(
        ge=1, description="Business days between a failed debit's notice and its retry."
    )
    collection_window_business_days: int = Field(
        ge=1, description="Business days from a cycle's start by which every contribution must succeed."
    )
    platform_fee_bps: int = Field(ge=0, description="Platform fee in basis points of each contribution.")


class ActivatedMember(BaseModel):
    """A member of an activated group, in payout order, with everything collections debits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    position: int = Field(ge=1, description="1 receives the pot of the first cycle, 2 the second, …")
    member_id: str = Field(description="The member (the identity provider's sub).")
    customer_id: str = Field(description="The member's Stripe customer (cus_…).")
    payment_method_id: str = Field(description="The BECS payment method to debit (pm_…).")
    mandate_id: str = Field(description="Its active mandate (mandate_…).")
    connected_account_id: str = Field(description="The Express account the pot is transferred to (acct_…).")


class PayoutOrderDraw(BaseModel):
    """How a random draw was made, so any member can repeat it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: str = Field(
        description="'sha256-rank-v1': members sorted by the hex SHA-256 of '<seed>:<member_id>' (UTF-8), "
        "then by member id."
    )
    seed: str = Field(description="The seed, kept secret until activation; its SHA-256 was shown before.")
    seed_commitment: str = Field(
        description="Hex SHA-256 of the seed, shown to members since the group began."
    )


class GroupActivated(Message):
    """A group's admin started it, full and with every member ready: its payout order is locked.

    Carries everything collections needs, so it never asks onboarding again.
    """

    group_id: UUID = Field(description="The group.")
    name: str = Field(description="The group's name.")
    admin_member_id: str = Field(description="The member who administers the group.")
    contribution_amount: int = Field(ge=1, description="What each member pays each cycle, in minor units.")
    currency: Literal["aud"] = Field(description="Currency of the contribution (BECS: aud only).")
    cadence: Cadence = Field(description="How often a cycle starts.")
    start_date: date = Field(description="The first cycle's date, in the group's time zone.")
    timezone: str = Field(description="IANA time zone the group's dates are in, e.g. Australia/Sydney.")
    size: int = Field(ge=2, description="Number of members, and of cycles.")
    policy: GroupPolicy = Field(description="Retries, collection window and platform fee.")
    payout_order_method: PayoutOrderMethod = Field(description="How the payout order was decided.")
    draw: PayoutOrderDraw | None = Field(description="The seed and algorithm of a random draw; else null.")
    members: list[ActivatedMember] = Field(description="Every member, in payout order.")
    activated_at: AwareDatetime = Field(description="When the group was activated (service clock).")
