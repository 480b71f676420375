"""Is this request a genuine Stripe event for this endpoint? Pure: bytes, header, secrets and time in.

Checks, in order: body size, the ``Stripe-Signature`` header's shape, the signature (HMAC-SHA256 of
``"{t}.{raw body}"`` with each active secret, compared in constant time against every ``v1``), the
timestamp (neither older nor further in the future than the tolerance), then the body: a Stripe
event in the expected mode, with an ``account`` when it came to the Connect endpoint and without one
when it came to the platform endpoint.
"""

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from contracts.stripe_events import STRIPE_EVENT_ID_PATTERN, STRIPE_EVENT_TYPE_PATTERN


class Endpoint(StrEnum):
    platform = "platform"
    connect = "connect"


class Rejection(StrEnum):
    """Why a delivery was refused; the short reason in the 400 body and the metrics label."""

    body_too_large = "body_too_large"
    missing_signature = "missing_signature"
    malformed_signature = "malformed_signature"
    no_v1_signature = "no_v1_signature"
    signature_mismatch = "signature_mismatch"
    timestamp_too_old = "timestamp_too_old"
    timestamp_in_future = "timestamp_in_future"
    not_json = "not_json"
    not_an_event = "not_an_event"
    livemode_mismatch = "livemode_mismatch"
    missing_account = "missing_account"
    unexpected_account = "unexpected_account"

    @property
    def explanation(self) -> str:
        """What is wrong, for the 400 body: whoever sent it (often someone testing) learns what to fix."""
        return _EXPLANATIONS[self]


_EXPLANATIONS = {
    Rejection.body_too_large: "the body is larger than this endpoint accepts",
    Rejection.missing_signature: "no Stripe-Signature header",
    Rejection.malformed_signature: "the Stripe-Signature header is not t=<unix time>,v1=<hex>[,v1=…]",
    Rejection.no_v1_signature: "the Stripe-Signature header has no v1 signature",
    Rejection.signature_mismatch: "no v1 signature matches this endpoint's signing secret",
    Rejection.timestamp_too_old: "the signature's timestamp is older than the tolerance",
    Rejection.timestamp_in_future: "the signature's timestamp is further ahead than the tolerance",
    Rejection.not_json: "the body is not UTF-8 JSON",
    Rejection.not_an_event: "the body is not a Stripe event",
    Rejection.livemode_mismatch: "the event's livemode is not this deployment's mode",
    Rejection.missing_account: "an event on the Connect endpoint must carry its connected account",
    # Stripe sends a connected account's events only to Connect endpoints: such an event here was
    # misdirected or forged, and stored it would pass for one of the platform's own.
    Rejection.unexpected_account: (
        "an event that carries a connected account belongs on the Connect endpoint, not the platform's"
    ),
}


class DeliveryRejectedError(Exception):
    def __init__(self, reason: Rejection) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class VerificationPolicy:
    secrets: Sequence[str]
    tolerance_seconds: int
    max_body_bytes: int
    expected_livemode: bool


@dataclass(frozen=True)
class VerifiedEvent:
    """A Stripe event that passed every check; ``raw`` is the body exactly as received."""

    event_id: str
    event_type: str
    created: int
    livemode: bool
    account: str | None
    body: dict[str, Any]
    raw: bytes


# A real header is about 150 characters; bounding it bounds the work an attacker can cause.
_MAX_HEADER_LENGTH = 2_000
_MAX_V1_SIGNATURES = 8
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_EVENT_ID = re.compile(STRIPE_EVENT_ID_PATTERN)
_EVENT_TYPE = re.compile(STRIPE_EVENT_TYPE_PATTERN)
_ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]{1,250}$")
_LATEST_CREATED = 10**11  # year 5138: beyond it, a `created` is garbage, not a time


def verify_delivery(
    body: bytes, signature_header: str | None, *, endpoint: Endpoint, policy: VerificationPolicy, now: int
) -> VerifiedEvent:
    """The verified event, or ``DeliveryRejectedError`` naming the first check that failed.

    ``now`` is wall-clock Unix time: Stripe signs with its own (real) clock, so the signature's age
    is only meaningful against the system clock, never against a simulated one.
    """
    if len(body) > policy.max_body_bytes:
        raise DeliveryRejectedError(Rejection.body_too_large)
    timestamp, candidates = parse_signature_header(signature_header)
    if not signature_matches(body, timestamp, candidates, policy.secrets):
        raise DeliveryRejectedError(Rejection.signature_mismatch)
    if now - timestamp > policy.tolerance_seconds:
        raise DeliveryRejectedError(Rejection.timestamp_too_old)
    if timestamp - now > policy.tolerance_seconds:
        raise DeliveryRejectedError(Rejection.timestamp_in_future)
    return parse_event(body, endpoint=endpoint, expected_livemode=policy.expected_livemode)


def parse_signature_header(header: str | None) -> tuple[int, list[str]]:
    """``t`` and every ``v1`` of a ``Stripe-Signature`` header; other schemes are ignored."""
    if header is None or not header.strip():
        raise DeliveryRejectedError(Rejection.missing_signature)
    if len(header) > _MAX_HEADER_LENGTH:
        raise DeliveryRejectedError(Rejection.malformed_signature)
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, separator, value = item.partition("=")
        if not separator:
            raise DeliveryRejectedError(Rejection.malformed_signature)
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.match(timestamps[0]):
        raise DeliveryRejectedError(Rejection.malformed_signature)
    if not signatures:
        raise DeliveryRejectedError(Rejection.no_v1_signature)
    if len(signatures) > _MAX_V1_SIGNATURES:
        raise DeliveryRejectedError(Rejection.malformed_signature)
    return int(timestamps[0]), signatures


def signature_matches(body: bytes, timestamp: int, candidates: Sequence[str], secrets: Sequence[str]) -> bool:
    signed = f"{timestamp}.".encode() + body
    presented = [candidate.encode("utf-8", "replace") for candidate in candidates]
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
        for candidate in presented:
            # Every pair is compared, so the time taken says nothing about which one matched.
            matched |= hmac.compare_digest(expected, candidate)
    return matched


def parse_event(body: bytes, *, endpoint: Endpoint, expected_livemode: bool) -> VerifiedEvent:
    try:
        event = json.loads(body.decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise DeliveryRejectedError(Rejection.not_json) from None
    if not _is_event(event):
        raise DeliveryRejectedError(Rejection.not_an_event)
    if event["livemode"] is not expected_livemode:
        raise DeliveryRejectedError(Rejection.livemode_mismatch)
    account = event.get("account")
    if account is not None and not (isinstance(account, str) and _ACCOUNT_ID.match(account)):
        raise DeliveryRejectedError(Rejection.not_an_event)
    if endpoint is Endpoint.connect and account is None:
        raise DeliveryRejectedError(Rejection.missing_account)
    if endpoint is Endpoint.platform and account is not None:
        raise DeliveryRejectedError(Rejection.unexpected_account)
    return VerifiedEvent(
        event_id=event["id"],
        event_type=event["type"],
        created=event["created"],
        livemode=event["livemode"],
        account=account,
        body=event,
        raw=body,
    )


def _is_event(event: object) -> bool:
    if not isinstance(event, dict) or event.get("object") != "event":
        return False
    identifier, event_type, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    return (
        isinstance(identifier, str)
        and bool(_EVENT_ID.match(identifier))
        and isinstance(event_type, str)
        and bool(_EVENT_TYPE.match(event_type))
        and isinstance(created, int)
        and not isinstance(created, bool)
        and 0 <= created < _LATEST_CREATED
        and isinstance(event.get("livemode"), bool)
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
        and isinstance(data["object"].get("object"), str)
        and bool(data["object"]["object"])
    )
