"""From sign-up to an activated group, through the HTTP API, the Stripe simulator and the gateway."""

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


async def test_three_members_sign_up_get_ready_and_their_group_activates_with_all_collections_needs(
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

    await stack.onboard_payout_account(third)
    await stack.wait_for_readiness(third, ready=True)
    await stack.settle()

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


async def test_a_group_activates_as_its_last_ready_member_joins_in_the_order_the_admin_fixed(
    stack: Stack,
) -> None:
    admin = await stack.ready_member(name="Admin")
    member = await stack.ready_member(name="Member")
    await stack.wait_for_readiness(admin, ready=True)
    await stack.wait_for_readiness(member, ready=True)
    group = await stack.create_group(admin, size=2, payout_order_method="fixed", cadence="weekly")
    assert group["policy"]["attempt_limit"] == 2  # the weekly default: two attempts fit in five days

    joined = await stack.join(member, group["invite_code"])
    # Newcomers go last in a fixed order; the group activated with the order as it stood.
    assert joined["status"] == "active"
    assert joined["payout_order"]["order"] == [admin, member]
    assert [(m["member_id"], m["position"]) for m in joined["members"]] == [(admin, 1), (member, 2)]
    await stack.settle()
    [published] = await activations(stack, group["group_id"])
    assert published["payout_order_method"] == "fixed"
    assert published["draw"] is None
    assert published["cadence"] == "weekly"
