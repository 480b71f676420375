"""Members: registration once per sub, one Stripe customer, one SetupIntent and account at a time."""

import asyncio

import pytest

from tests.integration.onboarding.support import Stack, bank_details, visit

pytestmark = pytest.mark.integration


async def test_registering_again_returns_the_member_with_the_same_single_stripe_customer(
    stack: Stack,
) -> None:
    member_id = await stack.register(name="Once")
    first = await stack.me(member_id)

    again = await stack.call(
        "POST", "/members", member_id, {"email": "other@example.com", "display_name": "Twice"}, expect=200
    )

    assert again.json() == first
    customers = await stack.sim.client().v1.customers.list_async({"email": f"{member_id}@example.com"})
    assert [customer.id for customer in customers.data] == [first["stripe_customer_id"]]
    assert customers.data[0].metadata is not None
    assert customers.data[0].metadata.to_dict() == {"member_id": member_id}


async def test_registration_takes_email_and_name_from_the_token_when_the_body_has_none(stack: Stack) -> None:
    token = stack.token("member-from-claims", email="claims@example.com", name="From Claims")
    answer = await stack.http.post(
        "/onboarding/members", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code in (200, 201), answer.text
    assert (answer.json()["email"], answer.json()["display_name"]) == ("claims@example.com", "From Claims")


async def test_claims_that_would_not_pass_as_a_body_are_refused_too(stack: Stack) -> None:
    token = stack.token("member-bad-claims", email="not an e-mail", name="Fine")
    answer = await stack.http.post(
        "/onboarding/members", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 422
    assert [p["field"] for p in answer.json()["error"]["problems"]] == ["body.email"]


async def test_a_profile_change_reaches_the_stripe_customer(stack: Stack) -> None:
    member_id = await stack.register()
    changed = (
        await stack.call(
            "PATCH", "/members/me", member_id, {"email": "new@example.com", "display_name": "New"}
        )
    ).json()
    assert (changed["email"], changed["display_name"]) == ("new@example.com", "New")
    customer = await stack.sim.client().v1.customers.retrieve_async(changed["stripe_customer_id"])
    assert (customer.email, customer.name) == ("new@example.com", "New")


async def test_changing_the_profile_back_and_forth_reaches_stripe_every_time(stack: Stack) -> None:
    # Each change is its own Stripe update: one keyed by its new values would, the third time,
    # get Stripe's saved answer to the first and leave the customer on the second's e-mail.
    member_id = await stack.register()
    original = (await stack.me(member_id))["email"]
    for email in ("b@example.com", original, "b@example.com"):
        await stack.call("PATCH", "/members/me", member_id, {"email": email})
    member = await stack.me(member_id)
    customer = await stack.sim.client().v1.customers.retrieve_async(member["stripe_customer_id"])
    assert (member["email"], customer.email) == ("b@example.com", "b@example.com")


async def test_asking_twice_for_a_setup_intent_gives_the_same_open_one_and_confirming_twice_is_harmless(
    stack: Stack,
) -> None:
    member_id = await stack.register()
    first = (await stack.call("POST", "/members/me/becs/setup-intents", member_id)).json()
    second = (await stack.call("POST", "/members/me/becs/setup-intents", member_id)).json()
    assert second == first
    assert first["status"] == "requires_payment_method"
    intent = await stack.sim.client().v1.setup_intents.retrieve_async(first["setup_intent_id"])
    assert intent.payment_method_types == ["au_becs_debit"]
    assert intent.usage == "off_session"

    path = f"/members/me/becs/setup-intents/{first['setup_intent_id']}/confirm"
    confirmed = (await stack.call("POST", path, member_id, bank_details())).json()
    again = (await stack.call("POST", path, member_id, bank_details())).json()
    assert again == confirmed
    mandate = await stack.sim.client().v1.mandates.retrieve_async(confirmed["becs"]["mandate_id"])
    assert mandate.status == "active"
    assert mandate.customer_acceptance.online is not None
    assert mandate.customer_acceptance.online.ip_address == "203.0.113.7"

    # Once used, a new request makes a new SetupIntent (a new bank account to authorise).
    third = (await stack.call("POST", "/members/me/becs/setup-intents", member_id)).json()
    assert third["setup_intent_id"] != first["setup_intent_id"]


async def test_each_onboarding_link_is_new_and_single_use_for_the_one_payout_account(stack: Stack) -> None:
    member_id = await stack.register()
    first = (await stack.call("POST", "/members/me/payout-account/onboarding-link", member_id)).json()
    second = (await stack.call("POST", "/members/me/payout-account/onboarding-link", member_id)).json()
    assert first["account_id"] == second["account_id"]
    assert first["url"] != second["url"]

    account = await stack.sim.client().v1.accounts.retrieve_async(first["account_id"])
    assert (account.country, account.type) == ("AU", "express")
    assert account.metadata is not None
    assert account.metadata.to_dict() == {"member_id": member_id}
    me = await stack.me(member_id)
    assert me["payout_account"]["status"] == "onboarding_required"
    assert me["readiness"]["missing"] == ["becs_mandate", "payout_account_onboarding"]

    assert await asyncio.to_thread(visit, second["url"]) == stack.settings.payout_onboarding_return_url
    # A used link sends the browser where it asks for a new one.
    assert await asyncio.to_thread(visit, second["url"]) == stack.settings.payout_onboarding_refresh_url
    await stack.settle()
    onboarded = await stack.me(member_id)
    assert onboarded["payout_account"] == {
        "status": "ready",
        "account_id": first["account_id"],
        "requirements_due": [],
        "disabled_reason": None,
    }
    assert onboarded["readiness"]["missing"] == ["becs_mandate"]
