"""SQLite's search index keeps the name keys of the exact and prefix tiers in a plain table
beside FTS5 (a match no longer reads its template's README to rank it)

Revision ID: 0012
Revises: 0010
"""

from alembic import op
from sqlalchemy import inspect

from catalog_server.search import index_for

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

_OLD_LAYOUT = (
    "CREATE VIRTUAL TABLE {table} USING fts5(name, keywords, description, readme, "
    "name_key UNINDEXED, slug_key UNINDEXED, "
    "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4')"
)


def _sqlite_with_keys() -> tuple[bool, bool]:
    """(the database is SQLite, its search index has the keys table)"""
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return False, False  # PostgreSQL's index keeps its keys in small rows already
    return True, "template_search_keys" in inspect(conn).get_table_names()


def upgrade():
    sqlite, has_keys = _sqlite_with_keys()
    if not sqlite or has_keys:  # made in this layout by revision 0010 itself
        return
    # Rows copied as they are: the index the last syncs wrote, not one rebuilt from the
    # templates (which would weigh chart keywords as the rest of the search text).
    op.execute("DROP TRIGGER IF EXISTS template_search_delete")
    op.execute("ALTER TABLE template_search RENAME TO template_search_old")
    index_for("sqlite").create(op.get_bind())
    op.execute(
        "INSERT INTO template_search (rowid, name, keywords, description, readme) "
        "SELECT rowid, name, keywords, description, readme FROM template_search_old"
    )
    op.execute(
        "INSERT INTO template_search_keys (template_id, name_key, slug_key) "
        "SELECT rowid, name_key, slug_key FROM template_search_old"
    )
    op.execute("DROP TABLE template_search_old")


def downgrade():
    sqlite, has_keys = _sqlite_with_keys()
    if not sqlite or not has_keys:
        return
    op.execute(_OLD_LAYOUT.format(table="template_search_old"))
    op.execute(
        "INSERT INTO template_search_old "
        "(rowid, name, keywords, description, readme, name_key, slug_key) "
        "SELECT s.rowid, s.name, s.keywords, s.description, s.readme, k.name_key, k.slug_key "
        "FROM template_search s JOIN template_search_keys k ON k.template_id = s.rowid"
    )
    index_for("sqlite").drop(op.get_bind())
    op.execute("ALTER TABLE template_search_old RENAME TO template_search")
    op.execute(
        "CREATE TRIGGER template_search_delete AFTER DELETE ON templates BEGIN "
        "DELETE FROM template_search WHERE rowid = old.id; END"
    )
