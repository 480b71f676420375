"""Identifiers shaped like Stripe's: a type prefix and 24 random alphanumerics."""

import secrets
import string

_ALPHABET = (string.ascii_letters + string.digits).encode()
# Bytes below 248 map onto the 62 characters evenly (4 each); the 8 above are dropped, not folded
# in, so no character is likelier than another.
_EVEN_LIMIT = 256 - 256 % len(_ALPHABET)
_TO_ALPHABET = bytes(_ALPHABET[byte % len(_ALPHABET)] for byte in range(256))
_UNEVEN = bytes(range(_EVEN_LIMIT, 256))


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{_random_alphanumerics(length)}"


def new_secret(prefix: str) -> str:
    return new_id(prefix, 32)


def _random_alphanumerics(length: int) -> str:
    # One urandom read and a C-level translate, instead of a system call per character.
    chosen = b""
    while len(chosen) < length:
        chosen += secrets.token_bytes(length + 4).translate(_TO_ALPHABET, _UNEVEN)
    return chosen[:length].decode()
