"""Repeats and races on the money path: a redelivered activation or start, a repeated Stripe call,
a report that overtakes the create's answer, a dispute heard before its PaymentIntent is known."""

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from contracts import subjects
from contracts.collections import StartCycle
from contracts.streams import COLLECTIONS, NOTIFY, ONBOARDING
from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.rotation import plan_rotation
from services.collections.store.ledger import transactions_of_cycle
from services.collections.store.tables import parked_stripe_events
from tests.integration.collections.support import (
    DISPUTED_AT_ONCE,
    REFER_TO_CUSTOMER,
    Stack,
    eventually,
    group_activated,
    member_with_mandate,
)
from tests.integration.collections.test_collections_cycle import _has_status, debits_out, started_cycle

pytestmark = pytest.mark.integration

CREATE_DURABLES = ("collections-start-cycle", "collections-create-payment-intent")


async def test_a_redelivered_activation_and_start_and_a_repeated_stripe_call_debit_each_member_once(
    stack: Stack,
) -> None:
    activation = group_activated([member_with_mandate(stack.sim, p) for p in (1, 2, 3)])
    await stack.publish(subjects.ONBOARDING_GROUP_ACTIVATED, activation)
    # The same activation again, as a new message (onboarding republished it): plans nothing twice.
    await stack.publish(
        subjects.ONBOARDING_GROUP_ACTIVATED, activation.model_copy(update={"message_id": uuid.uuid4()})
    )
    await eventually(
        lambda: stack.consumers_idle(ONBOARDING.name, "collections-group-activated"), "activations taken"
    )
    timers = await stack.timers(subjects.COLLECTIONS_START_CYCLE)
    assert len(timers) == 3
    plan = plan_rotation(activation, BecsBusinessCalendar())[0]
    (timer,) = [t for t in timers if t["payload"]["cycle_id"] == str(plan.cycle_id)]

    await stack.fire_timer(timer)
    await stack.fire_timer(timer, msg_id="past-the-duplicate-window")  # the inbox drops it
    again = StartCycle.model_validate({**timer["payload"], "message_id": str(uuid.uuid4())})
    await stack.publish(subjects.COLLECTIONS_START_CYCLE, again)  # a new message: the saga drops it
    intents = await debits_out(stack, plan.cycle_id, 3)

    # Every create command delivered again as a new message: Stripe answers each from its key.
    commands = await stack.published(COLLECTIONS.name, subjects.COLLECTIONS_CREATE_PAYMENT_INTENT)
    assert len(commands) == 3
    for command in commands:
        body = {k: v for k, v in command.items() if k != "subject"}
        await stack.publish(
            subjects.COLLECTIONS_CREATE_PAYMENT_INTENT, {**body, "message_id": str(uuid.uuid4())}
        )
    await eventually(lambda: stack.consumers_idle(COLLECTIONS.name, *CREATE_DURABLES), "repeats taken")
    assert {pi["id"] for pi in stack.intents_held_by_simulator(plan.cycle_id)} == {pi["id"] for pi in intents}
    assert len(await stack.published(COLLECTIONS.name, subjects.COLLECTIONS_CREATE_PAYMENT_INTENT)) == 6
    rows = await stack.contributions_of(plan.cycle_id)
    assert sorted(r["payment_intent_id"] for r in rows) == sorted(pi["id"] for pi in intents)
    assert {r["attempt"] for r in rows} == {1}


async def test_a_success_reported_before_the_creates_answer_is_recorded_still_counts(stack: Stack) -> None:
    # Stripe makes every debit but its answers are lost on the way back, so none is recorded.
    try:
        plan, _ = await started_cycle(stack, answers_lost=True)

        async def all_made_at_stripe() -> bool:
            return len(stack.intents_held_by_simulator(plan.cycle_id)) == 3

        await eventually(all_made_at_stripe, "Stripe made every debit")
        rows = await stack.contributions_of(plan.cycle_id)
        assert [(r["status"], r["payment_intent_id"]) for r in rows] == [("pending", None)] * 3
        stack.sim.advance(timedelta(seconds=3))
        intents = {pi["id"] for pi in stack.intents_held_by_simulator(plan.cycle_id)}
        await stack.deliver_stripe_events("payment_intent.succeeded", intents)
        await eventually(
            lambda: _has_status(stack, plan.cycle_id, "paying_out"), "funded by the reports alone"
        )
        rows = await stack.contributions_of(plan.cycle_id)
        assert {r["payment_intent_id"] for r in rows} == intents
    finally:
        stack.sim.faults(dropped_connection_percent=0)

    # The creates, answered at last (with the same intents), change nothing.
    await eventually(lambda: stack.consumers_idle(COLLECTIONS.name, *CREATE_DURABLES), "creates answered")
    assert {pi["id"] for pi in stack.intents_held_by_simulator(plan.cycle_id)} == intents
    assert len(await stack.pay_cycle_commands()) == 1
    async with stack.database.transaction() as session:
        books = await transactions_of_cycle(session, plan.cycle_id)
    assert sorted(tx.reference for tx in books if tx.reference.startswith("debit-collected-")) == sorted(
        f"debit-collected-{c.contribution_id}-1" for c in plan.contributions
    )


async def test_a_passing_failure_schedules_a_retry_timer_that_debits_again_with_a_new_key(
    stack: Stack,
) -> None:
    plan, _ = await started_cycle(stack, member_2=REFER_TO_CUSTOMER)
    intents = await debits_out(stack, plan.cycle_id, 3)
    stack.sim.advance(timedelta(seconds=3))
    await stack.deliver_stripe_events("payment_intent.payment_failed", {pi["id"] for pi in intents})
    failing = plan.contributions[1]

    async def retry_scheduled() -> bool:
        return bool(await stack.timers(subjects.COLLECTIONS_RETRY_CONTRIBUTION))

    await eventually(retry_scheduled, "a retry timer is scheduled")
    await eventually(stack.outbox_empty, "the failure's notice is published")
    (retry,) = await stack.timers(subjects.COLLECTIONS_RETRY_CONTRIBUTION)
    assert retry["timer_id"] == f"contribution:{failing.contribution_id}:attempt:2"
    assert retry["payload"]["contribution_id"] == str(failing.contribution_id)
    assert retry["payload"]["attempt"] == 2
    (row,) = [
        r
        for r in await stack.contributions_of(plan.cycle_id)
        if r["contribution_id"] == failing.contribution_id
    ]
    assert (row["status"], row["last_failure_code"]) == ("retry_scheduled", "refer_to_customer")
    assert row["next_attempt_at"] == datetime.fromisoformat(retry["due_at"])
    notices = await stack.published(NOTIFY.name, subjects.NOTIFY_MEMBER_CONTRIBUTION_DEBIT_FAILED_RETRYING)
    assert [n["member_id"] for n in notices] == [failing.member.member_id]

    await stack.fire_timer(retry)

    async def second_attempt_out() -> bool:
        return len(stack.intents_held_by_simulator(plan.cycle_id)) == 4

    await eventually(second_attempt_out, "the retry made a second debit")
    (second,) = [
        pi
        for pi in stack.intents_held_by_simulator(plan.cycle_id)
        if pi["metadata"]["contribution_id"] == str(failing.contribution_id)
        and pi["metadata"]["attempt"] == "2"
    ]
    created = [
        e for e in stack.stripe_events("payment_intent.created") if e["data"]["object"]["id"] == second["id"]
    ]
    assert created[0]["request"]["idempotency_key"] == f"contribution-{failing.contribution_id}-2"


async def test_a_dispute_heard_before_its_payment_intent_is_known_is_kept_and_applied_when_it_is(
    stack: Stack,
) -> None:
    # The creates' answers are lost throughout: only Stripe's reports tell the service anything.
    try:
        plan, _ = await started_cycle(stack, members=2, answers_lost=True, member_1=DISPUTED_AT_ONCE)

        async def all_made_at_stripe() -> bool:
            return len(stack.intents_held_by_simulator(plan.cycle_id)) == 2

        await eventually(all_made_at_stripe, "Stripe made every debit")
        stack.sim.advance(timedelta(seconds=3))
        intents = {pi["id"] for pi in stack.intents_held_by_simulator(plan.cycle_id)}
        disputes = [
            e
            for e in stack.stripe_events("charge.dispute.created")
            if e["data"]["object"]["payment_intent"] in intents
        ]
        assert len(disputes) == 1
        dispute = disputes[0]["data"]["object"]
        await stack.deliver_stripe_events("charge.dispute.created", {dispute["id"]})

        async def parked() -> bool:
            async with stack.database.transaction() as session:
                return bool(await session.scalar(select(parked_stripe_events.c.event_id)))

        await eventually(parked, "the dispute is kept")
        await stack.deliver_stripe_events("payment_intent.succeeded", intents)

        async def dispute_booked() -> bool:
            async with stack.database.transaction() as session:
                books = await transactions_of_cycle(session, plan.cycle_id)
            return any(tx.reference == f"dispute-opened-{dispute['id']}" for tx in books)

        await eventually(dispute_booked, "the dispute is applied once its PaymentIntent is known")
    finally:
        stack.sim.faults(dropped_connection_percent=0)
    async with stack.database.transaction() as session:
        applied_at = await session.scalar(select(parked_stripe_events.c.applied_at))
    assert applied_at is not None
    (disputed,) = [
        r
        for r in await stack.contributions_of(plan.cycle_id)
        if r["payment_intent_id"] == dispute["payment_intent"]
    ]
    assert disputed["member_id"] == plan.contributions[0].member.member_id


async def test_stripe_refusing_a_debit_is_a_failed_attempt_not_a_poison_message(stack: Stack) -> None:
    member = member_with_mandate(stack.sim, 1)
    others = [member_with_mandate(stack.sim, p) for p in (2, 3)]
    stack.sim.deactivate_mandate(member.mandate_id)  # onboarding has not heard yet
    activation = group_activated([member, *others])
    await stack.publish(subjects.ONBOARDING_GROUP_ACTIVATED, activation)
    plan = plan_rotation(activation, BecsBusinessCalendar())[0]

    async def start_scheduled() -> bool:
        return len(await stack.timers(subjects.COLLECTIONS_START_CYCLE)) == 3

    await eventually(start_scheduled, "the starts are scheduled")
    (timer,) = [
        t
        for t in await stack.timers(subjects.COLLECTIONS_START_CYCLE)
        if t["payload"]["cycle_id"] == str(plan.cycle_id)
    ]
    await stack.fire_timer(timer)

    async def refused_and_waiting() -> bool:
        rows = await stack.contributions_of(plan.cycle_id)
        return any(r["status"] == "awaiting_mandate" for r in rows)

    await eventually(refused_and_waiting, "the refused debit waits for a new mandate")
    await eventually(stack.outbox_empty, "the refusal's notice is published")
    (row,) = [r for r in await stack.contributions_of(plan.cycle_id) if r["member_id"] == member.member_id]
    assert (row["attempt"], row["payment_intent_id"]) == (1, None)
    assert row["last_failure_code"] == "payment_intent_mandate_invalid"
    notices = await stack.published(
        NOTIFY.name, subjects.NOTIFY_MEMBER_CONTRIBUTION_DEBIT_FAILED_AUTHORISE_AGAIN
    )
    assert [(n["member_id"], n["action"]) for n in notices] == [
        (member.member_id, "POST /onboarding/members/me/becs/setup-intents")
    ]
    dead = await stack.published("DEADLETTER")
    assert dead == []


async def test_a_debit_stripe_cannot_take_through_every_delivery_is_asked_again_later_with_its_key(
    impatient_stack: Stack,
) -> None:
    stack = impatient_stack
    try:
        plan, _ = await started_cycle(stack, members=2, stripe_down=True)

        async def put_back_on_timers() -> bool:
            return len(await stack.timers(subjects.COLLECTIONS_CREATE_PAYMENT_INTENT)) == 2

        await eventually(put_back_on_timers, "every debit is asked again later")
    finally:
        stack.sim.faults(server_error_percent=0)
    later = await stack.timers(subjects.COLLECTIONS_CREATE_PAYMENT_INTENT)
    assert sorted(t["payload"]["idempotency_key"] for t in later) == sorted(
        f"contribution-{c.contribution_id}-1" for c in plan.contributions
    )
    assert await stack.published("DEADLETTER") == []
    for timer in later:
        await stack.fire_timer(timer)
    await debits_out(stack, plan.cycle_id, 2)
