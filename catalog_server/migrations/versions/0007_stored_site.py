"""The web site stored with the index: pages, home page cards, and what each part was built
from; templates remember the catalog generation that last wrote them

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("templates") as batch_op:
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "site_pages",
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("part", sa.String(length=20), nullable=False),
        sa.Column("catalog", sa.String(length=100), nullable=True),
        sa.Column("template", sa.String(length=255), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_site_pages")),
    )
    op.create_index(
        "ix_site_pages_catalog_template", "site_pages", ["catalog", "template"], unique=False
    )
    op.create_table(
        "site_cards",
        sa.Column("catalog", sa.String(length=100), nullable=False),
        sa.Column("template", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("listing", sa.JSON(), nullable=True),
        sa.Column("signed", sa.Text(), nullable=False, server_default="[]"),
        sa.PrimaryKeyConstraint("catalog", "template", name=op.f("pk_site_cards")),
    )
    op.create_table(
        "site_parts",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("source_generation", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_site_parts")),
    )


def downgrade():
    op.drop_table("site_parts")
    op.drop_table("site_cards")
    op.drop_index("ix_site_pages_catalog_template", table_name="site_pages")
    op.drop_table("site_pages")
    with op.batch_alter_table("templates") as batch_op:
        batch_op.drop_column("generation")
