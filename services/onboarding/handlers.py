"""The onboarding service's message edge: Stripe's reports on SetupIntents, mandates and accounts.

Each subscriber translates the normalized Stripe event into a call of ``becs`` or
``payout_accounts``, in the transaction the inbox row commits in. Stripe neither orders nor
deduplicates its events; the inbox drops a message seen before, and every rule below compares the
report with what is already held, so a stale or repeated one changes nothing. The Stripe client
comes with ``handling.dependencies``, the ``Onboarding`` built once in ``create_app``.
"""

import logging

from contracts import subjects
from contracts.streams import STRIPE
from contracts.stripe_events import StripeEventReceived
from services.onboarding.deps import Onboarding
from services.onboarding.metrics import STRIPE_EVENTS
from services.onboarding.service_layer import becs, payout_accounts
from services.runtime.consumer import Handling, MessageRouter

log = logging.getLogger(__name__)

router = MessageRouter(service="onboarding")


@router.subscriber(
    subjects.stripe_event("setup_intent.succeeded"),
    stream=STRIPE.name,
    durable="onboarding-setup-intent-succeeded",
)
async def on_setup_intent_succeeded(message: StripeEventReceived, handling: Handling[Onboarding]) -> None:
    _taken(message, await becs.on_setup_intent_succeeded(handling.session, message, handling.clock))


@router.subscriber(
    subjects.stripe_event("setup_intent.setup_failed"),
    stream=STRIPE.name,
    durable="onboarding-setup-intent-failed",
)
async def on_setup_intent_setup_failed(message: StripeEventReceived, handling: Handling[Onboarding]) -> None:
    _taken(message, await becs.on_setup_intent_failed(handling.session, message, handling.clock))


@router.subscriber(
    subjects.stripe_event("mandate.updated"), stream=STRIPE.name, durable="onboarding-mandate-updated"
)
async def on_mandate_updated(message: StripeEventReceived, handling: Handling[Onboarding]) -> None:
    _taken(message, await becs.on_mandate_updated(handling.session, message, handling.clock))


@router.subscriber(
    subjects.stripe_event("account.updated"), stream=STRIPE.name, durable="onboarding-account-updated"
)
async def on_account_updated(message: StripeEventReceived, handling: Handling[Onboarding]) -> None:
    await _take_account_event(message, handling)


@router.subscriber(
    subjects.stripe_event("capability.updated"),
    stream=STRIPE.name,
    durable="onboarding-capability-updated",
)
async def on_capability_updated(message: StripeEventReceived, handling: Handling[Onboarding]) -> None:
    await _take_account_event(message, handling)


async def _take_account_event(message: StripeEventReceived, handling: Handling[Onboarding]) -> None:
    stripe_api = handling.dependencies.stripe
    _taken(
        message, await payout_accounts.on_account_event(handling.session, stripe_api, message, handling.clock)
    )


def _taken(event: StripeEventReceived, outcome: str) -> None:
    STRIPE_EVENTS.labels(event.event_type, outcome).inc()
    log.info("%s %s (%s): %s", event.event_type, event.object_id, event.event_id, outcome)
