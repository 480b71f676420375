"""The collections service's calls to Stripe: one BECS debit attempt, one refund, the fee Stripe
took on a debit, and the look-up of a debit or refund made once already (by its metadata); the
same for a member's debit of their dispute debt (``debt-<collection>-<attempt>``) and the refund of
a debt paid twice (``debt-refund-<collection>-<dispute>``).

The client (settings, the shared request budget, error translation) is the runtime's. Every call
carries the idempotency key the saga chose for it (``contribution-<id>-<attempt>``,
``refund-<id>-<attempt>``), so a repeated call, after a crash or a timeout, gets Stripe's first
answer instead of making a second debit or refund, for as long as Stripe keeps the key (24 h):
after that, ``find_payment_intent`` and ``find_refund`` look for what the first try made.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import stripe

from contracts.collections import CreateDebtPaymentIntent, CreateDebtRefund, CreatePaymentIntent, CreateRefund
from services.runtime.stripe_client import stripe_errors_translated

BECS = "au_becs_debit"
_ATTEMPT_KEYS = ("contribution_id", "attempt")
_DEBT_ATTEMPT_KEYS = ("debt_collection_id", "attempt")
_DEBT_REFUND_KEYS = ("debt_collection_id", "dispute_id")


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
        return _payment_intent_answer(intent)

    async def find_payment_intent(self, command: CreatePaymentIntent) -> PaymentIntentAnswer | None:
        """The PaymentIntent an earlier try of ``command`` made, found by the contribution and attempt
        in its metadata among the customer's, or None. Stripe's search API would do it in one
        request, but its index lags by up to a minute; listing is exact (and a member has few)."""
        params: Any = {"customer": command.customer_id, "limit": 100}
        with stripe_errors_translated():
            page = await self._client.v1.payment_intents.list_async(params)
            async for intent in page.auto_paging_iter():
                if _same_attempt(intent.metadata, command.metadata):
                    return _payment_intent_answer(intent)
        return None

    async def create_debt_payment_intent(self, command: CreateDebtPaymentIntent) -> PaymentIntentAnswer:
        """A member's debit of their dispute debt: as a contribution's, but in no cycle's transfer group."""
        params: Any = {
            "amount": command.amount,
            "currency": command.currency,
            "customer": command.customer_id,
            "payment_method": command.payment_method_id,
            "allowed_payment_method_types": [BECS],
            "mandate": command.mandate_id,
            "confirm": True,
            "off_session": True,
            "metadata": command.metadata,
        }
        with stripe_errors_translated():
            intent = await self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": command.idempotency_key}
            )
        return _payment_intent_answer(intent)

    async def find_debt_payment_intent(self, command: CreateDebtPaymentIntent) -> PaymentIntentAnswer | None:
        """The debit an earlier try of ``command`` made, found by its debt collection and attempt."""
        params: Any = {"customer": command.customer_id, "limit": 100}
        with stripe_errors_translated():
            page = await self._client.v1.payment_intents.list_async(params)
            async for intent in page.auto_paging_iter():
                if _tagged_alike(intent.metadata, command.metadata, _DEBT_ATTEMPT_KEYS):
                    return _payment_intent_answer(intent)
        return None

    async def charge_fee(self, payment_intent_id: str) -> int | None:
        """Stripe's fee on the debit's charge (its balance transaction's ``fee``); None while Stripe
        has not booked the charge yet.

        The same request as ``payment_intents.retrieve``, its answer read as plain JSON: the SDK's
        objects for the intent, its charge and their balance transaction cost more CPU than the
        rest of the call (benchmarks/README.md, "Payouts latency")."""
        with stripe_errors_translated():
            answer = await self._client.raw_request_async(
                "get",
                f"/v1/payment_intents/{quote_plus(payment_intent_id)}",
                expand=["latest_charge.balance_transaction"],
            )
        charge = answer.data.get("latest_charge")
        transaction = charge.get("balance_transaction") if isinstance(charge, dict) else None
        fee = transaction.get("fee") if isinstance(transaction, dict) else None
        return fee if isinstance(fee, int) else None

    async def create_refund(self, command: CreateRefund | CreateDebtRefund) -> RefundAnswer:
        """A contribution's debit given back, or part or all of the debit that paid a member's debt
        (the debt was paid twice): the same request, told apart by their metadata and keys."""
        params: Any = {
            "payment_intent": command.payment_intent_id,
            "amount": command.amount,
            "metadata": command.metadata,
        }
        with stripe_errors_translated():
            refund = await self._client.v1.refunds.create_async(
                params, {"idempotency_key": command.idempotency_key}
            )
        return _refund_answer(refund)

    async def create_debt_refund(self, command: CreateDebtRefund) -> RefundAnswer:
        return await self.create_refund(command)

    async def find_debt_refund(self, command: CreateDebtRefund) -> RefundAnswer | None:
        """The refund an earlier try of ``command`` made, found by its debt collection and dispute."""
        params: Any = {"payment_intent": command.payment_intent_id, "limit": 100}
        with stripe_errors_translated():
            page = await self._client.v1.refunds.list_async(params)
            async for refund in page.auto_paging_iter():
                if _tagged_alike(refund.metadata, command.metadata, _DEBT_REFUND_KEYS):
                    return _refund_answer(refund)
        return None

    async def find_refund(self, command: CreateRefund) -> RefundAnswer | None:
        """The refund an earlier try of ``command`` made, found by its metadata, or None."""
        params: Any = {"payment_intent": command.payment_intent_id, "limit": 100}
        with stripe_errors_translated():
            page = await self._client.v1.refunds.list_async(params)
            async for refund in page.auto_paging_iter():
                if _same_attempt(refund.metadata, command.metadata):
                    return _refund_answer(refund)
        return None


def _payment_intent_answer(intent: stripe.PaymentIntent) -> PaymentIntentAnswer:
    error = intent.last_payment_error
    return PaymentIntentAnswer(
        payment_intent_id=intent.id,
        status=intent.status,
        charge_id=_id_of(intent.latest_charge),
        failure_code=error.code if error is not None else None,
    )


def _refund_answer(refund: stripe.Refund) -> RefundAnswer:
    return RefundAnswer(
        refund_id=refund.id,
        status=refund.status,
        charge_id=_id_of(refund.charge),
        # Stripe leaves the field out of a refund that has not failed.
        failure_reason=getattr(refund, "failure_reason", None),
    )


def _same_attempt(found: object, ours: Mapping[str, str]) -> bool:
    """The object rosca tagged with this contribution and attempt."""
    tags = found.to_dict() if isinstance(found, stripe.StripeObject) else {}
    return "contribution_id" in ours and all(tags.get(key) == ours.get(key) for key in _ATTEMPT_KEYS)


def _tagged_alike(found: object, ours: Mapping[str, str], keys: tuple[str, ...]) -> bool:
    tags = found.to_dict() if isinstance(found, stripe.StripeObject) else {}
    return keys[0] in ours and all(tags.get(key) == ours.get(key) for key in keys)


def _id_of(value: object) -> str | None:
    if isinstance(value, str):
        return value
    found = getattr(value, "id", None)
    return found if isinstance(found, str) else None
