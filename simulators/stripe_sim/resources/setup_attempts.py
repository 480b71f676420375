"""SetupAttempts: one per confirmation of a SetupIntent (`setup_intent.latest_attempt`)."""

from typing import Any

from simulators.stripe_sim.resources.common import find
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

KIND = "setup_attempt"


def record_attempt(sim: Simulator, intent: StoredObject, method: StoredObject, status: str) -> StoredObject:
    setup = intent.body
    body: dict[str, Any] = {
        "object": KIND,
        "application": None,
        "created": sim.timestamp(),
        "customer": setup["customer"],
        "flow_directions": setup["flow_directions"],
        "livemode": False,
        "on_behalf_of": setup["on_behalf_of"],
        "payment_method": method.id,
        "payment_method_details": {"au_becs_debit": {}, "type": "au_becs_debit"},
        "setup_error": None,
        "setup_intent": intent.id,
        "status": status,
        "usage": setup["usage"],
    }
    return sim.objects.create(KIND, "setatt", body, account=intent.account)


def list_setup_attempts(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    intent = find(sim, "setup_intent", params["setup_intent"], request.account, param="setup_intent")
    in_range = created_filter(params)
    return list_page(
        sim.objects.newest_first(KIND, request.account),
        params,
        "/v1/setup_attempts",
        lambda a: a.body["setup_intent"] == intent.id and in_range(a),
    )


def add_routes(router: Router) -> None:
    router.add("get", "/v1/setup_attempts", list_setup_attempts)
