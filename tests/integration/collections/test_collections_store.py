"""The store's own promises: a cycle saved over a version that is gone is refused, and the ledger
cannot be edited."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from contracts import subjects
from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.contribution import PaymentMethodRef
from services.collections.domain.cycle import CycleStatus
from services.collections.domain.messages import DeadlineReached
from services.collections.domain.postings import payout_requested
from services.collections.domain.rotation import CyclePlan, plan_rotation
from services.collections.domain.saga import decide
from services.collections.store.cycles import ConcurrentCycleUpdateError, load_cycle, save_cycle
from services.collections.store.ledger import post
from services.collections.store.mandates import mandates_of, record_mandate
from services.collections.store.tables import ledger_entries
from tests.integration.collections.support import Stack, eventually, group_activated, member_with_mandate

pytestmark = pytest.mark.integration


async def planned_cycle(stack: Stack) -> CyclePlan:
    activation = group_activated([member_with_mandate(stack.sim, p) for p in (1, 2)])
    await stack.publish(subjects.ONBOARDING_GROUP_ACTIVATED, activation)
    plan = plan_rotation(activation, BecsBusinessCalendar())[0]

    async def stored() -> bool:
        return await stack.cycle_status(plan.cycle_id) == "scheduled"

    await eventually(stored, "the rotation is stored")
    return plan


async def test_a_cycle_saved_over_a_version_another_message_replaced_is_refused(stack: Stack) -> None:
    plan = await planned_cycle(stack)
    now = datetime.now(UTC)
    async with stack.database.transaction() as session:
        first = await load_cycle(session, plan.cycle_id)
    async with stack.database.transaction() as session:
        second = await load_cycle(session, plan.cycle_id)
    assert first is not None
    assert second is not None
    async with stack.database.transaction() as session:
        await save_cycle(session, first, first.state, now)
    decided = decide(second.state, DeadlineReached(now), BecsBusinessCalendar(), now).new_state
    async with stack.database.transaction() as session:
        with pytest.raises(ConcurrentCycleUpdateError):
            await save_cycle(session, second, decided, now)
    async with stack.database.transaction() as session:
        kept = await load_cycle(session, plan.cycle_id)
    assert kept is not None
    assert (kept.version, kept.state.status) == (first.version + 1, CycleStatus.SCHEDULED)


async def test_the_ledger_refuses_to_be_edited_and_books_a_reference_once(stack: Stack) -> None:
    plan = await planned_cycle(stack)
    transaction = payout_requested(plan.cycle_id, "aud", 9_900, 100)
    now = datetime.now(UTC)
    for _ in range(2):
        async with stack.database.transaction() as session:
            await post(session, plan.cycle_id, (transaction,), now)
    async with stack.database.transaction() as session:
        count = await session.scalar(text("SELECT count(*) FROM ledger_entries"))
    assert count == 3
    with pytest.raises(DBAPIError, match="append-only"):
        async with stack.database.transaction() as session:
            await session.execute(update(ledger_entries).values(amount=1))


async def test_two_mandate_reports_of_one_instant_keep_the_one_that_replaces_the_other(stack: Stack) -> None:
    """A mandate lost and a new bank account authorised in one step of a frozen simulated clock:
    whichever report arrives first, the new account is what collections keeps."""
    at = datetime(2027, 2, 1, tzinfo=UTC)
    old_active = PaymentMethodRef("cus_1", "pm_old", "mandate_old", mandate_active=True)
    old_lost = replace(old_active, mandate_active=False)
    new_active = PaymentMethodRef("cus_1", "pm_new", "mandate_new", mandate_active=True)
    for order in ("lost first", "new first"):
        member = f"member-{order.replace(' ', '-')}"
        async with stack.database.transaction() as session:
            assert await record_mandate(session, member, old_active, datetime(2027, 1, 1, tzinfo=UTC))
        reports = [
            (old_lost, ("pm_old", True)),  # the bank ended the old mandate
            (new_active, ("pm_old", False)),  # the member authorised a new account after that
        ]
        for method, succeeds in reports if order == "lost first" else reversed(reports):
            async with stack.database.transaction() as session:
                await record_mandate(session, member, method, at, succeeds=succeeds)
        async with stack.database.transaction() as session:
            held = (await mandates_of(session, [member]))[member]
        assert (held.payment_method_id, held.mandate_active) == ("pm_new", True), order
