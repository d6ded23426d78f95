"""pull-request previews

Revision ID: 0011
Revises: 0008

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("catalogs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("preview_forks", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "previews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base_id", sa.Integer(), nullable=False),
        sa.Column("catalog_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.Column("pull_request", sa.Integer(), nullable=True),
        sa.Column("head_sha", sa.String(length=64), nullable=True),
        sa.Column("fork", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["base_id"],
            ["catalogs.id"],
            name=op.f("fk_previews_base_id_catalogs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["catalog_id"],
            ["catalogs.id"],
            name=op.f("fk_previews_catalog_id_catalogs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_previews")),
        sa.UniqueConstraint("base_id", "name", name=op.f("uq_previews_base_id")),
        sa.UniqueConstraint("catalog_id", name=op.f("uq_previews_catalog_id")),
    )
    with op.batch_alter_table("previews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_previews_expires_at"), ["expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("previews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_previews_expires_at"))
    op.drop_table("previews")
    with op.batch_alter_table("catalogs", schema=None) as batch_op:
        batch_op.drop_column("preview_forks")
