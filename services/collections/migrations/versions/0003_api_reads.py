"""What the HTTP API reads that the saga did not keep: when each cycle entered its status (the
operator's stuck-cycle view), and each debit attempt's own failure code (a member sees why each of
their attempts failed, not only the last), and an index to read a group's ledger by.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cycles", sa.Column("status_since", sa.DateTime(timezone=True)))
    # Before this revision the last save is the best known moment of entering the status.
    op.execute("UPDATE cycles SET status_since = updated_at")
    op.alter_column("cycles", "status_since", nullable=False)
    op.create_index("cycles_unfinished", "cycles", ["status", "status_since"])
    op.add_column("debit_attempts", sa.Column("failure_code", sa.Text))
    # A group's ledger is read through its transactions' entries, a page at a time.
    op.create_index("ledger_entries_by_reference", "ledger_entries", ["reference"])


def downgrade() -> None:
    op.drop_index("ledger_entries_by_reference", table_name="ledger_entries")
    op.drop_column("debit_attempts", "failure_code")
    op.drop_index("cycles_unfinished", table_name="cycles")
    op.drop_column("cycles", "status_since")
