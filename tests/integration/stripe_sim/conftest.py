"""A fresh simulator and a webhook receiver per test; a module that needs other simulator settings
overrides ``sim`` with its own."""

from collections.abc import Iterator

import pytest

from tests.integration.stripe_sim.stripe_sim_harness import (
    RunningSimulator,
    WebhookReceiver,
    start_simulator,
    start_webhook_receiver,
)


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    running = start_simulator()
    yield running
    running.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    running = start_webhook_receiver()
    yield running
    running.close()
