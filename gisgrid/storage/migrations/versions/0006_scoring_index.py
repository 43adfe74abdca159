"""A covering index for scoring: a city's month is read from the index alone.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = ["month", "road_id", "deleted_at", "rule", "count", "area_m2", "deadline", "observed_at"]


def upgrade():
    # (month, road_id) leads, so it also serves every query the old index did
    op.create_index("ix_finding_scoring", "finding", COLUMNS)
    op.drop_index("ix_finding_month_road", table_name="finding")


def downgrade():
    op.create_index("ix_finding_month_road", "finding", ["month", "road_id"])
    op.drop_index("ix_finding_scoring", table_name="finding")
