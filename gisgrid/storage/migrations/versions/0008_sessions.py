"""Sessions kept in the database (so logout, a password change or disabling an account ends
them on every app server) and every login attempt, for the audit and the throttle.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime, nullable=True),
        sa.Column("end_reason", sa.String(16), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(256), nullable=True),
    )
    op.create_index("ix_user_session_account_id", "user_session", ["account_id"])
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("user_account.id"), nullable=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("attempted_at", sa.DateTime, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("user_agent", sa.String(256), nullable=True),
    )
    # the throttle counts recent failures by name and by address
    op.create_index("ix_login_attempt_name", "login_attempt", ["name", "attempted_at"])
    op.create_index("ix_login_attempt_address", "login_attempt", ["address", "attempted_at"])


def downgrade():
    op.drop_table("login_attempt")
    op.drop_table("user_session")
