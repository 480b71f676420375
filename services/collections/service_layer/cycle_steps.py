"""One saga step of one cycle: load it, decide, then save the state, book the postings and queue
the commands, all in the caller's transaction, with the cycle's version checked.

A cycle changed by another message since it was loaded raises ``ConcurrentCycleUpdateError``: the
transaction rolls back (the inbox row with it) and the message is delivered again, so it is
decided again on the newer state, never lost and never applied twice.
"""

import logging
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.cycle import CycleState
from services.collections.domain.messages import SagaMessage
from services.collections.domain.saga import decide_in_turn
from services.collections.service_layer import rotation_steps
from services.collections.service_layer.outgoing import outgoing
from services.collections.service_layer.stripe_reports import saga_message
from services.collections.store import ledger, parked_events
from services.collections.store.cycles import load_cycle, save_cycle
from services.runtime.outbox import add_all_to_outbox

log = logging.getLogger(__name__)

BUSINESS_DAYS = BecsBusinessCalendar()


class UnknownCycleError(Exception):
    """A message names a cycle this service never planned."""


async def apply_to_cycle(
    session: AsyncSession, cycle_id: UUID, message: SagaMessage, now: datetime, cause: UUID | None
) -> bool:
    """Feed ``message`` to the cycle's saga; False when it changed nothing (a duplicate, a stale report)."""
    return await apply_in_turn_to_cycle(session, cycle_id, (message,), now, cause)


async def apply_in_turn_to_cycle(
    session: AsyncSession,
    cycle_id: UUID,
    messages: Sequence[SagaMessage],
    now: datetime,
    cause: UUID | None,
) -> bool:
    """Feed ``messages`` to the cycle's saga one after the other, as one step (``decide_in_turn``);
    False when they changed nothing."""
    stored = await load_cycle(session, cycle_id)
    if stored is None:
        raise UnknownCycleError(f"no cycle {cycle_id}")
    decision = decide_in_turn(stored.state, messages, BUSINESS_DAYS, now)
    if decision.new_state == stored.state and not decision.commands and not decision.postings:
        return False
    await save_cycle(session, stored, decision.new_state, now)
    await ledger.post(session, cycle_id, decision.postings, now)
    await add_all_to_outbox(
        session, [outgoing(decision.new_state, command, now, cause) for command in decision.commands]
    )
    # The group's rotation hears the cycle's news in this same transaction (see ``rotation_steps``).
    await rotation_steps.cycle_step_taken(session, stored.state, decision, now, cause)
    await apply_parked_events(session, stored.state, decision.new_state, now)
    return True


async def apply_parked_events(
    session: AsyncSession, before: CycleState, after: CycleState, now: datetime
) -> None:
    """Reports that came before their PaymentIntent was known here apply once it is."""
    known_before = {c.payment_intent_id for c in before.contributions}
    for contribution in after.contributions:
        payment_intent_id = contribution.payment_intent_id
        if payment_intent_id is None or payment_intent_id in known_before:
            continue
        for event in await parked_events.take_waiting(session, payment_intent_id, now):
            message = saga_message(event, contribution.contribution_id, contribution.attempt)
            if message is not None:
                log.info("applying parked %s %s", event.event_type, event.event_id)
                await apply_to_cycle(session, after.plan.cycle_id, message, now, event.message_id)
