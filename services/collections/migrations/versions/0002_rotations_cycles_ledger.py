"""Rotations, cycles (saga state with a version), contributions and debit attempts, member mandates,
the append-only ledger, and Stripe events parked until their PaymentIntent is recorded.

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
        "rotations",
        sa.Column("group_id", sa.Uuid, primary_key=True),
        sa.Column("activation", postgresql.JSONB, nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cycles",
        sa.Column("cycle_id", sa.Uuid, primary_key=True),
        sa.Column("group_id", sa.Uuid, sa.ForeignKey("rotations.group_id"), nullable=False),
        sa.Column("cycle_number", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("deadline_on", sa.Date, nullable=False),
        sa.Column("state", postgresql.JSONB, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("group_id", "cycle_number"),
    )
    op.create_table(
        "contributions",
        sa.Column("contribution_id", sa.Uuid, primary_key=True),
        sa.Column("cycle_id", sa.Uuid, sa.ForeignKey("cycles.cycle_id"), nullable=False),
        sa.Column("member_id", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("payment_intent_id", sa.Text),
        sa.Column("charge_id", sa.Text),
        sa.Column("last_failure_code", sa.Text),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("contributions_by_member", "contributions", ["member_id"])
    op.create_index("contributions_by_cycle", "contributions", ["cycle_id"])
    op.create_table(
        "debit_attempts",
        sa.Column(
            "contribution_id", sa.Uuid, sa.ForeignKey("contributions.contribution_id"), primary_key=True
        ),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("cycle_id", sa.Uuid, nullable=False),
        sa.Column("mandate_id", sa.Text),
        sa.Column("payment_intent_id", sa.Text, unique=True),
        sa.Column("charge_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "member_mandates",
        sa.Column("member_id", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("payment_method_id", sa.Text, nullable=False),
        sa.Column("mandate_id", sa.Text, nullable=False),
        sa.Column("mandate_active", sa.Boolean, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("reference", sa.Text, primary_key=True),
        sa.Column("cycle_id", sa.Uuid, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ledger_transactions_by_cycle", "ledger_transactions", ["cycle_id"])
    op.create_table(
        "ledger_entries",
        sa.Column("entry_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("reference", sa.Text, sa.ForeignKey("ledger_transactions.reference"), nullable=False),
        sa.Column("account_kind", sa.Text, nullable=False),
        sa.Column("account_key", sa.Text, nullable=False, server_default=""),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
    )
    op.create_index("ledger_entries_by_account", "ledger_entries", ["account_kind", "account_key"])
    # Append-only: the books are corrected by new transactions, never by editing old ones.
    op.execute(
        """
        CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
        END $$;
        """
    )
    for table in ("ledger_transactions", "ledger_entries"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only()"
        )
    op.create_table(
        "parked_stripe_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("payment_intent_id", sa.Text, nullable=False),
        sa.Column("event", postgresql.JSONB, nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "parked_stripe_events_waiting",
        "parked_stripe_events",
        ["payment_intent_id"],
        postgresql_where=sa.text("applied_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("parked_stripe_events")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_transactions")
    op.execute("DROP FUNCTION ledger_is_append_only()")
    op.drop_table("member_mandates")
    op.drop_table("debit_attempts")
    op.drop_table("contributions")
    op.drop_table("cycles")
    op.drop_table("rotations")
