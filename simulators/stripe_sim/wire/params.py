"""Check and type request parameters against the endpoint's schema, as Stripe's API does.

Form values arrive as strings; the schema says which are integers, booleans, arrays or hashes.
Unknown keys (at any depth) and missing required keys are refused the way Stripe refuses them.
"""

from collections.abc import Callable
from typing import Any

from simulators.stripe_sim.wire.errors import (
    StripeError,
    invalid_request,
    parameter_missing,
    parameter_unknown,
)
from simulators.stripe_sim.wire.metadata import check_metadata
from simulators.stripe_sim.wire.spec import Schema, StripeSpec


def check_params(spec: StripeSpec, schema: Schema, params: dict[str, Any]) -> dict[str, Any]:
    checked = _check(spec, schema, params, "")
    assert isinstance(checked, dict)
    return checked


def _check(spec: StripeSpec, schema: Schema, value: Any, name: str) -> Any:
    schema = spec.resolve(schema)
    if "anyOf" in schema:
        return _check_any_of(spec, schema["anyOf"], value, name)
    kind = schema.get("type")
    if kind == "object" or (kind is None and "properties" in schema):
        return _check_object(spec, schema, value, name)
    if kind == "array":
        return _check_array(spec, schema, value, name)
    if kind == "string":
        return _as_string(schema, value, name)
    scalar = _SCALARS.get(kind)
    return scalar(value, name) if scalar is not None else value


def _check_any_of(spec: StripeSpec, branches: list[Schema], value: Any, name: str) -> Any:
    first_error: StripeError | None = None
    # Try the branches that can hold this shape of value first, so errors name the likely one.
    for branch in sorted(branches, key=lambda b: not _shape_fits(spec.resolve(b), value)):
        try:
            return _check(spec, branch, value, name)
        except StripeError as error:
            first_error = first_error or error
    assert first_error is not None
    raise first_error


def _shape_fits(schema: Schema, value: Any) -> bool:
    kind = schema.get("type")
    if isinstance(value, dict):
        return kind == "object"
    if isinstance(value, list):
        return kind == "array"
    return kind not in ("object", "array")


def _check_object(spec: StripeSpec, schema: Schema, value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        if value == "" and name:
            raise invalid_request(f"Invalid hash: {name}", param=name)
        raise invalid_request(f"Invalid object: {name}", param=name)
    properties: dict[str, Schema] = schema.get("properties", {})
    additional = schema.get("additionalProperties")
    checked: dict[str, Any] = {}
    for key, item in value.items():
        child_name = f"{name}[{key}]" if name else key
        if key in properties:
            checked[key] = _check(spec, properties[key], item, child_name)
            if key == "metadata" and isinstance(checked[key], dict):
                check_metadata(checked[key], child_name)
        elif isinstance(additional, dict):
            checked[key] = _check(spec, additional, item, child_name)
        elif additional is True:
            checked[key] = item
        else:
            raise parameter_unknown(child_name)
    for required in schema.get("required", []):
        if required not in value:
            raise parameter_missing(f"{name}[{required}]" if name else required)
    return checked


def _check_array(spec: StripeSpec, schema: Schema, value: Any, name: str) -> list[Any]:
    if isinstance(value, dict) and not value:
        value = []
    if not isinstance(value, list):
        raise invalid_request(f"Invalid array: {name}", param=name)
    items = schema.get("items", {})
    return [_check(spec, items, item, f"{name}[{index}]") for index, item in enumerate(value)]


def _as_integer(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    raise invalid_request(f"Invalid integer: {value}", code="parameter_invalid_integer", param=name)


def _as_number(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid_request(f"Invalid decimal: {value}", param=name) from None


def _as_boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise invalid_request(f"Invalid boolean: {value}", param=name)


def _as_string(schema: Schema, value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise invalid_request(f"Invalid string: {name}", param=name)
    allowed = schema.get("enum")
    if allowed is not None and value not in allowed and not schema.get("x-stripeBypassValidation"):
        raise invalid_request(f"Invalid {name}: must be one of {', '.join(map(str, allowed))}", param=name)
    max_length = schema.get("maxLength")
    if max_length is not None and len(value) > max_length:
        raise invalid_request(f"Invalid {name}: must be at most {max_length} characters", param=name)
    return value


_SCALARS: dict[str | None, Callable[[Any, str], Any]] = {
    "integer": _as_integer,
    "number": _as_number,
    "boolean": _as_boolean,
}
