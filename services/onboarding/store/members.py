"""The queries about members, their SetupIntents and mandates, inside the caller's transaction."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, ColumnElement, Row, Select, case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.domain.members import (
    MANDATE_PROGRESS,
    MandateStatus,
    MemberNotRegisteredError,
    MemberState,
    PayoutAccount,
    SetupIntentStatus,
)
from services.onboarding.store.tables import mandates, members, memberships, setup_intents
from services.onboarding.stripe import SetupIntentView, idempotency_key


@dataclass(frozen=True)
class MemberRecord:
    """A member's profile and bookkeeping, with the state readiness is judged on."""

    state: MemberState
    email: str
    display_name: str
    registered_at: datetime
    bank_last4: str | None
    current_setup_intent_id: str | None
    current_setup_started: int | None
    pending_setup_key: str | None
    payout_as_of: datetime | None

    @property
    def member_id(self) -> str:
        return self.state.member_id


@dataclass(frozen=True)
class SetupIntentRecord:
    setup_intent_id: str
    member_id: str
    started: int
    status: SetupIntentStatus
    stripe_created: datetime
    payment_method_id: str | None = None
    mandate_id: str | None = None
    last_error_code: str | None = None
    status_as_of: datetime | None = None
    bank_last4: str | None = None


class MemberStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def register(self, member_id: str, email: str, display_name: str, now: datetime) -> bool:
        """True if the member is new; registering again changes nothing."""
        added = await self._session.execute(
            insert(members)
            .values(member_id=member_id, email=email, display_name=display_name, registered_at=now)
            .on_conflict_do_nothing()
            .returning(members.c.member_id)
        )
        return added.first() is not None

    async def get(self, member_id: str, *, lock: bool = False) -> MemberRecord:
        """The member; with ``lock``, held until commit so changes to one member happen one at a time."""
        query = _with_mandate_status().where(members.c.member_id == member_id)
        row = (await self._session.execute(query.with_for_update(of=members) if lock else query)).first()
        if row is None:
            raise MemberNotRegisteredError("register first: POST /onboarding/members")
        return _record(row, await self.group_ids(member_id))

    async def records(self, member_ids: list[str]) -> dict[str, MemberRecord]:
        rows = (
            await self._session.execute(_with_mandate_status().where(members.c.member_id.in_(member_ids)))
        ).all()
        return {row.member_id: _record(row, ()) for row in rows}

    async def states(self, member_ids: list[str]) -> dict[str, MemberState]:
        return {member_id: record.state for member_id, record in (await self.records(member_ids)).items()}

    async def group_ids(self, member_id: str) -> tuple[UUID, ...]:
        found = await self._session.scalars(
            select(memberships.c.group_id)
            .where(memberships.c.member_id == member_id)
            .order_by(memberships.c.join_seq)
        )
        return tuple(found)

    async def set_profile(self, member_id: str, email: str, display_name: str) -> None:
        await self._session.execute(
            update(members)
            .where(members.c.member_id == member_id)
            .values(email=email, display_name=display_name)
        )

    async def set_customer(self, member_id: str, customer_id: str) -> None:
        await self._session.execute(
            update(members)
            .where(members.c.member_id == member_id, members.c.customer_id.is_(None))
            .values(customer_id=customer_id)
        )

    async def setup_key(self, member: MemberRecord) -> str:
        """The idempotency key for the member's next SetupIntent, stored before Stripe is called:
        a request that failed after Stripe made the intent finds the same one again."""
        if member.pending_setup_key is not None:
            return member.pending_setup_key
        attempt = await self._session.scalar(
            update(members)
            .where(members.c.member_id == member.member_id)
            .values(setup_attempts=members.c.setup_attempts + 1)
            .returning(members.c.setup_attempts)
        )
        key = idempotency_key("setup-intent", member.member_id, str(attempt))
        await self._session.execute(
            update(members).where(members.c.member_id == member.member_id).values(pending_setup_key=key)
        )
        return key

    async def add_setup_intent(self, member_id: str, view: SetupIntentView, key: str) -> None:
        await self._session.execute(
            insert(setup_intents)
            .values(
                setup_intent_id=view.setup_intent_id,
                member_id=member_id,
                status=view.status.value,
                stripe_created=view.created,
            )
            .on_conflict_do_nothing()
        )
        await self._session.execute(
            update(members)
            .where(members.c.member_id == member_id, members.c.pending_setup_key == key)
            .values(pending_setup_key=None)
        )

    async def setup_intent(self, setup_intent_id: str) -> SetupIntentRecord | None:
        row = (
            await self._session.execute(
                select(setup_intents).where(setup_intents.c.setup_intent_id == setup_intent_id)
            )
        ).first()
        return _setup_intent(row) if row is not None else None

    async def latest_setup_intent(self, member_id: str) -> SetupIntentRecord | None:
        row = (
            await self._session.execute(
                select(setup_intents)
                .where(setup_intents.c.member_id == member_id)
                .order_by(setup_intents.c.started.desc())
                .limit(1)
            )
        ).first()
        return _setup_intent(row) if row is not None else None

    async def save_setup_intent(self, record: SetupIntentRecord) -> None:
        await self._session.execute(
            update(setup_intents)
            .where(setup_intents.c.setup_intent_id == record.setup_intent_id)
            .values(
                status=record.status.value,
                payment_method_id=record.payment_method_id,
                mandate_id=record.mandate_id,
                last_error_code=record.last_error_code,
                status_as_of=record.status_as_of,
                bank_last4=record.bank_last4,
            )
        )

    async def lock_mandate(self, mandate_id: str) -> None:
        """Held until commit, taken before the member's lock: a report about a mandate waits for
        the setup that makes it some member's, so it finds that member."""
        await self._session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"mandate:{mandate_id}", 0)))
        )

    async def mandate(self, mandate_id: str) -> tuple[MandateStatus, datetime | None] | None:
        row = (
            await self._session.execute(
                select(mandates.c.status, mandates.c.status_as_of).where(mandates.c.mandate_id == mandate_id)
            )
        ).first()
        return (MandateStatus(row.status), row.status_as_of) if row is not None else None

    async def save_mandate(
        self, mandate_id: str, payment_method_id: str | None, status: MandateStatus, as_of: datetime | None
    ) -> None:
        """Record a reported status; the database keeps the furthest one (domain.merged_mandate_status),
        so two reports racing for a mandate not stored yet cannot take it backwards either."""
        reported = insert(mandates).values(
            mandate_id=mandate_id,
            payment_method_id=payment_method_id,
            status=status.value,
            status_as_of=as_of,
        )
        await self._session.execute(
            reported.on_conflict_do_update(
                index_elements=[mandates.c.mandate_id],
                set_={
                    "status": case(
                        (
                            _progress(reported.excluded.status) > _progress(mandates.c.status),
                            reported.excluded.status,
                        ),
                        else_=mandates.c.status,
                    ),
                    "status_as_of": func.greatest(mandates.c.status_as_of, reported.excluded.status_as_of),
                    "payment_method_id": func.coalesce(
                        mandates.c.payment_method_id, reported.excluded.payment_method_id
                    ),
                },
            )
        )

    async def use_payment_method(self, member_id: str, setup: SetupIntentRecord) -> None:
        await self._session.execute(
            update(members)
            .where(members.c.member_id == member_id)
            .values(
                payment_method_id=setup.payment_method_id,
                mandate_id=setup.mandate_id,
                current_setup_intent_id=setup.setup_intent_id,
                current_setup_started=setup.started,
                bank_last4=setup.bank_last4,
            )
        )

    async def member_with_mandate(self, mandate_id: str) -> str | None:
        found: str | None = await self._session.scalar(
            select(members.c.member_id).where(members.c.mandate_id == mandate_id)
        )
        return found

    async def member_with_payout_account(self, account_id: str) -> str | None:
        found: str | None = await self._session.scalar(
            select(members.c.member_id).where(members.c.payout_account_id == account_id)
        )
        return found

    async def set_payout_account(
        self, member_id: str, account: PayoutAccount, as_of: datetime | None
    ) -> None:
        await self._session.execute(
            update(members)
            .where(members.c.member_id == member_id)
            .values(
                payout_account_id=account.account_id,
                payout_details_submitted=account.details_submitted,
                payout_payouts_enabled=account.payouts_enabled,
                payout_transfers_capability=account.transfers_capability,
                payout_requirements_due=list(account.requirements_due),
                payout_disabled_reason=account.disabled_reason,
                payout_as_of=as_of,
            )
        )

    async def next_link_number(self, member_id: str) -> int:
        return await self._count_up(member_id, members.c.onboarding_links_issued)

    async def next_profile_update(self, member_id: str) -> int:
        return await self._count_up(member_id, members.c.profile_updates)

    async def _count_up(self, member_id: str, counter: Column[Any]) -> int:
        counted: int = await self._session.scalar(
            update(members)
            .where(members.c.member_id == member_id)
            .values({counter: counter + 1})
            .returning(counter)
        )
        return counted


def _with_mandate_status() -> Select[Any]:
    """Members with the status of the mandate they use, as ``mandate_status``."""
    return select(members, mandates.c.status.label("mandate_status")).outerjoin(
        mandates, mandates.c.mandate_id == members.c.mandate_id
    )


def _progress(status: ColumnElement[str]) -> ColumnElement[int]:
    return case({held.value: rank for held, rank in MANDATE_PROGRESS.items()}, value=status, else_=-1)


def _record(row: Row[Any], group_ids: tuple[UUID, ...]) -> MemberRecord:
    payout_account = (
        PayoutAccount(
            account_id=row.payout_account_id,
            details_submitted=row.payout_details_submitted,
            payouts_enabled=row.payout_payouts_enabled,
            transfers_capability=row.payout_transfers_capability,
            requirements_due=tuple(row.payout_requirements_due),
            disabled_reason=row.payout_disabled_reason,
        )
        if row.payout_account_id is not None
        else None
    )
    state = MemberState(
        member_id=row.member_id,
        customer_id=row.customer_id,
        payment_method_id=row.payment_method_id,
        mandate_id=row.mandate_id,
        mandate_status=MandateStatus(row.mandate_status) if row.mandate_status else None,
        payout_account=payout_account,
        group_ids=group_ids,
    )
    return MemberRecord(
        state=state,
        email=row.email,
        display_name=row.display_name,
        registered_at=row.registered_at,
        bank_last4=row.bank_last4,
        current_setup_intent_id=row.current_setup_intent_id,
        current_setup_started=row.current_setup_started,
        pending_setup_key=row.pending_setup_key,
        payout_as_of=row.payout_as_of,
    )


def _setup_intent(row: Row[Any]) -> SetupIntentRecord:
    return SetupIntentRecord(
        setup_intent_id=row.setup_intent_id,
        member_id=row.member_id,
        started=row.started,
        status=SetupIntentStatus(row.status),
        stripe_created=row.stripe_created,
        payment_method_id=row.payment_method_id,
        mandate_id=row.mandate_id,
        last_error_code=row.last_error_code,
        status_as_of=row.status_as_of,
        bank_last4=row.bank_last4,
    )
