"""Which message travels on which subject: the source of the AsyncAPI document.

Each later feature adds its channels here, next to the model it defines.
"""

from dataclasses import dataclass

from contracts import subjects
from contracts.collections import (
    CloseCollection,
    CreateDebtPaymentIntent,
    CreateDebtRefund,
    CreatePaymentIntent,
    CreateRefund,
    CycleStatusChanged,
    ReadChargeFee,
    ReadDebtChargeFee,
    RetryContribution,
    StartCycle,
)
from contracts.deadletter import MessageDeadLettered
from contracts.messages import Message
from contracts.notifications import MemberNotification
from contracts.onboarding import (
    GroupActivated,
    MemberPaymentMethodChanged,
    MemberReadinessChanged,
    PayoutAccountRestored,
    PayoutAccountRestricted,
)
from contracts.payouts import (
    CyclePaid,
    HoldCyclePayout,
    MakeTransfers,
    PayCycle,
    PayoutPaused,
    PayoutResumed,
    ReleaseCyclePayout,
    RetryPayout,
)
from contracts.reconciliation import ReconcileDay, ReconciliationCompleted
from contracts.rotation import (
    MembersRemoved,
    PayoutHeldForDelinquency,
    RotationAwaitingAdminDecision,
    RotationCompleted,
    RotationDissolved,
    RotationResumed,
    RoundRetried,
)
from contracts.scheduler import CancelTimer, ScheduleTimer
from contracts.stripe_events import StripeEventReceived


@dataclass(frozen=True)
class Channel:
    subject: str
    payload: type[Message]
    publisher: str
    description: str


CHANNELS: tuple[Channel, ...] = (
    Channel(
        subject=subjects.DEADLETTER_ALL,
        payload=MessageDeadLettered,
        publisher="any consumer",
        description="A message its consumer gave up on after max_deliver attempts (or could not "
        "parse), kept with its last error. Subject: deadletter.<service>.<consumer>.",
    ),
    Channel(
        subject=subjects.SCHEDULER_SCHEDULE,
        payload=ScheduleTimer,
        publisher="any service",
        description="Set a durable timer, or move it while pending; idempotent per timer_id. When "
        "due, its payload is published once to its target subject.",
    ),
    Channel(
        subject=subjects.SCHEDULER_CANCEL,
        payload=CancelTimer,
        publisher="any service",
        description="Cancel a durable timer for good, even one whose schedule has not arrived yet.",
    ),
    Channel(
        subject=subjects.STRIPE_ALL,
        payload=StripeEventReceived,
        publisher="webhooks",
        description="A verified Stripe event (platform or connected account), normalized; one message "
        "per event id, whatever Stripe redelivers. Subject: stripe.<event type>, e.g. "
        "stripe.payment_intent.succeeded. Neither ordered nor free of stale states: consumers "
        "compare object_status and created with what they hold.",
    ),
    Channel(
        subject=subjects.ONBOARDING_MEMBER_READINESS_CHANGED,
        payload=MemberReadinessChanged,
        publisher="onboarding",
        description="A member became ready (customer, active BECS mandate, payout account able to "
        "receive transfers) or stopped being ready, with what is missing.",
    ),
    Channel(
        subject=subjects.ONBOARDING_MEMBER_PAYMENT_METHOD_CHANGED,
        payload=MemberPaymentMethodChanged,
        publisher="onboarding",
        description="A member's BECS payment method or mandate changed: a new one authorised, or the "
        "mandate turned inactive. A new active mandate is collections' cue to retry.",
    ),
    Channel(
        subject=subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTRICTED,
        payload=PayoutAccountRestricted,
        publisher="onboarding",
        description="A member's payout account can no longer receive transfers; Stripe needs more.",
    ),
    Channel(
        subject=subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTORED,
        payload=PayoutAccountRestored,
        publisher="onboarding",
        description="A restricted payout account can receive transfers again: payouts may resume.",
    ),
    Channel(
        subject=subjects.ONBOARDING_GROUP_ACTIVATED,
        payload=GroupActivated,
        publisher="onboarding",
        description="A full group whose members are all ready, started by its admin, its payout order "
        "locked: the members in order with customer, payment method, mandate and payout account, and the "
        "policy.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_MANDATE_INACTIVE,
        payload=MemberNotification,
        publisher="onboarding",
        description="A member's BECS mandate turned inactive: they must authorise a bank account again.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_BECS_SETUP_FAILED,
        payload=MemberNotification,
        publisher="onboarding",
        description="Saving a member's bank account for BECS debits failed: they should try again.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_PAYOUT_ACCOUNT_RESTRICTED,
        payload=MemberNotification,
        publisher="onboarding",
        description="A member's payout account was restricted: they should complete Stripe's onboarding "
        "again.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_START_CYCLE,
        payload=StartCycle,
        publisher="scheduler (a timer collections set at the group's activation)",
        description="A cycle's start date came: collections debits every member's contribution.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_RETRY_CONTRIBUTION,
        payload=RetryContribution,
        publisher="scheduler (a timer collections set after a passing debit failure)",
        description="Make the next debit attempt of a contribution, if the cycle still wants it.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_CLOSE_COLLECTION,
        payload=CloseCollection,
        publisher="scheduler (a timer collections set when the cycle started)",
        description="A cycle's collection deadline passed: a cycle not yet funded is cancelled and refunded.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_CREATE_PAYMENT_INTENT,
        payload=CreatePaymentIntent,
        publisher="collections (to itself)",
        description="One BECS debit attempt to make at Stripe with its idempotency key, after the saga's "
        "transaction committed; its answer is fed back into the saga.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_CREATE_REFUND,
        payload=CreateRefund,
        publisher="collections (to itself)",
        description="One refund to make at Stripe with its idempotency key, after the saga's transaction "
        "committed.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_READ_CHARGE_FEE,
        payload=ReadChargeFee,
        publisher="collections (to itself)",
        description="Read Stripe's fee on a collected debit from its charge's balance transaction and book "
        "it as a platform cost, apart from the pot (once per debit attempt).",
    ),
    Channel(
        subject=subjects.COLLECTIONS_CREATE_DEBT_PAYMENT_INTENT,
        payload=CreateDebtPaymentIntent,
        publisher="collections (to itself)",
        description="One BECS debit of a member's dispute debt, which the member asked for through the "
        "API, to make at Stripe with its idempotency key after the request's transaction committed.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_READ_DEBT_CHARGE_FEE,
        payload=ReadDebtChargeFee,
        publisher="collections (to itself)",
        description="Read Stripe's fee on a member's collected debit of their dispute debt and book it as "
        "a platform cost (once per debt collection).",
    ),
    Channel(
        subject=subjects.COLLECTIONS_CREATE_DEBT_REFUND,
        payload=CreateDebtRefund,
        publisher="collections (to itself)",
        description="Refund (part of) the debit that paid a member's dispute debt: the dispute was won "
        "afterwards, so the member paid twice (once per debt collection and dispute).",
    ),
    Channel(
        subject=subjects.COLLECTIONS_CYCLE_STATUS_ALL,
        payload=CycleStatusChanged,
        publisher="collections",
        description="A cycle's status changed. Subject: collections.evt.cycle_<status> (collecting, funded, "
        "paying_out, payout_paused, completed, cancelling, cancelled).",
    ),
    Channel(
        subject=subjects.COLLECTIONS_RECONCILE_DAY,
        payload=ReconcileDay,
        publisher="scheduler (collections' daily timer)",
        description="Reconcile one day of the ledger with Stripe's records (timer "
        "collections:reconcile:<day>, due at 03:00 the next day in Australia/Sydney).",
    ),
    Channel(
        subject=subjects.COLLECTIONS_RECONCILIATION_COMPLETED,
        payload=ReconciliationCompleted,
        publisher="collections",
        description="A reconciliation of the ledger with Stripe finished: its counts and its differences "
        "(the first 100; the operator API has them all). Zero differences: reconciled.",
    ),
    Channel(
        subject=subjects.PAYOUTS_PAY_CYCLE,
        payload=PayCycle,
        publisher="collections",
        description="A cycle is funded: transfer its pot to the recipient, one transfer per collected charge "
        "(source_transaction), less the platform's fee share of each.",
    ),
    Channel(
        subject=subjects.PAYOUTS_CYCLE_PAID,
        payload=CyclePaid,
        publisher="payouts",
        description="Every transfer of a cycle was made; collections completes the cycle.",
    ),
    Channel(
        subject=subjects.PAYOUTS_PAYOUT_PAUSED,
        payload=PayoutPaused,
        publisher="payouts",
        description="A cycle's transfer could not be made now; collections marks the payout paused.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_CONTRIBUTION_MANDATE_NEEDED,
        payload=MemberNotification,
        publisher="collections",
        description="A cycle started while the member's mandate is inactive: they must authorise a bank "
        "account before their contribution is debited.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_CONTRIBUTION_DEBIT_FAILED_RETRYING,
        payload=MemberNotification,
        publisher="collections",
        description="A contribution's debit failed for a passing reason; it is debited again at the "
        "time given.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_CONTRIBUTION_DEBIT_FAILED_AUTHORISE_AGAIN,
        payload=MemberNotification,
        publisher="collections",
        description="A contribution's debit failed on a mandate that is gone: the member must authorise a "
        "bank account again before the deadline.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_CONTRIBUTION_DEBIT_FAILED_FINAL,
        payload=MemberNotification,
        publisher="collections",
        description="A contribution can no longer be collected this cycle.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_CONTRIBUTION_DISPUTED_AMOUNT_OWED,
        payload=MemberNotification,
        publisher="collections",
        description="The member disputed a debit already paid out or refunded: they owe its amount.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_CONTRIBUTION_REFUND_FAILED,
        payload=MemberNotification,
        publisher="collections",
        description="Stripe could not refund a member's contribution; it is owed to them.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_ROTATION_AWAITING_ADMIN_DECISION,
        payload=RotationAwaitingAdminDecision,
        publisher="collections",
        description="A round was cancelled at its deadline: the group's cycles not started are held "
        "until its admin retries the round, removes the defaulting members or dissolves the group.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_ROTATION_ROUND_RETRIED,
        payload=RoundRetried,
        publisher="collections",
        description="The admin retried a cancelled round: the cycle runs again under a new cycle id.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_ROTATION_MEMBERS_REMOVED,
        payload=MembersRemoved,
        publisher="collections",
        description="The admin removed defaulting members: the cycles dropped, and where each removed "
        "member stands.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_ROTATION_RESUMED,
        payload=RotationResumed,
        publisher="collections",
        description="After the admin's decision the held cycles are scheduled again.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_ROTATION_DISSOLVED,
        payload=RotationDissolved,
        publisher="collections",
        description="The admin dissolved the group: no cycle runs any more; where every member stands.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_ROTATION_COMPLETED,
        payload=RotationCompleted,
        publisher="collections",
        description="Every cycle of the group's rotation was paid out.",
    ),
    Channel(
        subject=subjects.COLLECTIONS_PAYOUT_HELD_FOR_DELINQUENCY,
        payload=PayoutHeldForDelinquency,
        publisher="collections",
        description="A cycle is funded but its recipient owes the group after a dispute: its pot is held.",
    ),
    Channel(
        subject=subjects.PAYOUTS_HOLD_CYCLE,
        payload=HoldCyclePayout,
        publisher="collections",
        description="Do not transfer the cycle's pot until it is released: its recipient owes the group.",
    ),
    Channel(
        subject=subjects.PAYOUTS_RELEASE_CYCLE,
        payload=ReleaseCyclePayout,
        publisher="collections",
        description="The recipient's debt is settled or written off: the cycle's pot may be transferred.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_ROTATION_ROUND_CANCELLED,
        payload=MemberNotification,
        publisher="collections",
        description="A round of the member's group was cancelled at its deadline; the group waits for "
        "its admin.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_ROTATION_ROUND_RESCHEDULED,
        payload=MemberNotification,
        publisher="collections",
        description="The group's rotation goes on: the next cycle's start day.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_ROTATION_MEMBER_REMOVED,
        payload=MemberNotification,
        publisher="collections",
        description="The group's admin removed the member from the rotation; they are debited no more.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_ROTATION_GROUP_DISSOLVED,
        payload=MemberNotification,
        publisher="collections",
        description="The group's admin dissolved the group: no cycle runs any more.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_ROTATION_PAYOUT_HELD_FOR_DEBT,
        payload=MemberNotification,
        publisher="collections",
        description="The member's pot is held until they pay what they owe after a dispute.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_ROTATION_PAYOUT_RELEASED,
        payload=MemberNotification,
        publisher="collections",
        description="The member's held pot is released.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_DEBT_COLLECTED,
        payload=MemberNotification,
        publisher="collections",
        description="The member's debit of their dispute debt was collected: they owe the group nothing "
        "more for those disputes, and a pot held for the debt is released.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_DEBT_DEBIT_FAILED,
        payload=MemberNotification,
        publisher="collections",
        description="The member's debit of their dispute debt failed (the reason is given): the debt is "
        "still owed, and they may ask to pay again.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_DEBT_DEBIT_DISPUTED,
        payload=MemberNotification,
        publisher="collections",
        description="The member's bank returned the debit that paid their dispute debt: they owe it again.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_DEBT_REFUND_STARTED,
        payload=MemberNotification,
        publisher="collections",
        description="A dispute the member had paid the debt of was won after all: the debit that paid it "
        "is being refunded to them.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_DEBT_REFUNDED,
        payload=MemberNotification,
        publisher="collections",
        description="The refund of the member's debt debit, paid twice, reached their bank.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_DEBT_REFUND_FAILED,
        payload=MemberNotification,
        publisher="collections",
        description="The refund of the member's debt debit, paid twice, failed at their bank: it stays owed "
        "to them, for an operator to pay.",
    ),
    Channel(
        subject=subjects.PAYOUTS_PAYOUT_RESUMED,
        payload=PayoutResumed,
        publisher="payouts",
        description="A paused cycle's payout is tried again (the account can receive, or a person retried).",
    ),
    Channel(
        subject=subjects.PAYOUTS_MAKE_TRANSFERS,
        payload=MakeTransfers,
        publisher="payouts",
        description="Payouts to itself: make the cycle's transfers not made yet, after the decision commits.",
    ),
    Channel(
        subject=subjects.PAYOUTS_RETRY_PAYOUT,
        payload=RetryPayout,
        publisher="payouts",
        description="Payouts to itself (a timer, the admin, an operator): look at a waiting payout again.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_PAYOUT_PAUSED,
        payload=MemberNotification,
        publisher="payouts",
        description="The member's pot cannot be transferred: their payout account cannot receive; what "
        "to fix and the API step that fixes it.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_PAYOUT_HELD,
        payload=MemberNotification,
        publisher="payouts",
        description="The member's pot is held (first-payout hold): why and until when.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_POT_TRANSFERRED,
        payload=MemberNotification,
        publisher="payouts",
        description="The member's pot was transferred to their payout account.",
    ),
    Channel(
        subject=subjects.NOTIFY_MEMBER_BANK_PAYOUT_FAILED,
        payload=MemberNotification,
        publisher="payouts",
        description="Stripe could not pay the member's balance to their bank: the money waits in their "
        "Stripe balance until they fix their bank details.",
    ),
)
