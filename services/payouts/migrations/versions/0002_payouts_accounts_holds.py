"""Payouts and their transfers, recipient accounts, collections' holds, bank payouts, groups.

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
        "payouts",
        sa.Column("cycle_id", sa.Uuid, primary_key=True),
        sa.Column("group_id", sa.Uuid, nullable=False),
        sa.Column("cycle_number", sa.Integer, nullable=False),
        sa.Column("recipient_member_id", sa.Text, nullable=False),
        sa.Column("connected_account_id", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("transfer_group", sa.Text, nullable=False),
        sa.Column("transfer_total", sa.BigInteger, nullable=False),
        sa.Column("platform_fee_total", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("held_until", sa.DateTime(timezone=True)),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
    )
    op.create_index("payouts_by_recipient", "payouts", ["recipient_member_id"])
    op.create_index("payouts_by_account_status", "payouts", ["connected_account_id", "status"])
    op.create_index("payouts_by_group", "payouts", ["group_id", "cycle_number"])
    op.create_index("payouts_by_status", "payouts", ["status", "status_since"])
    op.create_table(
        "payout_transfers",
        sa.Column("cycle_id", sa.Uuid, sa.ForeignKey("payouts.cycle_id"), primary_key=True),
        sa.Column("charge_id", sa.Text, primary_key=True),
        sa.Column("contribution_id", sa.Uuid, nullable=False),
        sa.Column("payment_intent_id", sa.Text, nullable=False),
        sa.Column("payer_member_id", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("first_tried_at", sa.DateTime(timezone=True)),
        sa.Column("transfer_id", sa.Text, unique=True),
        sa.Column("made_at", sa.DateTime(timezone=True)),
        sa.Column("created_at_stripe", sa.DateTime(timezone=True)),
        sa.Column("refused_code", sa.Text),
    )
    op.create_table(
        "recipient_accounts",
        sa.Column("connected_account_id", sa.Text, primary_key=True),
        sa.Column("member_id", sa.Text),
        sa.Column("can_receive", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("requirements_due", postgresql.JSONB, nullable=False),
        sa.Column("ready_since", sa.DateTime(timezone=True)),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cycle_holds",
        sa.Column("cycle_id", sa.Uuid, primary_key=True),
        sa.Column("group_id", sa.Uuid, nullable=False),
        sa.Column("recipient_member_id", sa.Text, nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "bank_payouts",
        sa.Column("payout_id", sa.Text, primary_key=True),
        sa.Column("connected_account_id", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("failure_code", sa.Text),
        sa.Column("failure_message", sa.Text),
        sa.Column("arrival_date", sa.DateTime(timezone=True)),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("bank_payouts_by_account", "bank_payouts", ["connected_account_id", "created"])
    op.create_table(
        "groups",
        sa.Column("group_id", sa.Uuid, primary_key=True),
        sa.Column("admin_member_id", sa.Text, nullable=False),
        sa.Column("activation", postgresql.JSONB, nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Uuid, sa.ForeignKey("groups.group_id"), primary_key=True),
        sa.Column("member_id", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("group_members_by_member", "group_members", ["member_id"])


def downgrade() -> None:
    for table in (
        "group_members",
        "groups",
        "bank_payouts",
        "cycle_holds",
        "recipient_accounts",
        "payout_transfers",
        "payouts",
    ):
        op.drop_table(table)
