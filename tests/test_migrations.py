"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from catalog_server.db import db
from catalog_server.schema import current_revision, head_revision
from catalog_server.search import include_in_schema


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        # The search index is made per engine by raw DDL (an FTS5 table, or a tsvector
        # table), as the migration environment also says; tests/test_search.py checks it.
        context = MigrationContext.configure(conn, opts={"include_name": include_in_schema})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_migrations_go_down_and_up_again(app):
    with app.app_context():
        assert current_revision() == head_revision()
        downgrade(revision="base")
        assert current_revision() is None
        upgrade()
        assert current_revision() == head_revision()
