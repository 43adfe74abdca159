"""One schema: every time column an instant (`timestamptz` on PostgreSQL), so QGIS and psql show a
finding made at 10:05 Beijing time as 10:05+08, not as a bare 02:05.

SQLite keeps no offsets: its columns stay naive UTC text, read back as aware UTC by
gisgrid.storage.schema.Instant, so a SQLite file needs nothing here.

Revision ID: 0009
Revises: 0007
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Written out, not read from gisgrid.storage.schema: a migration stays what it was when the schema moves on.
TIMES = {
    "grid": ("updated_at", "retired_at"),
    "road": ("updated_at", "retired_at"),
    "sample_draw": ("drawn_at", "superseded_at"),
    "finding": ("observed_at", "created_at", "updated_at", "deleted_at"),
    "user_account": ("created_at",),
    "inspection": ("assigned_at", "submitted_at"),
    "finding_change": ("changed_at",),
    "photo": ("created_at",),
    "boundary_version": ("changed_at",),
    "month_state": ("published_at", "updated_at"),
    "audit_log": ("at",),
    "user_session": ("created_at", "last_seen_at", "ended_at"),
    "login_attempt": ("attempted_at",),
}


def _retype(to: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in TIMES.items():
        # the stored values are UTC: AT TIME ZONE 'UTC' reads them so (and writes them back so on
        # downgrade); one ALTER TABLE per table rewrites a large finding table once, not four times
        op.execute(f"ALTER TABLE {table} " + ", ".join(
            f"ALTER COLUMN {column} TYPE {to} USING {column} AT TIME ZONE 'UTC'" for column in columns))


def upgrade():
    _retype("timestamptz")


def downgrade():
    _retype("timestamp")
