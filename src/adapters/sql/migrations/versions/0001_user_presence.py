"""user_presence: one row per user, read by the chat backend (the README documents it).

Gateways from before migrations created this same table at start; on such a database the
table is adopted as it is, so upgrading it loses nothing.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("user_presence"):
        return
    op.create_table(
        "user_presence",
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("chosen_status", sa.String(64), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("user_presence")
