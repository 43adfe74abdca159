"""The towns an account works for: a town office (镇办网格办, a new role) sees its towns' grids,
and an inspector's towns let the office keep them off their own town's roads.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "account_town",
        sa.Column("account_id", sa.Integer, sa.ForeignKey("user_account.id"), primary_key=True),
        sa.Column("town", sa.String(128), primary_key=True),
    )


def downgrade():
    op.drop_table("account_town")
