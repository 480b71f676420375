"""Refunds of a debt paid twice (the dispute was won after the member paid its debt).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "debt_refunds",
        sa.Column(
            "debt_collection_id",
            sa.Uuid,
            sa.ForeignKey("debt_collections.debt_collection_id"),
            primary_key=True,
        ),
        sa.Column("dispute_id", sa.Text, primary_key=True),
        sa.Column("group_id", sa.Uuid, nullable=False),
        sa.Column("member_id", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("payment_intent_id", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("refund_id", sa.Text, unique=True),
        sa.Column("failure_reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("debt_refunds_by_member", "debt_refunds", ["group_id", "member_id"])


def downgrade() -> None:
    op.drop_table("debt_refunds")
