"""chart archive sizes (OCI layers), signing keys and provenance files

Revision ID: 0009
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("template_versions") as batch_op:
        batch_op.add_column(sa.Column("chart_size", sa.Integer(), nullable=True))
    with op.batch_alter_table("catalogs") as batch_op:
        batch_op.add_column(sa.Column("signing_key", sa.String(length=64), nullable=True))
    op.create_table(
        "signing_keys",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "chart_provenance",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("provenance", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", "fingerprint", name=op.f("pk_chart_provenance")),
    )


def downgrade():
    op.drop_table("chart_provenance")
    op.drop_table("signing_keys")
    with op.batch_alter_table("catalogs") as batch_op:
        batch_op.drop_column("signing_key")
    with op.batch_alter_table("template_versions") as batch_op:
        batch_op.drop_column("chart_size")
