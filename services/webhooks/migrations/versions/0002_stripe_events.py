"""Received Stripe events: one row per event id, raw body kept, publish state.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("account", sa.Text),
        sa.Column("livemode", sa.Boolean, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raw_body", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("publish_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.CheckConstraint(
            "source IN ('platform', 'connect', 'backfill')", name="stripe_events_source_known"
        ),
    )
    op.create_index(
        "stripe_events_unpublished",
        "stripe_events",
        ["received_at"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index("stripe_events_by_created", "stripe_events", ["created", "event_id"])
    op.create_index("stripe_events_by_type", "stripe_events", ["event_type", "created"])


def downgrade() -> None:
    op.drop_table("stripe_events")
