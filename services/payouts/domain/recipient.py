"""Payouts' own view of a recipient's payout account: can it receive transfers now, why not, and
since when it has been ready. Fed by onboarding's facts and by Stripe's ``account.updated`` on the
Connect endpoint, whichever comes first. Pure: no I/O.

Stripe and onboarding order nothing: a report older than the last one applied (by the second) is
ignored. A transfer Stripe refused because of the account marks it
unable to receive without dating it, so the next report, whichever, decides.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

# onboarding's readiness gaps that mean the payout account cannot receive.
PAYOUT_ACCOUNT_GAPS = frozenset({"payout_account", "payout_account_onboarding", "payout_account_restricted"})
# Stripe's refusals of a transfer that are about the destination account, not the request.
ACCOUNT_REFUSALS = frozenset(
    {
        "insufficient_capabilities_for_transfer",
        "account_invalid",
        "transfers_not_allowed",
        "account_closed",
        "account_restricted",
    }
)


@dataclass(frozen=True)
class AccountView:
    connected_account_id: str
    member_id: str | None
    can_receive: bool
    reason: str | None  # why it cannot receive
    requirements_due: tuple[str, ...]
    ready_since: datetime | None  # when it first became ready, as far as payouts heard
    as_of: datetime  # the newest report applied


@dataclass(frozen=True)
class AccountReport:
    """One report about the account, from onboarding or Stripe."""

    connected_account_id: str
    member_id: str | None
    can_receive: bool
    reason: str | None
    requirements_due: tuple[str, ...]
    as_of: datetime


def apply_report(view: AccountView | None, report: AccountReport) -> AccountView | None:
    """The view after ``report``, or None when the report is older than the view (ignored)."""
    # Stripe dates its events in whole seconds, onboarding to the microsecond: compared by the
    # second, a Stripe report of the same second as onboarding's is not taken for an older one.
    if view is not None and _second(report.as_of) < _second(view.as_of):
        return None
    ready_since = view.ready_since if view else None
    if report.can_receive and ready_since is None:
        ready_since = report.as_of
    return AccountView(
        connected_account_id=report.connected_account_id,
        member_id=report.member_id or (view.member_id if view else None),
        can_receive=report.can_receive,
        reason=None if report.can_receive else report.reason,
        requirements_due=() if report.can_receive else report.requirements_due,
        ready_since=ready_since,
        as_of=report.as_of,
    )


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def refused_by_stripe(view: AccountView, code: str) -> AccountView:
    """Stripe would not transfer to the account: unable to receive until the next report."""
    return replace(view, can_receive=False, reason=code)


def report_from_account_object(account: dict[str, Any], as_of: datetime) -> AccountReport:
    """What Stripe's ``account`` object (an ``account.updated`` event's) says about receiving."""
    capabilities = account.get("capabilities") or {}
    transfers = capabilities.get("transfers") if isinstance(capabilities, dict) else None
    requirements = account.get("requirements") or {}
    due = [*(requirements.get("past_due") or []), *(requirements.get("currently_due") or [])]
    can_receive = transfers == "active"
    reason = None
    if not can_receive:
        reason = requirements.get("disabled_reason") or f"transfers_capability_{transfers or 'missing'}"
    metadata = account.get("metadata") or {}
    return AccountReport(
        connected_account_id=str(account.get("id")),
        member_id=metadata.get("member_id") if isinstance(metadata, dict) else None,
        can_receive=can_receive,
        reason=reason,
        requirements_due=tuple(dict.fromkeys(str(d) for d in due)),
        as_of=as_of,
    )
