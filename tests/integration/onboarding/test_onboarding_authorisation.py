"""Who may call what: every route without a valid token, as a stranger, as a member, as the admin.

A member reaches only their own record (the API has no route that names another member) and the
groups they belong to; to anyone else a group does not exist (404). Only the admin changes a
group's terms, payout order or invite code, and starts it (403 for its other members).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jwt
import pytest

from tests.integration.onboarding.support import AUDIENCE, Stack, bank_details, group_terms

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def later(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


# Routes that act on the caller alone.
MEMBER_ROUTES = [
    Route("POST", "/members", {"email": "someone@example.com", "display_name": "Someone"}),
    Route("GET", "/members/me"),
    Route("PATCH", "/members/me", {"display_name": "Renamed"}),
    Route("GET", "/members/me/readiness"),
    Route("POST", "/members/me/becs/setup-intents"),
    Route("POST", "/members/me/becs/setup-intents/{setup_intent}/confirm", bank_details()),
    Route("POST", "/members/me/payout-account/onboarding-link"),
    Route("POST", "/groups", group_terms()),
    Route("GET", "/groups"),
    Route("POST", "/groups/join", {"invite_code": "{invite_code}"}),
]
# Routes about one group, and whether any member or only its admin may use them.
GROUP_ROUTES = [
    (Route("GET", "/groups/{group}"), "member"),
    (Route("POST", "/groups/{group}/leave"), "member"),
    (Route("PUT", "/groups/{group}/payout-slot", {"slot": 2}), "member"),
    (Route("PATCH", "/groups/{group}", {"start_date": later(40)}), "admin"),
    (Route("PUT", "/groups/{group}/payout-order", {"method": "random_draw"}), "admin"),
    (Route("POST", "/groups/{group}/invite-code"), "admin"),
    (Route("POST", "/groups/{group}/start"), "admin"),
]
ALL_ROUTES = MEMBER_ROUTES + [route for route, _ in GROUP_ROUTES]
ADMIN_ROUTES = [route for route, who in GROUP_ROUTES if who == "admin"]
MEMBERS_ROUTES = [route for route, who in GROUP_ROUTES if who == "member"]


@dataclass
class Cast:
    admin: str
    member: str
    stranger: str
    group_id: str
    invite_code: str
    setup_intent: str

    def fill(self, route: Route) -> tuple[str, Any]:
        values = {"group": self.group_id, "setup_intent": self.setup_intent, "invite_code": self.invite_code}
        body = route.body
        if isinstance(body, dict):
            body = {
                key: value.format(**values) if isinstance(value, str) else value
                for key, value in body.items()
            }
        return route.path.format(**values), body


@pytest.fixture
async def cast(stack: Stack) -> Cast:
    """An admin and a member of a forming group, and a stranger to it; the admin has a SetupIntent."""
    admin, member, stranger = [await stack.register(name=name) for name in ("Admin", "Member", "Stranger")]
    group = await stack.create_group(admin, size=4, payout_order_method="members_choice")
    await stack.join(member, group["invite_code"])
    started = (await stack.call("POST", "/members/me/becs/setup-intents", admin)).json()
    return Cast(admin, member, stranger, group["group_id"], group["invite_code"], started["setup_intent_id"])


def test_the_matrix_covers_every_route_the_api_publishes(stack: Stack) -> None:
    published = {
        f"{method.upper()} {path.removeprefix('/onboarding')}"
        for path, operations in stack.service.app.openapi()["paths"].items()
        for method in operations
        if not path.endswith(("/healthz", "/readyz", "/metrics")) and path.startswith("/onboarding/")
    }
    expected = {str(route) for route in ALL_ROUTES}
    expected = {
        r.replace("{group}", "{group_id}").replace("{setup_intent}", "{setup_intent_id}") for r in expected
    }
    assert published == expected


def bad_tokens(stack: Stack) -> dict[str, tuple[str | None, str]]:
    now = datetime.now(UTC)
    claims = {
        "sub": "someone",
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 600,
    }
    secret = stack.jwt_secret
    return {
        "no token": (None, "missing_token"),
        "expired": (
            jwt.encode({**claims, "exp": int((now - timedelta(minutes=5)).timestamp())}, secret, "HS256"),
            "token_expired",
        ),
        "wrong signature": (
            jwt.encode(claims, "another-secret-of-at-least-32-bytes!", "HS256"),
            "invalid_signature",
        ),
        "wrong audience": (
            jwt.encode({**claims, "aud": "someone-else"}, secret, "HS256"),
            "invalid_audience",
        ),
        "not a jwt": ("not-a-jwt", "invalid_token"),
        "unsigned": (jwt.encode(claims, "", "none"), "invalid_token"),
    }


@pytest.mark.parametrize("route", ALL_ROUTES, ids=str)
async def test_every_route_refuses_a_missing_expired_forged_or_foreign_token(
    stack: Stack, route: Route
) -> None:
    path = route.path.format(group=uuid.uuid4(), setup_intent="seti_x", invite_code="ABCDEFGH")
    for case, (token, kind) in bad_tokens(stack).items():
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        answer = await stack.http.request(
            route.method, f"/onboarding{path}", headers=headers, json=route.body
        )
        assert answer.status_code == 401, (case, answer.text)
        assert answer.json()["error"]["type"] == kind, case
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", [r for r in MEMBER_ROUTES if r.path != "/members"], ids=str)
async def test_a_valid_token_of_someone_never_registered_gets_404_and_changes_nothing(
    stack: Stack, cast: Cast, route: Route
) -> None:
    nobody = f"nobody-{uuid.uuid4().hex[:8]}"
    path, body = cast.fill(route)
    answer = await stack.call(route.method, path, nobody, body, expect=404)
    assert answer.json()["error"]["type"] == "member_not_registered"


@pytest.mark.parametrize(("route", "who"), GROUP_ROUTES, ids=str)
async def test_a_stranger_to_the_group_finds_no_such_group(
    stack: Stack, cast: Cast, route: Route, who: str
) -> None:
    path, body = cast.fill(route)
    answer = await stack.call(route.method, path, cast.stranger, body, expect=404)
    assert answer.json()["error"]["type"] == "group_not_found", who
    group = await stack.group(cast.admin, cast.group_id)
    assert [m["member_id"] for m in group["members"]] == [cast.admin, cast.member]
    assert group["invite_code"] == cast.invite_code
    assert group["start_date"] == group_terms()["start_date"]


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=str)
async def test_a_member_who_is_not_the_admin_is_forbidden_the_admins_changes(
    stack: Stack, cast: Cast, route: Route
) -> None:
    path, body = cast.fill(route)
    answer = await stack.call(route.method, path, cast.member, body, expect=403)
    assert answer.json()["error"]["type"] == "not_group_admin"
    group = await stack.group(cast.admin, cast.group_id)
    assert (group["invite_code"], group["start_date"]) == (cast.invite_code, group_terms()["start_date"])
    assert group["payout_order"]["method"] == "members_choice"


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=str)
async def test_the_admin_may_make_the_admins_changes(stack: Stack, cast: Cast, route: Route) -> None:
    path, body = cast.fill(route)
    if route.path.endswith("/start"):
        # Past the admin check, the cast's group is not ready: half its members, none ready.
        answer = await stack.call(route.method, path, cast.admin, body, expect=409)
        assert answer.json()["error"]["type"] == "group_not_ready_to_start"
    else:
        await stack.call(route.method, path, cast.admin, body, expect=200)


@pytest.mark.parametrize("route", MEMBERS_ROUTES, ids=str)
async def test_a_member_who_is_not_the_admin_may_use_the_members_routes(
    stack: Stack, cast: Cast, route: Route
) -> None:
    path, body = cast.fill(route)
    answer = await stack.call(route.method, path, cast.member, body, expect=None)
    assert answer.status_code in (200, 204), answer.text


@pytest.mark.parametrize("who", ["stranger", "member"])
@pytest.mark.parametrize("route", MEMBER_ROUTES, ids=str)
async def test_a_route_on_the_callers_own_record_never_reaches_the_admins(
    stack: Stack, cast: Cast, route: Route, who: str
) -> None:
    caller = cast.stranger if who == "stranger" else cast.member
    admin_before = await stack.me(cast.admin)
    group_before = await stack.group(cast.admin, cast.group_id)
    path, body = cast.fill(route)

    answer = await stack.call(route.method, path, caller, body, expect=None)

    assert answer.status_code < 500, answer.text
    if answer.status_code == 200 and "member_id" in answer.json():
        assert answer.json()["member_id"] == caller
    assert await stack.me(cast.admin) == admin_before
    group_after = await stack.group(cast.admin, cast.group_id)
    unchanged = ("admin_member_id", "invite_code", "start_date", "policy", "payout_order", "status")
    assert {key: group_after[key] for key in unchanged} == {key: group_before[key] for key in unchanged}
    # Joining by the invite code is how one enters a group: the caller, and no one else, is added.
    added = {m["member_id"] for m in group_after["members"]} - {
        m["member_id"] for m in group_before["members"]
    }
    assert added <= {caller}


async def test_a_member_sees_only_their_own_record_and_cannot_confirm_anothers_setup(
    stack: Stack, cast: Cast
) -> None:
    mine = await stack.me(cast.stranger)
    assert mine["member_id"] == cast.stranger
    assert mine["display_name"] == "Stranger"
    answer = await stack.call(
        "POST",
        f"/members/me/becs/setup-intents/{cast.setup_intent}/confirm",
        cast.stranger,
        bank_details(),
        expect=404,
    )
    assert answer.json()["error"]["type"] == "setup_intent_not_found"
    admin = await stack.me(cast.admin)
    assert admin["becs"]["latest_setup_intent"]["status"] == "requires_payment_method"
    assert admin["becs"]["mandate_id"] is None


async def test_a_member_lists_only_their_groups(stack: Stack, cast: Cast) -> None:
    assert [g["group_id"] for g in (await stack.call("GET", "/groups", cast.member)).json()] == [
        cast.group_id
    ]
    assert (await stack.call("GET", "/groups", cast.stranger)).json() == []
