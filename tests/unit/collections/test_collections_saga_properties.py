"""Properties of the cycle saga: any order and duplication of a cycle's messages ends right, books true."""

from datetime import datetime

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from services.collections.domain import postings
from services.collections.domain.contribution import ContributionStatus
from services.collections.domain.cycle import CycleStatus
from services.collections.domain.ledger import AccountKind, collected_into_pot, cycle_books_problems
from services.collections.domain.messages import DeadlineReached, SagaMessage
from services.collections.domain.saga import decide
from tests.unit.collections.cycle_fixtures import BECS, CycleRun, activation, first_cycle
from tests.unit.collections.stripe_world import SUCCEEDED, MemberScript, StripeWorld

FAILURE_CODES = [
    "refer_to_customer",
    "insufficient_funds",
    "account_closed",
    "no_account",
    "debit_not_authorized",
    "odd_code",
]
# Success weighted up, so that many cycles complete and many do not.
outcomes = st.lists(st.sampled_from([SUCCEEDED] * 6 + FAILURE_CODES), max_size=4).map(tuple)


def member_scripts(*, chaos: bool) -> st.SearchStrategy[MemberScript]:
    return st.builds(
        MemberScript,
        outcomes=outcomes,
        inactive_at_start=st.booleans(),
        authorises_again=st.booleans(),
        refund_fails=st.booleans() if chaos else st.just(False),
        disputes=st.booleans() if chaos else st.just(False),
    )


class Cycle:
    """One cycle under test: the saga's run, the world around it, and what was delivered."""

    def __init__(self, scripts: list[MemberScript], *, pause_payout: bool = False) -> None:
        state = first_cycle(activation(size=len(scripts)))
        self.run = CycleRun(state, state.plan.start_at)
        by_member = {c.member_id: s for c, s in zip(state.contributions, scripts, strict=True)}
        self.world = StripeWorld(state, by_member, pause_payout=pause_payout)
        inactive = frozenset(member for member, script in by_member.items() if script.inactive_at_start)
        self.world.react(self.run.start(inactive=inactive).commands, self.run.now)
        self.world.pending += self.world.opening_mandates()
        self.delivered: list[SagaMessage] = []

    def deliver(self, index: int, now: datetime) -> None:
        message = self.world.pending.pop(index)
        self.run.now = now
        posted = {tx.reference for tx in self.run.ledger.transactions}
        decision = self.run.apply(message)
        assert not posted & {tx.reference for tx in decision.postings}, "a step posted twice"
        self.world.react(decision.commands, now)
        self.delivered.append(message)

    def redeliver(self, message: SagaMessage, now: datetime) -> None:
        """A duplicate, however late, changes nothing."""
        decision = decide(self.run.state, message, BECS, now)
        assert decision.commands == ()
        assert decision.postings == ()

    def assert_books_hold(self) -> None:
        transactions = self.run.ledger.transactions
        references = [tx.reference for tx in transactions]
        assert len(references) == len(set(references))
        assert all(sum(entry.amount for entry in tx.entries) == 0 for tx in transactions)
        cycle_key = str(self.run.state.plan.cycle_id)
        assert self.run.ledger.balance(postings.cycle_pot(self.run.state.plan.cycle_id)) >= 0
        assert cycle_books_problems(transactions, cycle_key, self.run.state.status.value) == []

    def assert_finished_right(self) -> None:
        state = self.run.state
        assert state.status in (CycleStatus.COMPLETED, CycleStatus.CANCELLED), state.status
        self.assert_books_hold()
        cycle_id = state.plan.cycle_id
        collected = collected_into_pot(self.run.ledger.transactions, str(cycle_id))
        if state.status is CycleStatus.COMPLETED:
            assert state.payout is not None
            assert len(state.payout.charges) == len(state.contributions)
            assert state.defaulting_member_ids == ()
            return
        owed_back_from_pot = sum(
            entry.amount
            for tx in self.run.ledger.transactions
            if any(e.account == postings.cycle_pot(cycle_id) for e in tx.entries)
            for entry in tx.entries
            if entry.account.kind is AccountKind.REFUND_OWED
        )
        assert self.run.ledger.balance(postings.refunds(cycle_id)) + owed_back_from_pot == collected
        assert self.run.ledger.balance(postings.transfers(cycle_id)) == 0
        for contribution in state.contributions:
            assert contribution.status is not ContributionStatus.SUCCEEDED


def deliverable(pending: list[SagaMessage], late: frozenset[int] = frozenset()) -> list[int]:
    """Any message may overtake any other, except the deadline: its timer fires days after the
    debits of the window were reported, so it waits for every message that happened before it,
    bar those held up on the way (``late``: ids of messages delivered only after the deadline)."""

    def may_go_now(message: SagaMessage) -> bool:
        if not isinstance(message, DeadlineReached):
            return True
        return not any(
            m.occurred_at < message.occurred_at
            for m in pending
            if not isinstance(m, DeadlineReached) and id(m) not in late
        )

    return [index for index, message in enumerate(pending) if may_go_now(message)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts=st.lists(member_scripts(chaos=False), min_size=2, max_size=4), data=st.data())
def test_any_order_and_duplication_of_a_cycles_messages_ends_as_the_members_scripts_say(
    scripts: list[MemberScript], data: st.DataObject
) -> None:
    cycle = Cycle(scripts)
    for _ in range(400):
        if not cycle.world.pending:
            break
        index = data.draw(st.sampled_from(deliverable(cycle.world.pending)), label="deliver")
        # Handled as of when it happened: the schedule of debits and timers does not depend on
        # the order, so the outcome follows from the scripts alone.
        cycle.deliver(index, cycle.world.pending[index].occurred_at)
        if data.draw(st.booleans(), label="redeliver one"):
            duplicate = data.draw(st.sampled_from(cycle.delivered), label="duplicate")
            cycle.redeliver(duplicate, duplicate.occurred_at)
        cycle.assert_books_hold()
    event(f"ended {cycle.run.status().value}")
    assert not cycle.world.pending, "the cycle never settled"
    cycle.assert_finished_right()
    limit = cycle.run.state.plan.policy.attempt_limit
    every_member_pays = all(script.would_pay(limit) for script in scripts)
    assert cycle.run.status() is (CycleStatus.COMPLETED if every_member_pays else CycleStatus.CANCELLED)
    if not every_member_pays:
        assert collected_into_pot(cycle.run.ledger.transactions, str(cycle.run.state.plan.cycle_id)) == (
            cycle.run.ledger.balance(postings.refunds(cycle.run.state.plan.cycle_id))
        )
        members = [c.member_id for c in cycle.run.state.contributions]
        never_pay = {m for m, script in zip(members, scripts, strict=True) if not script.would_pay(limit)}
        assert never_pay <= set(cycle.run.state.defaulting_member_ids)


class ChaoticCycle(RuleBasedStateMachine):
    """Deliver a cycle's messages in any order, hold any of them up past the deadline, duplicate any
    of them at any time, with refunds that fail, disputes, and a payout that pauses; the platform
    clock only moves forward. The books hold after every step, and draining what is left ends the
    cycle with every collected cent paid out or given back."""

    cycle: Cycle

    @initialize(
        scripts=st.lists(member_scripts(chaos=True), min_size=2, max_size=4),
        pause_payout=st.booleans(),
    )
    def start(self, scripts: list[MemberScript], pause_payout: bool) -> None:
        self.cycle = Cycle(scripts, pause_payout=pause_payout)
        self.clock = self.cycle.run.now
        self.late: set[int] = set()

    @precondition(lambda self: bool(self.cycle.world.pending))
    @rule(data=st.data())
    def deliver_one(self, data: st.DataObject) -> None:
        self._deliver(data.draw(st.sampled_from(deliverable(self.cycle.world.pending, frozenset(self.late)))))

    @precondition(lambda self: bool(self.cycle.world.pending))
    @rule(data=st.data())
    def hold_one_up_past_the_deadline(self, data: st.DataObject) -> None:
        self.late.add(id(data.draw(st.sampled_from(self.cycle.world.pending))))

    @precondition(lambda self: bool(self.cycle.delivered))
    @rule(data=st.data())
    def redeliver_any(self, data: st.DataObject) -> None:
        self.cycle.redeliver(data.draw(st.sampled_from(self.cycle.delivered)), self.clock)

    def _deliver(self, index: int) -> None:
        self.clock = max(self.clock, self.cycle.world.pending[index].occurred_at)
        self.cycle.deliver(index, self.clock)

    @invariant()
    def books_hold(self) -> None:
        if hasattr(self, "cycle"):
            self.cycle.assert_books_hold()

    def teardown(self) -> None:
        if not hasattr(self, "cycle"):
            return
        for _ in range(400):
            if not self.cycle.world.pending:
                break
            pending = self.cycle.world.pending
            # In time order, the late ones last.
            earliest = min(
                range(len(pending)), key=lambda i: (id(pending[i]) in self.late, pending[i].occurred_at)
            )
            self._deliver(earliest)
        assert not self.cycle.world.pending, "the cycle never settled"
        event(f"ended {self.cycle.run.status().value}")
        event(f"disputes {len(self.cycle.run.state.disputes)}")
        self.cycle.assert_finished_right()


ChaoticCycle.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_a_chaotic_cycle_keeps_its_books_and_always_ends = ChaoticCycle.TestCase
