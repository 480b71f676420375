"""Stripe's limits on metadata: up to 50 keys, keys up to 40 characters, values up to 500."""

from typing import Any

from simulators.stripe_sim.wire.errors import invalid_request

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500


def check_metadata(metadata: dict[str, Any], param: str) -> None:
    """Stripe's messages (the key one as the API answers it; the others in the same style)."""
    for key, value in metadata.items():
        if len(key) > MAX_KEY_LENGTH:
            raise invalid_request(
                f"Metadata keys can have up to {MAX_KEY_LENGTH} characters, but you passed in a key "
                f"that is {len(key)} characters. Invalid key: {key}",
                param=param,
            )
        if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
            raise invalid_request(
                f"Metadata values can have up to {MAX_VALUE_LENGTH} characters, but you passed in a "
                f"value that is {len(value)} characters. Invalid value: {value}",
                param=param,
            )
    if len(metadata) > MAX_KEYS:
        raise invalid_request(
            f"Metadata can have up to {MAX_KEYS} keys, but you've set {len(metadata)}. Email us at "
            "support+metadata@stripe.com for more information.",
            param=param,
        )
