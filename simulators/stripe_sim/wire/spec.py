"""Stripe's OpenAPI spec, loaded once: which parameters each endpoint accepts."""

import gzip
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

Schema = dict[str, Any]

# The copy kept in the repository (simulators/stripe_sim/spec/SOURCE.md says which version).
BUNDLED_SPEC = resources.files("simulators.stripe_sim.spec").joinpath("openapi.spec3.json.gz")


@dataclass(frozen=True)
class StripeSpec:
    document: dict[str, Any]

    @classmethod
    def load(cls, path: Path | None = None) -> "StripeSpec":
        """The bundled spec, or the JSON file at ``path`` (plain or .gz).

        Parsed once per process (several simulators in one test run share it; it is only read).
        """
        return _load(path)

    @property
    def version(self) -> str:
        version: str = self.document["info"]["version"]
        return version

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.document["components"]["schemas"][name]
        return schema

    def request_schema(self, method: str, path_template: str) -> Schema:
        """The parameters of one endpoint as one object schema, body or query alike."""
        operation = self.document["paths"][path_template][method]
        if method == "post":
            content = operation.get("requestBody", {}).get("content", {})
            form = content.get("application/x-www-form-urlencoded", {})
            schema: Schema = form.get("schema", {"type": "object", "properties": {}})
            return schema
        query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
        return {
            "type": "object",
            "properties": {p["name"]: p.get("schema", {}) for p in query},
            "required": [p["name"] for p in query if p.get("required")],
        }

    def response_schema(self, method: str, path_template: str) -> Schema:
        """What the endpoint answers on success (what `expand[]` paths walk through)."""
        responses = self.document["paths"][path_template][method]["responses"]
        schema: Schema = responses["200"]["content"]["application/json"]["schema"]
        return schema

    def has_operation(self, method: str, path_template: str) -> bool:
        return method in self.document["paths"].get(path_template, {})


@cache
def _load(path: Path | None) -> StripeSpec:
    raw = BUNDLED_SPEC.read_bytes() if path is None else path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip's magic number
        raw = gzip.decompress(raw)
    return StripeSpec(json.loads(raw))
