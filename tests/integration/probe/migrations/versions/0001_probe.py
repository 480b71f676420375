"""Outbox, inbox and the probe's effects.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.migration_steps import create_outbox_and_inbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_and_inbox()
    op.create_table(
        "effects",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("message_id", sa.Uuid, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
    )
