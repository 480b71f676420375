from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contracts import subjects
from contracts.asyncapi import asyncapi_document
from contracts.catalog import CHANNELS
from contracts.messages import Message
from contracts.streams import ALL_STREAMS


def a_message(**overrides: object) -> Message:
    fields: dict[str, object] = {
        "occurred_at": datetime(2026, 11, 22, tzinfo=UTC),
        "correlation_id": "group-1",
    }
    fields.update(overrides)
    return Message.model_validate(fields)


def test_message_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra_forbidden"):
        a_message(surprise=True)


def test_message_is_frozen() -> None:
    message = a_message()
    with pytest.raises(ValidationError, match="frozen"):
        message.correlation_id = "other"  # type: ignore[misc]


def test_message_needs_an_aware_time_and_a_correlation() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        a_message(occurred_at=datetime(2026, 11, 22))
    with pytest.raises(ValidationError, match="at least 1 character"):
        a_message(correlation_id="")


def test_each_message_gets_its_own_id_and_keeps_its_cause() -> None:
    cause = uuid4()
    first, second = a_message(causation_id=cause), a_message()
    assert first.message_id != second.message_id
    assert first.causation_id == cause
    assert second.causation_id is None


def test_every_subject_belongs_to_exactly_one_stream() -> None:
    owned = [subject for stream in ALL_STREAMS for subject in stream.subjects]
    assert len(owned) == len(set(owned))
    roots = {subject.split(".")[0] for subject in owned}
    for name, value in vars(subjects).items():
        if name.isupper() and isinstance(value, str) and "." in value:
            assert value.split(".")[0] in roots, f"{name} = {value!r} is in no stream"


def test_asyncapi_document_describes_every_catalogued_channel() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {channel.subject for channel in CHANNELS}
    schemas = document["components"]["schemas"]
    for channel in CHANNELS:
        schema = schemas[channel.payload.__name__]
        assert set(schema["required"]) >= {"occurred_at", "correlation_id"}
        assert all("description" in field for field in schema["properties"].values())


def test_every_concrete_subject_has_a_catalogued_payload() -> None:
    catalogued = {channel.subject for channel in CHANNELS}
    for name, value in vars(subjects).items():
        if name.isupper() and isinstance(value, str) and (".evt." in value or ".cmd." in value):
            assert value in catalogued, f"{name} = {value!r} has no payload model in contracts/catalog.py"
