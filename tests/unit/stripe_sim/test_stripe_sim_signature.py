import json
import time

import pytest
import stripe

from simulators.stripe_sim.webhooks.signature import signature_header

SECRET = "whsec_test_secret"


def test_the_sdk_accepts_the_simulators_signature() -> None:
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "x.y", "data": {"object": {}}})

    event = stripe.Webhook.construct_event(
        payload, signature_header(payload.encode(), SECRET, int(time.time())), SECRET
    )

    assert event.id == "evt_1"


def test_a_tampered_body_fails_verification() -> None:
    header = signature_header(b'{"id": "evt_1"}', SECRET, int(time.time()))

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event('{"id": "evt_2"}', header, SECRET)


def test_another_secret_fails_verification() -> None:
    header = signature_header(b'{"id": "evt_1"}', SECRET, int(time.time()))

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event('{"id": "evt_1"}', header, "whsec_other")


def test_header_names_the_timestamp_and_one_v1_signature() -> None:
    header = signature_header(b"{}", SECRET, 1_700_000_000)

    assert header.startswith("t=1700000000,v1=")
    assert len(header.split("v1=")[1]) == 64
