"""Each service as a real process: starts, migrates its own database, reports ready, stops cleanly."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import nats
import pytest

from rosca.stack.ports import free_port
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from tests.infrastructure import NatsServer, fresh_database
from tests.integration.helpers import wait_for_readiness

pytestmark = pytest.mark.integration

SERVICES = ("onboarding", "collections", "payouts", "webhooks", "scheduler")


@contextmanager
def service_process(
    name: str, *, database_url: str, nats_url: str, namespace: str, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    prefix = f"ROSCA_{name.upper()}_"
    environment = {
        **os.environ,
        f"{prefix}DATABASE_URL": database_url,
        f"{prefix}NATS_URL": nats_url,
        f"{prefix}NAMESPACE": namespace,
        f"{prefix}CLOCK": "simulated",
        f"{prefix}HTTP_PORT": str(port),
        # Onboarding, collections and payouts need a Stripe key; starting up never calls Stripe.
        **(
            {f"{prefix}STRIPE_API_KEY": "sk_test_never_called"}
            if name in ("onboarding", "collections", "payouts")
            else {}
        ),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"], env=environment, stdout=output, stderr=output
        )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def provision(nats_url: str, namespace: str) -> None:
    async def provision_all() -> None:
        client = await nats.connect(nats_url)
        await provision_streams(client.jetstream(), Namespace(namespace), StreamSettings())
        await client.close()

    asyncio.run(provision_all())


def first_answer(url: str, timeout: float = 30.0) -> httpx.Response:
    """The first HTTP answer of a starting process, whatever its status."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


# Readiness says "none" (not a failure, and not "ok") of consumers a service does not have.
SERVICES_WITH_CONSUMERS = {"onboarding", "collections", "payouts", "scheduler"}


def test_every_service_starts_migrates_its_own_database_and_reports_ready(
    nats_server: NatsServer, postgres_admin_url: str, namespace: str, tmp_path: Path
) -> None:
    provision(nats_server.url, namespace)
    with ExitStack() as stack:
        running = {}
        for name in SERVICES:
            database_url = stack.enter_context(fresh_database(postgres_admin_url))
            running[name] = stack.enter_context(
                service_process(
                    name,
                    database_url=database_url,
                    nats_url=nats_server.url,
                    namespace=namespace,
                    log=tmp_path / f"{name}.log",
                )
            )
        for name, (process, base_url) in running.items():
            ready = wait_for_readiness(base_url).json()
            assert ready["service"] == name
            consumes = name in SERVICES_WITH_CONSUMERS
            assert ready["checks"] == {**ready["checks"], "consumers": "ok" if consumes else "none"}
            assert set(ready["checks"].values()) <= {"ok", "none"}
            assert httpx.get(f"{base_url}/{name}/readyz").status_code == 200
            assert httpx.get(f"{base_url}/{name}/openapi.json").json()["info"]["title"] == f"rosca {name}"
            assert "rosca_outbox_published_total" in httpx.get(f"{base_url}/{name}/metrics").text
            process.send_signal(signal.SIGTERM)
            # uvicorn shuts down gracefully, then re-raises the signal for its parent to see.
            assert process.wait(15) in (0, -signal.SIGTERM)
            log_lines = (tmp_path / f"{name}.log").read_text().splitlines()
            assert any("Application shutdown complete" in line for line in log_lines)
            assert any('"Running upgrade  -> 0001' in line for line in log_lines), f"{name} did not migrate"
            assert not any(line.startswith("Traceback") for line in log_lines)


def test_readiness_names_nats_when_it_is_unreachable_and_recovers_when_it_comes(
    database_url: str, namespace: str, tmp_path: Path
) -> None:
    late_nats = NatsServer(tmp_path / "nats")
    log = tmp_path / "collections.log"
    with service_process(
        "collections", database_url=database_url, nats_url=late_nats.url, namespace=namespace, log=log
    ) as (_process, base_url):
        first_answer(f"{base_url}/healthz")
        time.sleep(2)  # long enough for a first connection attempt and its retries to fail
        answer = httpx.get(f"{base_url}/readyz", timeout=5)
        assert answer.status_code == 503
        assert answer.json()["checks"]["nats"] == "not connected"
        assert answer.json()["checks"]["database"] == "ok"
        late_nats.start()
        try:
            import asyncio

            import nats

            async def provision() -> None:
                client = await nats.connect(late_nats.url)
                await provision_streams(client.jetstream(), Namespace(namespace), StreamSettings())
                await client.close()

            asyncio.run(provision())
            wait_for_readiness(base_url)
        finally:
            late_nats.stop()
    text = log.read_text()
    assert f"NATS {late_nats.url} unavailable:" in text
    assert "Traceback" not in text


def test_readiness_names_the_database_when_it_is_unreachable(
    nats_server: NatsServer, namespace: str, tmp_path: Path
) -> None:
    nowhere = f"postgresql+psycopg://rosca@127.0.0.1:{free_port()}/rosca_collections"
    log = tmp_path / "collections.log"
    with service_process(
        "collections", database_url=nowhere, nats_url=nats_server.url, namespace=namespace, log=log
    ) as (_process, base_url):
        first_answer(f"{base_url}/healthz")
        time.sleep(2)  # long enough for a first connection attempt to fail
        answer = httpx.get(f"{base_url}/collections/readyz", timeout=5)
    assert answer.status_code == 503
    assert answer.json()["checks"]["database"].startswith("unreachable: OperationalError")
    assert "database 127.0.0.1:" in log.read_text()
    assert "Traceback" not in log.read_text()
