"""Mandates (BECS Direct Debit Requests): active until a permanent debit failure or a cancel."""

from typing import Any

from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.resources.common import find
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request, parameter_missing, resource_missing
from simulators.stripe_sim.wire.router import ApiRequest, Router


def create_mandate(
    sim: Simulator,
    payment_method: StoredObject,
    mandate_data: dict[str, Any],
    *,
    account: str | None,
    on_behalf_of: str | None = None,
    single_use: tuple[int, str] | None = None,
) -> StoredObject:
    acceptance = mandate_data.get("customer_acceptance")
    if not isinstance(acceptance, dict):
        raise parameter_missing("mandate_data[customer_acceptance]")
    acceptance_type = acceptance.get("type")
    if acceptance_type != "online":
        raise invalid_request(
            "BECS Direct Debit mandates must be accepted online.",
            param="mandate_data[customer_acceptance][type]",
        )
    online = acceptance.get("online") or {}
    for field in ("ip_address", "user_agent"):
        if not online.get(field):
            raise parameter_missing(f"mandate_data[customer_acceptance][online][{field}]")
    body: dict[str, Any] = {
        "object": "mandate",
        "customer_acceptance": {
            "accepted_at": acceptance.get("accepted_at", sim.timestamp()),
            "online": {"ip_address": online["ip_address"], "user_agent": online["user_agent"]},
            "type": "online",
        },
        "livemode": False,
        "payment_method": payment_method.id,
        "payment_method_details": {"au_becs_debit": {"url": ""}, "type": "au_becs_debit"},
        "status": "active",
    }
    if on_behalf_of is not None:
        body["on_behalf_of"] = on_behalf_of
    if single_use is None:
        body.update(type="multi_use", multi_use={})
    else:
        body.update(type="single_use", single_use={"amount": single_use[0], "currency": single_use[1]})
    mandate = sim.objects.create("mandate", "mandate", body, account=account)
    mandate.body["payment_method_details"]["au_becs_debit"]["url"] = (
        f"{sim.settings.base_url()}/_sim/mandates/{mandate.id}"
    )
    payment_method.internal["mandate"] = mandate.id
    sim.objects.save(payment_method)
    return mandate


def mandate_of(sim: Simulator, payment_method: StoredObject) -> StoredObject | None:
    mandate_id = payment_method.internal.get("mandate")
    return sim.objects.get(mandate_id, "mandate") if mandate_id else None


def make_inactive(sim: Simulator, mandate: StoredObject) -> None:
    if mandate.body["status"] == "inactive":
        return
    previous = mandate.body["status"]
    mandate.body["status"] = "inactive"
    sim.objects.save(mandate)
    emit_event(
        sim,
        "mandate.updated",
        mandate.body,
        account=mandate.account,
        previous_attributes={"status": previous},
    )


def deactivate_mandate(sim: Simulator, mandate_id: str) -> dict[str, Any]:
    """Test helper: the customer cancelled the Direct Debit Request with their bank."""
    mandate = sim.objects.get(mandate_id, "mandate")
    if mandate is None:
        raise resource_missing("mandate", mandate_id)
    make_inactive(sim, mandate)
    return mandate.body


def retrieve_mandate(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return find(sim, "mandate", request.path_params["mandate"], request.account).body


def add_routes(router: Router) -> None:
    router.add("get", "/v1/mandates/{mandate}", retrieve_mandate)
