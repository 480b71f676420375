"""One rotation saga step under way: the state as it changes, and the commands and postings it gathers."""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.collections.domain.business_days import BusinessCalendar
from services.collections.domain.ledger import Transaction
from services.collections.domain.rotation_commands import (
    MemberBalance,
    NotifyRotationMember,
    RotationCommand,
    RotationNoticeKind,
)
from services.collections.domain.rotation_state import CycleProgress, RotationCycle, RotationState


@dataclass(frozen=True)
class RotationDecision:
    """What one message changes: the state to save, the commands to send, the postings to book,
    all in one transaction. A duplicate or stale message decides nothing: same state, no more."""

    new_state: RotationState
    commands: tuple[RotationCommand, ...] = ()
    postings: tuple[Transaction, ...] = ()


class RotationStep:
    def __init__(self, state: RotationState, now: datetime, business_days: BusinessCalendar) -> None:
        self.state = state
        self.now = now
        self.business_days = business_days
        self._commands: list[RotationCommand] = []
        self._postings: list[Transaction] = []

    def decision(self) -> RotationDecision:
        return RotationDecision(self.state, tuple(self._commands), tuple(self._postings))

    @property
    def today(self) -> date:
        """The platform's day in the group's zone (dates of cycles are the group's dates)."""
        return self.now.astimezone(ZoneInfo(self.state.activation.timezone)).date()

    def command(self, *commands: RotationCommand) -> None:
        self._commands.extend(commands)

    def post(self, *transactions: Transaction) -> None:
        self._postings.extend(transactions)

    def update(self, cycle: RotationCycle) -> None:
        self.state = self.state.with_cycle(cycle)

    def notify(
        self,
        member_id: str,
        kind: RotationNoticeKind,
        *,
        cycle: RotationCycle | None = None,
        starts_on: date | None = None,
        amount_owed: int | None = None,
        defaulted: bool = False,
    ) -> None:
        self.command(
            NotifyRotationMember(
                member_id=member_id,
                kind=kind,
                group_id=self.state.group_id,
                cycle_id=cycle.cycle_id if cycle else None,
                cycle_number=cycle.plan.cycle_number if cycle else None,
                starts_on=starts_on,
                amount_owed=amount_owed,
                defaulted=defaulted,
            )
        )

    def balances(self, member_ids: tuple[str, ...]) -> tuple[MemberBalance, ...]:
        """Each member's contributions to pots paid out, and the pot they received, before fees."""
        paid = self.state.cycles_in(CycleProgress.COMPLETED)
        amount = self.state.activation.contribution_amount
        return tuple(
            MemberBalance(
                member_id=member_id,
                paid_in=amount * sum(member_id in c.payer_ids for c in paid),
                received=sum(amount * len(c.payer_ids) for c in paid if c.recipient_id == member_id),
            )
            for member_id in member_ids
        )
