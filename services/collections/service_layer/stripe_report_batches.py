"""Stripe's reports applied a batch at a time, in one transaction: to each report exactly what
``stripe_events.on_stripe_report`` does, in the order given, with the statements shared.

One report at a time, a step sends its own statements: the report's contribution looked up, its
cycle locked and loaded, saved, its contribution and attempt rows written, the parked events of a
PaymentIntent it records looked for, its postings, its commands. Each costs about 0.5 ms of CPU
to build and send, so at 1,000 reports a second they would need more than the machine has
(``benchmarks/README.md``). Here a batch:

1. looks up which of the reports' PaymentIntents have events parked (and, for reports without
   rosca's metadata, the attempt that recorded their PaymentIntent), then locks and loads every
   cycle the reports name in one ``SELECT ... FOR UPDATE``, in cycle id order (replicas' batches
   queue on each other, never deadlock);
2. decides each report in turn on the cycle as the reports before it left it (so one cycle's
   reports apply in stream order), gathering the states, rows, postings and commands;
3. writes them, each kind in one statement (``store/cycle_batches.py``).

The group's rotation hears what a cycle step announced as ``rotation_steps.cycle_step_taken``
tells it, on the rotation as the batch holds it (loaded and locked when first needed, after the
cycles, as one report at a time locks them): its steps are saved with the cycles.

Whatever a step must do against the database itself, it does with every earlier step written
first ("flushed"), exactly as one report at a time would: a rotation command that plans, drops or
stops cycles, applying events parked for a PaymentIntent the step records, parking a report whose
PaymentIntent is not known, and looking up what the batch's first reads could not know. The
group's cycles and rotation are then read again when next needed. The sagas' ``decide`` and
``decide_rotation`` are the same pure functions.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.messages import Message
from contracts.stripe_events import StripeEventReceived
from services.collections.domain.contribution import Contribution
from services.collections.domain.cycle import CycleState
from services.collections.domain.ledger import Transaction
from services.collections.domain.rotation_commands import RotationCommand
from services.collections.domain.rotation_saga import decide_rotation
from services.collections.domain.rotation_state import RotationState
from services.collections.domain.saga import decide
from services.collections.domain.step import Decision
from services.collections.service_layer import rotation_steps
from services.collections.service_layer.cycle_steps import (
    BUSINESS_DAYS,
    UnknownCycleError,
    apply_parked_events,
)
from services.collections.service_layer.debt_reports import is_debt_debit
from services.collections.service_layer.outgoing import outgoing
from services.collections.service_layer.rotation_outgoing import rotation_outgoing
from services.collections.service_layer.stripe_reports import (
    DISPUTE_EVENTS,
    attempt_in_metadata,
    payment_intent_of,
    saga_message,
)
from services.collections.store import debt_collections, parked_events
from services.collections.store.cycle_batches import (
    CycleSave,
    RotationSave,
    attempts_of_payment_intents,
    lock_cycles,
    lock_rotations,
    payment_intents_with_parked_events,
    post_all,
    project_contributions,
    save_cycles,
    save_rotations,
)
from services.collections.store.cycles import (
    AttemptRef,
    StoredCycle,
    attempt_of_payment_intent,
    changed_contributions,
    cycle_of_contribution,
)
from services.collections.store.rotation_state import StoredRotation
from services.runtime.consumer import HandleOneAtATime
from services.runtime.outbox import add_all_to_outbox

log = logging.getLogger(__name__)


async def _concerns_a_debt(session: AsyncSession, events: list[StripeEventReceived]) -> bool:
    if any(is_debt_debit(event) for event in events):
        return True
    disputed = {
        payment_intent_id
        for event in events
        if event.event_type in DISPUTE_EVENTS and (payment_intent_id := payment_intent_of(event)) is not None
    }
    for payment_intent_id in disputed:  # disputes are rare: a lookup each is cheap
        if await debt_collections.collection_of_payment_intent(session, payment_intent_id) is not None:
            return True
    return False


async def on_stripe_reports(
    session: AsyncSession, events: list[StripeEventReceived], now: datetime
) -> list[str]:
    """What became of each event (as ``on_stripe_report`` says it), in the order given."""
    if await _concerns_a_debt(session, events):
        # A member's debit of their dispute debt is no cycle's contribution (``debt_reports``), and
        # it moves the group's rotation outside this batch's hold of it: rare, so one at a time.
        raise HandleOneAtATime("a report about a dispute debt's debit")
    batch = _ReportBatch(session, now)
    await batch.read(events)
    outcomes = []
    for position, event in enumerate(events):
        batch.still_to_apply = events[position + 1 :]
        outcomes.append(await batch.apply(event))
    await batch.flush()
    return outcomes


@dataclass
class _Cycle:
    written: StoredCycle  # as the database has it now
    state: CycleState  # as the batch's steps so far leave it
    steps: int = 0  # taken since ``written``


@dataclass
class _Rotation:
    written: StoredRotation
    state: RotationState
    steps: int = 0


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
        self._rotations: dict[UUID, _Rotation | None] = {}  # by group; None: the group has none
        # Not written yet, in the order the steps made them.
        self._projected: list[tuple[CycleState, Contribution]] = []
        self._postings: list[tuple[UUID, Transaction]] = []
        self._outgoing: list[tuple[str, Message]] = []
        self.still_to_apply: list[StripeEventReceived] = []

    async def read(self, events: list[StripeEventReceived]) -> None:
        """Look up every event's contribution or attempt, and lock their cycles."""
        tagged = [ref for event in events if (ref := attempt_in_metadata(event)) is not None]
        payment_intents = {pi for event in events if (pi := payment_intent_of(event)) is not None}
        untagged = {
            pi for event in events if attempt_in_metadata(event) is None and (pi := payment_intent_of(event))
        }
        self._attempts = await attempts_of_payment_intents(self._session, untagged)
        self._parked = await payment_intents_with_parked_events(self._session, payment_intents)
        concerned = {ref.cycle_id for ref in tagged} | {
            attempt.cycle_id for attempt in self._attempts.values()
        }
        stored = await lock_cycles(self._session, concerned)
        self._cycles = {cycle_id: _Cycle(cycle, cycle.state) for cycle_id, cycle in stored.items()}
        # A cycle's contributions are the rows its saves projected: whose they are is in the states
        # (a contribution found in none is looked up in its table, see ``_target``).
        self._owners = {
            contribution.contribution_id: cycle_id
            for cycle_id, cycle in stored.items()
            for contribution in cycle.state.contributions
        }

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
        await self._tell_rotation(before, decision, event.message_id)
        if self._records_parked(before, after):
            # Parked events are applied one at a time, in the database.
            await self.flush()
            await apply_parked_events(self._session, before, after, self._now)
            self._read_again(before.plan.group_id)
        return "applied"

    async def _tell_rotation(self, before: CycleState, decision: Decision, cause: UUID) -> None:
        """``rotation_steps.cycle_step_taken``, on the rotation as the batch holds it: a rotation
        step whose commands are all messages stays in the batch; one that plans, drops or stops
        cycles carries them out in the database, everything before it written first."""
        messages = rotation_steps.rotation_messages_of(before, decision, self._now)
        if not messages:
            return
        group_id = before.plan.group_id
        if await self._rotation(group_id) is None:
            log.warning(
                "group %s has no rotation saga: its cycle %s runs alone", group_id, before.plan.cycle_id
            )
            return
        for message in messages:
            rotation = await self._rotation(group_id)
            if rotation is None:
                raise rotation_steps.UnknownRotationError(f"no rotation of group {group_id}")
            decided = decide_rotation(rotation.state, message, self._now, BUSINESS_DAYS)
            if decided.new_state == rotation.state and not decided.commands and not decided.postings:
                continue
            rotation.state, rotation.steps = decided.new_state, rotation.steps + 1
            # The rotation's own transactions belong to no cycle: filed under the group's id.
            self._postings.extend((group_id, posting) for posting in decided.postings)
            await self._carry_out(group_id, decided.commands, cause)

    async def _carry_out(self, group_id: UUID, commands: tuple[RotationCommand, ...], cause: UUID) -> None:
        for index, command in enumerate(commands):
            if isinstance(command, rotation_steps.COMMANDS_ON_CYCLES):
                await self.flush()
                for rest in commands[index:]:
                    await rotation_steps.carry_out(self._session, group_id, rest, self._now, cause)
                self._read_again(group_id)
                return
            self._outgoing.append(rotation_outgoing(group_id, command, self._now, cause))

    async def _rotation(self, group_id: UUID) -> _Rotation | None:
        """The group's rotation (locked), as the batch's steps leave it; None if it has none.

        The first one a batch needs comes with those of every group the rest of the batch reports
        on, in one statement: a batch of successes funds many cycles, and a statement each was
        most of such a batch's time on a busy machine (each waits its turn for Postgres)."""
        if group_id not in self._rotations:
            wanted = {group_id, *self._groups_still_reported_on()} - self._rotations.keys()
            found = await lock_rotations(self._session, wanted)
            for wanted_id in wanted:
                stored = found.get(wanted_id)
                self._rotations[wanted_id] = _Rotation(stored, stored.state) if stored else None
        return self._rotations[group_id]

    def _groups_still_reported_on(self) -> set[UUID]:
        """The groups of the cycles held that the events still to apply name."""
        groups = set()
        for event in self.still_to_apply:
            tagged = attempt_in_metadata(event)
            payment_intent_id = payment_intent_of(event)
            recorded = self._attempts.get(payment_intent_id) if payment_intent_id else None
            cycle_id = tagged.cycle_id if tagged else recorded.cycle_id if recorded else None
            cycle = self._cycles.get(cycle_id) if cycle_id else None
            if cycle is not None:
                groups.add(cycle.state.plan.group_id)
        return groups

    async def _target(self, event: StripeEventReceived) -> _Target | str:
        """The attempt the event is about, or what became of it when there is none."""
        tagged = attempt_in_metadata(event)
        if tagged is not None:
            # Our own metadata names the attempt, even when the create's answer is not recorded yet.
            owner = self._owners.get(tagged.contribution_id)
            if owner is None:  # in none of the cycles read: ask its table, all written first
                await self.flush()
                owner = await cycle_of_contribution(self._session, tagged.contribution_id)
                if owner is not None:
                    self._owners[tagged.contribution_id] = owner
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
            if recorded is not None:
                self._attempts[payment_intent_id] = recorded
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
        """Forget the group's cycles and rotation (all written): what was just done in the
        database may have stepped any of them."""
        for cycle_id, cycle in list(self._cycles.items()):
            if cycle.state.plan.group_id == group_id:
                del self._cycles[cycle_id]
        self._rotations.pop(group_id, None)

    async def flush(self) -> None:
        """Write what the steps so far decided."""
        stepped = sorted((c for c in self._cycles.values() if c.steps), key=lambda c: c.state.plan.cycle_id)
        await save_cycles(self._session, [CycleSave(c.written, c.state, c.steps) for c in stepped], self._now)
        moved = sorted((r for r in self._rotations.values() if r and r.steps), key=lambda r: r.state.group_id)
        await save_rotations(
            self._session, [RotationSave(r.written, r.state, r.steps) for r in moved], self._now
        )
        await project_contributions(self._session, self._projected, self._now)
        await post_all(self._session, self._postings, self._now)
        await add_all_to_outbox(self._session, self._outgoing)
        for cycle in stepped:
            cycle.written = StoredCycle(cycle.state, cycle.written.version + cycle.steps)
            cycle.steps = 0
        for rotation in moved:
            rotation.written = StoredRotation(rotation.state, rotation.written.version + rotation.steps)
            rotation.steps = 0
        self._projected, self._postings, self._outgoing = [], [], []
