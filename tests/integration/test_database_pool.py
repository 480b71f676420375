"""The runtime's connection pool: a connection Postgres closed while it sat idle is replaced before use."""

import pytest
from sqlalchemy import text

from services.runtime import db
from services.runtime.db import Database

pytestmark = pytest.mark.integration


async def test_an_idle_pooled_connection_postgres_closed_is_replaced_before_a_transaction_sees_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    database = Database(database_url, pool_size=1, max_overflow=0)
    admin = Database(database_url, pool_size=1, max_overflow=0)
    try:
        async with database.transaction() as session:
            first = await session.scalar(text("SELECT pg_backend_pid()"))
        async with admin.transaction() as session:
            # A restarted server or an idle timeout, as the pooled connection sees it.
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        async with database.transaction() as session:
            second = await session.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        await database.dispose()
        await admin.dispose()
