"""The payouts service's message edge: collections' pay, hold and release commands; its own
make-transfers and retry commands; onboarding's groups and payout-account facts; Stripe's
``account.updated`` and ``payout.*`` from the Connect endpoint.

Every handler runs in the transaction its inbox row commits in (a redelivered message is dropped
there); a payout is locked while it is decided or its transfers are made.
"""

import logging

from contracts import subjects
from contracts.onboarding import (
    GroupActivated,
    MemberReadinessChanged,
    PayoutAccountRestored,
    PayoutAccountRestricted,
)
from contracts.payouts import HoldCyclePayout, MakeTransfers, PayCycle, ReleaseCyclePayout, RetryPayout
from contracts.streams import ONBOARDING, PAYOUTS, STRIPE
from contracts.stripe_events import StripeEventReceived
from services.payouts.deps import Payouts
from services.payouts.domain.recipient import report_from_account_object
from services.payouts.service_layer import accounts, bank_payouts, payout_steps, transfers
from services.payouts.store import accounts as account_store
from services.payouts.store import groups, holds
from services.runtime.consumer import Handling, MessageRouter

log = logging.getLogger(__name__)

router = MessageRouter(service="payouts")


# Each cycle's payout is its own (its row locked while it decides and transfers): many cycles settling
# at once are paid side by side, each waiting on Stripe and the database without holding up the rest.
CYCLES_IN_FLIGHT = 16


@router.subscriber(
    subjects.PAYOUTS_PAY_CYCLE,
    stream=PAYOUTS.name,
    durable="payouts-pay-cycle",
    max_in_flight=CYCLES_IN_FLIGHT,
)
async def on_pay_cycle(message: PayCycle, handling: Handling[Payouts]) -> None:
    outcome = await payout_steps.on_pay_cycle(
        handling.session, message, handling.dependencies, handling.clock.now()
    )
    log.info("pay cycle %s: %s", message.cycle_id, outcome)


@router.subscriber(
    subjects.PAYOUTS_MAKE_TRANSFERS,
    stream=PAYOUTS.name,
    durable="payouts-make-transfers",
    max_in_flight=CYCLES_IN_FLIGHT,
)
async def on_make_transfers(message: MakeTransfers, handling: Handling[Payouts]) -> None:
    outcome = await transfers.make_transfers(
        handling.session,
        message,
        handling.dependencies,
        handling.clock.now(),
        last_try=handling.last_delivery,
    )
    log.info("transfers of cycle %s (round %d): %s", message.cycle_id, message.round, outcome)


@router.subscriber(subjects.PAYOUTS_RETRY_PAYOUT, stream=PAYOUTS.name, durable="payouts-retry-payout")
async def on_retry_payout(message: RetryPayout, handling: Handling[Payouts]) -> None:
    outcome = await payout_steps.look_again(
        handling.session,
        message.cycle_id,
        handling.dependencies,
        handling.clock.now(),
        why=message.reason,
        forced=message.force,
        cause=message.message_id,
    )
    log.info("payout of cycle %s looked at again (%s): %s", message.cycle_id, message.reason, outcome)


@router.subscriber(subjects.PAYOUTS_HOLD_CYCLE, stream=PAYOUTS.name, durable="payouts-hold-cycle")
async def on_hold_cycle(message: HoldCyclePayout, handling: Handling[Payouts]) -> None:
    session, now = handling.session, handling.clock.now()
    await holds.hold(
        session, message.cycle_id, message.group_id, message.recipient_member_id, message.occurred_at
    )
    outcome = await payout_steps.look_again(
        session,
        message.cycle_id,
        handling.dependencies,
        now,
        why="held",
        forced=False,
        cause=message.message_id,
    )
    log.info("cycle %s held (recipient owes the group): %s", message.cycle_id, outcome)


@router.subscriber(subjects.PAYOUTS_RELEASE_CYCLE, stream=PAYOUTS.name, durable="payouts-release-cycle")
async def on_release_cycle(message: ReleaseCyclePayout, handling: Handling[Payouts]) -> None:
    session, now = handling.session, handling.clock.now()
    await holds.release(
        session, message.cycle_id, message.group_id, message.recipient_member_id, message.occurred_at
    )
    outcome = await payout_steps.look_again(
        session,
        message.cycle_id,
        handling.dependencies,
        now,
        why="released",
        forced=False,
        cause=message.message_id,
    )
    log.info("cycle %s released: %s", message.cycle_id, outcome)


@router.subscriber(
    subjects.ONBOARDING_GROUP_ACTIVATED, stream=ONBOARDING.name, durable="payouts-group-activated"
)
async def on_group_activated(message: GroupActivated, handling: Handling[Payouts]) -> None:
    recorded = await groups.record_activation(handling.session, message)
    for member in message.members:
        await account_store.remember_member(handling.session, member.connected_account_id, member.member_id)
    log.info("group %s activated: %s", message.group_id, "recorded" if recorded else "already known")


@router.subscriber(
    subjects.ONBOARDING_MEMBER_READINESS_CHANGED,
    stream=ONBOARDING.name,
    durable="payouts-member-readiness-changed",
)
async def on_member_readiness_changed(message: MemberReadinessChanged, handling: Handling[Payouts]) -> None:
    report = accounts.from_readiness(message)
    if report is None:
        return
    outcome = await accounts.on_report(handling.session, report, handling.clock.now(), message.message_id)
    log.info("member %s readiness: account %s %s", message.member_id, report.connected_account_id, outcome)


@router.subscriber(
    subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTRICTED,
    stream=ONBOARDING.name,
    durable="payouts-payout-account-restricted",
)
async def on_payout_account_restricted(message: PayoutAccountRestricted, handling: Handling[Payouts]) -> None:
    report = accounts.from_restricted(message)
    outcome = await accounts.on_report(handling.session, report, handling.clock.now(), message.message_id)
    log.info("account %s restricted: %s", message.connected_account_id, outcome)


@router.subscriber(
    subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTORED,
    stream=ONBOARDING.name,
    durable="payouts-payout-account-restored",
)
async def on_payout_account_restored(message: PayoutAccountRestored, handling: Handling[Payouts]) -> None:
    report = accounts.from_restored(message)
    outcome = await accounts.on_report(handling.session, report, handling.clock.now(), message.message_id)
    log.info("account %s restored: %s", message.connected_account_id, outcome)


@router.subscriber(
    subjects.stripe_event("account.updated"), stream=STRIPE.name, durable="payouts-account-updated"
)
async def on_account_updated(message: StripeEventReceived, handling: Handling[Payouts]) -> None:
    if message.account is None or message.object_type != "account":
        return  # the platform's own account
    report = report_from_account_object(message.raw_object, message.created)
    outcome = await accounts.on_report(handling.session, report, handling.clock.now(), message.message_id)
    log.info("account.updated %s (%s): %s", message.account, message.event_id, outcome)


async def on_bank_payout(message: StripeEventReceived, handling: Handling[Payouts]) -> None:
    outcome = await bank_payouts.on_payout_event(handling.session, message, handling.clock.now())
    log.info("%s %s on %s: %s", message.event_type, message.object_id, message.account, outcome)


for _event_type in bank_payouts.PAYOUT_EVENTS:
    router.subscriber(
        subjects.stripe_event(_event_type),
        stream=STRIPE.name,
        durable=f"payouts-{_event_type.replace('.', '-')}",
    )(on_bank_payout)
