"""A partial covering index of the findings with a deadline (rule 5.4's): scoring a month reads
those one by one, and they are a few among a city's million, which the scoring index would
make it walk all of.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

COLUMNS = ["month", "road_id", "deleted_at", "rule", "count", "area_m2", "observed_at", "deadline"]
DATED = sa.text("deadline IS NOT NULL")


def upgrade():
    op.create_index("ix_finding_dated", "finding", COLUMNS, sqlite_where=DATED, postgresql_where=DATED)


def downgrade():
    op.drop_index("ix_finding_dated", table_name="finding")
