"""The rotation saga's state on the group's rotation row (one JSONB document and its version),
beside the activation it was planned from; a cycle number may now have several rounds.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A retried round is a new cycle with the same number (its own id, debits and refunds).
    op.drop_constraint("cycles_group_id_cycle_number_key", "cycles", type_="unique")
    op.create_index("cycles_by_group", "cycles", ["group_id", "cycle_number"])
    # Nullable: a group activated before this revision has no rotation saga (its cycles run alone).
    op.add_column("rotations", sa.Column("state", postgresql.JSONB, nullable=True))
    op.add_column("rotations", sa.Column("version", sa.Integer, nullable=True))
    op.add_column("rotations", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("rotations", "updated_at")
    op.drop_column("rotations", "version")
    op.drop_column("rotations", "state")
    op.drop_index("cycles_by_group", "cycles")
    op.create_unique_constraint("cycles_group_id_cycle_number_key", "cycles", ["group_id", "cycle_number"])
