"""Deliveries run concurrently (a slow endpoint delays no one) and survive a crash mid-attempt."""

import time
from datetime import timedelta
from pathlib import Path

from tests.integration.stripe_sim.becs_fixtures import unique_email
from tests.integration.stripe_sim.stripe_sim_harness import start_simulator, start_webhook_receiver


def test_a_slow_endpoint_does_not_hold_up_deliveries_to_others() -> None:
    sim = start_simulator()
    slow, fast = start_webhook_receiver(), start_webhook_receiver()
    slow.answer_after_seconds = 3.0
    try:
        client = sim.client()
        for receiver in (slow, fast):
            client.v1.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["customer.created"]})
        started = time.monotonic()

        client.v1.customers.create({"email": unique_email()})  # the background loop delivers it
        fast.wait_for(lambda got: len(got) == 1, timeout=2.0)

        assert time.monotonic() - started < 2.0
        assert slow.requests_seen == 1
        assert slow.received == []
    finally:
        sim.stop()
        slow.close()
        fast.close()


def test_an_attempt_cut_short_by_a_crash_is_made_again_after_the_restart(tmp_path: Path) -> None:
    receiver = start_webhook_receiver()
    receiver.answer_after_seconds = 2.0
    first = start_simulator(data_dir=tmp_path, webhook_timeout_seconds=1.0)
    try:
        client = first.client()
        client.v1.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["customer.created"]})
        client.v1.customers.create({"email": unique_email()})
        deadline = time.monotonic() + 2
        while receiver.requests_seen == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert receiver.requests_seen == 1
        moment = first.clock.now()
    finally:
        first.stop()  # while the attempt is still waiting for its answer
    receiver.answer_after_seconds = 0.0

    second = start_simulator(data_dir=tmp_path, webhook_timeout_seconds=1.0, start=moment)
    try:
        assert second.deliveries() == []
        second.advance(timedelta(seconds=10))

        assert [(a["attempt"], a["status"]) for a in second.deliveries()] == [(1, 200)]
        assert receiver.requests_seen == 2
    finally:
        second.stop()
        receiver.close()
