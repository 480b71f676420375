"""Stripe's events late, twice or out of order: nothing changes twice, and no status moves backwards.

The quiet stack hears only what these tests publish on its STRIPE stream: real events of the
simulator, normalized as the webhook gateway does, delivered in the order each test chooses.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from contracts import subjects
from contracts.stripe_events import StripeEventReceived, stripe_event_message_id
from services.webhooks.normalize import normalize
from tests.integration.onboarding.support import MANDATE_DATA_IP, Stack, visit

pytestmark = pytest.mark.integration


async def stripe_events(
    stack: Stack, event_type: str, about: Callable[[dict[str, Any]], bool], account: str | None = None
) -> list[StripeEventReceived]:
    """The simulator's events of a type about one object, oldest first, as the gateway publishes them."""
    options: Any = {"stripe_account": account} if account else {}
    page = await stack.sim.client().v1.events.list_async({"limit": 100, "type": event_type}, options)
    found = []
    for event in reversed(page.data):
        body = event.to_dict()
        if account is not None:
            body.setdefault("account", account)
        if about(body["data"]["object"]):
            found.append(normalize(body))
    return found


def with_id(object_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda data: data.get("id") == object_id


def another_event_like(event: StripeEventReceived, **changes: Any) -> StripeEventReceived:
    """A distinct event (new id, so no inbox has seen it) telling the same, or ``changes``."""
    event_id = f"evt_{uuid.uuid4().hex}"
    return event.model_copy(
        update={"event_id": event_id, "message_id": stripe_event_message_id(event_id), **changes}
    )


async def confirm_in_the_browser(stack: Stack, member_id: str) -> str:
    """Start BECS setup through the API, then confirm it with Stripe directly, as Stripe.js does."""
    started = (await stack.call("POST", "/members/me/becs/setup-intents", member_id)).json()
    assert started["client_secret"].startswith(started["setup_intent_id"])
    await stack.sim.client().v1.setup_intents.confirm_async(
        started["setup_intent_id"],
        {
            "payment_method_data": {
                "type": "au_becs_debit",
                "au_becs_debit": {"bsb_number": "000000", "account_number": "000123456"},
                "billing_details": {"name": "Test Member", "email": f"{member_id}@example.com"},
            },
            "mandate_data": {
                "customer_acceptance": {
                    "type": "online",
                    "online": {"ip_address": MANDATE_DATA_IP, "user_agent": "Mozilla/5.0 (browser)"},
                }
            },
        },
    )
    return str(started["setup_intent_id"])


async def onboarding_messages(stack: Stack, member_id: str) -> list[tuple[str, Any]]:
    return [
        (m["subject"], m.get("missing", m.get("mandate_status")))
        for m in await stack.published()
        if m.get("member_id") == member_id
    ]


async def test_a_setup_reported_again_changes_nothing_however_it_comes(quiet_stack: Stack) -> None:
    stack = quiet_stack
    member_id = await stack.register()
    setup_intent_id = await confirm_in_the_browser(stack, member_id)
    assert (await stack.me(member_id))["becs"]["mandate_id"] is None  # nothing heard yet
    [succeeded] = await stripe_events(stack, "setup_intent.succeeded", with_id(setup_intent_id))

    await stack.publish_stripe_event(succeeded)
    await stack.settle(through_simulator=False)
    after_first = await stack.me(member_id)
    messages = await onboarding_messages(stack, member_id)
    assert after_first["becs"]["mandate_status"] == "active"
    assert after_first["becs"]["latest_setup_intent"]["status"] == "succeeded"

    # Redelivered (the inbox knows it), and told again by a distinct event (the state does).
    await stack.publish_stripe_event(succeeded, msg_id=f"again-{uuid.uuid4().hex}")
    await stack.publish_stripe_event(another_event_like(succeeded))
    await stack.settle(through_simulator=False)

    assert await stack.me(member_id) == after_first
    assert await onboarding_messages(stack, member_id) == messages
    assert messages[-2:] == [
        (subjects.ONBOARDING_MEMBER_PAYMENT_METHOD_CHANGED, "active"),
        (subjects.ONBOARDING_MEMBER_READINESS_CHANGED, ["payout_account"]),
    ]


async def test_a_setup_confirmed_in_the_browser_is_not_handed_out_again_before_stripe_reports_it(
    quiet_stack: Stack,
) -> None:
    stack = quiet_stack
    member_id = await stack.register()
    confirmed = await confirm_in_the_browser(stack, member_id)

    fresh = (await stack.call("POST", "/members/me/becs/setup-intents", member_id)).json()
    assert fresh["setup_intent_id"] != confirmed
    assert fresh["status"] == "requires_payment_method"

    [succeeded] = await stripe_events(stack, "setup_intent.succeeded", with_id(confirmed))
    await stack.publish_stripe_event(succeeded)
    await stack.settle(through_simulator=False)
    me = await stack.me(member_id)
    assert (me["becs"]["mandate_id"], me["becs"]["mandate_status"]) == (
        succeeded.raw_object["mandate"],
        "active",
    )


async def test_a_mandate_lost_is_told_once_and_an_older_report_cannot_revive_it(quiet_stack: Stack) -> None:
    stack = quiet_stack
    member_id = await stack.register()
    setup_intent_id = await confirm_in_the_browser(stack, member_id)
    [succeeded] = await stripe_events(stack, "setup_intent.succeeded", with_id(setup_intent_id))
    mandate_id = str(succeeded.raw_object["mandate"])
    await asyncio.to_thread(stack.sim.advance, timedelta(seconds=5))
    await asyncio.to_thread(stack.sim.deactivate_mandate, mandate_id)
    [inactive] = await stripe_events(stack, "mandate.updated", with_id(mandate_id))
    assert inactive.created > succeeded.created

    # The later report first, twice, then the earlier one, then a stale failure of the same setup.
    # (Each kind has its own consumer: settling in between makes the order of arrival the test's.)
    await stack.publish_stripe_event(inactive)
    await stack.publish_stripe_event(another_event_like(inactive))
    await stack.settle(through_simulator=False)
    await stack.publish_stripe_event(succeeded)
    await stack.settle(through_simulator=False)
    await stack.publish_stripe_event(
        another_event_like(
            succeeded,
            event_type="setup_intent.setup_failed",
            object_status="requires_payment_method",
            failure_code="invalid_bank_account",
            created=succeeded.created - timedelta(seconds=1),
        )
    )
    await stack.settle(through_simulator=False)

    me = await stack.me(member_id)
    assert me["becs"]["mandate_id"] == mandate_id
    assert me["becs"]["mandate_status"] == "inactive"
    assert me["becs"]["latest_setup_intent"] == {
        "setup_intent_id": setup_intent_id,
        "status": "succeeded",
        "last_error_code": None,
    }
    assert me["readiness"]["missing"] == ["becs_mandate_inactive", "payout_account"]
    # Never active in between: the member's mandate went from none straight to inactive.
    methods = await stack.about(member_id, subjects.ONBOARDING_MEMBER_PAYMENT_METHOD_CHANGED)
    assert [m["mandate_status"] for m in methods] == ["inactive"]
    readiness = await stack.about(member_id, subjects.ONBOARDING_MEMBER_READINESS_CHANGED)
    assert [r["missing"] for r in readiness][-1] == ["becs_mandate_inactive", "payout_account"]
    # The member was never told of a mandate they never had working; no setup failure either.
    assert await stack.notifications(member_id) == []


async def test_a_failed_setup_is_recorded_and_the_member_told_once(quiet_stack: Stack) -> None:
    stack = quiet_stack
    member_id = await stack.register()
    started = (await stack.call("POST", "/members/me/becs/setup-intents", member_id)).json()
    [created] = await stripe_events(stack, "setup_intent.created", with_id(started["setup_intent_id"]))
    failed = another_event_like(
        created,
        event_type="setup_intent.setup_failed",
        object_status="requires_payment_method",
        failure_code="invalid_bank_account",
    )

    await stack.publish_stripe_event(failed)
    await stack.publish_stripe_event(another_event_like(failed))
    await stack.settle(through_simulator=False)

    me = await stack.me(member_id)
    assert me["becs"]["latest_setup_intent"]["last_error_code"] == "invalid_bank_account"
    assert me["becs"]["latest_setup_intent"]["status"] == "requires_payment_method"
    [notice] = await stack.notifications(member_id)
    assert notice["kind"] == "becs_setup_failed"
    assert notice["causation_id"] == str(failed.message_id)  # the event that told of the failure
    # The same SetupIntent is still the open one to try again with.
    again = (await stack.call("POST", "/members/me/becs/setup-intents", member_id)).json()
    assert again["setup_intent_id"] == started["setup_intent_id"]


async def onboarding_reports(stack: Stack, account: str) -> list[StripeEventReceived]:
    capability = await stripe_events(
        stack, "capability.updated", lambda o: o.get("account") == account, account
    )
    return [*capability, *await stripe_events(stack, "account.updated", with_id(account), account)]


async def test_a_restricted_payout_account_stays_restricted_when_an_older_report_arrives(
    quiet_stack: Stack,
) -> None:
    stack = quiet_stack
    member_id = await stack.register()
    link = (await stack.call("POST", "/members/me/payout-account/onboarding-link", member_id)).json()
    account = link["account_id"]
    await asyncio.to_thread(visit, link["url"])
    onboarded = await onboarding_reports(stack, account)
    for event in onboarded:
        await stack.publish_stripe_event(event)
    await stack.settle(through_simulator=False)
    assert (await stack.me(member_id))["payout_account"]["status"] == "ready"

    await asyncio.to_thread(stack.sim.advance, timedelta(seconds=5))
    await asyncio.to_thread(stack.sim.helper, f"accounts/{account}/restrict")
    restricted = (await stripe_events(stack, "account.updated", with_id(account), account))[-1]
    assert restricted.created > onboarded[-1].created
    await stack.publish_stripe_event(restricted)
    await stack.settle(through_simulator=False)
    # Late copies of the reports that said ready.
    for event in onboarded:
        await stack.publish_stripe_event(another_event_like(event))
    await stack.settle(through_simulator=False)

    me = await stack.me(member_id)
    assert me["payout_account"]["status"] == "restricted"
    assert me["payout_account"]["requirements_due"] == ["individual.verification.document"]
    assert me["readiness"]["missing"] == ["becs_mandate", "payout_account_restricted"]
    [restriction] = await stack.about(member_id, subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTRICTED)
    assert restriction["connected_account_id"] == account
    assert restriction["requirements_due"] == ["individual.verification.document"]
    assert [n["kind"] for n in await stack.notifications(member_id)] == ["payout_account_restricted"]

    # The member completes Stripe's form again: restored, once.
    await asyncio.to_thread(stack.sim.advance, timedelta(seconds=5))
    again = (await stack.call("POST", "/members/me/payout-account/onboarding-link", member_id)).json()
    assert again["account_id"] == account
    assert again["url"] != link["url"]
    await asyncio.to_thread(visit, again["url"])
    fixed = (await stripe_events(stack, "account.updated", with_id(account), account))[-1]
    await stack.publish_stripe_event(fixed)
    await stack.publish_stripe_event(another_event_like(fixed))
    await stack.settle(through_simulator=False)

    assert (await stack.me(member_id))["payout_account"]["status"] == "ready"
    [restored] = await stack.about(member_id, subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTORED)
    assert restored["connected_account_id"] == account
    changes = [
        r["missing"] for r in await stack.about(member_id, subjects.ONBOARDING_MEMBER_READINESS_CHANGED)
    ]
    assert changes[-4:] == [
        ["becs_mandate", "payout_account_onboarding"],
        ["becs_mandate"],
        ["becs_mandate", "payout_account_restricted"],
        ["becs_mandate"],
    ]


async def test_an_account_report_brings_stripes_latest_word_not_the_reports_snapshot(
    quiet_stack: Stack,
) -> None:
    """Readiness of an account moves both ways, so a report is a cue to read the account."""
    stack = quiet_stack
    member_id = await stack.register()
    account = await stack.onboard_payout_account(member_id)
    onboarded = await onboarding_reports(stack, account)
    await asyncio.to_thread(stack.sim.advance, timedelta(seconds=5))
    await asyncio.to_thread(stack.sim.helper, f"accounts/{account}/restrict")

    # Only the older reports have arrived, and they say ready: Stripe says restricted now.
    for event in onboarded:
        await stack.publish_stripe_event(event)
    await stack.settle(through_simulator=False)

    me = await stack.me(member_id)
    assert me["payout_account"]["status"] == "restricted"
    changes = [
        r["missing"] for r in await stack.about(member_id, subjects.ONBOARDING_MEMBER_READINESS_CHANGED)
    ]
    assert ["becs_mandate"] not in changes, "the member was never ready"


async def test_reports_about_objects_of_no_member_are_taken_and_ignored(quiet_stack: Stack) -> None:
    stack = quiet_stack
    before = await stack.published()
    stranger = StripeEventReceived.model_validate(
        {
            "occurred_at": "2026-03-02T00:00:00Z",
            "correlation_id": "acct_nobody",
            "event_id": "evt_nobody_" + uuid.uuid4().hex,
            "event_type": "account.updated",
            "created": "2026-03-02T00:00:00Z",
            "livemode": False,
            "account": "acct_nobody",
            "api_version": None,
            "object_type": "account",
            "object_id": "acct_nobody",
            "object_status": None,
            "metadata": {},
            "amount": None,
            "currency": None,
            "failure_code": None,
            "previous_attributes": None,
            "raw_object": {"id": "acct_nobody", "object": "account"},
        }
    )
    await stack.publish_stripe_event(another_event_like(stranger))
    await stack.publish_stripe_event(
        another_event_like(
            stranger,
            event_type="mandate.updated",
            object_type="mandate",
            object_id="mandate_x",
            object_status="inactive",
            account=None,
        )
    )
    await stack.settle(through_simulator=False)
    assert await stack.published() == before
