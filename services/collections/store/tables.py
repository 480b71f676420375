"""Tables the collections service owns, in its own database.

A cycle's saga state is one JSONB document with a ``version`` for optimistic concurrency; the
contributions and debit attempts beside it are its queryable projection (written in the same
transaction), through which Stripe's reports are correlated and the API will read.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
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

rotations = Table(
    "rotations",
    metadata,
    Column("group_id", Uuid, primary_key=True),
    # The activation as received: the rotation is planned from it, and can be planned again.
    Column("activation", JSONB, nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
    # The rotation saga's state, saved as a cycle's is (version checked, row locked while deciding);
    # null for a group activated before the rotation saga ran.
    Column("state", JSONB),
    Column("version", Integer),
    Column("updated_at", DateTime(timezone=True)),
)

cycles = Table(
    "cycles",
    metadata,
    Column("cycle_id", Uuid, primary_key=True),
    Column("group_id", Uuid, ForeignKey("rotations.group_id"), nullable=False),
    Column("cycle_number", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("deadline_on", Date, nullable=False),
    Column("state", JSONB, nullable=False),
    # Bumped by every save; a save that finds another version lost a race and is tried again.
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # When the cycle entered ``status``: how long it has waited there (the operator's stuck view).
    Column("status_since", DateTime(timezone=True), nullable=False),
    # Not unique: a retried round runs the same cycle number again under a new cycle id.
    Index("cycles_by_group", "group_id", "cycle_number"),
    Index("cycles_unfinished", "status", "status_since"),
)

contributions = Table(
    "contributions",
    metadata,
    Column("contribution_id", Uuid, primary_key=True),
    Column("cycle_id", Uuid, ForeignKey("cycles.cycle_id"), nullable=False),
    Column("member_id", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("payment_intent_id", Text),
    Column("charge_id", Text),
    Column("last_failure_code", Text),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("contributions_by_member", "member_id"),
    Index("contributions_by_cycle", "cycle_id"),
)

debit_attempts = Table(
    "debit_attempts",
    metadata,
    Column("contribution_id", Uuid, ForeignKey("contributions.contribution_id"), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("cycle_id", Uuid, nullable=False),
    Column("mandate_id", Text),
    # Known once Stripe answered the create (or reported the intent): how disputes, which carry
    # no metadata, find their contribution.
    Column("payment_intent_id", Text, unique=True),
    Column("charge_id", Text),
    Column("status", Text, nullable=False),
    # Why this attempt failed, kept when a later attempt replaces it on the contribution.
    Column("failure_code", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

member_mandates = Table(
    "member_mandates",
    metadata,
    Column("member_id", Text, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("payment_method_id", Text, nullable=False),
    Column("mandate_id", Text, nullable=False),
    Column("mandate_active", Boolean, nullable=False),
    # When onboarding reported it: an older report never replaces a newer one.
    Column("as_of", DateTime(timezone=True), nullable=False),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("reference", Text, primary_key=True),
    Column("cycle_id", Uuid, nullable=False),
    Column("currency", Text, nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False),
    Index("ledger_transactions_by_cycle", "cycle_id"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("entry_id", BigInteger, Identity(), primary_key=True),
    Column("reference", Text, ForeignKey("ledger_transactions.reference"), nullable=False),
    Column("account_kind", Text, nullable=False),
    Column("account_key", Text, nullable=False, server_default=""),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Index("ledger_entries_by_account", "account_kind", "account_key"),
    Index("ledger_entries_by_reference", "reference"),
)

parked_stripe_events = Table(
    "parked_stripe_events",
    metadata,
    Column("event_id", Text, primary_key=True),
    # The PaymentIntent the event is about, not yet recorded on any attempt when it arrived.
    Column("payment_intent_id", Text, nullable=False),
    Column("event", JSONB, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
    Column("applied_at", DateTime(timezone=True)),
    Index(
        "parked_stripe_events_waiting",
        "payment_intent_id",
        postgresql_where=text("applied_at IS NULL"),
    ),
)

# A member's dispute debt collected by a debit they asked for (``domain/debt_collection.py``): one
# row per collection, one per debit attempt of it.
debt_collections = Table(
    "debt_collections",
    metadata,
    Column("debt_collection_id", Uuid, primary_key=True),
    Column("group_id", Uuid, ForeignKey("rotations.group_id"), nullable=False),
    Column("member_id", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    # The disputes whose receivables it pays, as owed when the member asked.
    Column("dispute_ids", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("debt_collections_by_member", "group_id", "member_id", "created_at"),
    # One debit of a member's debt at a time: a second request finds the one under way.
    Index(
        "debt_collections_one_collecting",
        "group_id",
        "member_id",
        unique=True,
        postgresql_where=text("status = 'collecting'"),
    ),
)

debt_attempts = Table(
    "debt_attempts",
    metadata,
    Column(
        "debt_collection_id",
        Uuid,
        ForeignKey("debt_collections.debt_collection_id"),
        primary_key=True,
    ),
    Column("attempt", Integer, primary_key=True),
    Column("group_id", Uuid, nullable=False),
    Column("member_id", Text, nullable=False),
    # The member's Idempotency-Key of the request that asked for it: a retried request finds it.
    Column("request_key", Text, nullable=False),
    # Stored before Stripe is called: debt-<debt_collection_id>-<attempt>.
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("customer_id", Text, nullable=False),
    Column("payment_method_id", Text, nullable=False),
    Column("mandate_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("payment_intent_id", Text, unique=True),
    Column("failure_code", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("debt_attempts_by_request", "group_id", "member_id", "request_key", unique=True),
)

# A debt paid twice refunded (``domain/debt_refunds.py``): one row per debt collection and dispute won
# after the debt was paid.
debt_refunds = Table(
    "debt_refunds",
    metadata,
    Column(
        "debt_collection_id",
        Uuid,
        ForeignKey("debt_collections.debt_collection_id"),
        primary_key=True,
    ),
    Column("dispute_id", Text, primary_key=True),
    Column("group_id", Uuid, nullable=False),
    Column("member_id", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("payment_intent_id", Text, nullable=False),
    # Stored before Stripe is called: debt-refund-<debt_collection_id>-<dispute_id>.
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("status", Text, nullable=False),
    Column("refund_id", Text, unique=True),
    Column("failure_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("debt_refunds_by_member", "group_id", "member_id"),
)

# Reconciliation with Stripe: each run, and the differences it found (append-only).
reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    Column("run_id", Uuid, primary_key=True),
    Column("scope", Text, nullable=False),  # day or group
    Column("day", Date),
    Column("group_id", Uuid),
    Column("trigger", Text, nullable=False),  # schedule, cli or api
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("cycles_checked", Integer, nullable=False),
    Column("stripe_objects_read", Integer, nullable=False),
    Column("differences_total", Integer, nullable=False),
    Column("differences_by_kind", JSONB, nullable=False),
    Index("reconciliation_runs_newest", "completed_at"),
)

reconciliation_differences = Table(
    "reconciliation_differences",
    metadata,
    Column("difference_id", BigInteger, Identity(), primary_key=True),
    Column("run_id", Uuid, ForeignKey("reconciliation_runs.run_id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("cycle_id", Uuid),
    Column("object_type", Text, nullable=False),
    Column("object_ids", JSONB, nullable=False),
    Column("ledger_reference", Text),
    # The ledger's figure and Stripe's, in minor units of ``currency``.
    Column("expected", BigInteger, nullable=False),
    Column("actual", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("note", Text, nullable=False),
    Index("reconciliation_differences_by_run", "run_id"),
)
