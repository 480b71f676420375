"""`expand[]`: replace an id with the object it names, along a dotted path."""

from collections.abc import Callable
from typing import Any

from simulators.stripe_sim.state.copies import json_copy

Lookup = Callable[[str], dict[str, Any] | None]


def expand(body: dict[str, Any], paths: list[str], lookup: Lookup) -> dict[str, Any]:
    expanded = json_copy(body)
    for path in paths:
        _expand(expanded, path.split("."), lookup)
    return expanded


def _expand(node: Any, parts: list[str], lookup: Lookup) -> None:
    if isinstance(node, list):
        for item in node:
            _expand(item, parts, lookup)
        return
    if not isinstance(node, dict) or not parts or parts[0] not in node:
        return
    key, rest = parts[0], parts[1:]
    value = node[key]
    if isinstance(value, str) and (found := lookup(value)) is not None:
        node[key] = value = json_copy(found)
    if rest:
        _expand(value, rest, lookup)
