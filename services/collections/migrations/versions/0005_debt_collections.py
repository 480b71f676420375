"""A member's dispute debt collected by a debit they ask for: the collections and their attempts.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "debt_collections",
        sa.Column("debt_collection_id", sa.Uuid, primary_key=True),
        sa.Column("group_id", sa.Uuid, sa.ForeignKey("rotations.group_id"), nullable=False),
        sa.Column("member_id", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("dispute_ids", postgresql.JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("debt_collections_by_member", "debt_collections", ["group_id", "member_id", "created_at"])
    op.create_index(
        "debt_collections_one_collecting",
        "debt_collections",
        ["group_id", "member_id"],
        unique=True,
        postgresql_where=sa.text("status = 'collecting'"),
    )
    op.create_table(
        "debt_attempts",
        sa.Column(
            "debt_collection_id",
            sa.Uuid,
            sa.ForeignKey("debt_collections.debt_collection_id"),
            primary_key=True,
        ),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("group_id", sa.Uuid, nullable=False),
        sa.Column("member_id", sa.Text, nullable=False),
        sa.Column("request_key", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("payment_method_id", sa.Text, nullable=False),
        sa.Column("mandate_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("payment_intent_id", sa.Text, unique=True),
        sa.Column("failure_code", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "debt_attempts_by_request", "debt_attempts", ["group_id", "member_id", "request_key"], unique=True
    )


def downgrade() -> None:
    op.drop_table("debt_attempts")
    op.drop_table("debt_collections")
