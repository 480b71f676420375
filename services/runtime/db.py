"""The service's database: an async engine and one transaction per unit of work."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg.types.array import ListBinaryDumper
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class Database:
    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int | None = None) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size if max_overflow is None else max_overflow,
            pool_pre_ping=True,
        )
        event.listen(self.engine.sync_engine, "connect", _send_lists_in_binary)
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


def libpq_url(sqlalchemy_url: str) -> str:
    """The same database as a plain libpq URL (for psycopg connections outside SQLAlchemy)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def describe_database(sqlalchemy_url: str) -> str:
    """host:port/name of a database URL, without credentials, for log lines and errors."""
    url = make_url(sqlalchemy_url)
    host = url.host or str(url.query.get("host", "local socket"))
    port = f":{url.port}" if url.port else ""
    return f"{host}{port}/{url.database}"
