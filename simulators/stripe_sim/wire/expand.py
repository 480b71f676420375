"""`expand[]`: checked against the spec, then each id replaced by the object it names.

A path is a dotted walk through the response: every step must be one of the object's
`x-expandableFields`, the last one an id of another object (`x-expansionResources`) or a list
Stripe leaves out unless asked (`charge.refunds`). At most four steps, as on Stripe.
"""

from collections.abc import Callable
from typing import Any

from simulators.stripe_sim.state.copies import json_copy
from simulators.stripe_sim.wire.errors import StripeError, invalid_request
from simulators.stripe_sim.wire.spec import Schema, StripeSpec

MAX_DEPTH = 4

Lookup = Callable[[str], dict[str, Any] | None]
# A field a body leaves out until it is expanded: (the object, the field's name) → its value.
Include = Callable[[dict[str, Any], str], Any]


def check_expand_paths(spec: StripeSpec, response: Schema, paths: list[str]) -> None:
    for path in paths:
        parts = path.split(".")
        if len(parts) > MAX_DEPTH:
            raise StripeError(
                400,
                "invalid_request_error",
                f"You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}",
                code="property_expansion_max_depth",
                param="expand",
            )
        refused = _refused_step(spec, response, parts)
        if refused is not None:
            message = f"This property cannot be expanded ({refused})."
            if _is_list(spec, response) and _refused_step(spec, response, ["data", *parts]) is None:
                message += f" You may want to try expanding 'data.{path}' instead."
            raise invalid_request(message, param="expand")


def _refused_step(spec: StripeSpec, schema: Schema, parts: list[str]) -> str | None:
    """The first step of ``parts`` the schema does not let expand, or None if all do."""
    schema = spec.resolve(schema)
    if "anyOf" in schema:  # e.g. a customer or a deleted customer: any branch may allow it
        refusals = [_refused_step(spec, branch, parts) for branch in schema["anyOf"]]
        return None if None in refusals else refusals[0]
    step, rest = parts[0], parts[1:]
    field = schema.get("properties", {}).get(step)
    if field is None or step not in schema.get("x-expandableFields", []):
        return step
    if not rest:
        return None if _expandable(spec, field) else step
    return _refused_step(spec, _inside(spec, field), rest)


def _expandable(spec: StripeSpec, field: Schema) -> bool:
    """An id of another object, or a list included only on request."""
    return "x-expansionResources" in field or _is_list(spec, field)


def _is_list(spec: StripeSpec, schema: Schema) -> bool:
    kind = spec.resolve(schema).get("properties", {}).get("object", {})
    return bool(kind.get("enum") == ["list"])


def _inside(spec: StripeSpec, field: Schema) -> Schema:
    """What the next step walks into: the expanded object, or an array's items."""
    if "x-expansionResources" in field:
        return {"anyOf": field["x-expansionResources"]["oneOf"]}
    field = spec.resolve(field)
    if field.get("type") == "array":
        return dict(field.get("items", {}))
    if "anyOf" in field:
        return {"anyOf": [b for b in field["anyOf"] if spec.resolve(b).get("type") != "string"]}
    return field


def expand(body: dict[str, Any], paths: list[str], lookup: Lookup, include: Include) -> dict[str, Any]:
    expanded = json_copy(body)
    for path in paths:
        _expand(expanded, path.split("."), lookup, include)
    return expanded


def _expand(node: Any, parts: list[str], lookup: Lookup, include: Include) -> None:
    if isinstance(node, list):
        for item in node:
            _expand(item, parts, lookup, include)
        return
    if not isinstance(node, dict) or not parts:
        return
    key, rest = parts[0], parts[1:]
    if key not in node:
        included = include(node, key)
        if included is None:
            return
        node[key] = included
    value = node[key]
    if isinstance(value, str) and (found := lookup(value)) is not None:
        node[key] = value = json_copy(found)
    if rest:
        _expand(value, rest, lookup, include)
