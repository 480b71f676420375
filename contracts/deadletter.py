"""What a consumer publishes when it gives up on a message."""

from typing import Literal

from pydantic import Field

from contracts.messages import Message


class MessageDeadLettered(Message):
    """A message its consumer could not process after max_deliver attempts, or could not parse."""

    consumer: str = Field(description="Durable name of the consumer that gave up.")
    original_subject: str = Field(description="Subject the message was published on.")
    stream: str = Field(description="Stream that holds the original message.")
    stream_sequence: int = Field(ge=1, description="Sequence of the original in its stream.")
    deliveries: int = Field(ge=1, description="How many times it was delivered before giving up.")
    error_type: str = Field(description="Class name of the last error.")
    error_message: str = Field(description="Text of the last error (truncated to 2,000 chars).")
    original_payload: str = Field(description="The original body, exactly as received.")
    payload_encoding: Literal["utf-8", "base64"] = Field(
        description="How original_payload is encoded: utf-8 text, or base64 for other bytes."
    )
    original_headers: dict[str, str] = Field(description="The original NATS headers.")
