"""A scripted stand-in for Stripe, the scheduler, onboarding and payouts around one cycle saga.

Each member has a script (what each debit attempt does, whether they authorise again after a lost
mandate, whether a refund fails, whether they dispute). The world answers the saga's commands with
the messages those would cause, each stamped with when it happens; the test decides in which order
(and how often) they are delivered.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.collections.domain.commands import (
    CancelDeadline,
    CancelRetry,
    Command,
    CreatePaymentIntent,
    CreateRefund,
    RequestPayout,
    ScheduleDeadline,
    ScheduleRetry,
)
from services.collections.domain.contribution import FailureClass, PaymentMethodRef, classify_failure
from services.collections.domain.cycle import CycleState
from services.collections.domain.messages import (
    CyclePaid,
    DeadlineReached,
    DisputeClosed,
    DisputeOpened,
    MandateActivated,
    PaymentIntentCreated,
    PaymentIntentFailed,
    PaymentIntentProcessing,
    PaymentIntentSucceeded,
    PayoutPaused,
    RefundFailed,
    RefundSucceeded,
    RetryDue,
    SagaMessage,
)
from tests.unit.collections.cycle_fixtures import BECS, charge_id, pi_id

MELBOURNE = ZoneInfo("Australia/Melbourne")
OUTCOME_TIME = time(10, 0)
SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class MemberScript:
    outcomes: tuple[str, ...] = ()
    """Each attempt's outcome in turn, ``succeeded`` or a failure code; later attempts succeed."""
    inactive_at_start: bool = False
    authorises_again: bool = True
    """After a lost mandate (or an inactive one at the start), a new one the next business day."""
    refund_fails: bool = False
    disputes: bool = False
    """The member's bank takes every collected debit back a day after it settles."""

    def outcome(self, attempt: int) -> str:
        return self.outcomes[attempt - 1] if attempt <= len(self.outcomes) else SUCCEEDED

    def would_pay(self, attempt_limit: int) -> bool:
        """Whether this member's contribution is collected in a cycle with room for every attempt."""
        if self.inactive_at_start and not self.authorises_again:
            return False
        for attempt in range(1, attempt_limit + 1):
            outcome = self.outcome(attempt)
            if outcome == SUCCEEDED:
                return True
            if classify_failure(outcome) is FailureClass.MANDATE_GONE and not self.authorises_again:
                return False
        return False


@dataclass
class StripeWorld:
    state: CycleState
    scripts: dict[str, MemberScript]
    pause_payout: bool = False
    pending: list[SagaMessage] = field(default_factory=list)
    _debit_outcomes: dict[tuple[str, int], tuple[str, datetime]] = field(default_factory=dict)
    _mandates_issued: int = 0

    def opening_mandates(self) -> list[MandateActivated]:
        """New mandates of members whose mandate is inactive when the cycle starts."""
        return [
            self._new_mandate(c.member_id, self.state.plan.start_at)
            for c in self.state.contributions
            if self.scripts[c.member_id].inactive_at_start and self.scripts[c.member_id].authorises_again
        ]

    def react(self, commands: tuple[Command, ...], now: datetime) -> None:
        for command in commands:
            match command:
                case CreatePaymentIntent():
                    self._debit(command, now)
                case CreateRefund():
                    self._refund(command, now)
                case ScheduleRetry():
                    self.pending.append(RetryDue(command.at, command.contribution_id, command.attempt))
                case ScheduleDeadline():
                    self.pending.append(DeadlineReached(command.at))
                case CancelRetry() | CancelDeadline():
                    self.pending = [m for m in self.pending if not _is_timer(m, command)]
                case RequestPayout():
                    total = sum(charge.transfer_amount for charge in command.charges)
                    if self.pause_payout:
                        self.pending.append(PayoutPaused(now + timedelta(hours=1), "account restricted"))
                    self.pending.append(CyclePaid(now + timedelta(days=1), total))
                case _:
                    pass

    def _debit(self, command: CreatePaymentIntent, now: datetime) -> None:
        cid, attempt, member = command.contribution_id, command.attempt, command.member_id
        script = self.scripts[member]
        settles_at = datetime.combine(BECS.settlement_date(now), OUTCOME_TIME, MELBOURNE)
        outcome = script.outcome(attempt)
        self._debit_outcomes[(str(cid), attempt)] = (outcome, settles_at)
        pi = pi_id(cid, attempt)
        self.pending += [
            PaymentIntentCreated(now, cid, attempt, pi),
            PaymentIntentProcessing(now, cid, attempt, pi),
        ]
        if outcome == SUCCEEDED:
            self.pending.append(
                PaymentIntentSucceeded(settles_at, cid, attempt, pi, charge_id(cid, attempt), 30)
            )
            if script.disputes:
                opened_at = settles_at + timedelta(days=1)
                dispute_id = f"dp_{cid.hex[:8]}_{attempt}"
                self.pending.append(
                    DisputeOpened(opened_at, cid, attempt, dispute_id, pi, charge_id(cid, attempt), 2_500)
                )
                if script.authorises_again:
                    self.pending.append(self._new_mandate(member, opened_at))
                self.pending.append(
                    DisputeClosed(
                        opened_at + timedelta(days=10),
                        cid,
                        attempt,
                        dispute_id,
                        pi,
                        charge_id(cid, attempt),
                        False,
                    )
                )
            return
        self.pending.append(PaymentIntentFailed(settles_at, cid, attempt, pi, outcome))
        if classify_failure(outcome) is FailureClass.MANDATE_GONE and script.authorises_again:
            self.pending.append(self._new_mandate(member, settles_at))

    def _refund(self, command: CreateRefund, now: datetime) -> None:
        cid, attempt = command.contribution_id, command.attempt
        outcome, settles_at = self._debit_outcomes[(str(cid), attempt)]
        refund_id = f"re_{cid.hex[:8]}_{attempt}"
        if outcome != SUCCEEDED:
            # Stripe held the refund of a processing debit, and cancels it when the debit fails.
            self.pending.append(RefundFailed(settles_at, cid, attempt, refund_id, "canceled"))
        elif self.scripts[command.member_id].refund_fails:
            self.pending.append(
                RefundFailed(max(now, settles_at) + timedelta(days=3), cid, attempt, refund_id, "declined")
            )
        else:
            landed = max(now, settles_at) + timedelta(days=3)
            self.pending.append(
                RefundSucceeded(landed, cid, attempt, refund_id, pi_id(cid, attempt), charge_id(cid, attempt))
            )

    def _new_mandate(self, member_id: str, after: datetime) -> MandateActivated:
        self._mandates_issued += 1
        zone = ZoneInfo(self.state.plan.timezone)
        day = BECS.add_business_days(after.astimezone(zone).date(), 1)
        method = PaymentMethodRef(
            customer_id=f"cus_{member_id}",
            payment_method_id=f"pm_new_{self._mandates_issued}",
            mandate_id=f"mandate_new_{self._mandates_issued}",
            mandate_active=True,
        )
        return MandateActivated(datetime.combine(day, OUTCOME_TIME, zone), member_id, method)


def _is_timer(message: SagaMessage, cancel: CancelRetry | CancelDeadline) -> bool:
    if isinstance(cancel, CancelDeadline):
        return isinstance(message, DeadlineReached)
    return isinstance(message, RetryDue) and cancel.timer_id == (
        f"contribution:{message.contribution_id}:attempt:{message.attempt}"
    )
