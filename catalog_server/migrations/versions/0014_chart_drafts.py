"""chart drafts: a catalog's next index.yaml and archives, published ahead of its sync

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "chart_drafts",
        sa.Column("catalog_id", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("index", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_id"],
            ["catalogs.id"],
            name=op.f("fk_chart_drafts_catalog_id_catalogs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("catalog_id", name=op.f("pk_chart_drafts")),
    )
    op.create_table(
        "chart_draft_archives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("catalog_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["catalog_id"],
            ["chart_drafts.catalog_id"],
            name=op.f("fk_chart_draft_archives_catalog_id_chart_drafts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["template_versions.id"],
            name=op.f("fk_chart_draft_archives_version_id_template_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chart_draft_archives")),
        sa.UniqueConstraint(
            "catalog_id", "filename", name=op.f("uq_chart_draft_archives_catalog_id")
        ),
    )


def downgrade():
    op.drop_table("chart_draft_archives")
    op.drop_table("chart_drafts")
