"""The probe's consumer: applies each message by inserting a row (no unique key: the inbox dedupes)."""

from sqlalchemy import insert

from services.runtime.consumer import Handling, MessageRouter
from tests.integration.probe.schema import POISON, PROBE_STREAM, PROBE_SUBJECT, ProbeRecorded, effects

router = MessageRouter(service="probe")


class PoisonError(Exception):
    pass


@router.subscriber(PROBE_SUBJECT, stream=PROBE_STREAM.name, durable="probe-recorder")
async def on_probe_recorded(message: ProbeRecorded, handling: Handling[None]) -> None:
    if message.value == POISON:
        raise PoisonError("this message can never be applied")
    await handling.session.execute(insert(effects).values(message_id=message.message_id, value=message.value))
