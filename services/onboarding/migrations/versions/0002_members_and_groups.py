"""Members (Stripe customer, BECS setup and mandate, payout account), mandates, groups, memberships.

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
        "members",
        sa.Column("member_id", sa.Text, primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customer_id", sa.Text, unique=True),
        sa.Column("payment_method_id", sa.Text),
        sa.Column("mandate_id", sa.Text),
        sa.Column("current_setup_intent_id", sa.Text),
        sa.Column("current_setup_started", sa.BigInteger),
        sa.Column("bank_last4", sa.Text),
        sa.Column("pending_setup_key", sa.Text),
        sa.Column("setup_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("payout_account_id", sa.Text, unique=True),
        sa.Column("payout_details_submitted", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("payout_payouts_enabled", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("payout_transfers_capability", sa.Text),
        sa.Column(
            "payout_requirements_due", postgresql.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
        sa.Column("payout_disabled_reason", sa.Text),
        sa.Column("payout_as_of", sa.DateTime(timezone=True)),
        sa.Column("onboarding_links_issued", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "setup_intents",
        sa.Column("setup_intent_id", sa.Text, primary_key=True),
        sa.Column("member_id", sa.Text, sa.ForeignKey("members.member_id"), nullable=False),
        sa.Column("started", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("stripe_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payment_method_id", sa.Text),
        sa.Column("mandate_id", sa.Text),
        sa.Column("last_error_code", sa.Text),
        sa.Column("status_as_of", sa.DateTime(timezone=True)),
        sa.Column("bank_last4", sa.Text),
    )
    op.create_index("setup_intents_by_member", "setup_intents", ["member_id", "started"])
    op.create_table(
        "mandates",
        sa.Column("mandate_id", sa.Text, primary_key=True),
        sa.Column("payment_method_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("status_as_of", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('pending', 'active', 'inactive')", name="mandates_status_known"),
    )
    op.create_table(
        "groups",
        sa.Column("group_id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("admin_member_id", sa.Text, sa.ForeignKey("members.member_id"), nullable=False),
        sa.Column("contribution_amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("cadence", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("attempt_limit", sa.Integer, nullable=False),
        sa.Column("retry_spacing_business_days", sa.Integer, nullable=False),
        sa.Column("collection_window_business_days", sa.Integer, nullable=False),
        sa.Column("platform_fee_bps", sa.Integer, nullable=False),
        sa.Column("payout_order_method", sa.Text, nullable=False),
        sa.Column("fixed_order", postgresql.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("draw_seed", sa.Text, nullable=False),
        sa.Column("invite_code", sa.Text, nullable=False, unique=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("locked_order", postgresql.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('forming', 'active')", name="groups_status_known"),
        sa.CheckConstraint("contribution_amount > 0", name="groups_amount_positive"),
    )
    op.create_table(
        "memberships",
        sa.Column("group_id", sa.Uuid, sa.ForeignKey("groups.group_id"), primary_key=True),
        sa.Column("member_id", sa.Text, sa.ForeignKey("members.member_id"), primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("join_seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chosen_slot", sa.Integer),
        sa.CheckConstraint("role IN ('admin', 'member')", name="memberships_role_known"),
    )
    op.create_index("memberships_by_member", "memberships", ["member_id"])
    op.create_index(
        "memberships_one_member_per_slot",
        "memberships",
        ["group_id", "chosen_slot"],
        unique=True,
        postgresql_where=sa.text("chosen_slot IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("memberships")
    op.drop_table("groups")
    op.drop_table("mandates")
    op.drop_table("setup_intents")
    op.drop_table("members")
