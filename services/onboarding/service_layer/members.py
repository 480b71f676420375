"""Members: registration (idempotent on the token's sub), the Stripe customer, the profile."""

import logging

from services.onboarding.metrics import MEMBERS_REGISTERED
from services.onboarding.service_layer.member_changes import publish_member_changes
from services.onboarding.store.members import MemberRecord, MemberStore
from services.onboarding.stripe import StripeApi
from services.runtime.clock import Clock
from services.runtime.db import Database

log = logging.getLogger(__name__)


async def register(
    database: Database, stripe_api: StripeApi, clock: Clock, *, member_id: str, email: str, display_name: str
) -> tuple[MemberRecord, bool]:
    """The member, and whether this call registered them; a second call returns them unchanged."""
    async with database.transaction() as session:
        created = await MemberStore(session).register(member_id, email, display_name, clock.now())
    if created:
        MEMBERS_REGISTERED.inc()
        log.info("member %s registered", member_id)
    return await ensure_customer(database, stripe_api, clock, member_id), created


async def ensure_customer(
    database: Database, stripe_api: StripeApi, clock: Clock, member_id: str
) -> MemberRecord:
    """The member, with their Stripe customer made if they have none yet (once: the key is theirs)."""
    async with database.transaction() as session:
        member = await MemberStore(session).get(member_id)
    if member.state.customer_id is not None:
        return member
    # Outside any transaction: no row stays locked while Stripe answers.
    customer_id = await stripe_api.create_customer(member_id, member.email, member.display_name)
    async with database.transaction() as session:
        store = MemberStore(session)
        member = await store.get(member_id, lock=True)
        await store.set_customer(member_id, customer_id)
        await publish_member_changes(session, member.state, clock=clock, causation_id=None)
        return await store.get(member_id)


async def update_profile(
    database: Database, stripe_api: StripeApi, *, member_id: str, email: str | None, display_name: str | None
) -> MemberRecord:
    async with database.transaction() as session:
        store = MemberStore(session)
        member = await store.get(member_id)
        update_number = await store.next_profile_update(member_id)
    email = email or member.email
    display_name = display_name or member.display_name
    if member.state.customer_id is not None:
        # Stripe first: BECS notices go to the customer's e-mail, which must not lag behind ours.
        await stripe_api.update_customer(member.state.customer_id, email, display_name, update_number)
    async with database.transaction() as session:
        store = MemberStore(session)
        await store.set_profile(member_id, email, display_name)
        return await store.get(member_id)


async def read_member(database: Database, member_id: str) -> MemberRecord:
    async with database.transaction() as session:
        return await MemberStore(session).get(member_id)
