"""user_presence: the custom status (text, emoji, when it clears itself). Rows from before
have none (all three NULL).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A table adopted by 0001 may have been created by a gateway that already had them.
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("user_presence")}
    columns: list[sa.Column[object]] = [
        sa.Column("custom_text", sa.String(128), nullable=True),
        sa.Column("custom_emoji", sa.String(32), nullable=True),
        sa.Column("custom_expires_at", sa.DateTime(timezone=True), nullable=True),
    ]
    # batch_alter_table: SQLite alters a table by copying it, PostgreSQL in place.
    with op.batch_alter_table("user_presence") as batch:
        for column in columns:
            if column.name not in present:
                batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("user_presence") as batch:
        batch.drop_column("custom_expires_at")
        batch.drop_column("custom_emoji")
        batch.drop_column("custom_text")
