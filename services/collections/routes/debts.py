"""HTTP edge for a member's own dispute debt in one of their groups: what they owe and why, and
their request to pay it by a debit of their BECS mandate (``service_layer.debts``).

The request is the member's authorisation of that one debit. It carries an ``Idempotency-Key``:
the same key sent again answers the same collection and makes no second debit; while a debit of
the debt is under way, a request with another key answers that one too.
"""

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, FastAPI, Header, Path, Response, status
from pydantic import BaseModel, Field

from services.collections.domain.debt_collection import (
    DebtAttemptStatus,
    DebtCollection,
    DebtRefusedError,
    DebtStatus,
    NoActiveMandateError,
)
from services.collections.domain.debt_refunds import DebtRefund, DebtRefundStatus
from services.collections.domain.rotation_state import Receivable
from services.collections.routes.access import documented_errors, group_of_member, service_now
from services.collections.service_layer import debts
from services.collections.service_layer.debt_outgoing import AUTHORISE_AGAIN
from services.runtime import errors
from services.runtime.errors import ApiError
from services.runtime.member_auth import CallerDep
from services.runtime.service import RuntimeDep

router = APIRouter(tags=["debts"], responses=documented_errors(401, 422, 503))

GroupId = Annotated[UUID, Path(description="The group's id.")]


class ReceivableStatus(StrEnum):
    OWED = "owed"
    SETTLED = "settled"  # collected, or the dispute was reversed in the member's favour
    WRITTEN_OFF = "written_off"


class DisputeDebt(BaseModel):
    dispute_id: str = Field(description="Stripe's dispute (dp_…) of a debit already paid out.")
    amount: int = Field(description="What it made the member owe, in cents.")
    status: ReceivableStatus

    @classmethod
    def of(cls, receivable: Receivable) -> "DisputeDebt":
        if receivable.written_off:
            state = ReceivableStatus.WRITTEN_OFF
        elif receivable.settled:
            state = ReceivableStatus.SETTLED
        else:
            state = ReceivableStatus.OWED
        return cls(dispute_id=receivable.dispute_id, amount=receivable.amount, status=state)


class DebtAttemptAnswer(BaseModel):
    attempt: int
    status: DebtAttemptStatus = Field(description="requested, processing, succeeded or failed.")
    payment_intent_id: str | None = Field(description="The debit at Stripe (pi_…), once it answered.")
    failure_code: str | None = Field(description="Why the debit failed (Stripe's code), if it did.")


class DebtCollectionAnswer(BaseModel):
    debt_collection_id: UUID
    status: DebtStatus = Field(
        description="collecting (a debit is under way), failed (the latest failed: ask again), succeeded."
    )
    amount: int = Field(description="The debt debited, in cents.")
    currency: str
    dispute_ids: list[str] = Field(description="The disputes it pays.")
    attempts: list[DebtAttemptAnswer] = Field(description="Its debits, first to latest.")

    @classmethod
    def of(cls, collection: DebtCollection) -> "DebtCollectionAnswer":
        return cls(
            debt_collection_id=collection.debt_collection_id,
            status=collection.status,
            amount=collection.amount,
            currency=collection.currency,
            dispute_ids=list(collection.dispute_ids),
            attempts=[
                DebtAttemptAnswer(
                    attempt=a.attempt,
                    status=a.status,
                    payment_intent_id=a.payment_intent_id,
                    failure_code=a.failure_code,
                )
                for a in collection.attempts
            ],
        )


class DebtRefundAnswer(BaseModel):
    debt_collection_id: UUID = Field(description="The collection whose debit is refunded.")
    dispute_id: str = Field(description="The dispute won after its debt was paid (the member paid twice).")
    amount: int = Field(description="The refund, in cents.")
    currency: str
    status: DebtRefundStatus = Field(
        description="requested, pending (at the bank), succeeded, or failed (still owed to the member)."
    )
    refund_id: str | None = Field(description="The refund at Stripe (re_…), once it answered.")
    failure_reason: str | None = Field(description="Why the refund failed (Stripe's reason), if it did.")

    @classmethod
    def of(cls, refund: DebtRefund) -> "DebtRefundAnswer":
        return cls(
            debt_collection_id=refund.debt_collection_id,
            dispute_id=refund.dispute_id,
            amount=refund.amount,
            currency=refund.currency,
            status=refund.status,
            refund_id=refund.refund_id,
            failure_reason=refund.failure_reason,
        )


class MyDebt(BaseModel):
    group_id: UUID
    member_id: str
    owed: int = Field(description="What the caller owes the group now, in cents (0: nothing).")
    currency: str
    delinquent: bool = Field(description="True while anything is owed: the caller's pot is held until then.")
    disputes: list[DisputeDebt] = Field(
        description="Every dispute that made the caller owe, and where it stands."
    )
    collection: DebtCollectionAnswer | None = Field(description="The caller's latest request to pay, if any.")
    refunds: list[DebtRefundAnswer] = Field(
        description="Debts the caller paid twice (the dispute was won after they paid it), refunded."
    )

    @classmethod
    def of(cls, member_id: str, found: debts.MemberDebt) -> "MyDebt":
        return cls(
            group_id=found.group_id,
            member_id=member_id,
            owed=found.debt.amount,
            currency=found.currency,
            delinquent=found.debt.amount > 0,
            disputes=[DisputeDebt.of(r) for r in found.receivables],
            collection=DebtCollectionAnswer.of(found.collection) if found.collection else None,
            refunds=[DebtRefundAnswer.of(r) for r in found.refunds],
        )


class MyDebts(BaseModel):
    debts: list[MyDebt] = Field(
        description="Every group where a dispute made the caller owe (paid or not), by group id."
    )


@router.get(
    "/groups/{group_id}/members/me/debt",
    summary="What the caller owes the group after disputes, and their latest request to pay it",
    response_model=MyDebt,
    responses=documented_errors(404),
)
async def my_debt(group_id: GroupId, caller: CallerDep, runtime: RuntimeDep) -> MyDebt:
    async with runtime.database.transaction() as session:
        await group_of_member(session, group_id, caller)
        found = await debts.debt_of_member(session, group_id, caller.member_id)
    return MyDebt.of(caller.member_id, found)


@router.get(
    "/members/me/debts",
    summary="What the caller owes after disputes, in every group where they ever owed",
    response_model=MyDebts,
)
async def my_debts(caller: CallerDep, runtime: RuntimeDep) -> MyDebts:
    async with runtime.database.transaction() as session:
        found = await debts.debts_of_member(session, caller.member_id)
    return MyDebts(debts=[MyDebt.of(caller.member_id, debt) for debt in found])


@router.post(
    "/groups/{group_id}/members/me/debt/payments",
    summary="The caller pays what they owe the group by one debit of their BECS mandate",
    response_model=DebtCollectionAnswer,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {
            "model": DebtCollectionAnswer,
            "description": "A retried request (same Idempotency-Key), or a debit already under way: that "
            "collection, and no new debit.",
        },
        202: {"description": "A debit of the debt was started; its outcome comes from Stripe later."},
        **documented_errors(404, 409),
    },
)
async def pay_my_debt(
    group_id: GroupId,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Chosen by the client per payment request; sent again with a retry of it.",
        ),
    ],
    caller: CallerDep,
    runtime: RuntimeDep,
    response: Response,
) -> DebtCollectionAnswer:
    now = service_now(runtime)
    async with runtime.database.transaction() as session:
        await group_of_member(session, group_id, caller)
        try:
            collection, started = await debts.pay_debt(
                session, group_id, caller.member_id, idempotency_key, now
            )
        except NoActiveMandateError:
            raise ApiError(
                409,
                NoActiveMandateError.kind,
                "no active BECS mandate to debit: authorise a bank account again through onboarding "
                f"({AUTHORISE_AGAIN}, then confirm it), then ask to pay again",
            ) from None
    if not started:
        response.status_code = status.HTTP_200_OK
    return DebtCollectionAnswer.of(collection)


def add_error_handlers(app: FastAPI) -> None:
    errors.refuse_domain_errors(app, DebtRefusedError, {DebtRefusedError: 409})
