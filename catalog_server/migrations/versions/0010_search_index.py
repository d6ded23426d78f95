"""the relevance-ranked search index (SQLite FTS5, PostgreSQL tsvector + pg_trgm)

Revision ID: 0010
Revises: 0011
"""

from alembic import op

from catalog_server.search import index_for

revision = "0010"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    conn = op.get_bind()
    index = index_for(conn.dialect.name)
    index.create(conn)
    # Templates indexed before this revision are searchable at once (their chart keywords
    # weigh as much as the rest of their search text until their next sync writes them).
    index.fill(conn)


def downgrade():
    conn = op.get_bind()
    index_for(conn.dialect.name).drop(conn)
