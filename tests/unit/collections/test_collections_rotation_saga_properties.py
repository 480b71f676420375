"""Properties of the rotation saga: whatever its cycles do and its admin decides, in any order,
no cycle number is paid twice, every remaining member receives once, nothing is sent after the
rotation ended, and the books balance."""

from collections import Counter
from dataclasses import replace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from services.collections.domain import postings
from services.collections.domain.ledger import Account, AccountKind, balances
from services.collections.domain.postings import Debit
from services.collections.domain.rotation_errors import DecisionRefusedError
from services.collections.domain.rotation_messages import (
    CycleReported,
    DissolveGroup,
    ReceivableOpened,
    ReceivableSettled,
    RemoveMembers,
    RetryRound,
    RotationMessage,
    WriteOffReceivable,
)
from services.collections.domain.rotation_state import CLOSED, CycleProgress, RotationCycle, RotationStatus
from tests.unit.collections.rotation_fixtures import RotationRun, rotation

_LIVE = (CycleProgress.PLANNED, CycleProgress.RUNNING)


class RotationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.run = RotationRun.of()
        self.disputes = 0
        self.last_report: CycleReported | None = None

    @initialize(size=st.integers(min_value=2, max_value=5))
    def activate(self, size: int) -> None:
        self.run = rotation(size)

    # -- the world: cycles, payouts, debts -------------------------------------------------------

    def deliver(self, message: RotationMessage) -> None:
        was_closed = self.run.state.status in CLOSED
        before = self.run.state
        try:
            decision = self.run.apply(message)
        except DecisionRefusedError:
            assert self.run.state == before, "a refused decision changed the rotation"
            return
        if was_closed:
            assert decision.commands == (), f"{message} sent {decision.commands} after the rotation ended"
        if isinstance(message, CycleReported):
            self.last_report = message

    def report(self, cycle: RotationCycle, status: str, defaulting: tuple[str, ...] = ()) -> None:
        self.deliver(CycleReported(self.run.now, cycle.cycle_id, status, defaulting))

    def live_cycles(self) -> list[RotationCycle]:
        return [c for c in self.run.state.cycles if c.progress in _LIVE]

    def payable(self) -> list[RotationCycle]:
        """Cycles whose saga can still fund and pay: started, or not started and not held."""
        return [
            c
            for c in self.live_cycles()
            if (c.progress is CycleProgress.RUNNING or c.start_timer_id is not None) and c.payer_ids
        ]

    @precondition(lambda self: self.payable())
    @rule(data=st.data())
    def a_cycle_is_funded_and_paid_unless_held(self, data: st.DataObject) -> None:
        cycle = data.draw(st.sampled_from(self.payable()))
        self.report(cycle, "collecting")
        self.report(cycle, "funded")
        self.report(cycle, "paying_out")
        now = self.run.state.cycle(cycle.cycle_id)
        if now is not None and not now.payout_held:  # payouts honours a hold
            self.report(cycle, "completed")

    @precondition(lambda self: any(c.reported_status in ("scheduled", "collecting") for c in self.payable()))
    @rule(data=st.data())
    def a_cycle_is_cancelled_at_its_deadline(self, data: st.DataObject) -> None:
        cycle = data.draw(
            st.sampled_from([c for c in self.payable() if c.reported_status in ("scheduled", "collecting")])
        )
        defaulting = tuple(data.draw(st.lists(st.sampled_from(cycle.payer_ids), min_size=1, unique=True)))
        self.report(cycle, "collecting")
        self.report(cycle, "cancelling", defaulting)
        self.report(cycle, "cancelled", defaulting)

    @precondition(lambda self: self.last_report is not None)
    @rule()
    def a_report_is_delivered_again(self) -> None:
        assert self.last_report is not None
        decision = self.run.apply(self.last_report)
        assert decision.commands == ()

    @rule(data=st.data(), amount=st.integers(min_value=1, max_value=10_000))
    def a_paid_out_debit_is_disputed(self, data: st.DataObject, amount: int) -> None:
        member = data.draw(st.sampled_from([m.member_id for m in self.run.state.activation.members]))
        self.disputes += 1
        dispute_id = f"dp_{self.disputes}"
        cycle = self.run.state.cycles[0].plan
        debit = Debit(cycle.cycle_id, member, cycle.contributions[0].contribution_id, 1, amount, "aud")
        self.run.ledger = self.run.ledger.post_all(postings.dispute_receivable_opened(debit, dispute_id, 0))
        self.deliver(ReceivableOpened(self.run.now, member, dispute_id, amount))

    @precondition(lambda self: any(r.outstanding for r in self.run.state.receivables))
    @rule(data=st.data())
    def a_debt_is_collected(self, data: st.DataObject) -> None:
        owed = data.draw(st.sampled_from([r for r in self.run.state.receivables if r.outstanding]))
        self.deliver(ReceivableSettled(self.run.now, owed.member_id, owed.dispute_id))

    @precondition(lambda self: self.run.state.receivables)
    @rule(data=st.data(), by_admin=st.booleans())
    def a_debt_is_written_off(self, data: st.DataObject, by_admin: bool) -> None:
        owed = data.draw(st.sampled_from(self.run.state.receivables))
        self.deliver(WriteOffReceivable(self.run.now, self.decider(by_admin), owed.member_id))

    # -- the admin -------------------------------------------------------------------------------

    def decider(self, by_admin: bool) -> str:
        return self.run.admin if by_admin else self.run.state.activation.members[-1].member_id

    @rule(
        data=st.data(),
        kind=st.sampled_from(["retry", "remove", "dissolve"]),
        by_admin=st.booleans(),
        days_ahead=st.none() | st.integers(min_value=-3, max_value=40),
        advance=st.integers(min_value=0, max_value=20),
    )
    def the_admin_decides(
        self, data: st.DataObject, kind: str, by_admin: bool, days_ahead: int | None, advance: int
    ) -> None:
        self.run.pass_days(advance)
        cycle = data.draw(st.sampled_from(self.run.state.cycles))
        decided_by = self.decider(by_admin or data.draw(st.integers(0, 4)) > 0)
        start_on = (
            None
            if days_ahead is None
            else self.run.now.date().fromordinal(self.run.now.date().toordinal() + days_ahead)
        )
        if kind == "retry":
            self.deliver(RetryRound(self.run.now, decided_by, cycle.cycle_id, start_on))
        elif kind == "remove":
            everyone = [m.member_id for m in self.run.state.activation.members]
            candidates = list(cycle.defaulting_member_ids) or everyone
            members = tuple(data.draw(st.lists(st.sampled_from(candidates), min_size=1, unique=True)))
            self.deliver(RemoveMembers(self.run.now, decided_by, cycle.cycle_id, members, start_on))
        else:
            self.deliver(DissolveGroup(self.run.now, decided_by, cycle.cycle_id))

    @precondition(lambda self: self.run.state.decisions)
    @rule()
    def the_admin_decides_the_same_again(self) -> None:
        earlier = self.run.state.decisions[-1]
        decision = self.run.apply(replace(earlier, occurred_at=self.run.now))
        assert decision.commands == ()
        assert decision.postings == ()

    # -- what always holds -----------------------------------------------------------------------

    @invariant()
    def no_cycle_number_is_paid_twice(self) -> None:
        paid = Counter(c.plan.cycle_number for c in self.run.state.cycles_in(CycleProgress.COMPLETED))
        assert all(times == 1 for times in paid.values()), paid

    @invariant()
    def nobody_receives_twice(self) -> None:
        received = Counter(c.recipient_id for c in self.run.state.cycles_in(CycleProgress.COMPLETED))
        assert all(times == 1 for times in received.values()), received

    @invariant()
    def a_completed_rotation_paid_every_remaining_member_once(self) -> None:
        if self.run.state.status is not RotationStatus.COMPLETED:
            return
        received = Counter(c.recipient_id for c in self.run.state.cycles_in(CycleProgress.COMPLETED))
        assert all(received[member] == 1 for member in self.run.state.member_ids)

    @invariant()
    def the_books_balance_and_each_debt_is_booked_until_written_off(self) -> None:
        totals = balances(self.run.ledger.transactions)
        assert sum(totals.values()) == 0
        for member in {r.member_id for r in self.run.state.receivables}:
            booked = self.run.ledger.balance(Account(AccountKind.DISPUTE_RECEIVABLE, member))
            kept = sum(
                r.amount for r in self.run.state.receivables if r.member_id == member and not r.written_off
            )
            assert booked == kept

    @invariant()
    def a_payout_is_held_exactly_while_its_recipient_owes(self) -> None:
        state = self.run.state
        if state.status in CLOSED:
            return
        for cycle in self.live_cycles():
            if cycle.payout_held:
                assert state.is_delinquent(cycle.recipient_id)
            if state.is_delinquent(cycle.recipient_id):
                assert cycle.payout_held

    @invariant()
    def cycles_not_started_are_held_while_the_admin_decides(self) -> None:
        if self.run.state.status is RotationStatus.AWAITING_ADMIN_DECISION:
            assert all(c.start_timer_id is None for c in self.run.state.cycles_in(CycleProgress.PLANNED))

    def teardown(self) -> None:
        """From wherever it stands, the rotation can still end: the admin retries every cancelled
        round, every debt is collected, and every cycle is paid."""
        for _ in range(50):
            state = self.run.state
            if state.status in CLOSED:
                break
            for owed in [r for r in state.receivables if r.outstanding]:
                self.deliver(ReceivableSettled(self.run.now, owed.member_id, owed.dispute_id))
            for cancelled in self.run.state.cycles_in(CycleProgress.CANCELLED):
                self.deliver(RetryRound(self.run.now, self.run.admin, cancelled.cycle_id))
            for cycle in self.live_cycles():
                for status in ("collecting", "funded", "paying_out", "completed"):
                    self.report(cycle, status)
        assert self.run.state.status in CLOSED
        self.a_completed_rotation_paid_every_remaining_member_once()


RotationMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_any_sequence_of_outcomes_and_decisions_keeps_the_rotations_promises = RotationMachine.TestCase
