"""Payouts as its own OS process, killed with SIGKILL while it makes a large cycle's transfers, then
started again on the same database and namespace: one transfer per charge, none missing, none doubled,
and one cycle_paid."""

import asyncio
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path

import nats
import pytest

from contracts import subjects
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from tests.infrastructure import NatsServer, fresh_database
from tests.integration.collections.support import eventually
from tests.integration.helpers import service_process
from tests.integration.payouts.support import PayoutsWiring, pay_cycle, recipient_account
from tests.integration.stripe_sim.stripe_sim_harness import API_KEY, RunningSimulator

pytestmark = pytest.mark.integration

CHARGES = 40
ACK_WAIT_SECONDS = 3


@asynccontextmanager
async def wiring(
    sim: RunningSimulator, nats_url: str, postgres_admin_url: str
) -> AsyncIterator[PayoutsWiring]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await provision_streams(js, Namespace(namespace), StreamSettings())
    with fresh_database(postgres_admin_url) as database_url:
        database = Database(database_url)
        yield PayoutsWiring(sim, js, namespace, database)
        await database.dispose()
    await client.close()


def payouts_process(
    wired: PayoutsWiring, nats_url: str, log: Path
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    settings = {
        "DATABASE_URL": wired.database.url,
        "NATS_URL": nats_url,
        "NAMESPACE": wired.namespace,
        "STRIPE_API_KEY": API_KEY,
        "STRIPE_API_BASE_URL": wired.sim.base_url,
        # Stripe's test-mode budget: the cycle's transfers take over a second, time to land the kill.
        "STRIPE_REQUESTS_PER_SECOND": "25",
        "CONSUMER_ACK_WAIT_SECONDS": str(ACK_WAIT_SECONDS),
        "CONSUMER_BACKOFF_SECONDS": "[0.2]",
    }
    return service_process("payouts", settings, log)


async def test_payouts_killed_while_making_a_cycles_transfers_makes_each_once_after_restart(
    sim: RunningSimulator, nats_server: NatsServer, postgres_admin_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "payouts.log"
    async with wiring(sim, nats_server.url, postgres_admin_url) as wired:
        command = pay_cycle(sim, recipient_account(sim), CHARGES)

        with payouts_process(wired, nats_server.url, log) as first:
            await wired.publish(subjects.PAYOUTS_PAY_CYCLE, command)
            async with asyncio.timeout(60):
                while len(wired.transfers_at_stripe(command.cycle_id)) < CHARGES // 4:
                    await asyncio.sleep(0.005)
            first.send_signal(signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL
        await asyncio.sleep(0.5)  # a request that reached the simulator before the kill may still run
        made_before_restart = len(wired.transfers_at_stripe(command.cycle_id))
        assert 0 < made_before_restart < CHARGES, f"the kill landed after {made_before_restart} transfers"
        assert await wired.status(command.cycle_id) == "transferring"

        with payouts_process(wired, nats_server.url, log):

            async def paid() -> bool:
                return await wired.status(command.cycle_id) == "paid"

            await eventually(paid, "the payout is paid after the restart", 90)
            await eventually(wired.outbox_empty, "every fact published")

        transfers = wired.transfers_at_stripe(command.cycle_id)
        per_charge = Counter(t["source_transaction"] for t in transfers)
        assert [charge for charge, count in per_charge.items() if count != 1] == []
        assert set(per_charge) == {c.charge_id for c in command.charges}
        rows = await wired.transfer_rows(command.cycle_id)
        assert {row["transfer_id"] for row in rows} == {t["id"] for t in transfers}
        (paid_fact,) = await wired.facts(subjects.PAYOUTS_CYCLE_PAID, command.cycle_id)
        assert len(paid_fact["transfers"]) == CHARGES
        assert await wired.published("DEADLETTER") == []
    assert "Traceback" not in log.read_text()
