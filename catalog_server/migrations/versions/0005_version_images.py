"""container images per Helm chart version

Revision ID: 0005
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("template_versions") as batch_op:
        batch_op.add_column(sa.Column("images", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("template_versions") as batch_op:
        batch_op.drop_column("images")
