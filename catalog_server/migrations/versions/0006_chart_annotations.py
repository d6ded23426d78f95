"""Rancher 2 and Artifact Hub chart metadata: hidden templates, card flags, version ranges,
and the catalog's artifacthub-repo.yml

Revision ID: 0006
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("templates") as batch_op:
        batch_op.add_column(
            sa.Column("hidden", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("flags", sa.JSON(), nullable=True))
    with op.batch_alter_table("template_versions") as batch_op:
        batch_op.add_column(sa.Column("kube_version", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("chart_kube_version", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("rancher_version", sa.String(length=500), nullable=True))
    with op.batch_alter_table("catalogs") as batch_op:
        batch_op.add_column(sa.Column("artifacthub_repo", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("catalogs") as batch_op:
        batch_op.drop_column("artifacthub_repo")
    with op.batch_alter_table("template_versions") as batch_op:
        batch_op.drop_column("rancher_version")
        batch_op.drop_column("chart_kube_version")
        batch_op.drop_column("kube_version")
    with op.batch_alter_table("templates") as batch_op:
        batch_op.drop_column("flags")
        batch_op.drop_column("hidden")
