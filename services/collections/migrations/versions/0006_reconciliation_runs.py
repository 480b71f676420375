"""Reconciliation runs and their differences: written once when a run completes, never edited.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("run_id", sa.Uuid, primary_key=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("day", sa.Date),
        sa.Column("group_id", sa.Uuid),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycles_checked", sa.Integer, nullable=False),
        sa.Column("stripe_objects_read", sa.Integer, nullable=False),
        sa.Column("differences_total", sa.Integer, nullable=False),
        sa.Column("differences_by_kind", postgresql.JSONB, nullable=False),
    )
    op.create_index("reconciliation_runs_newest", "reconciliation_runs", ["completed_at"])
    op.create_table(
        "reconciliation_differences",
        sa.Column("difference_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.Uuid, sa.ForeignKey("reconciliation_runs.run_id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("cycle_id", sa.Uuid),
        sa.Column("object_type", sa.Text, nullable=False),
        sa.Column("object_ids", postgresql.JSONB, nullable=False),
        sa.Column("ledger_reference", sa.Text),
        sa.Column("expected", sa.BigInteger, nullable=False),
        sa.Column("actual", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("reconciliation_differences_by_run", "reconciliation_differences", ["run_id"])
    # What a run found stays as it found it: a later run is a new run.
    op.execute(
        """
        CREATE FUNCTION reconciliation_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'reconciliation runs are append-only: % on % refused', TG_OP, TG_TABLE_NAME;
        END $$;
        """
    )
    for table in ("reconciliation_runs", "reconciliation_differences"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION reconciliation_is_append_only()"
        )


def downgrade() -> None:
    op.drop_table("reconciliation_differences")
    op.drop_table("reconciliation_runs")
    op.execute("DROP FUNCTION reconciliation_is_append_only()")
