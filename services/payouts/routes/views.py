"""The answers of the payouts API: a payout, its transfers, and the bank payout each transfer
reached; shared by the members' and the operator's routes.

Which bank payout carried a transfer: Stripe pays a connected account's whole available balance on
the account's schedule, so a transfer's money leaves with the first bank payout of the account
created after it; when that one failed, the money came back to the balance and left with the next.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from services.payouts.domain.bank_payouts import BankPayout, BankPayoutStatus
from services.payouts.domain.payout import PayoutStatus
from services.payouts.store.queries import PayoutRow


class BankPayoutView(BaseModel):
    payout_id: str = Field(description="Stripe's payout on the recipient's account (po_…).")
    status: BankPayoutStatus
    amount: int = Field(description="The whole payout, in minor units (it may carry other money too).")
    arrival_date: datetime | None = Field(description="When Stripe expects it in the bank.")
    failure_code: str | None = Field(description="Why the bank refused it, when it failed.")
    failure_message: str | None


class TransferView(BaseModel):
    charge_id: str = Field(description="The debit's charge the transfer takes its funds from.")
    payer_member_id: str
    amount: int = Field(description="In minor units.")
    idempotency_key: str = Field(
        description="The key of its current attempt, stored before Stripe was asked."
    )
    attempt: int
    transfer_id: str | None = Field(description="Stripe's transfer (tr_…) once made.")
    made_at: datetime | None
    refused_code: str | None = Field(description="Why Stripe refused its last attempt, if it did.")
    bank_payouts: list[BankPayoutView] = Field(
        description="The bank payouts that carried it, oldest first: a failed one, then the next, until paid."
    )


class PayoutView(BaseModel):
    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    recipient_member_id: str
    status: PayoutStatus
    reason: str | None = Field(description="Why held or paused.")
    held_until: datetime | None = Field(
        description="When a dated hold ends (first-payout hold); null otherwise."
    )
    currency: str
    transfer_total: int = Field(description="What is transferred to the recipient, in minor units.")
    requested_at: datetime
    status_since: datetime
    paid_at: datetime | None
    transfers: list[TransferView]


def payout_view(row: PayoutRow, bank_payouts: list[BankPayout]) -> PayoutView:
    p = row.payout
    mine = [b for b in bank_payouts if b.connected_account_id == p["connected_account_id"]]
    return PayoutView(
        group_id=p["group_id"],
        cycle_id=p["cycle_id"],
        cycle_number=p["cycle_number"],
        recipient_member_id=p["recipient_member_id"],
        status=PayoutStatus(p["status"]),
        reason=p["reason"],
        held_until=p["held_until"],
        currency=p["currency"],
        transfer_total=p["transfer_total"],
        requested_at=p["requested_at"],
        status_since=p["status_since"],
        paid_at=p["paid_at"],
        transfers=[_transfer_view(t, mine) for t in row.transfers],
    )


def _transfer_view(transfer: dict[str, Any], bank_payouts: list[BankPayout]) -> TransferView:
    return TransferView(
        charge_id=transfer["charge_id"],
        payer_member_id=transfer["payer_member_id"],
        amount=transfer["amount"],
        idempotency_key=transfer["idempotency_key"],
        attempt=transfer["attempt"],
        transfer_id=transfer["transfer_id"],
        made_at=transfer["made_at"],
        refused_code=transfer["refused_code"],
        bank_payouts=[_bank_view(b) for b in carried_by(transfer["created_at_stripe"], bank_payouts)],
    )


def carried_by(created: datetime | None, bank_payouts: list[BankPayout]) -> list[BankPayout]:
    """The account's bank payouts from the first after the transfer up to the first not failed
    (both dated by Stripe, in whole seconds: one of the transfer's second may carry it)."""
    if created is None:
        return []
    after = [b for b in bank_payouts if b.created >= created]
    carried = []
    for bank_payout in after:
        carried.append(bank_payout)
        if bank_payout.status not in (BankPayoutStatus.FAILED, BankPayoutStatus.CANCELED):
            break
    return carried


def _bank_view(b: BankPayout) -> BankPayoutView:
    return BankPayoutView(
        payout_id=b.payout_id,
        status=b.status,
        amount=b.amount,
        arrival_date=b.arrival_date,
        failure_code=b.failure_code,
        failure_message=b.failure_message,
    )
