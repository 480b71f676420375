"""The probe's message, stream and table."""

from pathlib import Path

from pydantic import Field
from sqlalchemy import Column, Identity, Integer, MetaData, Table, Text, Uuid

from contracts.messages import Message
from contracts.streams import StreamDefinition

PROBE_SUBJECT = "probe.evt.recorded"
PROBE_STREAM = StreamDefinition(
    name="PROBE", subjects=("probe.>",), owner="tests", description="Messages of the test probe."
)
MIGRATIONS = Path(__file__).parent / "migrations"
POISON = "poison"


class ProbeRecorded(Message):
    value: str = Field(description="What to record; 'poison' makes the handler fail every time.")


metadata = MetaData()
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("message_id", Uuid, nullable=False),
    Column("value", Text, nullable=False),
)
