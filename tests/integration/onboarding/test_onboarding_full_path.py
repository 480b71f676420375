"""From sign-up to a started group, through the HTTP API, the Stripe simulator and the gateway."""

import hashlib
from typing import Any

import pytest

from contracts import subjects
from contracts.onboarding import GroupActivated
from tests.integration.onboarding.support import Stack

pytestmark = pytest.mark.integration


async def activations(stack: Stack, group_id: str) -> list[dict[str, Any]]:
    return [
        m for m in await stack.published(subjects.ONBOARDING_GROUP_ACTIVATED) if m["group_id"] == group_id
    ]


async def test_three_members_sign_up_get_ready_and_their_admin_starts_the_group_with_all_collections_needs(
    stack: Stack,
) -> None:
    admin = await stack.register(name="Ada")
    second = await stack.register(name="Bo")
    third = await stack.register(name="Cy")

    # Registration made each a Stripe customer; nothing else yet.
    fresh = await stack.me(admin)
    assert fresh["stripe_customer_id"].startswith("cus_")
    assert fresh["readiness"] == {"ready": False, "missing": ["becs_mandate", "payout_account"]}

    for member in (admin, second, third):
        authorised = await stack.authorise_bank_account(member)
        assert authorised["becs"]["mandate_status"] == "active"
        assert authorised["becs"]["bank_last4"] == "3456"
        assert authorised["readiness"]["missing"] == ["payout_account"]
    for member in (admin, second):
        await stack.onboard_payout_account(member)
        await stack.wait_for_readiness(member, ready=True)

    group = await stack.create_group(admin, name="Ada's circle", size=3, payout_order_method="random_draw")
    assert group["status"] == "forming"
    assert group["your_role"] == "admin"
    commitment = group["payout_order"]["seed_commitment"]
    assert group["payout_order"]["seed"] is None
    await stack.join(second, group["invite_code"])
    # The third joins before their payout account is ready: the group is full but waits for them.
    full = await stack.join(third, group["invite_code"])
    assert full["status"] == "forming"
    assert full["waiting_for"] == [f"{third} is not ready yet"]
    assert await activations(stack, group["group_id"]) == []

    # Not started until the admin says so: no one is ready yet, so the start is refused with why.
    refused = await stack.call("POST", f"/groups/{group['group_id']}/start", admin, expect=409)
    assert refused.json()["error"]["type"] == "group_not_ready_to_start"
    assert f"{third} is not ready yet" in refused.json()["error"]["message"]
    # Each blocker on its own, where it lies, for a frontend to show next to that member.
    assert refused.json()["error"]["problems"] == [
        {"field": f"members.{third}", "message": f"{third} is not ready yet"}
    ]

    await stack.onboard_payout_account(third)
    await stack.wait_for_readiness(third, ready=True)
    await stack.settle()
    ready = await stack.group(third, group["group_id"])
    assert (ready["status"], ready["waiting_for"]) == ("ready_to_start", ["the admin to start the group"])
    assert ready["payout_order"]["locked"] is False
    assert await activations(stack, group["group_id"]) == []

    started = await stack.start(admin, group["group_id"])
    assert started["status"] == "active"
    # Starting again is harmless: the same group, no second event.
    assert (await stack.start(admin, group["group_id"]))["activated_at"] == started["activated_at"]
    await stack.settle(through_simulator=False)

    [published] = await activations(stack, group["group_id"])
    activated = GroupActivated.model_validate({k: v for k, v in published.items() if k != "subject"})
    assert str(activated.group_id) == group["group_id"]
    assert (activated.contribution_amount, activated.currency, activated.cadence) == (
        5_000,
        "aud",
        "fortnightly",
    )
    assert activated.policy.model_dump() == {
        "attempt_limit": 3,
        "retry_spacing_business_days": 1,
        "collection_window_business_days": 10,
        "platform_fee_bps": 0,
    }
    assert activated.draw is not None
    seed = activated.draw.seed
    assert activated.draw.seed_commitment == commitment
    assert hashlib.sha256(seed.encode()).hexdigest() == commitment
    # Anyone can repeat the draw from the published seed.
    expected = sorted(
        (admin, second, third), key=lambda m: (hashlib.sha256(f"{seed}:{m}".encode()).hexdigest(), m)
    )
    assert [m.member_id for m in activated.members] == expected
    assert [m.position for m in activated.members] == [1, 2, 3]
    for activated_member in activated.members:
        me = await stack.me(activated_member.member_id)
        assert activated_member.customer_id == me["stripe_customer_id"]
        assert activated_member.payment_method_id == me["becs"]["payment_method_id"]
        assert activated_member.mandate_id == me["becs"]["mandate_id"]
        assert activated_member.connected_account_id == me["payout_account"]["account_id"]

    locked = await stack.group(second, group["group_id"])
    assert locked["status"] == "active"
    assert locked["payout_order"]["locked"] is True
    assert locked["payout_order"]["order"] == expected
    assert locked["payout_order"]["seed"] == seed
    assert locked["invite_code"] is None
    # Locked for good: no new order, no leaving, no joining.
    await stack.call(
        "PUT", f"/groups/{group['group_id']}/payout-order", admin, {"method": "join_order"}, expect=409
    )
    await stack.call("POST", f"/groups/{group['group_id']}/leave", second, expect=409)


async def test_the_admin_places_the_last_member_to_join_before_starting_a_fixed_order_group(
    stack: Stack,
) -> None:
    admin = await stack.ready_member(name="Admin")
    member = await stack.ready_member(name="Member")
    await stack.wait_for_readiness(admin, ready=True)
    await stack.wait_for_readiness(member, ready=True)
    group = await stack.create_group(admin, size=2, payout_order_method="fixed", cadence="weekly")
    assert group["policy"]["attempt_limit"] == 2  # the weekly default: two attempts fit in five days

    joined = await stack.join(member, group["invite_code"])
    # Full and ready, but not started: newcomers go last until the admin moves them.
    assert joined["status"] == "ready_to_start"
    assert joined["payout_order"]["order"] == [admin, member]
    path = f"/groups/{group['group_id']}/payout-order"
    await stack.call("PUT", path, admin, {"method": "fixed", "order": [member, admin]})

    started = await stack.start(admin, group["group_id"])
    assert started["status"] == "active"
    assert started["payout_order"]["order"] == [member, admin]
    assert [(m["member_id"], m["position"]) for m in started["members"]] == [(admin, 2), (member, 1)]
    await stack.settle(through_simulator=False)
    [published] = await activations(stack, group["group_id"])
    assert [m["member_id"] for m in published["members"]] == [member, admin]
    assert published["payout_order_method"] == "fixed"
    assert published["draw"] is None
    assert published["cadence"] == "weekly"


async def test_in_a_members_choice_group_the_last_member_to_join_chooses_before_the_start(
    stack: Stack,
) -> None:
    admin, second, last = [await stack.ready_member(name=name) for name in ("Admin", "Second", "Last")]
    for member in (admin, second, last):
        await stack.wait_for_readiness(member, ready=True)
    group = await stack.create_group(admin, size=3, payout_order_method="members_choice")
    slot_path = f"/groups/{group['group_id']}/payout-slot"
    await stack.join(second, group["invite_code"])
    await stack.call("PUT", slot_path, admin, {"slot": 3})
    await stack.call("PUT", slot_path, second, {"slot": 2})

    full = await stack.join(last, group["invite_code"])
    assert full["status"] == "forming"
    assert full["waiting_for"] == [f"{last} has not chosen a payout slot"]
    refused = await stack.call("POST", f"/groups/{group['group_id']}/start", admin, expect=409)
    assert f"{last} has not chosen a payout slot" in refused.json()["error"]["message"]

    await stack.call("PUT", slot_path, last, {"slot": 1})
    assert (await stack.group(last, group["group_id"]))["status"] == "ready_to_start"
    started = await stack.start(admin, group["group_id"])
    assert started["payout_order"]["order"] == [last, second, admin]
    # Only the admin starts; once started, no slot changes.
    await stack.call("PUT", slot_path, last, {"slot": 2}, expect=409)
    await stack.settle(through_simulator=False)
    [published] = await activations(stack, group["group_id"])
    assert [m["member_id"] for m in published["members"]] == [last, second, admin]


async def test_only_the_admin_starts_a_group(stack: Stack) -> None:
    admin, member = await stack.ready_member(name="Admin"), await stack.ready_member(name="Member")
    for who in (admin, member):
        await stack.wait_for_readiness(who, ready=True)
    group = await stack.create_group(admin, size=2)
    await stack.join(member, group["invite_code"])
    answer = await stack.call("POST", f"/groups/{group['group_id']}/start", member, expect=403)
    assert answer.json()["error"]["type"] == "not_group_admin"
    assert (await stack.group(member, group["group_id"]))["status"] == "ready_to_start"
    await stack.settle(through_simulator=False)
    assert await activations(stack, group["group_id"]) == []
