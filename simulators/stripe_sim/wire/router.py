"""Map `METHOD /v1/...` to a handler and the spec schema its parameters must satisfy."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulators.stripe_sim.wire.spec import Schema, StripeSpec

if TYPE_CHECKING:
    from simulators.stripe_sim.simulator import Simulator


@dataclass(frozen=True)
class ApiRequest:
    params: dict[str, Any]
    path_params: dict[str, str]
    account: str | None
    request_id: str
    idempotency_key: str | None = None
    query: dict[str, Any] = field(default_factory=dict)


ApiHandler = Callable[["Simulator", ApiRequest], dict[str, Any]]
# Fills in a field a body leaves out until `expand[]` asks for it (given the object's body).
IncludedField = Callable[["Simulator", dict[str, Any]], Any]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: ApiHandler
    schema: Schema
    response: Schema
    pattern: re.Pattern[str]


class Router:
    def __init__(self, spec: StripeSpec) -> None:
        self._spec = spec
        self._routes: dict[tuple[str, int], list[Route]] = {}
        self._included: dict[tuple[str, str], IncludedField] = {}

    def add(
        self,
        method: str,
        template: str,
        handler: ApiHandler,
        newer_params: dict[str, Schema] | None = None,
    ) -> None:
        """``template`` is the spec's path (``/v1/payment_intents/{intent}``), so it must exist.

        ``newer_params`` are accepted beyond the spec: parameters of the API version the pinned
        SDK speaks that the spec file (an older version) does not list yet.
        """
        method = method.lower()
        if not self._spec.has_operation(method, template):
            raise ValueError(f"{method.upper()} {template} is not in Stripe's spec")
        pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")
        schema = self._spec.request_schema(method, template)
        if newer_params:
            schema = {**schema, "properties": {**schema.get("properties", {}), **newer_params}}
        response = self._spec.response_schema(method, template)
        route = Route(method, template, handler, schema, response, pattern)
        self._routes.setdefault((method, template.count("/")), []).append(route)

    def include(self, object_type: str, field: str, fill: IncludedField) -> None:
        """``field`` of ``object_type`` objects is left out unless expanded (`charge.refunds`)."""
        self._included[(object_type, field)] = fill

    def included(self, sim: "Simulator", body: dict[str, Any], field: str) -> Any:
        fill = self._included.get((str(body.get("object")), field))
        return None if fill is None else fill(sim, body)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        candidates = self._routes.get((method, path.count("/")), [])
        # Literal segments beat placeholders: /v1/events/{id} must not swallow a literal path.
        for route in sorted(candidates, key=lambda r: r.template.count("{")):
            found = route.pattern.match(path)
            if found is not None:
                return route, found.groupdict()
        return None
