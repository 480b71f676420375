"""The scheduler's message edge: schedule and cancel commands, applied under the timer's lock."""

import logging

from contracts import subjects
from contracts.scheduler import CancelTimer, ScheduleTimer
from contracts.streams import SCHEDULER
from services.runtime.consumer import Handling, MessageRouter
from services.scheduler import domain
from services.scheduler.db import TimerStore

log = logging.getLogger(__name__)

router = MessageRouter(service="scheduler")


@router.subscriber(subjects.SCHEDULER_SCHEDULE, stream=SCHEDULER.name, durable="scheduler-schedule")
async def on_schedule_timer(message: ScheduleTimer, handling: Handling[None]) -> None:
    store = TimerStore(handling.session)
    change = domain.schedule(await store.lock(message.timer_id), message, handling.clock.now())
    if change.timer is not None:
        await store.save(change.timer)
    log.info("schedule %s: %s", message.timer_id, change.outcome)


@router.subscriber(subjects.SCHEDULER_CANCEL, stream=SCHEDULER.name, durable="scheduler-cancel")
async def on_cancel_timer(message: CancelTimer, handling: Handling[None]) -> None:
    store = TimerStore(handling.session)
    change = domain.cancel(await store.lock(message.timer_id), message, handling.clock.now())
    if change.timer is not None:
        await store.save(change.timer)
    log.info("cancel %s: %s", message.timer_id, change.outcome)
