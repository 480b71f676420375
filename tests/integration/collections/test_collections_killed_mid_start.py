"""Collections as its own OS process, killed with SIGKILL while it creates a large cycle's debits,
then started again on the same database and namespace: every member is debited exactly once."""

import asyncio
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path
from uuid import UUID

import nats
import pytest

from contracts import subjects
from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.rotation import plan_rotation
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from tests.infrastructure import NatsServer, fresh_database
from tests.integration.collections.support import Wiring, eventually, group_activated, member_with_mandate
from tests.integration.helpers import service_process
from tests.integration.stripe_sim.stripe_sim_harness import API_KEY, RunningSimulator

pytestmark = pytest.mark.integration

MEMBERS = 40
# A message in flight when the process dies comes back after this long, not the default 30 s.
ACK_WAIT_SECONDS = 3


@asynccontextmanager
async def wiring(sim: RunningSimulator, nats_url: str, postgres_admin_url: str) -> AsyncIterator[Wiring]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await provision_streams(js, Namespace(namespace), StreamSettings())
    with fresh_database(postgres_admin_url) as database_url:
        database = Database(database_url)
        yield Wiring(sim, js, namespace, database)
        await database.dispose()
    await client.close()


def collections_process(
    wired: Wiring, database_url: str, nats_url: str, log: Path
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """``python -m services.collections`` configured from its environment, ready to consume."""
    settings = {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "NAMESPACE": wired.namespace,
        "STRIPE_API_KEY": API_KEY,
        "STRIPE_API_BASE_URL": wired.sim.base_url,
        # Stripe's test-mode budget: enough for every debit, and the debits still take a while.
        "STRIPE_REQUESTS_PER_SECOND": "25",
        "CONSUMER_ACK_WAIT_SECONDS": str(ACK_WAIT_SECONDS),
        "CONSUMER_BACKOFF_SECONDS": "[0.2]",
    }
    return service_process("collections", settings, log)


async def test_collections_killed_while_starting_a_cycle_debits_every_member_once_after_restart(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "collections.log"
    async with wiring(sim, nats_server.url, postgres_admin_url) as wired:
        members = [member_with_mandate(sim, position) for position in range(1, MEMBERS + 1)]
        activation = group_activated(members)
        plan = plan_rotation(activation, BecsBusinessCalendar())[0]
        database_url = wired.database.url

        with collections_process(wired, database_url, nats_server.url, log) as first:
            await wired.publish(subjects.ONBOARDING_GROUP_ACTIVATED, activation)
            await eventually(lambda: _counted(wired, MEMBERS), "every cycle's start is scheduled", timeout=30)
            (timer,) = [
                t
                for t in await wired.timers(subjects.COLLECTIONS_START_CYCLE)
                if t["payload"]["cycle_id"] == str(plan.cycle_id)
            ]
            await wired.fire_timer(timer)
            await _until_some_debits(wired, plan.cycle_id)
            first.send_signal(signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL
        # A request that reached the simulator before the kill may still be running there.
        await asyncio.sleep(0.5)
        made_before_restart = len(wired.intents_held_by_simulator(plan.cycle_id))
        assert 0 < made_before_restart < MEMBERS, f"the kill landed after {made_before_restart} debits"

        with collections_process(wired, database_url, nats_server.url, log):

            async def every_debit_processing() -> bool:
                rows = await wired.contributions_of(plan.cycle_id)
                return len(rows) == MEMBERS and all(row["status"] == "processing" for row in rows)

            await eventually(every_debit_processing, "every debit is processing after the restart", 90)

        intents = wired.intents_held_by_simulator(plan.cycle_id)
        per_attempt = Counter(
            (pi["metadata"]["contribution_id"], pi["metadata"]["attempt"]) for pi in intents
        )
        assert [key for key, count in per_attempt.items() if count != 1] == []
        assert len(intents) == MEMBERS
        assert {contribution for contribution, _ in per_attempt} == {
            str(c.contribution_id) for c in plan.contributions
        }
        rows = await wired.contributions_of(plan.cycle_id)
        assert {row["payment_intent_id"] for row in rows} == {pi["id"] for pi in intents}
        assert await wired.published("DEADLETTER") == []
    assert "Traceback" not in log.read_text()


async def _counted(wired: Wiring, expected: int) -> bool:
    return len(await wired.timers(subjects.COLLECTIONS_START_CYCLE)) == expected


async def _until_some_debits(wired: Wiring, cycle_id: UUID) -> None:
    """Returns as soon as the simulator holds a quarter of the cycle's PaymentIntents."""
    async with asyncio.timeout(60):
        while len(wired.intents_held_by_simulator(cycle_id)) < MEMBERS // 4:
            await asyncio.sleep(0.005)
