"""Capabilities of a connected account (`transfers` for members who only receive)."""

from typing import Any

from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request, resource_missing
from simulators.stripe_sim.wire.router import ApiRequest, Router

ONBOARDING_DUE = ["external_account", "tos_acceptance.date", "tos_acceptance.ip"]


def request(sim: Simulator, account: StoredObject, requested: dict[str, Any]) -> None:
    """`capabilities[name][requested]=true|false` on account create or update."""
    states: dict[str, dict[str, Any]] = account.internal["capabilities"]
    for name, wish in requested.items():
        wanted = bool(wish.get("requested", False))
        state = states.setdefault(name, {"requested": False, "requested_at": None, "status": "inactive"})
        if wanted == state["requested"]:
            continue
        state["requested"] = wanted
        state["requested_at"] = sim.timestamp() if wanted else None
        onboarded = account.body["details_submitted"] and account.body["payouts_enabled"]
        state["status"] = "active" if wanted and onboarded else "inactive"
        if not wanted:
            state["status"] = "unrequested"
    sim.objects.save(account)


def activate_requested(sim: Simulator, account: StoredObject) -> None:
    for name, state in account.internal["capabilities"].items():
        if state["requested"] and state["status"] != "active" and not state.get("disabled"):
            set_status(sim, account, name, "active")


def set_status(
    sim: Simulator, account: StoredObject, name: str, status: str, *, disabled: bool = False
) -> None:
    state = account.internal["capabilities"][name]
    previous = state["status"]
    state["status"] = status
    state["disabled"] = disabled
    sim.objects.save(account)
    if previous != status:
        emit_event(
            sim,
            "capability.updated",
            capability_object(account, name),
            account=account.id,
            previous_attributes={"status": previous},
        )


def capability_object(account: StoredObject, name: str) -> dict[str, Any]:
    state = account.internal["capabilities"][name]
    due = [] if state["status"] == "active" or not state["requested"] else ONBOARDING_DUE
    reason = None
    if state.get("disabled"):
        reason = "platform_paused"
    elif due:
        reason = "requirements.fields_needed"
    return {
        "id": name,
        "object": "capability",
        "account": account.id,
        "future_requirements": _requirements([], None),
        "requested": state["requested"],
        "requested_at": state["requested_at"],
        "requirements": _requirements(due, reason),
        "status": state["status"],
    }


def _requirements(due: list[str], disabled_reason: str | None) -> dict[str, Any]:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(due),
        "disabled_reason": disabled_reason,
        "errors": [],
        "eventually_due": list(due),
        "past_due": list(due),
        "pending_verification": [],
    }


def is_active(account: StoredObject, name: str) -> bool:
    state = account.internal["capabilities"].get(name)
    return state is not None and state["requested"] and state["status"] == "active"


def _account(sim: Simulator, request_: ApiRequest) -> StoredObject:
    account_id = request_.path_params["account"]
    account = sim.objects.get(account_id, "account")
    if account is None or account.internal.get("deleted") or request_.account not in (None, account_id):
        raise resource_missing("account", account_id, "account")
    return account


def _named(account: StoredObject, name: str) -> str:
    if name not in account.internal["capabilities"]:
        raise invalid_request(f"No such capability: '{name}'", code="resource_missing", status=404)
    return name


def list_capabilities(sim: Simulator, request_: ApiRequest) -> dict[str, Any]:
    account = _account(sim, request_)
    return {
        "object": "list",
        "data": [capability_object(account, name) for name in sorted(account.internal["capabilities"])],
        "has_more": False,
        "url": f"/v1/accounts/{account.id}/capabilities",
    }


def retrieve_capability(sim: Simulator, request_: ApiRequest) -> dict[str, Any]:
    account = _account(sim, request_)
    return capability_object(account, _named(account, request_.path_params["capability"]))


def update_capability(sim: Simulator, request_: ApiRequest) -> dict[str, Any]:
    from simulators.stripe_sim.resources.accounts import announce_update  # noqa: PLC0415 - cycle

    account = _account(sim, request_)
    name = request_.path_params["capability"]
    if "requested" in request_.params:
        before = {**account.body, "capabilities": dict(account.body["capabilities"])}
        request(sim, account, {name: {"requested": request_.params["requested"]}})
        announce_update(sim, account, before)
    return capability_object(account, _named(account, name))


def add_routes(router: Router) -> None:
    router.add("get", "/v1/accounts/{account}/capabilities", list_capabilities)
    router.add("get", "/v1/accounts/{account}/capabilities/{capability}", retrieve_capability)
    router.add("post", "/v1/accounts/{account}/capabilities/{capability}", update_capability)
