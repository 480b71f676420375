"""Identifiers shaped like Stripe's: a type prefix and 24 random alphanumerics."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"


def new_secret(prefix: str) -> str:
    return new_id(prefix, 32)
