"""State survives a restart of the simulator, including debits still waiting to settle."""

from datetime import timedelta
from pathlib import Path

from tests.integration.stripe_sim.becs_fixtures import contribution, saved_becs_customer
from tests.integration.stripe_sim.stripe_sim_harness import start_simulator


def test_objects_and_pending_settlements_survive_a_restart(tmp_path: Path) -> None:
    first = start_simulator(data_dir=tmp_path)
    client = first.client()
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method))
    moment = first.clock.now()
    first.stop()

    second = start_simulator(data_dir=tmp_path, start=moment)
    try:
        client = second.client()
        assert client.v1.customers.retrieve(customer.id).email == customer.email
        assert client.v1.payment_intents.retrieve(intent.id).status == "processing"

        second.advance(timedelta(seconds=2))

        assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
        assert client.v1.mandates.retrieve(str(setup.mandate)).status == "active"
    finally:
        second.stop()


def test_idempotency_keys_survive_a_restart(tmp_path: Path) -> None:
    first = start_simulator(data_dir=tmp_path)
    created = first.client().v1.customers.create(
        {"email": "keep@example.com"}, {"idempotency_key": "restart-key"}
    )
    moment = first.clock.now()
    first.stop()

    second = start_simulator(data_dir=tmp_path, start=moment)
    try:
        replayed = second.client().v1.customers.create(
            {"email": "keep@example.com"}, {"idempotency_key": "restart-key"}
        )
        assert replayed.id == created.id
    finally:
        second.stop()
