"""Verification of Stripe deliveries, against hand-made cases and Stripe's own SDK as an oracle."""

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.webhooks.verification import (
    DeliveryRejectedError,
    Endpoint,
    Rejection,
    VerificationPolicy,
    verify_delivery,
)

SECRET = "whsec_current_0123456789abcdef"
OLD_SECRET = "whsec_previous_0123456789abcdef"
NOW = 1_790_000_000
POLICY = VerificationPolicy(
    secrets=(SECRET,), tolerance_seconds=300, max_body_bytes=64 * 1024, expected_livemode=False
)


def an_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": NOW - 5,
        "data": {"object": {"id": "pi_123", "object": "payment_intent", "status": "succeeded"}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "payment_intent.succeeded",
    }
    event.update(overrides)
    return event


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()


def signature(body: bytes, secret: str = SECRET, timestamp: int = NOW) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def header(body: bytes, secret: str = SECRET, timestamp: int = NOW) -> str:
    return f"t={timestamp},v1={signature(body, secret, timestamp)}"


def rejection(
    body: bytes,
    signature_header: str | None,
    *,
    endpoint: Endpoint = Endpoint.platform,
    policy: VerificationPolicy = POLICY,
    now: int = NOW,
) -> Rejection:
    with pytest.raises(DeliveryRejectedError) as refused:
        verify_delivery(body, signature_header, endpoint=endpoint, policy=policy, now=now)
    return refused.value.reason


def test_a_genuine_delivery_is_verified_and_parsed() -> None:
    event = an_event()
    body = body_of(event)

    verified = verify_delivery(body, header(body), endpoint=Endpoint.platform, policy=POLICY, now=NOW)

    assert (verified.event_id, verified.event_type, verified.created) == (
        event["id"],
        "payment_intent.succeeded",
        NOW - 5,
    )
    assert verified.raw == body
    assert verified.account is None


def test_the_wrong_secret_is_refused() -> None:
    body = body_of(an_event())
    assert rejection(body, header(body, secret="whsec_someone_else")) is Rejection.signature_mismatch


def test_a_tampered_body_is_refused() -> None:
    body = body_of(an_event())
    signed = header(body)
    tampered = body.replace(b'"succeeded"', b'"failed"')
    assert rejection(tampered, signed) is Rejection.signature_mismatch


def test_a_missing_header_is_refused() -> None:
    body = body_of(an_event())
    assert rejection(body, None) is Rejection.missing_signature
    assert rejection(body, "  ") is Rejection.missing_signature


@pytest.mark.parametrize(
    "malformed",
    [
        "garbage",
        "t=,v1=abc",
        "t=12x4,v1=abc",
        "t=1,t=2,v1=abc",
        "v1=abc",
        "t=-5,v1=abc",
        "t=1790000000,v1=" + "a" * 64 + ",v1=" * 9,
        "t=1790000000;v1=abc",
        "x" * 3_000,
    ],
)
def test_a_malformed_header_is_refused(malformed: str) -> None:
    assert rejection(body_of(an_event()), malformed) is Rejection.malformed_signature


def test_a_header_without_v1_is_refused() -> None:
    body = body_of(an_event())
    v0_only = f"t={NOW},v0={signature(body)}"
    assert rejection(body, v0_only) is Rejection.no_v1_signature


def test_one_valid_v1_among_several_is_enough() -> None:
    body = body_of(an_event())
    several = f"t={NOW},v1={'0' * 64},v1={signature(body)},v1=zz,v0={'1' * 64},scheme9=x"

    verified = verify_delivery(body, several, endpoint=Endpoint.platform, policy=POLICY, now=NOW)

    assert verified.raw == body


def test_during_rotation_either_secret_verifies() -> None:
    rotating = VerificationPolicy(
        secrets=(OLD_SECRET, SECRET), tolerance_seconds=300, max_body_bytes=65_536, expected_livemode=False
    )
    body = body_of(an_event())
    for secret in (OLD_SECRET, SECRET):
        verify_delivery(body, header(body, secret), endpoint=Endpoint.platform, policy=rotating, now=NOW)
    assert rejection(body, header(body, "whsec_retired"), policy=rotating) is Rejection.signature_mismatch


def test_timestamps_beyond_the_tolerance_either_way_are_refused() -> None:
    body = body_of(an_event())
    assert rejection(body, header(body, timestamp=NOW - 301)) is Rejection.timestamp_too_old
    assert rejection(body, header(body, timestamp=NOW + 301)) is Rejection.timestamp_in_future
    for edge in (NOW - 300, NOW + 300):
        verify_delivery(
            body, header(body, timestamp=edge), endpoint=Endpoint.platform, policy=POLICY, now=NOW
        )


def test_stripes_sdk_accepts_a_future_timestamp_which_we_refuse() -> None:
    """Why the SDK is not used for verification: it only bounds a signature's age."""
    body = body_of(an_event())
    future = int(time.time()) + 3_600
    signed = header(body, timestamp=future)

    stripe.Webhook.construct_event(body, signed, SECRET, tolerance=300)
    assert rejection(body, signed, now=int(time.time())) is Rejection.timestamp_in_future


def test_an_oversize_body_is_refused_before_anything_else() -> None:
    big = body_of(an_event(padding="x" * 70_000))
    assert rejection(big, None) is Rejection.body_too_large


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe{}", b'{"id": "evt_1"', b"[1, 2]", b""])
def test_a_body_that_is_not_json_is_refused_even_when_signed(body: bytes) -> None:
    reason = rejection(body, header(body))
    assert reason in {Rejection.not_json, Rejection.not_an_event}


@pytest.mark.parametrize(
    "change",
    [
        {"object": "charge"},
        {"id": "ch_123"},
        {"id": "evt_has spaces"},
        {"type": "payment_intent.>"},
        {"type": "Payment_Intent.Succeeded"},
        {"type": "single"},
        {"created": "yesterday"},
        {"created": True},
        {"livemode": "false"},
        {"data": {"object": "pi_123"}},
        {"data": {"object": {"id": "pi_123"}}},
        {"account": 42},
        {"account": "acct_with spaces"},
    ],
)
def test_json_that_is_not_a_stripe_event_is_refused(change: dict[str, Any]) -> None:
    body = body_of(an_event(**change))
    assert rejection(body, header(body)) is Rejection.not_an_event


def test_an_event_of_the_other_mode_is_refused() -> None:
    live = body_of(an_event(livemode=True))
    assert rejection(live, header(live)) is Rejection.livemode_mismatch
    live_policy = VerificationPolicy(
        secrets=(SECRET,), tolerance_seconds=300, max_body_bytes=65_536, expected_livemode=True
    )
    test_mode = body_of(an_event())
    assert rejection(test_mode, header(test_mode), policy=live_policy) is Rejection.livemode_mismatch


def test_the_connect_endpoint_needs_an_account() -> None:
    platform_event = body_of(an_event())
    assert rejection(platform_event, header(platform_event), endpoint=Endpoint.connect) is (
        Rejection.missing_account
    )
    on_account = body_of(an_event(account="acct_1Abc"))
    verified = verify_delivery(
        on_account, header(on_account), endpoint=Endpoint.connect, policy=POLICY, now=NOW
    )
    assert verified.account == "acct_1Abc"


def test_the_platform_endpoint_refuses_an_event_that_carries_an_account() -> None:
    """Stripe sends a connected account's events to Connect endpoints only."""
    on_account = body_of(an_event(account="acct_1Abc"))
    assert rejection(on_account, header(on_account)) is Rejection.unexpected_account
    explicit_null = body_of(an_event(account=None))
    verified = verify_delivery(
        explicit_null, header(explicit_null), endpoint=Endpoint.platform, policy=POLICY, now=NOW
    )
    assert verified.account is None


def test_every_rejection_explains_itself() -> None:
    explanations = [reason.explanation for reason in Rejection]
    assert all(explanations)
    assert len(set(explanations)) == len(explanations)


# Property-based: Stripe's SDK as the oracle for the signature, on arbitrary header mutations.

# ASCII: the SDK's own compare_digest on str raises TypeError on anything else.
_ASCII = st.characters(min_codepoint=0, max_codepoint=127)
_header_items = st.one_of(
    st.tuples(st.sampled_from(["t", "v1", "v0", "v2", "T", " t", "v1 "]), st.text(_ASCII, max_size=70)),
    st.tuples(st.just("v1"), st.text(alphabet="0123456789abcdef", min_size=63, max_size=65)),
    st.tuples(st.just("t"), st.integers(NOW - 1_000, NOW + 1_000).map(str)),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    kept=st.lists(st.sampled_from(["t", "v1"]), max_size=3),
    extra=st.lists(_header_items, max_size=4),
    shuffle=st.randoms(use_true_random=False),
)
def test_we_accept_a_header_only_if_stripes_sdk_does(
    kept: list[str], extra: list[tuple[str, str]], shuffle: Any
) -> None:
    body = body_of(an_event())
    genuine = {"t": str(NOW), "v1": signature(body)}
    items = [f"{key}={genuine[key]}" for key in kept] + [f"{key}={value}" for key, value in extra]
    shuffle.shuffle(items)
    mutated = ",".join(items)
    try:
        verify_delivery(body, mutated, endpoint=Endpoint.platform, policy=POLICY, now=NOW)
        ours = True
    except DeliveryRejectedError:
        ours = False
    theirs = _sdk_accepts(body, mutated)
    if ours:
        assert theirs, mutated
    # Where the header is well formed, the SDK's word is final; elsewhere we may only be stricter.
    parts = [item.partition("=") for item in mutated.split(",")]
    timestamps = [value for key, _, value in parts if key == "t"]
    well_formed = (
        all(separator and "=" not in value for _, separator, value in parts)
        and len(timestamps) == 1
        and timestamps[0].isdigit()
        and sum(key == "v1" for key, _, _ in parts) <= 8
    )
    if theirs and well_formed:
        assert ours, mutated


@settings(max_examples=300)
@given(
    position=st.integers(min_value=0),
    replacement=st.binary(min_size=1, max_size=8),
    delete=st.integers(min_value=0, max_value=8),
)
def test_any_change_to_a_signed_body_is_refused(position: int, replacement: bytes, delete: int) -> None:
    body = body_of(an_event())
    signed = header(body)
    at = position % len(body)
    mutated = body[:at] + replacement + body[at + delete :]
    assume(mutated != body)
    assert rejection(mutated, signed) is Rejection.signature_mismatch


def _sdk_accepts(body: bytes, signature_header: str) -> bool:
    try:
        stripe.WebhookSignature.verify_header(body.decode(), signature_header, SECRET, tolerance=None)
    except (stripe.SignatureVerificationError, ValueError):
        return False
    return True
