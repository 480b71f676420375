"""A member's dispute debt: what they owe, their request to pay it by a debit, and Stripe's reports
of that debit, each in the caller's transaction.

The group's rotation row is locked first (``load_rotation``), as a cycle step and an admin's
decision lock it: the member's requests and the debit's reports of one group are decided one at
a time, and a collected debt clears its receivables in the rotation saga in the same transaction
that books it. The debit itself is made after commit by ``debt_calls`` (the outbox carries the
command), never while the rotation is locked.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from services.collections.domain.debt_collection import (
    DebitReport,
    Debt,
    DebtCollection,
    DebtOutcome,
    DebtStatus,
    NothingOwedError,
    debit_source,
    debt_debit_disputed,
    debt_of,
    reported,
    settlement,
    start_collection,
    try_again,
)
from services.collections.domain.debt_refunds import DebtRefund
from services.collections.domain.rotation_messages import ReceivableOpened, ReceivableSettled
from services.collections.domain.rotation_state import Receivable
from services.collections.service_layer import debt_outgoing
from services.collections.service_layer.debt_refunds import refund_debt_paid_twice
from services.collections.service_layer.outgoing import message_id_for
from services.collections.service_layer.rotation_steps import UnknownRotationError, apply_to_rotation
from services.collections.store import debt_collections, debt_refunds, ledger, mandates, queries
from services.collections.store.rotation_state import load_rotation
from services.runtime.outbox import add_to_outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemberDebt:
    """What the member owes the group now, the receivables behind it, and their latest collection."""

    group_id: UUID
    currency: str
    debt: Debt
    receivables: tuple[Receivable, ...]
    collection: DebtCollection | None
    refunds: tuple[DebtRefund, ...] = ()  # debts paid twice, given back


async def debt_of_member(session: AsyncSession, group_id: UUID, member_id: str) -> MemberDebt:
    """Read, not locked: a view for the member."""
    state = await queries.rotation_of(session, group_id)
    if state is None:
        raise UnknownRotationError(f"no rotation of group {group_id}")
    return MemberDebt(
        group_id=group_id,
        currency=state.activation.currency,
        debt=debt_of(member_id, state.receivables),
        receivables=tuple(r for r in state.receivables if r.member_id == member_id),
        collection=await debt_collections.latest_collection(session, group_id, member_id),
        refunds=tuple(await debt_refunds.refunds_of_member(session, group_id, member_id)),
    )


async def debts_of_member(session: AsyncSession, member_id: str) -> list[MemberDebt]:
    """The member's debt in every group where a dispute ever made them owe, by group id."""
    found = []
    for state in await debt_collections.rotations_of_member(session, member_id):
        receivables = tuple(r for r in state.receivables if r.member_id == member_id)
        if not receivables:
            continue
        found.append(
            MemberDebt(
                group_id=state.group_id,
                currency=state.activation.currency,
                debt=debt_of(member_id, receivables),
                receivables=receivables,
                collection=await debt_collections.latest_collection(session, state.group_id, member_id),
                refunds=tuple(await debt_refunds.refunds_of_member(session, state.group_id, member_id)),
            )
        )
    return found


async def pay_debt(
    session: AsyncSession, group_id: UUID, member_id: str, request_key: str, now: datetime
) -> tuple[DebtCollection, bool]:
    """The member asks to pay what they owe: the collection that debits it, and whether this request
    started its debit (False: a retried request, or a debit already under way, is answered with it).

    Raises ``NothingOwedError`` and ``NoActiveMandateError`` (``DebtRefusedError``s) when it cannot."""
    stored = await load_rotation(session, group_id)
    if stored is None:
        raise UnknownRotationError(f"no rotation of group {group_id}")
    asked = await debt_collections.collection_asked_by(session, group_id, member_id, request_key)
    if asked is not None:
        return asked, False
    latest = await debt_collections.latest_collection(session, group_id, member_id)
    if latest is not None and latest.status is DebtStatus.COLLECTING:
        return latest, False
    debt = debt_of(member_id, stored.state.receivables)
    if debt.amount == 0:
        raise NothingOwedError(f"you owe group {group_id} nothing")
    source = debit_source(member_id, (await mandates.mandates_of(session, [member_id])).get(member_id))
    if latest is not None and latest.status is DebtStatus.FAILED and latest.dispute_ids == debt.dispute_ids:
        collection = try_again(latest, request_key, source)
    else:
        # The same request key always names the same collection, should the request be retried.
        collection_id = message_id_for(f"debt-collection-{group_id}-{member_id}-{request_key}")
        collection = start_collection(
            collection_id,
            group_id,
            debt,
            currency=stored.state.activation.currency,
            request_key=request_key,
            payment_method=source,
        )
    await debt_collections.save_collection(session, collection, now)
    await add_to_outbox(
        session,
        subjects.COLLECTIONS_CREATE_DEBT_PAYMENT_INTENT,
        debt_outgoing.debit_command(collection, now, None),
    )
    log.info(
        "member %s asked to pay %d owed to group %s: debit %s",
        member_id,
        collection.amount,
        group_id,
        collection.idempotency_key(collection.latest.attempt),
    )
    return collection, True


async def on_debit_report(
    session: AsyncSession, debt_collection_id: UUID, report: DebitReport, now: datetime, cause: UUID | None
) -> str:
    """Apply what Stripe said of one attempt's debit; returns what became of it, for logs."""
    group_id = await debt_collections.group_of_collection(session, debt_collection_id)
    if group_id is None:
        return "not_ours"
    stored = await load_rotation(session, group_id)
    collection = await debt_collections.load_collection(session, debt_collection_id)
    if stored is None or collection is None:
        return "not_ours"
    after, outcome = reported(collection, report)
    if outcome is DebtOutcome.NO_CHANGE:
        return outcome.value
    await debt_collections.save_collection(session, after, now)
    if outcome is DebtOutcome.COLLECTED:
        books = settlement(after, stored.state.receivables)
        # Filed under the group, as the rotation's own transactions are (they belong to no cycle).
        await ledger.post(session, group_id, (books.transaction,), now)
        for dispute_id in books.cleared_dispute_ids:
            # The rotation stops counting the member delinquent once nothing is owed, and
            # releases every pot it held for them.
            cleared = ReceivableSettled(now, after.member_id, dispute_id)
            await apply_to_rotation(session, group_id, cleared, now, cause)
        for dispute_id, amount in books.paid_twice:
            # Won while this debit was processing: the debit paid a debt no longer owed.
            await refund_debt_paid_twice(session, after, dispute_id, amount, now, cause=cause)
        await add_to_outbox(session, *debt_outgoing.debt_collected(after, now, cause))
        read_fee = debt_outgoing.read_fee_command(after, now, cause)
        if read_fee is not None:
            await add_to_outbox(session, subjects.COLLECTIONS_READ_DEBT_CHARGE_FEE, read_fee)
    elif outcome is DebtOutcome.FAILED:
        await add_to_outbox(session, *debt_outgoing.debt_debit_failed(after, now, cause))
    return outcome.value


async def on_debit_disputed(
    session: AsyncSession,
    debt_collection_id: UUID,
    dispute_id: str,
    now: datetime,
    cause: UUID | None,
    *,
    dispute_fee: int,
    won: bool | None,
) -> str:
    """The bank returned (``won`` None: a dispute opened; False or True: closed) the debit that
    paid a debt: the member owes it again, in the books and to the rotation (delinquent again,
    their pot held), unless the dispute was decided for the platform."""
    group_id = await debt_collections.group_of_collection(session, debt_collection_id)
    stored = await load_rotation(session, group_id) if group_id is not None else None
    collection = await debt_collections.load_collection(session, debt_collection_id)
    if group_id is None or stored is None or collection is None:
        return "not_ours"
    newly = all(r.dispute_id != dispute_id for r in stored.state.receivables)
    disputed = debt_debit_disputed(collection, dispute_id, dispute_fee, won=won)
    await ledger.post(session, group_id, disputed.postings, now)
    opened = disputed.opened
    await apply_to_rotation(
        session,
        group_id,
        ReceivableOpened(now, opened.member_id, opened.dispute_id, opened.amount),
        now,
        cause,
    )
    if newly:
        await add_to_outbox(session, *debt_outgoing.debt_debit_disputed(collection, dispute_id, now, cause))
    if disputed.won:
        # Still owed: cleared. Paid meanwhile by another debit: paid twice, and that debit is
        # refunded; written off: the write-off is recovered (``delinquency.receivable_settled``,
        # ``debt_refunds``).
        won_back = ReceivableSettled(now, opened.member_id, dispute_id, won=True)
        await apply_to_rotation(session, group_id, won_back, now, cause)
    return "debt_debit_disputed"
