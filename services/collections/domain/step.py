"""One saga step under way: the state as it changes, and the commands and postings it gathers."""

from dataclasses import dataclass, replace
from datetime import datetime

from services.collections.domain.business_days import BusinessCalendar
from services.collections.domain.commands import Command, NoticeKind, NotifyMember, PublishCycleStatus
from services.collections.domain.contribution import Contribution
from services.collections.domain.cycle import CycleState, CycleStatus, DisputeRecord
from services.collections.domain.ledger import Transaction
from services.collections.domain.postings import Debit


@dataclass(frozen=True)
class Decision:
    """What one message changes: the state to save, the commands to send, the postings to book,
    all in one transaction. A duplicate or stale message decides nothing: same state, no more."""

    new_state: CycleState
    commands: tuple[Command, ...] = ()
    postings: tuple[Transaction, ...] = ()


class Step:
    """Gathers one decision; rules read ``step.state`` and call the methods below."""

    def __init__(self, state: CycleState, now: datetime, business_days: BusinessCalendar) -> None:
        self.state = state
        self.now = now
        self.business_days = business_days
        self._commands: list[Command] = []
        self._postings: list[Transaction] = []
        self._entered: list[CycleStatus] = []

    def decision(self) -> Decision:
        plan = self.state.plan
        announcements = [
            PublishCycleStatus(
                group_id=plan.group_id,
                cycle_id=plan.cycle_id,
                cycle_number=plan.cycle_number,
                status=status.value,
                defaulting_member_ids=self.state.defaulting_member_ids,
                delinquent_member_ids=self.state.delinquent_member_ids,
            )
            for status in self._entered
        ]
        return Decision(self.state, (*self._commands, *announcements), tuple(self._postings))

    def debit(self, contribution: Contribution) -> Debit:
        """The contribution's current debit attempt, as the ledger names it."""
        plan = self.state.plan
        return Debit(
            plan.cycle_id,
            contribution.member_id,
            contribution.contribution_id,
            contribution.attempt,
            contribution.amount,
            plan.currency,
        )

    def stripe_metadata(self, contribution: Contribution) -> dict[str, str]:
        """What rosca tags its Stripe objects with, so every webhook finds its cycle and attempt."""
        plan = self.state.plan
        return {
            "group_id": str(plan.group_id),
            "cycle_id": str(plan.cycle_id),
            "cycle_number": str(plan.cycle_number),
            "member_id": contribution.member_id,
            "contribution_id": str(contribution.contribution_id),
            "attempt": str(contribution.attempt),
        }

    def update(self, contribution: Contribution) -> None:
        self.state = self.state.with_contribution(contribution)

    def record_dispute(self, dispute: DisputeRecord) -> None:
        self.state = self.state.with_dispute(dispute)

    def command(self, *commands: Command) -> None:
        self._commands.extend(commands)

    def post(self, *transactions: Transaction) -> None:
        self._postings.extend(transactions)

    def enter(self, status: CycleStatus) -> None:
        """Move the cycle on; the rest of the system hears of it (``collections.evt.cycle_<status>``)
        when the step ends, with the defaulting and delinquent members as the step leaves them."""
        self.state = replace(self.state, status=status)
        self._entered.append(status)

    def notify(
        self,
        contribution: Contribution,
        kind: NoticeKind,
        *,
        failure_code: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        plan = self.state.plan
        self.command(
            NotifyMember(
                member_id=contribution.member_id,
                kind=kind,
                group_id=plan.group_id,
                cycle_id=plan.cycle_id,
                cycle_number=plan.cycle_number,
                contribution_id=contribution.contribution_id,
                amount=contribution.amount,
                currency=plan.currency,
                deadline_on=plan.deadline_on,
                failure_code=failure_code,
                next_attempt_at=next_attempt_at,
            )
        )
