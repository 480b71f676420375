"""What a change to a member tells the rest of rosca: the messages to publish, from before and after.

Pure: the caller holds the member's row lock while it reads ``before``, applies a change and reads
``after``, so comparing the two is exact, and a report that changes nothing publishes nothing.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts import subjects
from contracts.messages import Message
from contracts.notifications import MemberNotification
from contracts.onboarding import (
    MemberPaymentMethodChanged,
    MemberReadinessChanged,
    PayoutAccountRestored,
    PayoutAccountRestricted,
)
from services.onboarding.domain.members import MandateStatus, MemberState, PayoutAccountStatus

BECS_SETUP_ACTION = "POST /onboarding/members/me/becs/setup-intents"
PAYOUT_ONBOARDING_ACTION = "POST /onboarding/members/me/payout-account/onboarding-link"


@dataclass(frozen=True)
class Outgoing:
    subject: str
    message: Message


def member_facts(
    before: MemberState, after: MemberState, *, now: datetime, causation_id: UUID | None
) -> list[Outgoing]:
    """The messages that tell of the difference between ``before`` and ``after``, in order."""
    envelope: dict[str, Any] = {
        "occurred_at": now,
        "correlation_id": after.member_id,
        "causation_id": causation_id,
    }
    groups = list(after.group_ids)
    facts: list[Outgoing] = []
    method_before = (before.payment_method_id, before.mandate_id, before.mandate_status)
    method_after = (after.payment_method_id, after.mandate_id, after.mandate_status)
    if (
        method_after != method_before
        and after.customer_id is not None
        and after.payment_method_id is not None
        and after.mandate_id is not None
        and after.mandate_status is not None
    ):
        facts.append(
            Outgoing(
                subjects.ONBOARDING_MEMBER_PAYMENT_METHOD_CHANGED,
                MemberPaymentMethodChanged(
                    **envelope,
                    member_id=after.member_id,
                    customer_id=after.customer_id,
                    payment_method_id=after.payment_method_id,
                    mandate_id=after.mandate_id,
                    mandate_status=after.mandate_status.value,
                    previous_payment_method_id=before.payment_method_id,
                    previous_mandate_id=before.mandate_id,
                    previous_mandate_status=before.mandate_status.value if before.mandate_status else None,
                    group_ids=groups,
                ),
            )
        )
    if _mandate_lost(before, after):
        facts.append(
            _notification(
                subjects.NOTIFY_MEMBER_MANDATE_INACTIVE,
                after,
                envelope,
                title="Your bank account can no longer be debited",
                body="Your bank cancelled the Direct Debit authority for your circle contributions. "
                "Please authorise a bank account again so your groups can keep collecting.",
                action=BECS_SETUP_ACTION,
            )
        )
    facts.extend(_payout_account_facts(before, after, envelope, groups))
    if before.missing != after.missing:
        facts.append(
            Outgoing(
                subjects.ONBOARDING_MEMBER_READINESS_CHANGED,
                MemberReadinessChanged(
                    **envelope,
                    member_id=after.member_id,
                    ready=after.ready,
                    missing=[gap.value for gap in after.missing],
                    previously_missing=[gap.value for gap in before.missing],
                    customer_id=after.customer_id,
                    payment_method_id=after.payment_method_id,
                    mandate_id=after.mandate_id,
                    connected_account_id=after.payout_account.account_id if after.payout_account else None,
                    group_ids=groups,
                ),
            )
        )
    return facts


def becs_setup_failed(
    member: MemberState, failure_code: str | None, *, now: datetime, causation_id: UUID | None
) -> Outgoing:
    envelope: dict[str, Any] = {
        "occurred_at": now,
        "correlation_id": member.member_id,
        "causation_id": causation_id,
    }
    reason = f" (the bank said: {failure_code})" if failure_code else ""
    return _notification(
        subjects.NOTIFY_MEMBER_BECS_SETUP_FAILED,
        member,
        envelope,
        title="Your bank account could not be saved",
        body=f"Saving your bank account for Direct Debit failed{reason}. Please try again.",
        action=BECS_SETUP_ACTION,
    )


def _mandate_lost(before: MemberState, after: MemberState) -> bool:
    return (
        after.mandate_status is MandateStatus.INACTIVE
        and before.mandate_id == after.mandate_id
        and before.mandate_status is not MandateStatus.INACTIVE
    )


def _payout_account_facts(
    before: MemberState, after: MemberState, envelope: dict[str, Any], groups: list[UUID]
) -> list[Outgoing]:
    account = after.payout_account
    if account is None or before.payout_status is after.payout_status:
        return []
    if before.payout_status is PayoutAccountStatus.READY:
        return [
            Outgoing(
                subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTRICTED,
                PayoutAccountRestricted(
                    **envelope,
                    member_id=after.member_id,
                    connected_account_id=account.account_id,
                    status=after.payout_status.value,
                    requirements_due=list(account.requirements_due),
                    disabled_reason=account.disabled_reason,
                    group_ids=groups,
                ),
            ),
            _notification(
                subjects.NOTIFY_MEMBER_PAYOUT_ACCOUNT_RESTRICTED,
                after,
                envelope,
                title="Your payout account needs attention",
                body="Stripe needs more information before your payout account can receive your pot. "
                "Please complete the onboarding form again.",
                action=PAYOUT_ONBOARDING_ACTION,
            ),
        ]
    if (
        before.payout_status is PayoutAccountStatus.RESTRICTED
        and after.payout_status is PayoutAccountStatus.READY
    ):
        return [
            Outgoing(
                subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTORED,
                PayoutAccountRestored(
                    **envelope,
                    member_id=after.member_id,
                    connected_account_id=account.account_id,
                    group_ids=groups,
                ),
            )
        ]
    return []


def _notification(
    subject: str, member: MemberState, envelope: dict[str, Any], *, title: str, body: str, action: str
) -> Outgoing:
    return Outgoing(
        subject,
        MemberNotification(
            **envelope,
            member_id=member.member_id,
            kind=subject.rsplit(".", 1)[1],
            title=title,
            body=body,
            action=action,
            group_ids=list(member.group_ids),
        ),
    )
