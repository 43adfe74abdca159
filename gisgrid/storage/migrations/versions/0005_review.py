"""Publishing: month states (draft / published, with the frozen scores) and the audit log.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "month_state",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("draw_id", sa.Integer, sa.ForeignKey("sample_draw.id")),
        sa.Column("published_at", sa.DateTime),
        sa.Column("published_by", sa.String(100)),
        sa.Column("scores", sa.Text),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("month", sa.String(7), nullable=False, index=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
    )


def downgrade():
    op.drop_table("audit_log")
    op.drop_table("month_state")
