"""PostgreSQL: the templates' columns a search's list reads, in an index of their own (an
index-only join of the matches to their templates)

Revision ID: 0013
Revises: 0012
"""

from alembic import op

from catalog_server.search import LIST_INDEX, LIST_INDEX_DDL

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LIST_INDEX_DDL)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {LIST_INDEX}")
