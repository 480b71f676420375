"""Tables the onboarding service owns, in its own database.

No bank account number is stored: Stripe ids, and the last four digits a member typed.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

members = Table(
    "members",
    metadata,
    Column("member_id", Text, primary_key=True),
    Column("email", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("customer_id", Text, unique=True),
    # BECS: the payment method in use, from the newest SetupIntent that succeeded.
    Column("payment_method_id", Text),
    Column("mandate_id", Text),
    Column("current_setup_intent_id", Text),
    Column("current_setup_started", BigInteger),
    Column("bank_last4", Text),
    # The idempotency key of a SetupIntent being created, kept until its id is recorded.
    Column("pending_setup_key", Text),
    Column("setup_attempts", Integer, nullable=False, server_default="0"),
    # The Express payout account, as Stripe last reported it.
    Column("payout_account_id", Text, unique=True),
    Column("payout_details_submitted", Boolean, nullable=False, server_default=text("false")),
    Column("payout_payouts_enabled", Boolean, nullable=False, server_default=text("false")),
    Column("payout_transfers_capability", Text),
    Column("payout_requirements_due", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("payout_disabled_reason", Text),
    Column("payout_as_of", DateTime(timezone=True)),
    Column("onboarding_links_issued", Integer, nullable=False, server_default="0"),
    # Profile changes sent to the Stripe customer; the count keys each one (the values cannot: a
    # change back to earlier values would get Stripe's saved answer, not an update).
    Column("profile_updates", Integer, nullable=False, server_default="0"),
)

setup_intents = Table(
    "setup_intents",
    metadata,
    Column("setup_intent_id", Text, primary_key=True),
    Column("member_id", Text, ForeignKey("members.member_id"), nullable=False),
    # The order rosca started SetupIntents in, for every member: the newest one decides.
    Column("started", BigInteger, Identity(), nullable=False),
    Column("status", Text, nullable=False),
    Column("stripe_created", DateTime(timezone=True), nullable=False),
    Column("payment_method_id", Text),
    Column("mandate_id", Text),
    Column("last_error_code", Text),
    Column("status_as_of", DateTime(timezone=True)),
    Column("bank_last4", Text),
)
Index("setup_intents_by_member", setup_intents.c.member_id, setup_intents.c.started)

# Every mandate Stripe told us of, even before we knew whose it is: a report that arrives before
# the setup that made the mandate still counts when the setup is recorded.
mandates = Table(
    "mandates",
    metadata,
    Column("mandate_id", Text, primary_key=True),
    Column("payment_method_id", Text),
    Column("status", Text, nullable=False),
    Column("status_as_of", DateTime(timezone=True)),
    CheckConstraint("status IN ('pending', 'active', 'inactive')", name="mandates_status_known"),
)

groups = Table(
    "groups",
    metadata,
    Column("group_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("admin_member_id", Text, ForeignKey("members.member_id"), nullable=False),
    Column("contribution_amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("cadence", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("attempt_limit", Integer, nullable=False),
    Column("retry_spacing_business_days", Integer, nullable=False),
    Column("collection_window_business_days", Integer, nullable=False),
    Column("platform_fee_bps", Integer, nullable=False),
    Column("payout_order_method", Text, nullable=False),
    Column("fixed_order", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("draw_seed", Text, nullable=False),
    Column("invite_code", Text, nullable=False, unique=True),
    Column("status", Text, nullable=False),
    Column("locked_order", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("activated_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('forming', 'active')", name="groups_status_known"),
    CheckConstraint("contribution_amount > 0", name="groups_amount_positive"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("group_id", Uuid, ForeignKey("groups.group_id"), primary_key=True),
    Column("member_id", Text, ForeignKey("members.member_id"), primary_key=True),
    Column("role", Text, nullable=False),
    # One sequence for every group: within a group it gives the order members joined in.
    Column("join_seq", BigInteger, Identity(), nullable=False),
    Column("joined_at", DateTime(timezone=True), nullable=False),
    Column("chosen_slot", Integer),
    CheckConstraint("role IN ('admin', 'member')", name="memberships_role_known"),
)
Index("memberships_by_member", memberships.c.member_id)
Index(
    "memberships_one_member_per_slot",
    memberships.c.group_id,
    memberships.c.chosen_slot,
    unique=True,
    postgresql_where=memberships.c.chosen_slot.is_not(None),
)
