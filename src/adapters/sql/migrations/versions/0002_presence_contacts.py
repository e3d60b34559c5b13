"""presence_contacts: who may watch whom under PRESENCE_AUDIENCE=contacts (the README
documents it). The chat backend fills it; the gateway reads it by viewer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "presence_contacts",
        sa.Column("viewer_id", sa.String(255), primary_key=True),
        sa.Column("target_id", sa.String(255), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("presence_contacts")
