"""Payouts from a connected account's available balance to its bank account.

`pending` → `in_transit` → `paid`, or `failed` with the test account's failure code; a failure
marks the bank account errored and asks the account for a new one, as Stripe does.
"""

from typing import Any

from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.payout_test_accounts import outcome_for
from simulators.stripe_sim.resources import balance_transactions, external_accounts
from simulators.stripe_sim.resources.accounts import announce_update, connected_account
from simulators.stripe_sim.resources.common import find, previous_values, updated_metadata
from simulators.stripe_sim.settlement_timing import payout_arrives_at, payout_in_transit_at
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.copies import json_copy
from simulators.stripe_sim.state.due_work import DueWork
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

KIND = "payout"
PAYOUT_IN_TRANSIT = "payout_in_transit"
PAYOUT_ARRIVES = "payout_arrives"


def create_payout(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    if request.account is None:
        raise invalid_request("The simulator pays out connected accounts only: pass a Stripe-Account header.")
    account = connected_account(sim, request.account)
    if str(params["currency"]).lower() != "aud":
        raise invalid_request("Payouts are in aud only.", param="currency")
    if params.get("method", "standard") != "standard":
        raise invalid_request("Instant payouts are not supported for this bank account.", param="method")
    if not account.body["payouts_enabled"]:
        raise invalid_request(
            "Payouts have been disabled on this account: its requirements are past due.",
            code="payouts_not_allowed",
        )
    bank = _bank_for(sim, account, params.get("destination"))
    amount: int = params["amount"]
    available, _ = balance_transactions.available_and_pending(sim, account.id)
    if not 0 < amount <= available:
        raise invalid_request(
            "You have insufficient funds in your Stripe account for this payout.",
            code="balance_insufficient",
            param="amount",
        )
    payout = start_payout(sim, account, bank, amount, automatic=False)
    payout.body.update(
        description=params.get("description"),
        metadata=updated_metadata({}, params.get("metadata", {})),
        statement_descriptor=params.get("statement_descriptor"),
    )
    return payout.body


def _bank_for(sim: Simulator, account: StoredObject, destination: str | None) -> StoredObject:
    if destination:
        bank = find(sim, external_accounts.KIND, destination, account.id, param="destination")
    else:
        found = external_accounts.default_of(sim, account.id)
        if found is None:
            raise invalid_request("This account has no bank account to pay out to.", param="destination")
        bank = found
    if bank.body["status"] == "errored":
        raise invalid_request(
            "The bank account cannot be used for payouts: a payout to it failed. Add a new one.",
            code="bank_account_unusable",
            param="destination",
        )
    return bank


def start_payout(
    sim: Simulator, account: StoredObject, bank: StoredObject, amount: int, *, automatic: bool
) -> StoredObject:
    now = sim.now()
    arrives = payout_arrives_at(sim.settings, now)
    body: dict[str, Any] = {
        "object": KIND,
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": int(arrives.timestamp()),
        "automatic": automatic,
        "balance_transaction": None,
        "created": sim.timestamp(),
        "currency": "aud",
        "description": "STRIPE PAYOUT" if automatic else None,
        "destination": bank.id,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "payout_method": None,
        "reconciliation_status": "in_progress" if automatic else "not_applicable",
        "reversed_by": None,
        "source_type": "bank_account",
        "statement_descriptor": None,
        "status": "pending",
        "trace_id": None,
        "type": "bank_account",
    }
    payout = sim.objects.create(KIND, "po", body, account=account.id)
    entry = balance_transactions.record(
        sim, account.id, amount=-amount, kind="payout", reporting_category="payout", source=payout.id
    )
    payout.body["balance_transaction"] = entry.id
    sim.objects.save(payout)
    emit_event(sim, "payout.created", payout.body, account=account.id)
    in_transit = payout_in_transit_at(sim.settings, now)
    sim.due_work.schedule(in_transit.timestamp(), PAYOUT_IN_TRANSIT, {"payout": payout.id})
    sim.due_work.schedule(arrives.timestamp(), PAYOUT_ARRIVES, {"payout": payout.id})
    return payout


def payout_in_transit(sim: Simulator, work: DueWork) -> None:
    payout = sim.objects.get(work.payload["payout"], KIND)
    if payout is None or payout.body["status"] != "pending":
        return
    _set_status(sim, payout, "in_transit")


def payout_arrives(sim: Simulator, work: DueWork) -> None:
    payout = sim.objects.get(work.payload["payout"], KIND)
    if payout is None or payout.body["status"] not in ("pending", "in_transit"):
        return
    bank = sim.objects.get(payout.body["destination"], external_accounts.KIND)
    assert bank is not None
    outcome = outcome_for(bank.internal["bsb_number"], bank.internal["account_number"])
    if outcome.failure_code is None:
        _set_status(sim, payout, "paid")
        emit_event(sim, "payout.paid", payout.body, account=payout.account)
        return
    _fail(sim, payout, bank, outcome.failure_code, outcome.message)


def _fail(sim: Simulator, payout: StoredObject, bank: StoredObject, code: str, message: str | None) -> None:
    returned = balance_transactions.record(
        sim,
        payout.account,
        amount=payout.body["amount"],
        kind="payout_failure",
        reporting_category="payout_reversal",
        source=payout.id,
    )
    payout.body.update(failure_balance_transaction=returned.id, failure_code=code, failure_message=message)
    _set_status(sim, payout, "failed")
    emit_event(sim, "payout.failed", payout.body, account=payout.account)
    assert payout.account is not None
    account = connected_account(sim, payout.account)
    before = json_copy(account.body)
    external_accounts.mark_errored(sim, bank)
    requirements = account.body["requirements"]
    for field in ("currently_due", "eventually_due"):
        if "external_account" not in requirements[field]:
            requirements[field] = sorted([*requirements[field], "external_account"])
    announce_update(sim, account, before)


def _set_status(sim: Simulator, payout: StoredObject, status: str) -> None:
    previous = payout.body["status"]
    payout.body["status"] = status
    sim.objects.save(payout)
    emit_event(
        sim, "payout.updated", payout.body, account=payout.account, previous_attributes={"status": previous}
    )


def cancel_payout(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    payout = find(sim, KIND, request.path_params["payout"], request.account, param="payout")
    if payout.body["status"] != "pending":
        raise invalid_request(
            f"Payouts can only be canceled while they are pending; this one is {payout.body['status']}.",
            param="payout",
        )
    balance_transactions.record(
        sim,
        payout.account,
        amount=payout.body["amount"],
        kind="payout_cancel",
        reporting_category="payout_reversal",
        source=payout.id,
    )
    _set_status(sim, payout, "canceled")
    emit_event(sim, "payout.canceled", payout.body, account=payout.account)
    return payout.body


def retrieve_payout(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return find(sim, KIND, request.path_params["payout"], request.account, param="payout").body


def update_payout(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    payout = find(sim, KIND, request.path_params["payout"], request.account, param="payout")
    if "metadata" in request.params:
        before = dict(payout.body)
        payout.body["metadata"] = updated_metadata(payout.body["metadata"], request.params["metadata"])
        sim.objects.save(payout)
        if changed := previous_values(before, payout.body):
            emit_event(
                sim, "payout.updated", payout.body, account=payout.account, previous_attributes=changed
            )
    return payout.body


def list_payouts(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    status, destination = params.get("status"), params.get("destination")
    in_range = created_filter(params)
    return list_page(
        sim.objects.newest_first(KIND, request.account),
        params,
        "/v1/payouts",
        lambda p: (
            in_range(p)
            and (status is None or p.body["status"] == status)
            and (destination is None or p.body["destination"] == destination)
        ),
    )


def add_routes(router: Router) -> None:
    router.add("post", "/v1/payouts", create_payout)
    router.add("get", "/v1/payouts", list_payouts)
    router.add("get", "/v1/payouts/{payout}", retrieve_payout)
    router.add("post", "/v1/payouts/{payout}", update_payout)
    router.add("post", "/v1/payouts/{payout}/cancel", cancel_payout)
