"""The collections service's message edge: activations and mandates from onboarding, the cycle's
timers, its own Stripe calls, Stripe's reports and payouts' answers, each into the cycle saga.

Every handler runs in the transaction its inbox row commits in (a redelivered message is dropped
there); the saga step it makes is saved with the cycle's version checked, so two messages of one
cycle handled at once never overwrite each other: the later one is redelivered and decided again.
"""

import logging

from contracts import subjects
from contracts.collections import (
    CloseCollection,
    CreateDebtPaymentIntent,
    CreateDebtRefund,
    CreatePaymentIntent,
    CreateRefund,
    ReadChargeFee,
    ReadDebtChargeFee,
    RetryContribution,
    StartCycle,
)
from contracts.onboarding import GroupActivated, MemberPaymentMethodChanged
from contracts.payouts import CyclePaid, PayoutPaused
from contracts.reconciliation import ReconcileDay
from contracts.streams import COLLECTIONS, ONBOARDING, PAYOUTS, STRIPE
from contracts.stripe_events import StripeEventReceived
from services.collections.deps import Collections
from services.collections.domain import messages as saga
from services.collections.service_layer import (
    debt_calls,
    members,
    reconciliation,
    rotations,
    stripe_calls,
    stripe_events,
    stripe_report_batches,
)
from services.collections.service_layer.cycle_steps import apply_to_cycle
from services.collections.service_layer.stripe_reports import (
    DISPUTE_EVENTS,
    PAYMENT_INTENT_EVENTS,
    REFUND_EVENTS,
)
from services.runtime.consumer import BatchHandling, Delivered, Handling, MessageRouter
from services.runtime.stripe_client import StripeBusyError, stripe_errors_translated

log = logging.getLogger(__name__)

router = MessageRouter(service="collections")

# Stripe calls a consumer makes at once. Each is one attempt, independent of the others, and mostly
# waits: for its turn in the shared budget, for Stripe, then for its cycle's row lock, as the debits
# of a cycle come one after another and record their answers one at a time. One at a time, a debit's
# round trip capped the consumer far below a 100/s budget; 32 in flight keep about three cycles'
# debits going at once. Each holds a database connection while it waits (the pool is sized for it).
# Refunds and fee reads come spread over a cycle's days: fewer.
DEBITS_IN_FLIGHT = 32
OTHER_STRIPE_CALLS_IN_FLIGHT = 8


@router.subscriber(
    subjects.ONBOARDING_GROUP_ACTIVATED, stream=ONBOARDING.name, durable="collections-group-activated"
)
async def on_group_activated(message: GroupActivated, handling: Handling[Collections]) -> None:
    planned = await rotations.on_group_activated(handling.session, message, handling.clock.now())
    log.info("group %s activated: %s", message.group_id, "rotation planned" if planned else "already planned")


@router.subscriber(
    subjects.ONBOARDING_MEMBER_PAYMENT_METHOD_CHANGED,
    stream=ONBOARDING.name,
    durable="collections-member-payment-method-changed",
)
async def on_member_payment_method_changed(
    message: MemberPaymentMethodChanged, handling: Handling[Collections]
) -> None:
    moved = await members.on_payment_method_changed(handling.session, message, handling.clock.now())
    log.info("member %s payment method %s: %d cycles moved", message.member_id, message.mandate_status, moved)


@router.subscriber(
    subjects.COLLECTIONS_START_CYCLE, stream=COLLECTIONS.name, durable="collections-start-cycle"
)
async def on_start_cycle(message: StartCycle, handling: Handling[Collections]) -> None:
    await rotations.on_start_cycle(handling.session, message, handling.clock.now())


@router.subscriber(
    subjects.COLLECTIONS_RETRY_CONTRIBUTION, stream=COLLECTIONS.name, durable="collections-retry-contribution"
)
async def on_retry_contribution(message: RetryContribution, handling: Handling[Collections]) -> None:
    due = saga.RetryDue(message.occurred_at, message.contribution_id, message.attempt)
    await apply_to_cycle(handling.session, message.cycle_id, due, handling.clock.now(), message.message_id)


@router.subscriber(
    subjects.COLLECTIONS_CLOSE_COLLECTION, stream=COLLECTIONS.name, durable="collections-close-collection"
)
async def on_close_collection(message: CloseCollection, handling: Handling[Collections]) -> None:
    reached = saga.DeadlineReached(message.occurred_at)
    await apply_to_cycle(
        handling.session, message.cycle_id, reached, handling.clock.now(), message.message_id
    )


@router.subscriber(
    subjects.COLLECTIONS_CREATE_PAYMENT_INTENT,
    stream=COLLECTIONS.name,
    durable="collections-create-payment-intent",
    max_in_flight=DEBITS_IN_FLIGHT,
)
async def on_create_payment_intent(message: CreatePaymentIntent, handling: Handling[Collections]) -> None:
    outcome = await stripe_calls.create_payment_intent(
        handling.session,
        handling.dependencies.stripe,
        message,
        handling.clock.now(),
        last_try=handling.last_delivery,
    )
    log.info("debit %s: %s", message.idempotency_key, outcome)


@router.subscriber(
    subjects.COLLECTIONS_CREATE_DEBT_PAYMENT_INTENT,
    stream=COLLECTIONS.name,
    durable="collections-create-debt-payment-intent",
)
async def on_create_debt_payment_intent(
    message: CreateDebtPaymentIntent, handling: Handling[Collections]
) -> None:
    outcome = await debt_calls.create_debt_payment_intent(
        handling.session,
        handling.dependencies.stripe,
        message,
        handling.clock.now(),
        last_try=handling.last_delivery,
    )
    log.info("debt debit %s: %s", message.idempotency_key, outcome)


@router.subscriber(
    subjects.COLLECTIONS_READ_DEBT_CHARGE_FEE,
    stream=COLLECTIONS.name,
    durable="collections-read-debt-charge-fee",
)
async def on_read_debt_charge_fee(message: ReadDebtChargeFee, handling: Handling[Collections]) -> None:
    outcome = await debt_calls.book_debt_charge_fee(
        handling.session,
        handling.dependencies.stripe,
        message,
        handling.clock.now(),
        last_try=handling.last_delivery,
    )
    log.info("Stripe fee of debt debit %s: %s", message.payment_intent_id, outcome)


@router.subscriber(
    subjects.COLLECTIONS_CREATE_DEBT_REFUND,
    stream=COLLECTIONS.name,
    durable="collections-create-debt-refund",
)
async def on_create_debt_refund(message: CreateDebtRefund, handling: Handling[Collections]) -> None:
    outcome = await debt_calls.create_debt_refund(
        handling.session,
        handling.dependencies.stripe,
        message,
        handling.clock.now(),
        last_try=handling.last_delivery,
    )
    log.info("debt refund %s: %s", message.idempotency_key, outcome)


@router.subscriber(
    subjects.COLLECTIONS_CREATE_REFUND,
    stream=COLLECTIONS.name,
    durable="collections-create-refund",
    max_in_flight=OTHER_STRIPE_CALLS_IN_FLIGHT,
)
async def on_create_refund(message: CreateRefund, handling: Handling[Collections]) -> None:
    outcome = await stripe_calls.create_refund(
        handling.session,
        handling.dependencies.stripe,
        message,
        handling.clock.now(),
        last_try=handling.last_delivery,
    )
    log.info("refund %s: %s", message.idempotency_key, outcome)


@router.subscriber(
    subjects.COLLECTIONS_READ_CHARGE_FEE,
    stream=COLLECTIONS.name,
    durable="collections-read-charge-fee",
    max_in_flight=OTHER_STRIPE_CALLS_IN_FLIGHT,
)
async def on_read_charge_fee(message: ReadChargeFee, handling: Handling[Collections]) -> None:
    outcome = await stripe_calls.book_charge_fee(
        handling.session,
        handling.dependencies.stripe,
        message,
        handling.clock.now(),
        last_try=handling.last_delivery,
    )
    log.info("Stripe fee of charge %s: %s", message.charge_id, outcome)


async def on_stripe_report(message: StripeEventReceived, handling: Handling[Collections]) -> None:
    outcome = await stripe_events.on_stripe_report(handling.session, message, handling.clock.now())
    log.info("%s %s (%s): %s", message.event_type, message.object_id, message.event_id, outcome)


async def on_stripe_reports(
    batch: list[Delivered[StripeEventReceived]], handling: BatchHandling[Collections]
) -> None:
    """Many reports at once, each as ``on_stripe_report`` would (see ``stripe_report_batches``)."""
    events = [delivered.message for delivered in batch]
    outcomes = await stripe_report_batches.on_stripe_reports(handling.session, events, handling.clock.now())
    for message, outcome in zip(events, outcomes, strict=True):
        log.info("%s %s (%s): %s", message.event_type, message.object_id, message.event_id, outcome)


for _event_type in (*PAYMENT_INTENT_EVENTS, *REFUND_EVENTS, *DISPUTE_EVENTS):
    router.subscriber(
        subjects.stripe_event(_event_type),
        stream=STRIPE.name,
        durable=f"collections-{_event_type.replace('.', '-').replace('_', '-')}",
        batch=on_stripe_reports,
    )(on_stripe_report)


@router.subscriber(subjects.PAYOUTS_CYCLE_PAID, stream=PAYOUTS.name, durable="collections-cycle-paid")
async def on_cycle_paid(message: CyclePaid, handling: Handling[Collections]) -> None:
    paid = saga.CyclePaid(message.occurred_at, message.transferred_amount)
    await apply_to_cycle(handling.session, message.cycle_id, paid, handling.clock.now(), message.message_id)


@router.subscriber(subjects.PAYOUTS_PAYOUT_PAUSED, stream=PAYOUTS.name, durable="collections-payout-paused")
async def on_payout_paused(message: PayoutPaused, handling: Handling[Collections]) -> None:
    paused = saga.PayoutPaused(message.occurred_at, message.reason)
    await apply_to_cycle(handling.session, message.cycle_id, paused, handling.clock.now(), message.message_id)


@router.subscriber(
    subjects.COLLECTIONS_RECONCILE_DAY, stream=COLLECTIONS.name, durable="collections-reconcile-day"
)
async def on_reconcile_day(message: ReconcileDay, handling: Handling[Collections]) -> None:
    try:
        with stripe_errors_translated():
            record = await reconciliation.on_reconcile_day(
                handling.session, handling.dependencies.stripe_books, message, handling.clock.now()
            )
    except StripeBusyError as busy:
        raise stripe_calls.put_off(busy) from busy
    log.info("reconciled %s: %d differences", message.day, len(record.differences))
