"""Bad input gets a clear 4xx naming what is wrong, and changes nothing."""

from datetime import date, timedelta
from typing import Any

import pytest

from tests.integration.onboarding.support import Stack, bank_details, group_terms

pytestmark = pytest.mark.integration


def days_from_today(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


INVALID_GROUPS: list[tuple[str, dict[str, Any], str]] = [
    ("below Stripe's minimum", {"contribution_amount": 49}, "contribution_amount"),
    ("above BECS's limit per debit", {"contribution_amount": 1_000_001}, "contribution_amount"),
    ("not aud", {"currency": "usd"}, "currency"),
    ("a group of one", {"size": 1}, "size"),
    ("more than fifty", {"size": 51}, "size"),
    ("starting today", {"start_date": days_from_today(0)}, "start_date"),
    ("starting in the past", {"start_date": days_from_today(-3)}, "start_date"),
    ("starting in two years", {"start_date": days_from_today(730)}, "start_date"),
    ("an unknown time zone", {"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ("a blank name", {"name": "   "}, "name"),
    ("a long name", {"name": "x" * 81}, "name"),
    ("no attempts", {"policy": {"attempt_limit": 0}}, "policy.attempt_limit"),
    ("too many attempts", {"policy": {"attempt_limit": 6}}, "policy.attempt_limit"),
    ("a fee above 10%", {"policy": {"platform_fee_bps": 1_001}}, "policy.platform_fee_bps"),
    ("a negative fee", {"policy": {"platform_fee_bps": -1}}, "policy.platform_fee_bps"),
    ("no spacing", {"policy": {"retry_spacing_business_days": 0}}, "policy.retry_spacing_business_days"),
    (
        "a window longer than a week",
        {"cadence": "weekly", "policy": {"collection_window_business_days": 6}},
        "policy.collection_window_business_days",
    ),
    (
        "attempts that do not fit the window",
        {
            "policy": {
                "attempt_limit": 3,
                "retry_spacing_business_days": 2,
                "collection_window_business_days": 9,
            }
        },
        "policy.collection_window_business_days",
    ),
]


@pytest.mark.parametrize(("case", "change", "field"), INVALID_GROUPS, ids=[c[0] for c in INVALID_GROUPS])
async def test_an_invalid_group_is_refused_with_the_field_named(
    stack: Stack, case: str, change: dict[str, Any], field: str
) -> None:
    admin = await stack.register()
    answer = await stack.call("POST", "/groups", admin, group_terms(**change), expect=422)
    error = answer.json()["error"]
    assert error["type"] == "invalid_group", case
    assert [problem["field"] for problem in error["problems"]] == [field], case
    assert (await stack.call("GET", "/groups", admin)).json() == []


async def test_every_problem_of_a_group_is_named_at_once(stack: Stack) -> None:
    admin = await stack.register()
    answer = await stack.call(
        "POST", "/groups", admin, group_terms(contribution_amount=10, size=99, timezone="Nowhere"), expect=422
    )
    assert {p["field"] for p in answer.json()["error"]["problems"]} == {
        "contribution_amount",
        "size",
        "timezone",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**group_terms(), "size": "three"}, "body.size"),
        ({**group_terms(), "cadence": "daily"}, "body.cadence"),
        ({**group_terms(), "start_date": "next friday"}, "body.start_date"),
        ({**group_terms(), "payout_order_method": "alphabetical"}, "body.payout_order_method"),
        ({k: v for k, v in group_terms().items() if k != "contribution_amount"}, "body.contribution_amount"),
        ({**group_terms(), "name": "tab\there"}, "body.name"),
    ],
)
async def test_a_malformed_body_is_refused_with_the_field_named(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    admin = await stack.register()
    answer = await stack.call("POST", "/groups", admin, body, expect=422)
    assert answer.json()["error"]["type"] == "invalid_request"
    assert field in [p["field"] for p in answer.json()["error"]["problems"]]


async def test_a_body_that_is_not_json_is_refused(stack: Stack) -> None:
    admin = await stack.register()
    answer = await stack.http.post(
        "/onboarding/groups",
        content=b"{not json",
        headers={**stack.auth(admin), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "malformed_json"
    assert [problem["field"] for problem in error["problems"]] == ["body"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "display_name": "A"}, "body.email"),
        ({"email": "a@example.com", "display_name": ""}, "body.display_name"),
        ({"email": "a@example.com"}, "body.display_name"),
        ({"display_name": "A\u0000B", "email": "a@example.com"}, "body.display_name"),
    ],
)
async def test_registration_needs_a_usable_email_and_name(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    answer = await stack.call("POST", "/members", "member-bad-input", body, expect=422)
    assert field in [p["field"] for p in answer.json()["error"]["problems"]]
    await stack.call("GET", "/members/me", "member-bad-input", expect=404)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bsb_number": "12345"}, "body.bsb_number"),
        ({"account_number": "12ab"}, "body.account_number"),
        ({"mandate_accepted": False}, "body.mandate_accepted"),
        ({"ip_address": "somewhere"}, "body.ip_address"),
        ({"account_holder_name": ""}, "body.account_holder_name"),
    ],
)
async def test_bank_details_are_checked_before_stripe_sees_them(
    stack: Stack, change: dict[str, Any], field: str
) -> None:
    member = await stack.register()
    started = (await stack.call("POST", "/members/me/becs/setup-intents", member)).json()
    path = f"/members/me/becs/setup-intents/{started['setup_intent_id']}/confirm"
    answer = await stack.call("POST", path, member, {**bank_details(), **change}, expect=422)
    assert field in [p["field"] for p in answer.json()["error"]["problems"]]
    assert (await stack.me(member))["becs"]["latest_setup_intent"]["status"] == "requires_payment_method"


async def test_confirming_a_setup_intent_that_does_not_exist_is_404(stack: Stack) -> None:
    member = await stack.register()
    answer = await stack.call(
        "POST", "/members/me/becs/setup-intents/seti_nothing/confirm", member, bank_details(), expect=404
    )
    assert answer.json()["error"]["type"] == "setup_intent_not_found"


async def test_an_empty_profile_change_is_refused(stack: Stack) -> None:
    member = await stack.register()
    await stack.call("PATCH", "/members/me", member, {}, expect=422)


async def test_joining_takes_a_real_code_of_a_group_with_room_that_has_not_started(stack: Stack) -> None:
    admin, second, third = [await stack.register() for _ in range(3)]
    group = await stack.create_group(admin, size=2)
    code = group["invite_code"]

    assert (await stack.call("POST", "/groups/join", second, {"invite_code": "short"}, expect=422)).json()[
        "error"
    ]["type"] == "invalid_request"
    assert (await stack.call("POST", "/groups/join", second, {"invite_code": "ZZZZZZZZ"}, expect=404)).json()[
        "error"
    ]["type"] == "group_not_found"
    await stack.join(second, code.lower())
    # Joining again changes nothing; a third finds the group full.
    assert len((await stack.join(second, code))["members"]) == 2
    full = await stack.call("POST", "/groups/join", third, {"invite_code": code}, expect=409)
    assert full.json()["error"]["type"] == "group_full"


async def test_the_admin_cannot_leave_and_a_member_leaves_only_a_group_they_are_in(stack: Stack) -> None:
    admin, member = await stack.register(), await stack.register()
    group = await stack.create_group(admin)
    answer = await stack.call("POST", f"/groups/{group['group_id']}/leave", admin, expect=409)
    assert answer.json()["error"]["type"] == "admin_cannot_leave"
    await stack.call("POST", f"/groups/{group['group_id']}/leave", member, expect=404)
    await stack.join(member, group["invite_code"])
    await stack.call("POST", f"/groups/{group['group_id']}/leave", member, expect=204)
    assert [m["member_id"] for m in (await stack.group(admin, group["group_id"]))["members"]] == [admin]


async def test_a_fixed_order_must_list_every_member_once(stack: Stack) -> None:
    admin, member = await stack.register(), await stack.register()
    group = await stack.create_group(admin, payout_order_method="fixed")
    await stack.join(member, group["invite_code"])
    path = f"/groups/{group['group_id']}/payout-order"
    for order, problem in [
        ([admin], "missing"),
        ([admin, member, "someone-else"], "not members"),
        ([admin, admin, member], "more than once"),
    ]:
        answer = await stack.call("PUT", path, admin, {"method": "fixed", "order": order}, expect=422)
        assert answer.json()["error"]["type"] == "invalid_payout_order"
        assert problem in answer.json()["error"]["message"]
    answer = await stack.call(
        "PUT", path, admin, {"method": "join_order", "order": [admin, member]}, expect=422
    )
    assert "only with the fixed method" in answer.json()["error"]["message"]

    fixed = (await stack.call("PUT", path, admin, {"method": "fixed", "order": [member, admin]})).json()
    assert fixed["payout_order"]["order"] == [member, admin]


async def test_slots_are_chosen_only_when_members_choose_and_only_once_each(stack: Stack) -> None:
    admin, member = await stack.register(), await stack.register()
    group = await stack.create_group(admin, size=3, payout_order_method="members_choice")
    await stack.join(member, group["invite_code"])
    path = f"/groups/{group['group_id']}/payout-slot"

    await stack.call("PUT", path, admin, {"slot": 1})
    taken = await stack.call("PUT", path, member, {"slot": 1}, expect=409)
    assert taken.json()["error"]["type"] == "payout_slot_taken"
    for slot in (0, 4):
        answer = await stack.call("PUT", path, member, {"slot": slot}, expect=422)
        assert answer.json()["error"]["type"] == "invalid_payout_order"
    await stack.call("PUT", path, member, {"slot": 3})

    await stack.call("PUT", f"/groups/{group['group_id']}/payout-order", admin, {"method": "join_order"})
    wrong = await stack.call("PUT", path, member, {"slot": 2}, expect=409)
    assert wrong.json()["error"]["type"] == "wrong_payout_order_method"


async def test_the_admin_changes_terms_only_to_valid_ones(stack: Stack) -> None:
    admin = await stack.register()
    group = await stack.create_group(admin, cadence="monthly")
    path = f"/groups/{group['group_id']}"
    answer = await stack.call("PATCH", path, admin, {"start_date": days_from_today(-1)}, expect=422)
    assert [p["field"] for p in answer.json()["error"]["problems"]] == ["start_date"]
    answer = await stack.call(
        "PATCH", path, admin, {"policy": {"collection_window_business_days": 21}}, expect=422
    )
    assert [p["field"] for p in answer.json()["error"]["problems"]] == [
        "policy.collection_window_business_days"
    ]

    changed = (await stack.call("PATCH", path, admin, {"policy": {"platform_fee_bps": 150}})).json()
    assert changed["policy"] == {
        "attempt_limit": 3,
        "retry_spacing_business_days": 2,
        "collection_window_business_days": 15,
        "platform_fee_bps": 150,
    }


async def test_a_field_set_at_creation_is_refused_by_name_and_the_group_is_unchanged(stack: Stack) -> None:
    admin = await stack.register()
    group = await stack.create_group(admin)
    path = f"/groups/{group['group_id']}"
    answer = await stack.call(
        "PATCH", path, admin, {"contribution_amount": 9_000, "size": 4, "colour": "red"}, expect=422
    )
    problems = {p["field"]: p["message"] for p in answer.json()["error"]["problems"]}
    assert problems == {
        "body.contribution_amount": "is set when the group is created and cannot be changed",
        "body.size": "is set when the group is created and cannot be changed",
        "body.colour": "Extra inputs are not permitted",
    }
    answer = await stack.call("PATCH", path, admin, {"payout_order_method": "fixed"}, expect=422)
    assert "payout-order" in answer.json()["error"]["problems"][0]["message"]
    after = await stack.group(admin, group["group_id"])
    assert (after["contribution_amount"], after["size"], after["payout_order"]["method"]) == (
        5_000,
        3,
        "join_order",
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/groups", {**group_terms(), "admin": "someone"}, "body.admin"),
        ("POST", "/groups", {**group_terms(), "policy": {"retries": 9}}, "body.policy.retries"),
        ("POST", "/members", {"email": "a@example.com", "display_name": "A", "role": "x"}, "body.role"),
        ("PATCH", "/members/me", {"display_name": "A", "member_id": "other"}, "body.member_id"),
        ("POST", "/groups/join", {"invite_code": "ABCDEFGH", "group_id": "x"}, "body.group_id"),
    ],
)
async def test_an_unknown_field_in_a_body_is_refused_by_name(
    stack: Stack, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    member = await stack.register()
    answer = await stack.call(method, path, member, body, expect=422)
    assert answer.json()["error"]["type"] == "invalid_request"
    assert field in [p["field"] for p in answer.json()["error"]["problems"]]
    assert (await stack.call("GET", "/groups", member)).json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**group_terms(), "contribution_amount": "5000"}, "body.contribution_amount"),
        ({**group_terms(), "contribution_amount": 5000.0}, "body.contribution_amount"),
        ({**group_terms(), "size": True}, "body.size"),
        ({**group_terms(), "policy": {"attempt_limit": "3"}}, "body.policy.attempt_limit"),
        ({**group_terms(), "start_date": f"{days_from_today(30)}T00:00:00"}, "body.start_date"),
        ({**group_terms(), "start_date": f"{days_from_today(30)}T09:30:00+10:00"}, "body.start_date"),
    ],
)
async def test_a_number_or_date_is_taken_only_as_itself(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    admin = await stack.register()
    answer = await stack.call("POST", "/groups", admin, body, expect=422)
    assert [p["field"] for p in answer.json()["error"]["problems"]] == [field]
    assert (await stack.call("GET", "/groups", admin)).json() == []


async def test_a_changed_start_date_or_slot_is_taken_only_as_a_date_or_a_number(stack: Stack) -> None:
    admin = await stack.register()
    group = await stack.create_group(admin, payout_order_method="members_choice")
    path = f"/groups/{group['group_id']}"
    answer = await stack.call(
        "PATCH", path, admin, {"start_date": f"{days_from_today(40)}T00:00:00"}, expect=422
    )
    assert [p["field"] for p in answer.json()["error"]["problems"]] == ["body.start_date"]
    answer = await stack.call("PUT", f"{path}/payout-slot", admin, {"slot": "1"}, expect=422)
    assert [p["field"] for p in answer.json()["error"]["problems"]] == ["body.slot"]
    assert (await stack.group(admin, group["group_id"]))["start_date"] == group["start_date"]


async def test_the_mandate_is_accepted_only_with_true(stack: Stack) -> None:
    member = await stack.register()
    started = (await stack.call("POST", "/members/me/becs/setup-intents", member)).json()
    path = f"/members/me/becs/setup-intents/{started['setup_intent_id']}/confirm"
    for accepted in (1, "true", "yes"):
        answer = await stack.call(
            "POST", path, member, {**bank_details(), "mandate_accepted": accepted}, expect=422
        )
        assert [p["field"] for p in answer.json()["error"]["problems"]] == ["body.mandate_accepted"]
    assert (await stack.me(member))["becs"]["mandate_id"] is None
