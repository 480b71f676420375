"""What every service's ``migrations/env.py`` runs: online migrations on the given connection."""

from collections.abc import Sequence

from alembic import context
from sqlalchemy import MetaData, create_engine


def run_migrations(target_metadata: MetaData | Sequence[MetaData]) -> None:
    if context.is_offline_mode():
        context.configure(
            url=context.config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection, target_metadata)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url)
    try:
        with engine.begin() as own_connection:
            _run_on(own_connection, target_metadata)
    finally:
        engine.dispose()


def _run_on(connection: object, target_metadata: MetaData | Sequence[MetaData]) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)  # type: ignore[arg-type]
    with context.begin_transaction():
        context.run_migrations()
