"""Payout accounts: one Connect Express account per member, onboarding links, and Stripe's reports.

An account's readiness moves both ways (ready, restricted, ready again), so no order of statuses
can tell a stale report from a new one. A report older than the last one applied is dropped;
any other is a cue to read the account from Stripe under the member's row lock, so what is
stored is always Stripe's latest word and never goes back to an older one.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.stripe_events import StripeEventReceived
from services.onboarding.domain.members import account_event_is_stale
from services.onboarding.service_layer.member_changes import publish_member_changes
from services.onboarding.settings import OnboardingSettings
from services.onboarding.store.members import MemberStore
from services.onboarding.stripe import OnboardingLink, StripeApi, idempotency_key
from services.runtime.clock import Clock
from services.runtime.db import Database


async def onboarding_link(
    database: Database, stripe_api: StripeApi, settings: OnboardingSettings, clock: Clock, member_id: str
) -> tuple[str, OnboardingLink]:
    """The member's account (made on the first call) and a new single-use link to Stripe's form."""
    async with database.transaction() as session:
        member = await MemberStore(session).get(member_id)
    account = member.state.payout_account
    if account is None:
        account = await stripe_api.create_payout_account(member_id, member.email)
        async with database.transaction() as session:
            store = MemberStore(session)
            member = await store.get(member_id, lock=True)
            # Made once: a concurrent request got the same account, by the same idempotency key.
            if member.state.payout_account is None:
                await store.set_payout_account(member_id, account, as_of=None)
                await publish_member_changes(session, member.state, clock=clock, causation_id=None)
    async with database.transaction() as session:
        number = await MemberStore(session).next_link_number(member_id)
    link = await stripe_api.onboarding_link(
        account.account_id,
        key=idempotency_key("account-link", member_id, str(number)),
        refresh_url=settings.payout_onboarding_refresh_url,
        return_url=settings.payout_onboarding_return_url,
    )
    return account.account_id, link


async def on_account_event(
    session: AsyncSession, stripe_api: StripeApi, event: StripeEventReceived, clock: Clock
) -> str:
    """``account.updated`` and ``capability.updated`` of a member's payout account."""
    account_id = event.account or _account_of(event)
    if account_id is None:
        return "unknown"
    store = MemberStore(session)
    owner = await store.member_with_payout_account(account_id)
    if owner is None:
        return "unknown"
    member = await store.get(owner, lock=True)
    if account_event_is_stale(member.payout_as_of, event.created):
        return "stale"
    account = await stripe_api.retrieve_payout_account(account_id)
    # Not stale: the event is as new as the account's last report, or newer.
    if account == member.state.payout_account and event.created == member.payout_as_of:
        return "unchanged"
    await store.set_payout_account(owner, account, event.created)
    await publish_member_changes(session, member.state, clock=clock, causation_id=event.message_id)
    return "applied" if account != member.state.payout_account else "unchanged"


def _account_of(event: StripeEventReceived) -> str | None:
    if event.object_type == "account":
        return event.object_id
    account = event.raw_object.get("account")
    return account if isinstance(account, str) else None
