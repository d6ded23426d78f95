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


def test_migrations_keep_the_index_they_run_over(app, sync, make_catalog_repo):
    """Up and down over a database that holds a catalog: a table rebuilt by a migration
    (SQLite's batch mode) never takes its child rows with it."""
    from catalog_server.models import Template

    repo = make_catalog_repo(fixture="catalogs/community")
    sync(repo.source("lib"))
    with app.app_context():
        before = db.session.query(Template).count()
        assert before > 0
        db.session.remove()  # the count's transaction would hold the tables the steps alter
        downgrade(revision="0008")
        db.session.remove()
        assert db.session.query(Template).count() == before
        upgrade()
        db.session.remove()
        assert current_revision() == head_revision()
        assert db.session.query(Template).count() == before


def test_the_search_index_is_rebuilt_by_the_migrations(app, client, sync, make_catalog_repo):
    """Down to the search index's first layout (which holds every template, its name keys
    with it) and up again: the same answers to the same searches."""
    from sqlalchemy import text

    from catalog_server.models import Template

    repo = make_catalog_repo(fixture="search-catalog")
    sync(repo.source("lib"))

    def found(q: str, step: int) -> list[str]:
        # Each step's own URL: answers kept from an earlier step are not served.
        db.session.remove()
        params = {"q": q, "per_page": 50, "step": step}
        body = client.get("/api/v1/templates", query_string=params).get_json()
        return [t["id"] for t in body["items"]]

    with app.app_context():
        queries = {q: found(q, 0) for q in ("prometheus", "prom", "exporter", "metrics")}
        assert all(queries.values())
        templates = db.session.query(Template).count()
        db.session.remove()
        downgrade(revision="0010")
        with db.engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM template_search")) == templates
            if conn.dialect.name == "sqlite":
                keys = conn.scalars(
                    text(
                        "SELECT name_key FROM template_search "
                        "WHERE template_search MATCH 'prometheus*'"
                    )
                ).all()
                assert "prometheus" in keys
        upgrade()
        assert {q: found(q, 1) for q in queries} == queries


def test_postgresql_has_the_templates_list_index_for_search(app):
    from sqlalchemy import inspect

    from catalog_server.search import LIST_INDEX

    with app.app_context():
        names = {i["name"] for i in inspect(db.engine).get_indexes("templates")}
        assert (LIST_INDEX in names) == (db.engine.dialect.name == "postgresql")
        downgrade(revision="0012")
        names = {i["name"] for i in inspect(db.engine).get_indexes("templates")}
        assert LIST_INDEX not in names
        upgrade()
