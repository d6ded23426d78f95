"""The database schema's revision, as Alembic records it."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from catalog_server.db import MIGRATIONS_DIR, db


def head_revision() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class SchemaNotCurrent(Exception):
    """The database schema is not at the newest revision; the message says what to run."""


def check_current_schema() -> None:
    """Raise SchemaNotCurrent, telling the user what to run, unless the schema is current."""
    current, head = current_revision(), head_revision()
    if current != head:
        state = "empty" if current is None else f"at {current}, not {head}"
        raise SchemaNotCurrent(
            f"the database schema is {state}: run `catalog-server db upgrade` first"
        )
