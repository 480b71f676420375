"""The collections service's calls to Stripe: one BECS debit attempt, one refund.

The client (settings, the shared request budget, error translation) is the runtime's. Every call
carries the idempotency key the saga chose for it (``contribution-<id>-<attempt>``,
``refund-<id>-<attempt>``), so a repeated call, after a crash or a timeout, gets Stripe's first
answer instead of making a second debit or refund.
"""

from dataclasses import dataclass
from typing import Any

import stripe

from contracts.collections import CreatePaymentIntent, CreateRefund
from services.runtime.stripe_client import stripe_errors_translated

BECS = "au_becs_debit"


@dataclass(frozen=True)
class PaymentIntentAnswer:
    payment_intent_id: str
    status: str
    charge_id: str | None
    failure_code: str | None


@dataclass(frozen=True)
class RefundAnswer:
    refund_id: str
    status: str | None
    charge_id: str | None
    failure_reason: str | None


class StripeCollections:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def create_payment_intent(self, command: CreatePaymentIntent) -> PaymentIntentAnswer:
        params: Any = {
            "amount": command.amount,
            "currency": command.currency,
            "customer": command.customer_id,
            "payment_method": command.payment_method_id,
            "allowed_payment_method_types": [BECS],
            "mandate": command.mandate_id,
            "confirm": True,
            "off_session": True,
            "transfer_group": command.transfer_group,
            "metadata": command.metadata,
        }
        with stripe_errors_translated():
            intent = await self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": command.idempotency_key}
            )
        error = intent.last_payment_error
        return PaymentIntentAnswer(
            payment_intent_id=intent.id,
            status=intent.status,
            charge_id=_id_of(intent.latest_charge),
            failure_code=error.code if error is not None else None,
        )

    async def create_refund(self, command: CreateRefund) -> RefundAnswer:
        params: Any = {
            "payment_intent": command.payment_intent_id,
            "amount": command.amount,
            "metadata": command.metadata,
        }
        with stripe_errors_translated():
            refund = await self._client.v1.refunds.create_async(
                params, {"idempotency_key": command.idempotency_key}
            )
        return RefundAnswer(
            refund_id=refund.id,
            status=refund.status,
            charge_id=_id_of(refund.charge),
            failure_reason=refund.failure_reason,
        )


def _id_of(value: object) -> str | None:
    if isinstance(value, str):
        return value
    found = getattr(value, "id", None)
    return found if isinstance(found, str) else None
