"""Stripe's own records of collections' money, read for reconciliation: PaymentIntents (a day's,
by their ``created`` range, or a group's, by its members' customers), each one's latest charge
and its balance transaction (Stripe's fee), their refunds and disputes, and each cycle's transfers
(``transfer_group=cycle_<id>``, which payouts gives every transfer of a cycle's pot).

Reads only, every list auto-paginated; through whichever client it is given, so the service's and
the CLI's reads wait their turn in the shared request budget. Refunds and disputes are listed only
for a charge that says it has some (``amount_refunded``, ``disputed``), so a clean debit costs no
request beyond its page of the listing.
"""

from collections.abc import Callable, Iterable
from typing import Any, Final
from uuid import UUID

import stripe

from services.collections.domain.reconciliation import (
    StripeBooks,
    StripeDebit,
    StripeDispute,
    StripeTransfer,
    transfer_group_of,
)

PAGE: Final = 100
# Stripe's fee sits on the charge's balance transaction: one listing brings both.
_EXPANDED_CHARGE: Final = "latest_charge.balance_transaction"

Progress = Callable[[str], None]


class StripeBooksReader:
    def __init__(self, client: stripe.StripeClient, progress: Progress | None = None) -> None:
        self._client = client
        self._progress = progress or (lambda _: None)

    async def intents_created_between(
        self, start: int, end: int, what: str = "PaymentIntents created that day"
    ) -> list[dict[str, Any]]:
        """Every PaymentIntent created in [start, end) (Unix seconds), rosca's or not."""
        params: Any = {
            "created": {"gte": start, "lt": end},
            "limit": PAGE,
            "expand": [f"data.{_EXPANDED_CHARGE}"],
        }
        return await self._listed(what, self._client.v1.payment_intents, params)

    async def intents_of_customers(self, customer_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Every PaymentIntent of these customers (a group's members)."""
        found: list[dict[str, Any]] = []
        for customer in sorted(set(customer_ids)):
            params: Any = {"customer": customer, "limit": PAGE, "expand": [f"data.{_EXPANDED_CHARGE}"]}
            found += await self._listed(
                f"PaymentIntents of {customer}", self._client.v1.payment_intents, params
            )
        return found

    async def intent(self, payment_intent_id: str) -> dict[str, Any] | None:
        """One PaymentIntent, or None when Stripe has no such object."""
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(
                payment_intent_id, {"expand": [_EXPANDED_CHARGE]}
            )
        except stripe.InvalidRequestError as error:
            if error.code == "resource_missing":
                return None
            raise
        return intent.to_dict()

    async def books(
        self, intents: Iterable[dict[str, Any]], known_intent_ids: Iterable[str], cycle_ids: Iterable[UUID]
    ) -> StripeBooks:
        """Stripe's books of ``intents``, plus the intents the ledger knows (``known_intent_ids``) that
        were not among them, and the transfers of every cycle in ``cycle_ids``."""
        by_id = {intent["id"]: intent for intent in intents}
        for intent_id in sorted(set(known_intent_ids) - set(by_id)):
            found = await self.intent(intent_id)
            if found is not None:
                by_id[intent_id] = found
        debits, disputes = [], []
        for done, intent in enumerate(by_id.values(), start=1):
            charge = intent.get("latest_charge") if isinstance(intent.get("latest_charge"), dict) else None
            refunds = await self.refunds_of(intent["id"]) if charge and charge.get("amount_refunded") else []
            if charge and charge.get("disputed"):
                disputes += await self._disputes(intent["id"])
            debits.append(_debit(intent, charge, refunds))
            if done % 100 == 0:
                self._progress(f"read {done} of {len(by_id)} PaymentIntents' charges, refunds and disputes")
        transfers = []
        for cycle in sorted(set(cycle_ids), key=str):
            for transfer in await self.transfers_of(cycle):
                transfers.append(
                    StripeTransfer(
                        transfer_id=transfer["id"],
                        transfer_group=transfer.get("transfer_group"),
                        amount=transfer["amount"],
                        amount_reversed=transfer.get("amount_reversed") or 0,
                        currency=transfer["currency"],
                        source_transaction=_id_of(transfer.get("source_transaction")),
                    )
                )
        self._progress(
            f"read {len(debits)} PaymentIntents, {len(disputes)} disputes, {len(transfers)} transfers"
        )
        return StripeBooks(tuple(debits), tuple(disputes), tuple(transfers))

    async def refunds_of(self, payment_intent_id: str) -> list[dict[str, Any]]:
        params: Any = {"payment_intent": payment_intent_id, "limit": PAGE}
        return await self._listed(None, self._client.v1.refunds, params)

    async def transfers_of(self, cycle_id: UUID) -> list[dict[str, Any]]:
        params: Any = {"transfer_group": transfer_group_of(cycle_id), "limit": PAGE}
        return await self._listed(None, self._client.v1.transfers, params)

    async def _disputes(self, payment_intent_id: str) -> list[StripeDispute]:
        params: Any = {"payment_intent": payment_intent_id, "limit": PAGE}
        return [
            StripeDispute(
                dispute_id=dispute["id"],
                payment_intent_id=_id_of(dispute.get("payment_intent")) or payment_intent_id,
                amount=dispute["amount"],
                currency=dispute["currency"],
                status=dispute["status"],
            )
            for dispute in await self._listed(None, self._client.v1.disputes, params)
        ]

    async def _listed(self, what: str | None, service: Any, params: Any) -> list[dict[str, Any]]:
        page = await service.list_async(params)
        found = []
        async for item in page.auto_paging_iter():
            found.append(item.to_dict())
            if what and len(found) % PAGE == 0:
                self._progress(f"listed {len(found)} {what}")
        if what:
            self._progress(f"listed {len(found)} {what}")
        return found


def _debit(
    intent: dict[str, Any], charge: dict[str, Any] | None, refunds: list[dict[str, Any]]
) -> StripeDebit:
    transaction = charge.get("balance_transaction") if charge else None
    fee = transaction.get("fee") if isinstance(transaction, dict) else None
    succeeded = [refund for refund in refunds if refund.get("status") == "succeeded"]
    return StripeDebit(
        payment_intent_id=intent["id"],
        status=intent["status"],
        amount=intent["amount"],
        currency=intent["currency"],
        metadata={str(k): str(v) for k, v in (intent.get("metadata") or {}).items()},
        charge_id=_id_of(charge) if charge else _id_of(intent.get("latest_charge")),
        fee=fee if isinstance(fee, int) else None,
        refunded=sum(refund["amount"] for refund in succeeded),
        refund_ids=tuple(refund["id"] for refund in refunds),
        created=intent.get("created", 0),
    )


def _id_of(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None
