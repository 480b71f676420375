"""Each service's own schema history (alembic), applied under a lock so replicas can start together."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

# Any constant works as long as every replica of every service agrees on it.
_MIGRATION_LOCK = 0x726F736361  # "rosca"


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(migrations_dir: Path, database_url: str) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config = alembic_config(migrations_dir, database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def head_revision(migrations_dir: Path) -> str | None:
    config = alembic_config(migrations_dir, "postgresql+psycopg://unused/unused")
    return ScriptDirectory.from_config(config).get_current_head()


async def current_revision(connection: AsyncConnection) -> str | None:
    """The applied revision, read directly: cheap enough for every readiness probe."""
    exists = await connection.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not exists:
        return None
    revision: str | None = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    return revision
