"""The payouts service's calls to Stripe: one transfer of a charge's share of the pot to the
recipient's connected account, and the look-up of a transfer an earlier try made.

The client (settings, the shared request budget, error translation) is the runtime's. Every
transfer carries the idempotency key stored for it before the call, so a repeat after a crash or a
timeout gets Stripe's first answer instead of a second transfer, for as long as Stripe keeps the key
(24 h): after that, ``find_transfer`` looks for what the first try made, by the transfer group and
the charge and attempt in its metadata.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import stripe

from services.runtime.stripe_client import stripe_errors_translated


@dataclass(frozen=True)
class MadeTransfer:
    transfer_id: str
    created: datetime  # on Stripe's clock, as its payouts are: which bank payout carried it


@dataclass(frozen=True)
class TransferRequest:
    cycle_id: UUID
    group_id: UUID
    cycle_number: int
    recipient_member_id: str
    connected_account_id: str
    currency: str
    transfer_group: str
    charge_id: str
    contribution_id: UUID
    amount: int
    attempt: int
    idempotency_key: str

    @property
    def metadata(self) -> dict[str, str]:
        return {
            "group_id": str(self.group_id),
            "cycle_id": str(self.cycle_id),
            "cycle_number": str(self.cycle_number),
            "member_id": self.recipient_member_id,
            "contribution_id": str(self.contribution_id),
            "charge_id": self.charge_id,
            "attempt": str(self.attempt),
        }


class StripePayouts:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def create_transfer(self, request: TransferRequest) -> "MadeTransfer":
        params: Any = {
            "amount": request.amount,
            "currency": request.currency,
            "destination": request.connected_account_id,
            "source_transaction": request.charge_id,
            "transfer_group": request.transfer_group,
            "metadata": request.metadata,
        }
        with stripe_errors_translated():
            transfer = await self._client.v1.transfers.create_async(
                params, {"idempotency_key": request.idempotency_key}
            )
        return MadeTransfer(transfer.id, datetime.fromtimestamp(transfer.created, UTC))

    async def find_transfer(self, request: TransferRequest) -> "MadeTransfer | None":
        """The transfer an earlier try of ``request`` made, or None."""
        params: Any = {"transfer_group": request.transfer_group, "limit": 100}
        wanted = {"charge_id": request.charge_id, "attempt": str(request.attempt)}
        with stripe_errors_translated():
            page = await self._client.v1.transfers.list_async(params)
            async for transfer in page.auto_paging_iter():
                tags = transfer.metadata.to_dict() if transfer.metadata is not None else {}
                if all(tags.get(key) == value for key, value in wanted.items()):
                    return MadeTransfer(transfer.id, datetime.fromtimestamp(transfer.created, UTC))
        return None
