"""A connected account's bank account for payouts (BSB 110000 in test mode)."""

import hashlib
from collections.abc import Iterator
from typing import Any

from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.payout_test_accounts import PAYOUT_TEST_BSB
from simulators.stripe_sim.resources.common import find
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request
from simulators.stripe_sim.wire.listing import list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

KIND = "bank_account"


def of(sim: Simulator, account_id: str) -> Iterator[StoredObject]:
    return (bank for bank in sim.objects.newest_first(KIND, account_id) if not bank.internal.get("deleted"))


def default_of(sim: Simulator, account_id: str) -> StoredObject | None:
    return next((bank for bank in of(sim, account_id) if bank.body["default_for_currency"]), None)


def replace(sim: Simulator, account: StoredObject, account_number: str) -> StoredObject:
    """The new default bank account; the old default is removed, as Express onboarding does."""
    if not (5 <= len(account_number) <= 9 and account_number.isdigit()):
        raise invalid_request("Invalid account number: it must be 5 to 9 digits.", param="account_number")
    for old in list(of(sim, account.id)):
        old.internal["deleted"] = True
        sim.objects.save(old)
    body: dict[str, Any] = {
        "object": KIND,
        "account": account.id,
        "account_holder_name": None,
        "account_holder_type": "individual",
        "account_type": None,
        "available_payout_methods": ["standard"],
        "bank_name": "STRIPE TEST BANK",
        "country": "AU",
        "currency": "aud",
        "default_for_currency": True,
        "fingerprint": hashlib.sha256(f"{PAYOUT_TEST_BSB}:{account_number}".encode()).hexdigest()[:16],
        "future_requirements": _no_requirements(),
        "last4": account_number[-4:],
        "metadata": {},
        "requirements": _no_requirements(),
        "routing_number": PAYOUT_TEST_BSB,
        "status": "new",
    }
    internal = {"bsb_number": PAYOUT_TEST_BSB, "account_number": account_number}
    bank = sim.objects.create(KIND, "ba", body, account=account.id, internal=internal)
    emit_event(sim, "account.external_account.created", bank.body, account=account.id)
    return bank


def mark_errored(sim: Simulator, bank: StoredObject) -> None:
    """After a failed payout Stripe stops paying out to this account until it is replaced."""
    previous = bank.body["status"]
    bank.body["status"] = "errored"
    sim.objects.save(bank)
    emit_event(
        sim,
        "account.external_account.updated",
        bank.body,
        account=bank.account,
        previous_attributes={"status": previous},
    )


def _no_requirements() -> dict[str, list[Any]]:
    return {"currently_due": [], "errors": [], "past_due": [], "pending_verification": []}


def _account_id(request: ApiRequest) -> str:
    account_id = request.path_params["account"]
    if request.account not in (None, account_id):
        raise invalid_request(f"No such account: '{account_id}'", code="resource_missing", status=404)
    return account_id


def list_external_accounts(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    account_id = _account_id(request)
    find(sim, "account", account_id, None, param="account")
    return list_page(of(sim, account_id), request.params, f"/v1/accounts/{account_id}/external_accounts")


def retrieve_external_account(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    bank = find(sim, KIND, request.path_params["id"], _account_id(request))
    return bank.body


def add_routes(router: Router) -> None:
    router.add("get", "/v1/accounts/{account}/external_accounts", list_external_accounts)
    router.add("get", "/v1/accounts/{account}/external_accounts/{id}", retrieve_external_account)
