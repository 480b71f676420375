"""Durable timers, and a NOTIFY that wakes every replica's firing loop when one is set or moved.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("timer_id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("correlation_id", sa.Text, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column("target_subject", sa.Text),
        sa.Column("payload", postgresql.JSONB),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduled_by", sa.Uuid),
        sa.Column("scheduled_at", sa.DateTime(timezone=True)),
        sa.Column("fired_at", sa.DateTime(timezone=True)),
        sa.Column("fired_by", sa.Text),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('pending', 'fired', 'cancelled')", name="timers_status_known"),
        sa.CheckConstraint(
            "status <> 'pending' OR "
            "(due_at IS NOT NULL AND target_subject IS NOT NULL AND payload IS NOT NULL)",
            name="timers_pending_is_complete",
        ),
    )
    op.create_index(
        "timers_pending_by_due",
        "timers",
        ["due_at", "timer_id"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("timers_by_status_due", "timers", ["status", "due_at", "timer_id"])
    op.create_index("timers_by_subject_due", "timers", ["target_subject", "due_at", "timer_id"])
    # Sent at commit with the due time (epoch seconds), so a loop sleeping until a later timer
    # wakes for an earlier one, and a loop with an earlier wake-up ignores it.
    op.execute(
        """
        CREATE FUNCTION rosca_timers_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('rosca_timers', extract(epoch FROM NEW.due_at)::text);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER timers_notify AFTER INSERT OR UPDATE OF due_at, status ON timers "
        "FOR EACH ROW WHEN (NEW.status = 'pending') EXECUTE FUNCTION rosca_timers_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER timers_notify ON timers")
    op.execute("DROP FUNCTION rosca_timers_notify()")
    op.drop_table("timers")
