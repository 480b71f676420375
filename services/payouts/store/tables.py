"""Tables the payouts service owns, in its own database.

A payout row per funded cycle and a row per transfer beside it (its idempotency key fixed before
Stripe is asked); the recipient accounts as payouts sees them; collections' holds on cycles (which
may come before the cycle's ``pay_cycle``); the recipients' bank payouts; and the groups as
onboarding activated them (who may see a group's payouts, whose pots are still to come).
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

payouts = Table(
    "payouts",
    metadata,
    Column("cycle_id", Uuid, primary_key=True),
    Column("group_id", Uuid, nullable=False),
    Column("cycle_number", Integer, nullable=False),
    Column("recipient_member_id", Text, nullable=False),
    Column("connected_account_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("transfer_group", Text, nullable=False),
    Column("transfer_total", BigInteger, nullable=False),
    Column("platform_fee_total", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("round", Integer, nullable=False),
    Column("reason", Text),
    Column("held_until", DateTime(timezone=True)),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("status_since", DateTime(timezone=True), nullable=False),
    Column("paid_at", DateTime(timezone=True)),
    Index("payouts_by_recipient", "recipient_member_id"),
    Index("payouts_by_account_status", "connected_account_id", "status"),
    Index("payouts_by_group", "group_id", "cycle_number"),
    Index("payouts_by_status", "status", "status_since"),
)

payout_transfers = Table(
    "payout_transfers",
    metadata,
    Column("cycle_id", Uuid, ForeignKey("payouts.cycle_id"), primary_key=True),
    Column("charge_id", Text, primary_key=True),
    Column("contribution_id", Uuid, nullable=False),
    Column("payment_intent_id", Text, nullable=False),
    Column("payer_member_id", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),
    # The key of the current attempt, stored before Stripe is asked with it.
    Column("idempotency_key", Text, nullable=False),
    Column("first_tried_at", DateTime(timezone=True)),
    Column("transfer_id", Text, unique=True),
    Column("made_at", DateTime(timezone=True)),
    Column("created_at_stripe", DateTime(timezone=True)),
    Column("refused_code", Text),
)

recipient_accounts = Table(
    "recipient_accounts",
    metadata,
    Column("connected_account_id", Text, primary_key=True),
    Column("member_id", Text),
    Column("can_receive", Boolean, nullable=False),
    Column("reason", Text),
    Column("requirements_due", JSONB, nullable=False),
    Column("ready_since", DateTime(timezone=True)),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

cycle_holds = Table(
    "cycle_holds",
    metadata,
    Column("cycle_id", Uuid, primary_key=True),
    Column("group_id", Uuid, nullable=False),
    Column("recipient_member_id", Text, nullable=False),
    Column("held_at", DateTime(timezone=True), nullable=False),
    Column("released_at", DateTime(timezone=True)),
)

bank_payouts = Table(
    "bank_payouts",
    metadata,
    Column("payout_id", Text, primary_key=True),
    Column("connected_account_id", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("failure_code", Text),
    Column("failure_message", Text),
    Column("arrival_date", DateTime(timezone=True)),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Index("bank_payouts_by_account", "connected_account_id", "created"),
)

groups = Table(
    "groups",
    metadata,
    Column("group_id", Uuid, primary_key=True),
    Column("admin_member_id", Text, nullable=False),
    # onboarding.evt.group_activated as received: members, order, cadence, start date.
    Column("activation", JSONB, nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Uuid, ForeignKey("groups.group_id"), primary_key=True),
    Column("member_id", Text, primary_key=True),
    Column("position", Integer, nullable=False),
    Index("group_members_by_member", "member_id"),
)
