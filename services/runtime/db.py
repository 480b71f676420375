"""The service's database: an async engine and one transaction per unit of work."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg.types.array import ListBinaryDumper
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

PING_AFTER_IDLE_SECONDS = 5.0
_IDLE_SINCE = "rosca_idle_since"


class Database:
    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int | None = None) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size if max_overflow is None else max_overflow
        )
        event.listen(self.engine.sync_engine, "connect", _send_lists_in_binary)
        _ping_after_idle(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Everything done with the session commits together, or not at all."""
        async with self._sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _send_lists_in_binary(dbapi_connection: Any, _record: object) -> None:
    # psycopg sends a list parameter (the arrays of batch statements) as text by default, escaping
    # every element with a regular expression: for a batch of 2 KB event bodies that was a tenth of
    # the webhook gateway's CPU. Registered last, the binary dumper is what psycopg picks.
    dbapi_connection.driver_connection.adapters.register_dumper(list, ListBinaryDumper)


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Check a connection before use if it sat in the pool long enough for Postgres to have closed
    it (a restart, an idle timeout); a dead one is replaced before the caller sees it. Not one used
    a moment ago: SQLAlchemy's ``pool_pre_ping`` checks every checkout, a round trip that was a fifth
    of a small transaction's CPU on a busy consumer."""
    dialect = engine.dialect

    def note_idle(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: object) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(f"a pooled connection no longer answers: {error!r}") from error

    event.listen(engine.sync_engine, "checkin", note_idle)
    event.listen(engine.sync_engine, "checkout", ping_if_idle)


def libpq_url(sqlalchemy_url: str) -> str:
    """The same database as a plain libpq URL (for psycopg connections outside SQLAlchemy)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def describe_database(sqlalchemy_url: str) -> str:
    """host:port/name of a database URL, without credentials, for log lines and errors."""
    url = make_url(sqlalchemy_url)
    host = url.host or str(url.query.get("host", "local socket"))
    port = f":{url.port}" if url.port else ""
    return f"{host}{port}/{url.database}"
