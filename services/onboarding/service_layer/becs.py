"""BECS Direct Debit: a SetupIntent per bank account the member authorises, its mandate, and
Stripe's reports about both.

Two ways to confirm: the frontend confirms the SetupIntent itself with Stripe.js and its client
secret (the real flow), or a trusted client sends the bank details and the member's acceptance
here (the demo). Either way ``setup_intent.succeeded`` arrives later; whichever of the two records
the success first does the work, and the other changes nothing.
"""

import logging
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.stripe_events import StripeEventReceived
from services.onboarding.domain.member_facts import becs_setup_failed
from services.onboarding.domain.members import (
    MandateStatus,
    SetupIntentClosedError,
    SetupIntentNotFoundError,
    SetupIntentStatus,
    SetupRef,
    merged_mandate_status,
    setup_failure_applies,
    supersedes,
)
from services.onboarding.service_layer.member_changes import publish_member_changes
from services.onboarding.service_layer.members import ensure_customer
from services.onboarding.store.members import MemberStore, SetupIntentRecord
from services.onboarding.stripe import (
    BankAccount,
    MandateAcceptance,
    SetupIntentView,
    StripeApi,
    setup_intent_view,
)
from services.runtime.clock import Clock
from services.runtime.db import Database
from services.runtime.outbox import add_to_outbox

log = logging.getLogger(__name__)


async def start_setup(
    database: Database, stripe_api: StripeApi, clock: Clock, member_id: str
) -> SetupIntentView:
    """A SetupIntent waiting for the member's bank details: the open one if there is one, else new."""
    customer_id = (await ensure_customer(database, stripe_api, clock, member_id)).state.customer_id
    assert customer_id is not None
    async with database.transaction() as session:
        latest = await MemberStore(session).latest_setup_intent(member_id)
    if latest is not None and latest.status.is_open:
        # Asked again before confirming: the same intent, whose client secret Stripe gives again,
        # unless the browser confirmed it meanwhile and Stripe's report has not arrived yet.
        view = await stripe_api.retrieve_setup(latest.setup_intent_id)
        if view.status.is_open:
            return view
    async with database.transaction() as session:
        store = MemberStore(session)
        key = await store.setup_key(await store.get(member_id, lock=True))
    view = await stripe_api.start_setup(customer_id, member_id, key)
    async with database.transaction() as session:
        await MemberStore(session).add_setup_intent(member_id, view, key)
    return view


async def confirm_setup(
    database: Database,
    stripe_api: StripeApi,
    clock: Clock,
    *,
    member_id: str,
    setup_intent_id: str,
    bsb_number: str,
    account_number: str,
    holder_name: str,
    acceptance: MandateAcceptance,
) -> None:
    """Confirm the member's SetupIntent with their bank details and acceptance (trusted clients)."""
    async with database.transaction() as session:
        store = MemberStore(session)
        member = await store.get(member_id)
        setup = await store.setup_intent(setup_intent_id)
    if setup is None or setup.member_id != member_id:
        raise SetupIntentNotFoundError("no such SetupIntent of yours")
    if setup.status is SetupIntentStatus.SUCCEEDED:
        return  # confirmed already (a retried request): nothing more to do
    if setup.status is SetupIntentStatus.CANCELED:
        raise SetupIntentClosedError("this SetupIntent was cancelled: start a new one")
    bank = BankAccount(bsb_number, account_number, holder_name, member.email)
    view = await stripe_api.confirm_setup(setup_intent_id, bank, acceptance)
    async with database.transaction() as session:
        if view.status is SetupIntentStatus.SUCCEEDED:
            await _record_success(
                session, setup, view, as_of=None, clock=clock, causation_id=None, last4=bank.last4
            )
        else:
            log.warning("SetupIntent %s confirmed but %s", setup_intent_id, view.status)


async def on_setup_intent_succeeded(session: AsyncSession, event: StripeEventReceived, clock: Clock) -> str:
    setup = await MemberStore(session).setup_intent(event.object_id or "")
    if setup is None:
        return "unknown"
    view = setup_intent_view(event.raw_object)
    return await _record_success(
        session, setup, view, as_of=event.created, clock=clock, causation_id=event.message_id, last4=None
    )


async def on_setup_intent_failed(session: AsyncSession, event: StripeEventReceived, clock: Clock) -> str:
    store = MemberStore(session)
    found = await store.setup_intent(event.object_id or "")
    if found is None:
        return "unknown"
    member = await store.get(found.member_id, lock=True)
    setup = await store.setup_intent(found.setup_intent_id)
    assert setup is not None
    if not setup_failure_applies(setup.status, setup.status_as_of, event.created):
        return "stale"
    failed = replace(
        setup,
        status=SetupIntentStatus.REQUIRES_PAYMENT_METHOD,
        last_error_code=event.failure_code,
        status_as_of=event.created,
    )
    if failed == setup:
        return "unchanged"
    await store.save_setup_intent(failed)
    notice = becs_setup_failed(
        member.state, event.failure_code, now=clock.now(), causation_id=event.message_id
    )
    await add_to_outbox(session, notice.subject, notice.message)
    return "applied"


async def on_mandate_updated(session: AsyncSession, event: StripeEventReceived, clock: Clock) -> str:
    mandate_id, status = event.object_id, event.object_status
    if mandate_id is None or status not in {known.value for known in MandateStatus}:
        return "unknown"
    reported = MandateStatus(status)
    store = MemberStore(session)
    # The mandate's lock, then its owner's: the order every path takes them in.
    await store.lock_mandate(mandate_id)
    owner = await store.member_with_mandate(mandate_id)
    member = await store.get(owner, lock=True) if owner is not None else None
    held = await store.mandate(mandate_id)
    if held is not None and merged_mandate_status(held[0], reported) is held[0]:
        return "unchanged" if held[0] is reported else "stale"
    payment_method = event.raw_object.get("payment_method")
    await store.save_mandate(
        mandate_id, payment_method if isinstance(payment_method, str) else None, reported, event.created
    )
    if member is not None:
        await publish_member_changes(session, member.state, clock=clock, causation_id=event.message_id)
    return "applied"


async def _record_success(
    session: AsyncSession,
    found: SetupIntentRecord,
    view: SetupIntentView,
    *,
    as_of: datetime | None,
    clock: Clock,
    causation_id: UUID | None,
    last4: str | None,
) -> str:
    if view.payment_method_id is None or view.mandate_id is None:
        log.warning("SetupIntent %s succeeded without a payment method or mandate", found.setup_intent_id)
        return "unknown"
    store = MemberStore(session)
    await store.lock_mandate(view.mandate_id)
    member = await store.get(found.member_id, lock=True)
    setup = await store.setup_intent(found.setup_intent_id)
    assert setup is not None
    if setup.status.is_final:
        return "unchanged"
    succeeded = replace(
        setup,
        status=SetupIntentStatus.SUCCEEDED,
        payment_method_id=view.payment_method_id,
        mandate_id=view.mandate_id,
        last_error_code=None,
        status_as_of=as_of,
        bank_last4=last4 or setup.bank_last4,
    )
    await store.save_setup_intent(succeeded)
    # A BECS mandate accepted online is active at once; a later report may only take it further.
    await store.save_mandate(view.mandate_id, view.payment_method_id, MandateStatus.ACTIVE, as_of)
    current = (
        SetupRef(member.current_setup_intent_id, member.current_setup_started)
        if member.current_setup_intent_id is not None and member.current_setup_started is not None
        else None
    )
    if supersedes(SetupRef(setup.setup_intent_id, setup.started), current):
        await store.use_payment_method(member.member_id, succeeded)
    await publish_member_changes(session, member.state, clock=clock, causation_id=causation_id)
    return "applied"
