"""Decode Stripe's form bodies: bracket notation (`a[b][c]=x`) and indexed arrays (`a[0]=x`)."""

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


class FormDecodingError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def decode_form(body: str) -> dict[str, Any]:
    """Nested dicts for bracketed keys; a dict whose keys are all indexes becomes a list."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(body, keep_blank_values=True):
        _insert(root, raw_key, _split_key(raw_key), value)
    return {
        key: _lists_from_indexes(value) if isinstance(value, dict) else value for key, value in root.items()
    }


def _split_key(raw_key: str) -> list[str]:
    opening = raw_key.find("[")
    if opening <= 0:
        return [raw_key]
    rest = raw_key[opening:]
    parts = _KEY_PART.findall(rest)
    if "".join(f"[{part}]" for part in parts) != rest:
        raise FormDecodingError(raw_key, f"Invalid parameter name: {raw_key}")
    return [raw_key[:opening], *parts]


def _insert(root: dict[str, Any], raw_key: str, parts: list[str], value: str) -> None:
    node = root
    for depth, part in enumerate(parts):
        is_last = depth == len(parts) - 1
        # `a[]=x` appends: give each occurrence the next free index.
        key = str(sum(1 for existing in node if existing.isdigit())) if part == "" else part
        if is_last:
            if isinstance(node.get(key), dict):
                raise FormDecodingError(raw_key, f"Invalid value for {raw_key}: expected a hash")
            node[key] = value
            return
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise FormDecodingError(raw_key, f"Invalid hash for {raw_key}: it was also given a value")
        node = child


def _lists_from_indexes(node: dict[str, Any]) -> Any:
    converted = {
        key: _lists_from_indexes(value) if isinstance(value, dict) else value for key, value in node.items()
    }
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted
