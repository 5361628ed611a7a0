"""Schema migrations with Alembic, run from code (``chronodelta db upgrade``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from ._engine import is_postgresql

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: every process that imports storage (the sync,
# each of the crash tests' many short-lived processes) would otherwise pay ~0.3 s.
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any fixed 64-bit number: the PostgreSQL advisory lock that keeps two processes
# (say, several `serve` workers started at once) from migrating at the same time.
_MIGRATION_LOCK_KEY = 0x63_68_72_6F_6E_6F


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (idempotent)."""
    from alembic import command

    config = alembic_config()
    with engine.connect() as connection:
        if is_postgresql(engine):
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({_MIGRATION_LOCK_KEY})")
            connection.commit()
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
        finally:
            if is_postgresql(engine):
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK_KEY})")
                connection.commit()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
