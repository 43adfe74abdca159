"""Grids and roads can be retired (merged into another, or removed by a planner) without
being deleted: past months' samples and findings still refer to them.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("grid", "road"):
        op.add_column(table, sa.Column("retired_at", sa.DateTime, nullable=True))


def downgrade():
    for table in ("grid", "road"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("retired_at")
