"""The envelope every rosca message carries."""

from datetime import datetime
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Message(BaseModel):
    """Base of every message on a rosca subject: frozen, and unknown fields are rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: UUID = Field(
        default_factory=uuid4,
        description="Unique id of this message; also sent as the Nats-Msg-Id header, so a "
        "republished message is recognised as the same one.",
    )
    occurred_at: AwareDatetime = Field(
        description="When the fact happened or the command was issued, read from the platform "
        "clock (simulated time in simulation).",
    )
    correlation_id: str = Field(
        min_length=1,
        max_length=200,
        description="The business thread this message belongs to, usually a group or cycle id.",
    )
    causation_id: UUID | None = Field(
        default=None,
        description="message_id of the message that caused this one; null for an origin.",
    )


def utc_iso(moment: datetime) -> str:
    """ISO-8601 text of an aware moment, as messages and logs write it."""
    return moment.isoformat()
