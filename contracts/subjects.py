"""Every subject name in rosca. No subject string literal appears anywhere else.

Conventions: ``<owner>.evt.<name>`` for facts the owner publishes (past tense),
``<owner>.cmd.<name>`` for commands addressed to the owner (imperative),
``stripe.<event type>`` for normalized Stripe events, ``notify.member.<kind>`` for notifications,
``deadletter.<service>.<consumer>`` for messages a consumer gave up on.

A subject is added here together with its payload model and its entry in ``catalog.py``, so the
AsyncAPI document always covers every subject.
"""

# Stripe events, normalized and deduplicated by the webhook gateway.
STRIPE_PREFIX = "stripe"
STRIPE_ALL = "stripe.>"

# Onboarding.
ONBOARDING_ALL = "onboarding.>"
ONBOARDING_MEMBER_READINESS_CHANGED = "onboarding.evt.member_readiness_changed"
ONBOARDING_MEMBER_PAYMENT_METHOD_CHANGED = "onboarding.evt.member_payment_method_changed"
ONBOARDING_PAYOUT_ACCOUNT_RESTRICTED = "onboarding.evt.payout_account_restricted"
ONBOARDING_PAYOUT_ACCOUNT_RESTORED = "onboarding.evt.payout_account_restored"
ONBOARDING_GROUP_ACTIVATED = "onboarding.evt.group_activated"

# Collections: the cycle saga and the ledger.
COLLECTIONS_ALL = "collections.>"
COLLECTIONS_START_CYCLE = "collections.cmd.start_cycle"
COLLECTIONS_RETRY_CONTRIBUTION = "collections.cmd.retry_contribution"
COLLECTIONS_CLOSE_COLLECTION = "collections.cmd.close_collection"
COLLECTIONS_CREATE_PAYMENT_INTENT = "collections.cmd.create_payment_intent"
COLLECTIONS_CREATE_REFUND = "collections.cmd.create_refund"
COLLECTIONS_READ_CHARGE_FEE = "collections.cmd.read_charge_fee"
COLLECTIONS_CREATE_DEBT_PAYMENT_INTENT = "collections.cmd.create_debt_payment_intent"
COLLECTIONS_READ_DEBT_CHARGE_FEE = "collections.cmd.read_debt_charge_fee"
COLLECTIONS_CREATE_DEBT_REFUND = "collections.cmd.create_debt_refund"
COLLECTIONS_RECONCILE_DAY = "collections.cmd.reconcile_day"
COLLECTIONS_RECONCILIATION_COMPLETED = "collections.evt.reconciliation_completed"
COLLECTIONS_CYCLE_STATUS_PREFIX = "collections.evt"
COLLECTIONS_CYCLE_STATUS_ALL = "collections.evt.*"
# Collections: the rotation saga (the group across its cycles).
COLLECTIONS_ROTATION_AWAITING_ADMIN_DECISION = "collections.evt.rotation_awaiting_admin_decision"
COLLECTIONS_ROTATION_ROUND_RETRIED = "collections.evt.rotation_round_retried"
COLLECTIONS_ROTATION_MEMBERS_REMOVED = "collections.evt.rotation_members_removed"
COLLECTIONS_ROTATION_RESUMED = "collections.evt.rotation_resumed"
COLLECTIONS_ROTATION_DISSOLVED = "collections.evt.rotation_dissolved"
COLLECTIONS_ROTATION_COMPLETED = "collections.evt.rotation_completed"
COLLECTIONS_PAYOUT_HELD_FOR_DELINQUENCY = "collections.evt.payout_held_for_delinquency"

# Payouts.
PAYOUTS_ALL = "payouts.>"
PAYOUTS_PAY_CYCLE = "payouts.cmd.pay_cycle"
PAYOUTS_HOLD_CYCLE = "payouts.cmd.hold_cycle"
PAYOUTS_RELEASE_CYCLE = "payouts.cmd.release_cycle"
PAYOUTS_CYCLE_PAID = "payouts.evt.cycle_paid"
PAYOUTS_PAYOUT_PAUSED = "payouts.evt.payout_paused"
PAYOUTS_PAYOUT_RESUMED = "payouts.evt.payout_resumed"
PAYOUTS_MAKE_TRANSFERS = "payouts.cmd.make_transfers"
PAYOUTS_RETRY_PAYOUT = "payouts.cmd.retry_payout"

# Scheduler: durable timers.
SCHEDULER_ALL = "scheduler.>"
SCHEDULER_SCHEDULE = "scheduler.cmd.schedule"
SCHEDULER_CANCEL = "scheduler.cmd.cancel"

# Notifications to members, consumed by whatever sends e-mail or push.
NOTIFY_ALL = "notify.>"
NOTIFY_MEMBER_PREFIX = "notify.member"
NOTIFY_MEMBER_MANDATE_INACTIVE = "notify.member.mandate_inactive"
NOTIFY_MEMBER_BECS_SETUP_FAILED = "notify.member.becs_setup_failed"
NOTIFY_MEMBER_PAYOUT_ACCOUNT_RESTRICTED = "notify.member.payout_account_restricted"
NOTIFY_MEMBER_CONTRIBUTION_MANDATE_NEEDED = "notify.member.contribution_mandate_needed"
NOTIFY_MEMBER_CONTRIBUTION_DEBIT_FAILED_RETRYING = "notify.member.contribution_debit_failed_retrying"
NOTIFY_MEMBER_CONTRIBUTION_DEBIT_FAILED_AUTHORISE_AGAIN = (
    "notify.member.contribution_debit_failed_authorise_again"
)
NOTIFY_MEMBER_CONTRIBUTION_DEBIT_FAILED_FINAL = "notify.member.contribution_debit_failed_final"
NOTIFY_MEMBER_CONTRIBUTION_DISPUTED_AMOUNT_OWED = "notify.member.contribution_disputed_amount_owed"
NOTIFY_MEMBER_CONTRIBUTION_REFUND_FAILED = "notify.member.contribution_refund_failed"
NOTIFY_MEMBER_ROTATION_ROUND_CANCELLED = "notify.member.rotation_round_cancelled"
NOTIFY_MEMBER_ROTATION_ROUND_RESCHEDULED = "notify.member.rotation_round_rescheduled"
NOTIFY_MEMBER_ROTATION_MEMBER_REMOVED = "notify.member.rotation_member_removed"
NOTIFY_MEMBER_ROTATION_GROUP_DISSOLVED = "notify.member.rotation_group_dissolved"
NOTIFY_MEMBER_ROTATION_PAYOUT_HELD_FOR_DEBT = "notify.member.rotation_payout_held_for_debt"
NOTIFY_MEMBER_ROTATION_PAYOUT_RELEASED = "notify.member.rotation_payout_released"
NOTIFY_MEMBER_DEBT_COLLECTED = "notify.member.debt_collected"
NOTIFY_MEMBER_DEBT_DEBIT_FAILED = "notify.member.debt_debit_failed"
NOTIFY_MEMBER_DEBT_DEBIT_DISPUTED = "notify.member.debt_debit_disputed"
NOTIFY_MEMBER_DEBT_REFUND_STARTED = "notify.member.debt_refund_started"
NOTIFY_MEMBER_DEBT_REFUNDED = "notify.member.debt_refunded"
NOTIFY_MEMBER_DEBT_REFUND_FAILED = "notify.member.debt_refund_failed"
NOTIFY_MEMBER_PAYOUT_PAUSED = "notify.member.payout_paused"
NOTIFY_MEMBER_PAYOUT_HELD = "notify.member.payout_held"
NOTIFY_MEMBER_POT_TRANSFERRED = "notify.member.pot_transferred"
NOTIFY_MEMBER_BANK_PAYOUT_FAILED = "notify.member.bank_payout_failed"

# Dead letters: one subject per consumer that gave up.
DEADLETTER_PREFIX = "deadletter"
DEADLETTER_ALL = "deadletter.>"


def stripe_event(event_type: str) -> str:
    """Subject of a normalized Stripe event, e.g. ``stripe.payment_intent.succeeded``."""
    return f"{STRIPE_PREFIX}.{event_type}"


def cycle_status(status: str) -> str:
    """Subject of a cycle's status change, e.g. ``collections.evt.cycle_funded``."""
    return f"{COLLECTIONS_CYCLE_STATUS_PREFIX}.cycle_{status}"


def notify_member(kind: str) -> str:
    """Subject of a notification to a member, e.g. ``notify.member.debit_failed``."""
    return f"{NOTIFY_MEMBER_PREFIX}.{kind}"


def dead_letter(service: str, consumer: str) -> str:
    """Subject where ``consumer`` of ``service`` puts the messages it gave up on."""
    return f"{DEADLETTER_PREFIX}.{service}.{consumer}"
