"""Collections and payouts together on one namespace: a group's first cycle debited by collections,
funded by Stripe's reports, paid by payouts to the recipient's real Express account (one transfer
per charge, the contribution less the platform's fee), and completed by collections on cycle_paid."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import nats
import pytest

from contracts import subjects
from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.ledger import AccountKind, balance_of_kind, cycle_books_problems
from services.collections.domain.rotation import plan_rotation
from services.collections.main import create_app as create_collections_app
from services.collections.store.ledger import transactions_of_cycle
from services.payouts.main import create_app as create_payouts_app
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from tests.infrastructure import NatsServer, fresh_database
from tests.integration.collections.support import (
    Wiring,
    collections_settings,
    eventually,
    group_activated,
    member_with_mandate,
)
from tests.integration.onboarding.support import serving
from tests.integration.payouts.support import PayoutsWiring, payouts_settings, recipient_account
from tests.integration.stripe_sim.stripe_sim_harness import RunningSimulator

pytestmark = pytest.mark.integration

AMOUNT = 5_000
FEE = 50  # the group's 100 bps of each debit


@asynccontextmanager
async def both_services(
    sim: RunningSimulator, nats_url: str, postgres_admin_url: str
) -> AsyncIterator[tuple[Wiring, PayoutsWiring]]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await provision_streams(js, Namespace(namespace), StreamSettings())
    with (
        fresh_database(postgres_admin_url) as collections_url,
        fresh_database(postgres_admin_url) as payouts_url,
    ):
        c_settings = collections_settings(collections_url, nats_url, namespace, sim)
        p_settings = payouts_settings(payouts_url, nats_url, namespace, sim)
        c_database, p_database = Database(collections_url), Database(payouts_url)
        with (
            serving(create_collections_app(c_settings), c_settings.http_port),
            serving(create_payouts_app(p_settings), p_settings.http_port) as payouts,
        ):
            yield (
                Wiring(sim, js, namespace, c_database),
                PayoutsWiring(sim, js, namespace, p_database, base_url=payouts.base_url),
            )
        await c_database.dispose()
        await p_database.dispose()
    await client.close()


async def test_a_cycle_collected_by_collections_is_paid_by_payouts_and_completed(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str
) -> None:
    async with both_services(sim, nats_server.url, postgres_admin_url) as (collections, payouts):
        account = recipient_account(sim)
        members = [member_with_mandate(sim, p) for p in (1, 2, 3)]
        members[0] = members[0].model_copy(update={"connected_account_id": account})
        activation = group_activated(members, amount=AMOUNT)
        plan = plan_rotation(activation, BecsBusinessCalendar())[0]
        await collections.publish(subjects.ONBOARDING_GROUP_ACTIVATED, activation)

        async def start_scheduled() -> bool:
            return any(
                t["payload"]["cycle_id"] == str(plan.cycle_id)
                for t in await collections.timers(subjects.COLLECTIONS_START_CYCLE)
            )

        await eventually(start_scheduled, "the first cycle's start is scheduled")
        (timer,) = [
            t
            for t in await collections.timers(subjects.COLLECTIONS_START_CYCLE)
            if t["payload"]["cycle_id"] == str(plan.cycle_id)
        ]
        await collections.fire_timer(timer)

        async def debits_processing() -> bool:
            rows = await collections.contributions_of(plan.cycle_id)
            return len(rows) == 3 and all(row["status"] == "processing" for row in rows)

        await eventually(debits_processing, "every member is debited")
        sim.advance(timedelta(seconds=3))
        intents = {pi["id"] for pi in collections.payment_intents_of_cycle(plan.cycle_id)}
        await collections.deliver_stripe_events("payment_intent.succeeded", intents)

        async def completed() -> bool:
            return await collections.cycle_status(plan.cycle_id) == "completed"

        await eventually(completed, "collections completes the cycle once payouts paid it", timeout=30)

        transfers = payouts.transfers_at_stripe(plan.cycle_id)
        charges = {pi["latest_charge"] for pi in collections.payment_intents_of_cycle(plan.cycle_id)}
        assert {t["source_transaction"] for t in transfers} == charges
        assert [(t["destination"], t["amount"]) for t in transfers] == [(account, AMOUNT - FEE)] * 3
        async with collections.database.transaction() as session:
            books = await transactions_of_cycle(session, plan.cycle_id)
        assert cycle_books_problems(books, str(plan.cycle_id), "completed") == []
        assert balance_of_kind(books, AccountKind.TRANSFERS) == sum(t["amount"] for t in transfers)
        seen = await payouts.api("GET", f"/groups/{plan.group_id}/payouts", member=members[1].member_id)
        assert [(p["status"], p["recipient_member_id"]) for p in seen["payouts"]] == [
            ("paid", members[0].member_id)
        ]
        pots = await payouts.api("GET", "/members/me/pots", member=members[1].member_id)
        assert [u["cycle_number"] for u in pots["upcoming"]] == [2]
