"""Connect Express accounts in Australia: creation, requirements, onboarding, restriction.

A new account owes its onboarding details (`requirements.past_due`, payouts disabled, the
requested capabilities inactive) until its onboarding link is visited; see `account_links.py`.
"""

from typing import Any

from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.resources import capabilities, external_accounts
from simulators.stripe_sim.resources.common import previous_values, updated_metadata
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.copies import json_copy
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request, resource_missing
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

KIND = "account"
# The platform's own account (`GET /v1/account`): another kind, so it is never a connected one.
PLATFORM_KIND = "platform_account"
ONBOARDING_FIELDS = [
    "business_profile.mcc", "business_profile.url", "business_type", "external_account",
    "individual.address.city", "individual.address.line1", "individual.address.postal_code",
    "individual.address.state", "individual.dob.day", "individual.dob.month", "individual.dob.year",
    "individual.email", "individual.first_name", "individual.last_name", "individual.phone",
    "tos_acceptance.date", "tos_acceptance.ip",
]  # fmt: skip
RESTRICTING_FIELD = "individual.verification.document"
_EXPRESS_CONTROLLER: dict[str, Any] = {
    "fees": {"payer": "application"},
    "is_controller": True,
    "losses": {"payments": "application"},
    "requirement_collection": "stripe",
    "stripe_dashboard": {"type": "express"},
    "type": "application",
}


def create_account(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    if request.account is not None:
        raise invalid_request("Connected accounts cannot create accounts.", status=403)
    country = params.get("country", "AU")
    if country != "AU":
        raise invalid_request("The simulator supports Australian (AU) accounts only.", param="country")
    body: dict[str, Any] = {
        "object": KIND,
        "business_profile": _business_profile(params.get("business_profile", {})),
        "business_type": params.get("business_type"),
        "capabilities": {},
        "charges_enabled": False,
        "controller": _controller(params),
        "country": "AU",
        "created": sim.timestamp(),
        "default_currency": "aud",
        "details_submitted": False,
        "email": params.get("email"),
        "external_accounts": {},
        "future_requirements": _requirements([], None),
        "metadata": updated_metadata({}, params.get("metadata", {})),
        "payouts_enabled": False,
        "requirements": _requirements(ONBOARDING_FIELDS, "requirements.past_due"),
        "settings": _settings(params.get("settings", {})),
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": params.get("type", "express"),
    }
    account = sim.objects.create(KIND, "acct", body, account=None)
    account.internal["capabilities"] = {}
    capabilities.request(sim, account, params.get("capabilities", {}))
    render(sim, account)
    return account.body


def _controller(params: dict[str, Any]) -> dict[str, Any]:
    controller = json_copy(_EXPRESS_CONTROLLER)
    requested = params.get("controller", {})
    if (
        params.get("type") not in (None, "express")
        or requested.get("stripe_dashboard", {}).get("type", "express") != "express"
    ):
        raise invalid_request("The simulator supports Express accounts only.", param="controller")
    for key in ("fees", "losses", "stripe_dashboard"):
        controller[key].update(requested.get(key, {}))
    if "requirement_collection" in requested:
        controller["requirement_collection"] = requested["requirement_collection"]
    return controller


def _business_profile(given: dict[str, Any]) -> dict[str, Any]:
    fields = ("mcc", "name", "product_description", "support_email", "support_phone", "support_url", "url")
    profile: dict[str, Any] = {
        "annual_revenue": None,
        "estimated_worker_count": None,
        "support_address": None,
    }
    profile.update({field: given.get(field) for field in fields})
    return profile


def _settings(given: dict[str, Any]) -> dict[str, Any]:
    schedule = given.get("payouts", {}).get("schedule", {})
    delay = schedule.get("delay_days", 2)
    return {
        "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
        "card_payments": {
            "decline_on": {"avs_failure": False, "cvc_failure": False},
            "statement_descriptor_prefix": None,
            "statement_descriptor_prefix_kana": None,
            "statement_descriptor_prefix_kanji": None,
        },
        "dashboard": {"display_name": None, "timezone": "Australia/Sydney"},
        "payments": {
            "statement_descriptor": None,
            "statement_descriptor_kana": None,
            "statement_descriptor_kanji": None,
        },
        "payouts": {
            "debit_negative_balances": True,
            "schedule": {
                "delay_days": 2 if delay == "minimum" else delay,
                "interval": schedule.get("interval", "daily"),
            },
            "statement_descriptor": given.get("payouts", {}).get("statement_descriptor"),
        },
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


def render(sim: Simulator, account: StoredObject) -> None:
    """Bring the derived parts of the body (capabilities, external accounts) up to date."""
    account.body["capabilities"] = {
        name: state["status"]
        for name, state in account.internal["capabilities"].items()
        if state["requested"]
    }
    banks = [bank.body for bank in external_accounts.of(sim, account.id)]
    account.body["external_accounts"] = {
        "object": "list",
        "data": banks,
        "has_more": False,
        "url": f"/v1/accounts/{account.id}/external_accounts",
    }
    sim.objects.save(account)


def announce_update(sim: Simulator, account: StoredObject, before: dict[str, Any]) -> None:
    render(sim, account)
    if changed := previous_values(before, account.body):
        emit_event(sim, "account.updated", account.body, account=account.id, previous_attributes=changed)


def complete_onboarding(sim: Simulator, account: StoredObject, account_number: str) -> None:
    """What the Express onboarding form does once the member has filled it in."""
    before = json_copy(account.body)
    external_accounts.replace(sim, account, account_number)
    account.body.update(
        business_type=account.body["business_type"] or "individual",
        details_submitted=True,
        payouts_enabled=True,
        requirements=_requirements([], None),
        tos_acceptance={"date": sim.timestamp(), "ip": "127.0.0.1", "user_agent": "stripe-sim onboarding"},
    )
    account.body["charges_enabled"] = any(
        name.endswith("_payments") and state["requested"]
        for name, state in account.internal["capabilities"].items()
    )
    capabilities.activate_requested(sim, account)
    announce_update(sim, account, before)


def restrict(sim: Simulator, account: StoredObject) -> None:
    """Test helper: Stripe needs more information by a deadline that has passed. As on Stripe, the
    account's capabilities go inactive with it (a transfer to it is refused) until the member
    completes onboarding again."""
    before = json_copy(account.body)
    account.body.update(
        payouts_enabled=False,
        charges_enabled=False,
        requirements=_requirements([RESTRICTING_FIELD], "requirements.past_due"),
    )
    for name, state in account.internal["capabilities"].items():
        if state["requested"] and state["status"] == "active":
            capabilities.set_status(sim, account, name, "inactive")
    announce_update(sim, account, before)


def connected_account(sim: Simulator, account_id: str) -> StoredObject:
    account = sim.objects.get(account_id, KIND)
    if account is None or account.internal.get("deleted"):
        raise resource_missing("account", account_id, "account")
    return account


def retrieve_account(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    account_id = request.path_params["account"]
    if request.account not in (None, account_id):
        raise resource_missing("account", account_id, "account")
    return connected_account(sim, account_id).body


def retrieve_own_account(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    """The account the key acts for: the connected one under `Stripe-Account`, else the platform."""
    if request.account is not None:
        return connected_account(sim, request.account).body
    return _platform_account(sim).body


def _platform_account(sim: Simulator) -> StoredObject:
    """Made on first use and kept, so its id is the same for the life of the simulator's data."""
    existing = next(sim.objects.newest_first(PLATFORM_KIND, None), None)
    if existing is not None:
        return existing
    active = "active"
    body: dict[str, Any] = {
        "object": KIND,
        "business_profile": _business_profile({"name": "rosca (simulated platform)"}),
        "business_type": "company",
        "capabilities": {"au_becs_debit_payments": active, "card_payments": active, "transfers": active},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": "AU",
        "created": sim.timestamp(),
        "default_currency": "aud",
        "details_submitted": True,
        "email": None,
        "external_accounts": {},
        "future_requirements": _requirements([], None),
        "metadata": {},
        "payouts_enabled": True,
        "requirements": _requirements([], None),
        "settings": _settings({"payouts": {"schedule": {"interval": "manual"}}}),
        "tos_acceptance": {"date": sim.timestamp(), "ip": None, "user_agent": None},
        "type": "standard",
    }
    platform = sim.objects.create(PLATFORM_KIND, "acct", body, account=None)
    platform.body["external_accounts"] = {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": f"/v1/accounts/{platform.id}/external_accounts",
    }
    sim.objects.save(platform)
    return platform


def update_account(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    account = connected_account(sim, request.path_params["account"])
    params = request.params
    before = json_copy(account.body)
    if "metadata" in params:  # first: it may still refuse the request (too many keys)
        account.body["metadata"] = updated_metadata(account.body["metadata"], params["metadata"])
    for field in ("email", "business_type"):
        if field in params:
            account.body[field] = params[field] or None
    if "business_profile" in params:
        account.body["business_profile"].update(
            {k: v for k, v in _business_profile(params["business_profile"]).items() if v is not None}
        )
    payouts = params.get("settings", {}).get("payouts", {})
    if schedule := payouts.get("schedule"):
        current = account.body["settings"]["payouts"]["schedule"]
        current["interval"] = schedule.get("interval", current["interval"])
        if "delay_days" in schedule:
            current["delay_days"] = 2 if schedule["delay_days"] == "minimum" else schedule["delay_days"]
    capabilities.request(sim, account, params.get("capabilities", {}))
    announce_update(sim, account, before)
    return account.body


def delete_account(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    account = connected_account(sim, request.path_params["account"])
    account.internal["deleted"] = True
    sim.objects.save(account)
    return {"id": account.id, "object": KIND, "deleted": True}


def list_accounts(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    in_range = created_filter(request.params)
    return list_page(
        sim.objects.newest_first(KIND, None),
        request.params,
        "/v1/accounts",
        lambda a: not a.internal.get("deleted") and in_range(a),
    )


def add_routes(router: Router) -> None:
    router.add("get", "/v1/account", retrieve_own_account)
    router.add("post", "/v1/accounts", create_account)
    router.add("get", "/v1/accounts", list_accounts)
    router.add("get", "/v1/accounts/{account}", retrieve_account)
    router.add("post", "/v1/accounts/{account}", update_account)
    router.add("delete", "/v1/accounts/{account}", delete_account)
