"""Members: what makes one ready for a circle, and how Stripe's reports move their state.

Pure: no I/O. Stripe reports arrive late, twice, or out of order, so every rule here is a
comparison with what is already held: a mandate's status only moves forward (pending → active →
inactive, and inactive is final), a SetupIntent that succeeded or was cancelled stays so, and the
payment method in use is the one of the most recently started SetupIntent that succeeded.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from services.onboarding.domain.errors import DomainError


class MemberNotRegisteredError(DomainError):
    kind = "member_not_registered"


class SetupIntentNotFoundError(DomainError):
    kind = "setup_intent_not_found"


class SetupIntentClosedError(DomainError):
    kind = "setup_intent_closed"


class MandateStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    INACTIVE = "inactive"


# A Stripe mandate moves only forward along this order; the store applies the same order in SQL.
MANDATE_PROGRESS = {MandateStatus.PENDING: 0, MandateStatus.ACTIVE: 1, MandateStatus.INACTIVE: 2}


def merged_mandate_status(held: MandateStatus | None, reported: MandateStatus) -> MandateStatus:
    """The status to keep when ``reported`` arrives: a Stripe mandate never becomes active again."""
    if held is None or MANDATE_PROGRESS[reported] > MANDATE_PROGRESS[held]:
        return reported
    return held


class SetupIntentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self in (SetupIntentStatus.SUCCEEDED, SetupIntentStatus.CANCELED)

    @property
    def is_open(self) -> bool:
        """Still waiting for the member's bank details and acceptance."""
        return self in (SetupIntentStatus.REQUIRES_PAYMENT_METHOD, SetupIntentStatus.REQUIRES_CONFIRMATION)


def setup_failure_applies(held: SetupIntentStatus, held_as_of: datetime | None, failed_at: datetime) -> bool:
    """A failed attempt sends a SetupIntent back for a new payment method, unless it already ended
    or a later report has been applied."""
    if held.is_final:
        return False
    return held_as_of is None or failed_at >= held_as_of


@dataclass(frozen=True)
class SetupRef:
    """A SetupIntent that succeeded, and its place among those rosca started: the newest decides."""

    setup_intent_id: str
    started: int


def supersedes(candidate: SetupRef, current: SetupRef | None) -> bool:
    """True if ``candidate``'s payment method replaces the one of ``current``.

    SetupIntents are compared by the order rosca started them in, not by when their success was
    reported, so a late report of an older setup never takes the member back to an older bank
    account. (Stripe's ``created`` cannot tell two SetupIntents of the same second apart.)
    """
    return current is None or candidate.started >= current.started


def account_event_is_stale(held_as_of: datetime | None, event_created: datetime) -> bool:
    """An account or capability event older than the last one applied says nothing new.

    Readiness of an account moves both ways, so no order of statuses can judge an event; and
    Stripe's ``created`` has one-second resolution, so an event of the same second is not stale:
    the account is then read from Stripe, which is the truth.
    """
    return held_as_of is not None and event_created < held_as_of


class PayoutAccountStatus(StrEnum):
    NONE = "none"
    ONBOARDING_REQUIRED = "onboarding_required"
    READY = "ready"
    RESTRICTED = "restricted"


@dataclass(frozen=True)
class PayoutAccount:
    """What rosca keeps of a member's Express account, as Stripe last reported it."""

    account_id: str
    details_submitted: bool
    payouts_enabled: bool
    transfers_capability: str | None
    requirements_due: tuple[str, ...] = ()
    disabled_reason: str | None = None

    @property
    def status(self) -> PayoutAccountStatus:
        if self.payouts_enabled and self.transfers_capability == "active":
            return PayoutAccountStatus.READY
        if not self.details_submitted:
            return PayoutAccountStatus.ONBOARDING_REQUIRED
        return PayoutAccountStatus.RESTRICTED


class ReadinessGap(StrEnum):
    """One thing a member lacks before a group can start with them (stable API codes)."""

    STRIPE_CUSTOMER = "stripe_customer"
    BECS_MANDATE = "becs_mandate"
    BECS_MANDATE_INACTIVE = "becs_mandate_inactive"
    PAYOUT_ACCOUNT = "payout_account"
    PAYOUT_ACCOUNT_ONBOARDING = "payout_account_onboarding"
    PAYOUT_ACCOUNT_RESTRICTED = "payout_account_restricted"


@dataclass(frozen=True)
class MemberState:
    """Everything about a member that readiness and the published facts depend on."""

    member_id: str
    customer_id: str | None = None
    payment_method_id: str | None = None
    mandate_id: str | None = None
    mandate_status: MandateStatus | None = None
    payout_account: PayoutAccount | None = None
    group_ids: tuple[UUID, ...] = field(default=(), compare=False)

    @property
    def payout_status(self) -> PayoutAccountStatus:
        return self.payout_account.status if self.payout_account else PayoutAccountStatus.NONE

    @property
    def missing(self) -> tuple[ReadinessGap, ...]:
        return readiness_gaps(self)

    @property
    def ready(self) -> bool:
        return not self.missing


def readiness_gaps(member: MemberState) -> tuple[ReadinessGap, ...]:
    """What stands between the member and a circle, in the order they would fix it."""
    gaps: list[ReadinessGap] = []
    if member.customer_id is None:
        gaps.append(ReadinessGap.STRIPE_CUSTOMER)
    if member.mandate_id is None or member.mandate_status is None:
        gaps.append(ReadinessGap.BECS_MANDATE)
    elif member.mandate_status is not MandateStatus.ACTIVE:
        # A pending mandate cannot be debited yet either: it needs the member's bank to confirm.
        gaps.append(
            ReadinessGap.BECS_MANDATE_INACTIVE
            if member.mandate_status is MandateStatus.INACTIVE
            else ReadinessGap.BECS_MANDATE
        )
    gaps.extend(_payout_gaps(member.payout_status))
    return tuple(gaps)


def _payout_gaps(status: PayoutAccountStatus) -> Sequence[ReadinessGap]:
    return {
        PayoutAccountStatus.NONE: [ReadinessGap.PAYOUT_ACCOUNT],
        PayoutAccountStatus.ONBOARDING_REQUIRED: [ReadinessGap.PAYOUT_ACCOUNT_ONBOARDING],
        PayoutAccountStatus.RESTRICTED: [ReadinessGap.PAYOUT_ACCOUNT_RESTRICTED],
        PayoutAccountStatus.READY: [],
    }[status]
