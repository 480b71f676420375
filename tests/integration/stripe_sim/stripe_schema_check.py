"""Check JSON against Stripe's OpenAPI schemas, strictly: no field the spec does not define.

Handles what Stripe's spec uses: `$ref`, `anyOf` (expandable fields are `anyOf[id, object]`),
`nullable`, `enum`, `additionalProperties` (metadata), and free-form objects (`data.object`,
which is checked separately against the schema named by its own `object` field).
"""

from functools import cache
from typing import Any

from simulators.stripe_sim.wire.spec import StripeSpec

Schema = dict[str, Any]


class StripeSchemas:
    def __init__(self, document: dict[str, Any]) -> None:
        self._schemas: dict[str, Schema] = document["components"]["schemas"]
        self._paths: dict[str, Any] = document["paths"]
        self._by_object = {
            schema["x-resourceId"]: name for name, schema in self._schemas.items() if "x-resourceId" in schema
        }

    def violations_of_object(self, value: dict[str, Any]) -> list[str]:
        """Check an object against the schema its `object` field names."""
        kind = value.get("object")
        if kind == "list":
            return [
                f"data[{index}]: {problem}"
                for index, item in enumerate(value.get("data", []))
                for problem in self.violations_of_object(item)
            ]
        name = self._by_object.get(str(kind))
        if name is None:
            return [f"no schema for object {kind!r}"]
        problems = self.violations(value, {"$ref": f"#/components/schemas/{name}"}, kind or "")
        if kind == "event":
            problems += self.violations_of_object(value["data"]["object"])
        return problems

    def violations_of_response(self, method: str, template: str, status: int, value: Any) -> list[str]:
        responses = self._paths[template][method]["responses"]
        response = responses.get(str(status), responses["default"])
        schema = response["content"]["application/json"]["schema"]
        problems = self.violations(value, schema, "response")
        if isinstance(value, dict) and value.get("object") == "event":
            problems += self.violations_of_object(value["data"]["object"])
        if isinstance(value, dict) and value.get("object") == "list":
            for item in value["data"]:
                if isinstance(item, dict) and item.get("object") == "event":
                    problems += self.violations_of_object(item["data"]["object"])
        return problems

    def violations(self, value: Any, schema: Schema, path: str) -> list[str]:
        while "$ref" in schema:
            schema = self._schemas[schema["$ref"].rsplit("/", 1)[-1]]
        if value is None:
            return [] if schema.get("nullable") else [f"{path}: null is not allowed"]
        if "anyOf" in schema:
            branch_problems = [self.violations(value, branch, path) for branch in schema["anyOf"]]
            if any(not problems for problems in branch_problems):
                return []
            return min(branch_problems, key=len)
        return self._type_violations(value, schema, path) or self._content_violations(value, schema, path)

    def _content_violations(self, value: Any, schema: Schema, path: str) -> list[str]:
        if "enum" in schema and value not in schema["enum"]:
            return [f"{path}: {value!r} is not one of {schema['enum']}"]
        if isinstance(value, list):
            items = schema.get("items", {})
            return [p for i, item in enumerate(value) for p in self.violations(item, items, f"{path}[{i}]")]
        if isinstance(value, dict):
            return self._object_violations(value, schema, path)
        return []

    def _type_violations(self, value: Any, schema: Schema, path: str) -> list[str]:
        expected = schema.get("type")
        fits = {
            None: True,
            "object": isinstance(value, dict),
            "array": isinstance(value, list),
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
        }.get(expected, True)
        return [] if fits else [f"{path}: expected {expected}, got {type(value).__name__}"]

    def _object_violations(self, value: dict[str, Any], schema: Schema, path: str) -> list[str]:
        properties: dict[str, Schema] = schema.get("properties", {})
        additional = schema.get("additionalProperties")
        if not properties and additional is None:
            return []  # a free-form object
        problems = [f"{path}.{key}: missing" for key in schema.get("required", []) if key not in value]
        for key, item in value.items():
            if key in properties:
                problems += self.violations(item, properties[key], f"{path}.{key}")
            elif isinstance(additional, dict):
                problems += self.violations(item, additional, f"{path}.{key}")
            elif additional is not True:
                problems.append(f"{path}.{key}: not defined by the spec")
        return problems


@cache
def stripe_schemas() -> StripeSchemas:
    """The simulator's own copy of the spec: the one its parameters are checked against."""
    return StripeSchemas(StripeSpec.load().document)
