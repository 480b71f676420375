"""Stripe's reports applied a batch at a time, in one transaction: to each report exactly what
``stripe_events.on_stripe_report`` does, in the order given, with the statements shared.

One report at a time, a step sends its own statements: the report's contribution looked up, its
cycle locked and loaded, saved, its contribution and attempt rows written, the parked events of a
PaymentIntent it records looked for, its postings, its commands. Each costs about 0.5 ms of CPU
to build and send, so at 1,000 reports a second they would need more than the machine has
(``benchmarks/README.md``). Here a batch:

1. looks up every report's contribution (or, for a report without rosca's metadata, the attempt
   that recorded its PaymentIntent) and which of its PaymentIntents have events parked, one
   statement each; then locks and loads every cycle concerned in one ``SELECT ... FOR UPDATE``, in
   cycle id order (replicas' batches queue on each other, never deadlock);
2. decides each report in turn on the cycle as the reports before it left it (so one cycle's
   reports apply in stream order), gathering the states, rows, postings and commands;
3. writes them, each kind in one statement (``store/cycle_batches.py``).

Whatever a step must do against the database itself, it does with every earlier step written
first ("flushed"), exactly as one report at a time would: telling the group's rotation what the
cycle announced (``rotation_steps.cycle_step_taken``, which may step other cycles of the group),
applying events parked for a PaymentIntent the step records, parking a report whose PaymentIntent
is not known, and looking up what the batch's first reads could not know. The cycles of that group
are then read again when next needed. The saga's ``decide`` is the same pure function.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.messages import Message
from contracts.stripe_events import StripeEventReceived
from services.collections.domain.contribution import Contribution
from services.collections.domain.cycle import CycleState
from services.collections.domain.ledger import Transaction
from services.collections.domain.saga import decide
from services.collections.service_layer import rotation_steps
from services.collections.service_layer.cycle_steps import (
    BUSINESS_DAYS,
    UnknownCycleError,
    apply_parked_events,
)
from services.collections.service_layer.outgoing import outgoing
from services.collections.service_layer.stripe_reports import (
    attempt_in_metadata,
    payment_intent_of,
    saga_message,
)
from services.collections.store import parked_events
from services.collections.store.cycle_batches import (
    CycleSave,
    attempts_of_payment_intents,
    cycles_of_contributions,
    lock_cycles,
    payment_intents_with_parked_events,
    post_all,
    project_contributions,
    save_cycles,
)
from services.collections.store.cycles import (
    AttemptRef,
    StoredCycle,
    attempt_of_payment_intent,
    changed_contributions,
    cycle_of_contribution,
)
from services.runtime.outbox import add_all_to_outbox


async def on_stripe_reports(
    session: AsyncSession, events: list[StripeEventReceived], now: datetime
) -> list[str]:
    """What became of each event (as ``on_stripe_report`` says it), in the order given."""
    batch = _ReportBatch(session, now)
    await batch.read(events)
    outcomes = [await batch.apply(event) for event in events]
    await batch.flush()
    return outcomes


@dataclass
class _Cycle:
    written: StoredCycle  # as the database has it now
    state: CycleState  # as the batch's steps so far leave it
    steps: int = 0  # taken since ``written``


@dataclass(frozen=True)
class _Target:
    cycle_id: UUID
    contribution_id: UUID
    attempt: int


class _ReportBatch:
    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self._session = session
        self._now = now
        # What the database says, as the steps so far (flushed or not) leave it.
        self._owners: dict[UUID, UUID] = {}  # contribution -> its cycle
        self._attempts: dict[str, AttemptRef] = {}  # PaymentIntent -> the attempt that recorded it
        self._parked: set[str] = set()  # PaymentIntents with events waiting for them
        self._cycles: dict[UUID, _Cycle] = {}
        # Not written yet, in the order the steps made them.
        self._projected: list[tuple[CycleState, Contribution]] = []
        self._postings: list[tuple[UUID, Transaction]] = []
        self._outgoing: list[tuple[str, Message]] = []

    async def read(self, events: list[StripeEventReceived]) -> None:
        """Look up every event's contribution or attempt, and lock their cycles."""
        tagged = [ref for event in events if (ref := attempt_in_metadata(event)) is not None]
        payment_intents = {pi for event in events if (pi := payment_intent_of(event)) is not None}
        self._owners = await cycles_of_contributions(self._session, {ref.contribution_id for ref in tagged})
        untagged = {
            pi for event in events if attempt_in_metadata(event) is None and (pi := payment_intent_of(event))
        }
        self._attempts = await attempts_of_payment_intents(self._session, untagged)
        self._parked = await payment_intents_with_parked_events(self._session, payment_intents)
        concerned = {ref.cycle_id for ref in tagged if self._owners.get(ref.contribution_id) == ref.cycle_id}
        concerned |= {attempt.cycle_id for attempt in self._attempts.values()}
        stored = await lock_cycles(self._session, concerned)
        self._cycles = {cycle_id: _Cycle(cycle, cycle.state) for cycle_id, cycle in stored.items()}

    async def apply(self, event: StripeEventReceived) -> str:
        target = await self._target(event)
        if isinstance(target, str):
            return target
        message = saga_message(event, target.contribution_id, target.attempt)
        if message is None:
            return "nothing_to_decide"
        cycle = await self._cycle(target.cycle_id)
        before = cycle.state
        decision = decide(before, message, BUSINESS_DAYS, self._now)
        if decision.new_state == before and not decision.commands and not decision.postings:
            return "no_change"
        after = decision.new_state
        cycle.state, cycle.steps = after, cycle.steps + 1
        for contribution in changed_contributions(before, after):
            self._projected.append((after, contribution))
            self._owners[contribution.contribution_id] = target.cycle_id
            if contribution.attempt and contribution.payment_intent_id:
                self._attempts[contribution.payment_intent_id] = AttemptRef(
                    target.cycle_id, contribution.contribution_id, contribution.attempt
                )
        self._postings.extend((target.cycle_id, posting) for posting in decision.postings)
        self._outgoing.extend(
            outgoing(after, command, self._now, event.message_id) for command in decision.commands
        )
        if rotation_steps.rotation_messages_of(before, decision, self._now) or self._records_parked(
            before, after
        ):
            # The rotation and the parked events read and step cycles in the database.
            await self.flush()
            await rotation_steps.cycle_step_taken(
                self._session, before, decision, self._now, event.message_id
            )
            await apply_parked_events(self._session, before, after, self._now)
            self._read_again(before.plan.group_id)
        return "applied"

    async def _target(self, event: StripeEventReceived) -> _Target | str:
        """The attempt the event is about, or what became of it when there is none."""
        tagged = attempt_in_metadata(event)
        if tagged is not None:
            # Our own metadata names the attempt, even when the create's answer is not recorded yet.
            owner = self._owners.get(tagged.contribution_id)
            if owner is None:  # not known when the batch began: ask again, all written first
                await self.flush()
                owner = await cycle_of_contribution(self._session, tagged.contribution_id)
            if owner != tagged.cycle_id:
                return "not_ours"
            return _Target(tagged.cycle_id, tagged.contribution_id, tagged.attempt)
        payment_intent_id = payment_intent_of(event)
        if payment_intent_id is None:
            return "not_ours"
        recorded = self._attempts.get(payment_intent_id)
        if recorded is None:
            await self.flush()
            recorded = await attempt_of_payment_intent(self._session, payment_intent_id)
        if recorded is None:
            # A dispute names only its PaymentIntent; the attempt that made it may not have
            # recorded Stripe's answer yet. Kept, and applied when it does.
            await parked_events.park(self._session, event, payment_intent_id, self._now)
            self._parked.add(payment_intent_id)
            return "parked"
        return _Target(recorded.cycle_id, recorded.contribution_id, recorded.attempt)

    async def _cycle(self, cycle_id: UUID) -> _Cycle:
        cycle = self._cycles.get(cycle_id)
        if cycle is None:
            stored = (await lock_cycles(self._session, [cycle_id])).get(cycle_id)
            if stored is None:
                raise UnknownCycleError(f"no cycle {cycle_id}")
            cycle = self._cycles[cycle_id] = _Cycle(stored, stored.state)
        return cycle

    def _records_parked(self, before: CycleState, after: CycleState) -> bool:
        """The step records a PaymentIntent that has events parked, waiting for it."""
        known_before = {c.payment_intent_id for c in before.contributions}
        return any(
            c.payment_intent_id in self._parked and c.payment_intent_id not in known_before
            for c in after.contributions
        )

    def _read_again(self, group_id: UUID) -> None:
        """Forget the group's cycles (all written): what was just done in the database may have
        stepped any of them."""
        for cycle_id, cycle in list(self._cycles.items()):
            if cycle.state.plan.group_id == group_id:
                del self._cycles[cycle_id]

    async def flush(self) -> None:
        """Write what the steps so far decided."""
        stepped = sorted((c for c in self._cycles.values() if c.steps), key=lambda c: c.state.plan.cycle_id)
        await save_cycles(self._session, [CycleSave(c.written, c.state, c.steps) for c in stepped], self._now)
        await project_contributions(self._session, self._projected, self._now)
        await post_all(self._session, self._postings, self._now)
        await add_all_to_outbox(self._session, self._outgoing)
        for cycle in stepped:
            cycle.written = StoredCycle(cycle.state, cycle.written.version + cycle.steps)
            cycle.steps = 0
        self._projected, self._postings, self._outgoing = [], [], []
