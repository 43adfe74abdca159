"""The tablet's writes are idempotent by their client-made ids (a replay answers as the first
time and writes nothing again), and a photo can be removed without losing it.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

# timestamptz on PostgreSQL (as 0009 made every instant), a plain DATETIME on SQLite
Instant = sa.DateTime(timezone=True)

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "client_write",
        sa.Column("client_id", sa.String(128), primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("user_account.id")),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", Instant, nullable=False),
    )
    with op.batch_alter_table("photo") as batch:
        batch.add_column(sa.Column("removed_at", Instant))
        batch.add_column(sa.Column("removed_by", sa.String(100)))


def downgrade():
    with op.batch_alter_table("photo") as batch:
        batch.drop_column("removed_by")
        batch.drop_column("removed_at")
    op.drop_table("client_write")
