"""The collections HTTP API on real NATS, Postgres and the Stripe simulator: a member's views of
their group (who sees what, a failure reason only to its member and the admin, 404 to anyone
else), the ledger a page at a time, and the operator's stuck cycles on the simulated clock."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from contracts import subjects
from contracts.onboarding import GroupActivated
from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.rotation import CyclePlan, plan_rotation
from services.collections.settings import CollectionsSettings
from services.runtime.clock import CLOCK_BUCKET, advance_simulated_clock
from services.runtime.member_tokens import mint_token
from services.runtime.naming import Namespace
from services.runtime.service import ServiceRuntime
from tests.integration.collections.support import (
    OPERATOR_TOKEN,
    REFER_TO_CUSTOMER,
    SUCCEEDS,
    Stack,
    eventually,
    group_activated,
    member_with_mandate,
)
from tests.integration.collections.test_collections_rotation import cancel_at_deadline

pytestmark = pytest.mark.integration

AMOUNT = 5_000
# A Tuesday, the day after the clock's start: cycle 1 starts at 09:00 Sydney, 22:00 UTC on the 1st.
START_DATE = date(2027, 3, 2)


class Api:
    """Calls the service as a member (with a token its settings accept) or as the operator."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = httpx.AsyncClient(base_url=f"{stack.service.base_url}/collections", timeout=30)

    async def __aenter__(self) -> "Api":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()

    def _runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.stack.service.app.state.runtime
        return runtime

    async def member(self, member_id: str | None, path: str, expect: int = 200, **params: Any) -> Any:
        headers = {}
        if member_id is not None:
            settings = self._runtime().settings
            assert isinstance(settings, CollectionsSettings)
            token = mint_token(settings, member_id, lifetime=timedelta(hours=1), issued_at=datetime.now(UTC))
            headers["Authorization"] = f"Bearer {token}"
        answer = await self.http.get(path, headers=headers, params=params)
        assert answer.status_code == expect, f"{path}: {answer.status_code} {answer.text}"
        return answer.json()

    async def member_posts(self, member_id: str, path: str, body: Any, expect: int = 200) -> Any:
        settings = self._runtime().settings
        assert isinstance(settings, CollectionsSettings)
        token = mint_token(settings, member_id, lifetime=timedelta(hours=1), issued_at=datetime.now(UTC))
        answer = await self.http.post(path, headers={"Authorization": f"Bearer {token}"}, json=body)
        assert answer.status_code == expect, f"{path}: {answer.status_code} {answer.text}"
        return answer.json()

    async def operator(
        self, path: str, token: str | None = OPERATOR_TOKEN, expect: int = 200, **params: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        answer = await self.http.get(path, headers=headers, params=params)
        assert answer.status_code == expect, f"{path}: {answer.status_code} {answer.text}"
        return answer.json()

    async def move_clock_to(self, moment: datetime) -> None:
        bucket = Namespace(self.stack.namespace).bucket(CLOCK_BUCKET)
        runtime = self._runtime()
        await advance_simulated_clock(self.stack.js, moment - runtime.clock.now(), bucket=bucket)

        async def followed() -> bool:
            return runtime.clock.now() >= moment

        await eventually(followed, "the service's clock has moved")


async def activated_group(stack: Stack, *accounts: str) -> tuple[GroupActivated, tuple[CyclePlan, ...]]:
    """A group of one member per account, activated on collections (member 1 is its admin)."""
    members = [member_with_mandate(stack.sim, p, account) for p, account in enumerate(accounts, start=1)]
    activation = group_activated(members, amount=AMOUNT).model_copy(update={"start_date": START_DATE})
    await stack.publish(subjects.ONBOARDING_GROUP_ACTIVATED, activation)

    async def every_start_scheduled() -> bool:
        return len(await stack.timers(subjects.COLLECTIONS_START_CYCLE)) == len(members)

    await eventually(every_start_scheduled, "every cycle's start is scheduled")
    return activation, plan_rotation(activation, BecsBusinessCalendar())


async def start_first_cycle(stack: Stack, plan: CyclePlan) -> list[dict[str, Any]]:
    """Fire cycle 1's start timer and wait until every debit is out at Stripe; the debits."""
    (timer,) = [
        t
        for t in await stack.timers(subjects.COLLECTIONS_START_CYCLE)
        if t["payload"]["cycle_id"] == str(plan.cycle_id)
    ]
    await stack.fire_timer(timer)

    async def every_debit_out() -> bool:
        rows = await stack.contributions_of(plan.cycle_id)
        return bool(rows) and all(row["status"] == "processing" for row in rows)

    await eventually(every_debit_out, "every debit is processing")
    return stack.payment_intents_of_cycle(plan.cycle_id)


@pytest.fixture
async def api(api_stack: Stack) -> AsyncIterator[Api]:
    async with Api(api_stack) as client:
        yield client


async def test_members_see_the_rotation_the_cycle_and_the_ledger_and_failure_reasons_only_where_theirs(
    api_stack: Stack, api: Api
) -> None:
    stack = api_stack
    activation, plans = await activated_group(stack, SUCCEEDS, REFER_TO_CUSTOMER, SUCCEEDS)
    admin, failing, other = (m.member_id for m in sorted(activation.members, key=lambda m: m.position))
    group = activation.group_id
    await api.move_clock_to(plans[0].start_at)
    intents = await start_first_cycle(stack, plans[0])
    stack.sim.advance(timedelta(seconds=3))
    ids = {pi["id"] for pi in intents}
    await stack.deliver_stripe_events("payment_intent.succeeded", ids)
    await stack.deliver_stripe_events("payment_intent.payment_failed", ids)

    async def retry_scheduled() -> bool:
        rows = await stack.contributions_of(plans[0].cycle_id)
        return sorted(r["status"] for r in rows) == ["retry_scheduled", "succeeded", "succeeded"]

    await eventually(retry_scheduled, "two debits collected and one to be retried")

    rotation = await api.member(other, f"/groups/{group}/rotation")
    assert (rotation["status"], rotation["admin_member_id"], rotation["currency"]) == (
        "running",
        admin,
        "aud",
    )
    assert [m["member_id"] for m in rotation["members"]] == [admin, failing, other]
    assert [
        (c["cycle_number"], c["cycle_id"], c["status"], c["recipient_member_id"], c["starts_on"])
        for c in rotation["cycles"]
    ] == [
        (
            p.cycle_number,
            str(p.cycle_id),
            "collecting" if p.cycle_number == 1 else "scheduled",
            p.recipient.member_id,
            p.starts_on.isoformat(),
        )
        for p in plans
    ]
    first = rotation["cycles"][0]
    assert (first["expected"], first["collected"], first["refunded"]) == (3 * AMOUNT, 2 * AMOUNT, 0)
    assert first["deadline_on"] == plans[0].deadline_on.isoformat()

    def failure_codes(cycle: dict[str, Any]) -> tuple[Any, Any]:
        (mine,) = [c for c in cycle["contributions"] if c["member_id"] == failing]
        (attempt,) = mine["attempts"]
        assert (attempt["attempt"], attempt["status"]) == (1, "retry_scheduled")
        return mine["failure_code"], attempt["failure_code"]

    own = await api.member(failing, f"/groups/{group}/cycles/1")
    assert own["status"] == "collecting"
    assert [c["member_id"] for c in own["contributions"]] == [admin, failing, other]
    assert [c["status"] for c in own["contributions"]] == ["succeeded", "retry_scheduled", "succeeded"]
    assert failure_codes(own) == ("refer_to_customer", "refer_to_customer")
    assert failure_codes(await api.member(admin, f"/groups/{group}/cycles/1")) == (
        "refer_to_customer",
        "refer_to_customer",
    )
    assert failure_codes(await api.member(other, f"/groups/{group}/cycles/1")) == (None, None)

    ledger = await api.member(other, f"/groups/{group}/ledger")
    balances = {b["account"]: b["balance"] for b in ledger["balances"]}
    assert balances[f"cycle_pot:{plans[0].cycle_id}"] == 2 * AMOUNT
    assert balances[f"member_contributions:{admin}"] == -AMOUNT
    assert f"member_contributions:{failing}" not in balances
    collected = [e for e in ledger["entries"] if e["step"] == "debit-collected"]
    assert len(collected) == 4  # two debits, each from the member into the pot
    assert {e["reference"] for e in collected} == {
        f"debit-collected-{c.contribution_id}-1"
        for c in plans[0].contributions
        if c.member.member_id != failing
    }
    assert sum(e["amount"] for e in ledger["entries"]) == 0
    assert ledger["next_after"] is None
    paged, after = [], None
    while True:
        page = await api.member(
            other, f"/groups/{group}/ledger", limit=1, **({"after": after} if after else {})
        )
        paged += page["entries"]
        after = page["next_after"]
        if after is None:
            break
    assert paged == ledger["entries"]

    mine = await api.member(failing, "/members/me/contributions")
    assert sorted((c["cycle_number"], c["status"]) for c in mine["contributions"]) == [
        (1, "retry_scheduled"),
        (2, "pending"),
        (3, "pending"),
    ]
    assert {c["group_id"] for c in mine["contributions"]} == {str(group)}
    first_page = await api.member(failing, "/members/me/contributions", limit=2)
    second_page = await api.member(
        failing, "/members/me/contributions", limit=2, after=first_page["next_after"]
    )
    assert first_page["contributions"] + second_page["contributions"] == mine["contributions"]
    assert second_page["next_after"] is None


async def test_a_group_is_not_found_by_anyone_outside_it_and_bad_input_is_named(
    api_stack: Stack, api: Api
) -> None:
    stack = api_stack
    activation, _ = await activated_group(stack, SUCCEEDS, SUCCEEDS)
    group = activation.group_id
    member = activation.members[0].member_id

    for path in ("rotation", "cycles/1", "ledger"):
        refused = await api.member("outsider-1", f"/groups/{group}/{path}", expect=404)
        assert refused["error"]["type"] == "group_not_found"
        unknown = await api.member(member, f"/groups/{uuid4()}/{path}", expect=404)
        assert unknown["error"]["type"] == "group_not_found"
        unsigned = await api.member(None, f"/groups/{group}/{path}", expect=401)
        assert unsigned["error"]["type"] == "missing_token"
    assert (await api.member(member, f"/groups/{group}/cycles/3", expect=404))["error"][
        "type"
    ] == "cycle_not_found"

    def fields(answer: dict[str, Any]) -> set[str]:
        assert answer["error"]["type"] == "invalid_request"
        return {problem["field"] for problem in answer["error"]["problems"]}

    assert fields(await api.member(member, "/groups/not-a-uuid/rotation", expect=422)) == {"path.group_id"}
    assert fields(await api.member(member, f"/groups/{group}/cycles/0", expect=422)) == {"path.cycle_number"}
    assert fields(await api.member(member, f"/groups/{group}/ledger", expect=422, limit=0, after=-1)) == {
        "query.limit",
        "query.after",
    }
    assert fields(await api.operator("/operator/stuck-cycles", expect=422, older_than="soon")) == {
        "query.older_than"
    }
    assert fields(
        await api.operator("/operator/stuck-cycles", expect=422, older_than="-PT1H", offset=-1)
    ) == {
        "query.older_than",
        "query.offset",
    }


async def test_the_operator_finds_cycles_overdue_in_their_status_with_how_long_and_why(
    api_stack: Stack, api: Api
) -> None:
    stack = api_stack
    _, plans = await activated_group(stack, SUCCEEDS, SUCCEEDS, SUCCEEDS)
    first = plans[0]

    async def stuck(**params: Any) -> dict[str, Any]:
        found: dict[str, Any] = await api.operator("/operator/stuck-cycles", **params)
        return found

    assert (await stuck(older_than="PT0S"))["cycles"] == []  # nothing due yet
    assert (await api.operator("/operator/stuck-cycles", token=None, expect=401))["error"][
        "type"
    ] == "unauthorized"
    assert (await api.operator("/operator/stuck-cycles", token="x" * 40, expect=401))["error"][
        "type"
    ] == "unauthorized"

    # Two hours past cycle 1's start, its start timer never handled.
    await api.move_clock_to(first.start_at + timedelta(hours=2))
    assert (await stuck(older_than="PT3H"))["cycles"] == []
    late = await stuck(older_than="PT1H")
    (cycle,) = late["cycles"]
    assert (cycle["cycle_id"], cycle["status"], cycle["overdue_seconds"]) == (
        str(first.cycle_id),
        "scheduled",
        7200,
    )
    assert datetime.fromisoformat(cycle["expected_by"]) == first.start_at
    assert "start timer" in cycle["reason"]
    assert datetime.fromisoformat(late["as_of"]) == first.start_at + timedelta(hours=2)

    # Started, debited, then nothing heard from Stripe until a day past the deadline.
    started_at = first.start_at + timedelta(hours=2)
    intents = await start_first_cycle(stack, first)
    assert (await stuck(older_than="PT0S"))["cycles"] == []
    # An hour on, one debit settles: the cycle is saved again, still collecting since it started.
    await api.move_clock_to(started_at + timedelta(hours=1))
    stack.sim.advance(timedelta(seconds=3))
    (paid,) = [pi for pi in intents if pi["metadata"]["member_id"] == first.contributions[0].member.member_id]
    await stack.deliver_stripe_events("payment_intent.succeeded", {paid["id"]})

    async def one_paid() -> bool:
        rows = await stack.contributions_of(first.cycle_id)
        return sorted(row["status"] for row in rows) == ["processing", "processing", "succeeded"]

    await eventually(one_paid, "one debit is collected")
    await api.move_clock_to(first.deadline_at + timedelta(days=1))
    late = await stuck(older_than="PT12H")
    (cycle,) = [c for c in late["cycles"] if c["cycle_id"] == str(first.cycle_id)]
    assert cycle["status"] == "collecting"
    assert cycle["overdue_seconds"] == 86_400
    assert datetime.fromisoformat(cycle["status_since"]) == started_at
    assert cycle["in_status_seconds"] == (first.deadline_at + timedelta(days=1) - started_at).total_seconds()
    assert "deadline" in cycle["reason"]
    assert cycle["waiting_for_members"] == [c.member.member_id for c in first.contributions[1:]]
    assert [c["cycle_id"] for c in (await stuck(older_than="P2D"))["cycles"]] == []

    # Paged, most overdue first: cycle 2 was due to start (on cycle 1's last day) before cycle 1's
    # deadline passed.
    assert plans[1].start_at < first.deadline_at
    everything = await stuck(older_than="PT1H")
    assert [c["cycle_number"] for c in everything["cycles"]] == [2, 1]
    assert everything["total"] == 2
    page_1 = await stuck(older_than="PT1H", limit=1)
    page_2 = await stuck(older_than="PT1H", limit=1, offset=page_1["next_offset"])
    assert (page_1["next_offset"], page_2["next_offset"]) == (1, None)
    assert page_1["cycles"] + page_2["cycles"] == everything["cycles"]


async def test_the_stuck_cycle_view_is_closed_while_no_operator_token_is_set(stack: Stack) -> None:
    async with Api(stack) as api:
        refused = await api.operator("/operator/stuck-cycles", expect=503)
    assert refused["error"]["type"] == "operator_token_not_configured"


async def test_only_the_admin_decides_after_a_cancelled_round_and_a_repeated_decision_changes_nothing(
    api_stack: Stack, api: Api
) -> None:
    stack = api_stack
    activation, plans = await activated_group(stack, SUCCEEDS, SUCCEEDS)
    admin, other = (m.member_id for m in sorted(activation.members, key=lambda m: m.position))
    group = activation.group_id
    decisions = f"/groups/{group}/decisions"
    retry = {"decision": "retry_round", "cycle_id": str(plans[0].cycle_id)}

    early = await api.member_posts(admin, decisions, retry, expect=409)
    assert early["error"]["type"] == "decision_not_expected"

    await api.move_clock_to(plans[0].start_at)
    await cancel_at_deadline(stack, plans[0].cycle_id, await start_first_cycle(stack, plans[0]))
    assert (await api.member(admin, f"/groups/{group}/rotation"))["status"] == "awaiting_admin_decision"

    assert (await api.member_posts("stranger", decisions, retry, expect=404))["error"]["type"] == (
        "group_not_found"
    )
    assert (await api.member_posts(other, decisions, retry, expect=403))["error"]["type"] == "not_group_admin"
    unknown = await api.member_posts(admin, decisions, {**retry, "recipient": other}, expect=422)
    assert [p["field"] for p in unknown["error"]["problems"]] == ["body.retry_round.recipient"]
    past = await api.member_posts(admin, decisions, {**retry, "start_on": "2020-01-01"}, expect=422)
    assert past["error"]["type"] == "invalid_decision"
    assert (await api.member(admin, f"/groups/{group}/rotation"))["status"] == "awaiting_admin_decision"

    first = await api.member_posts(admin, decisions, retry)
    assert first["status"] == "running"
    assert await api.member_posts(admin, decisions, retry) == first
    assert (await api.member(other, f"/groups/{group}/rotation"))["status"] == "running"
