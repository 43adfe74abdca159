"""The office's month: the audit log records every change the office makes (accounts have no
month, so its month may be empty, and `subject` names what was changed: an account, a road),
a month's inspection window can close (no new findings after a date), and a district's own
rulebooks uploaded by the office are kept in the database.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("month", existing_type=sa.String(7), nullable=True)
        batch.add_column(sa.Column("subject", sa.String(100), nullable=True))
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    with op.batch_alter_table("month_state") as batch:
        batch.add_column(sa.Column("closes_on", sa.Date, nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(100), nullable=True))
    op.create_table(
        "rulebook_file",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("effective_from", sa.String(7), nullable=False, unique=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("rulebook_file")
    with op.batch_alter_table("month_state") as batch:
        batch.drop_column("closed_by")
        batch.drop_column("closes_on")
    op.drop_index("ix_audit_log_actor", "audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("subject")
        batch.alter_column("month", existing_type=sa.String(7), nullable=False)
