"""presence_changes, presence_webhook_cursor, presence_webhook_dead: the embedded
default's change stream and its webhooks' consumer group (docs/server-api.md).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "presence_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "presence_webhook_cursor",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("leader", sa.String(255), nullable=True),
        sa.Column("lead_until", sa.Float, nullable=False),
    )
    op.create_table(
        "presence_webhook_dead",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("presence_webhook_dead")
    op.drop_table("presence_webhook_cursor")
    op.drop_table("presence_changes")
