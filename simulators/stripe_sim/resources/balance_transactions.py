"""The ledger: one balance transaction per movement of money, per account (platform or connected).

A transaction is `pending` until its `available_on`, then `available`; the status is brought up to
date whenever the ledger is read, so no work has to be scheduled for it.
"""

from collections.abc import Iterable
from typing import Any

from simulators.stripe_sim.resources.common import find
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

KIND = "balance_transaction"


def record(
    sim: Simulator,
    account: str | None,
    *,
    amount: int,
    kind: str,
    reporting_category: str,
    source: str,
    available_on: int | None = None,
    fee: int = 0,
    fee_description: str = "Stripe processing fees",
    description: str | None = None,
    currency: str = "aud",
) -> StoredObject:
    """A movement of ``amount`` (negative for money out) less ``fee``, on ``account``'s balance."""
    now = sim.timestamp()
    when = now if available_on is None else available_on
    fee_details = []
    if fee:
        fee_details.append(
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": fee_description,
                "type": "stripe_fee",
            }
        )
    body: dict[str, Any] = {
        "object": KIND,
        "amount": amount,
        "available_on": when,
        "balance_type": "payments",
        "created": now,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": reporting_category,
        "source": source,
        "status": "available" if when <= now else "pending",
        "type": kind,
    }
    return sim.objects.create(KIND, "txn", body, account=account)


def transactions(sim: Simulator, account: str | None) -> Iterable[StoredObject]:
    """Newest first, each with its status as of now."""
    now = sim.timestamp()
    for stored in sim.objects.newest_first(KIND, account):
        _bring_up_to_date(sim, stored, now)
        yield stored


def available_and_pending(sim: Simulator, account: str | None) -> tuple[int, int]:
    available = pending = 0
    for stored in transactions(sim, account):
        if stored.body["status"] == "available":
            available += stored.body["net"]
        else:
            pending += stored.body["net"]
    return available, pending


def _bring_up_to_date(sim: Simulator, stored: StoredObject, now: int) -> None:
    if stored.body["status"] == "pending" and stored.body["available_on"] <= now:
        stored.body["status"] = "available"
        sim.objects.save(stored)


def retrieve_balance_transaction(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    stored = find(sim, KIND, request.path_params["id"], request.account)
    _bring_up_to_date(sim, stored, sim.timestamp())
    return stored.body


def list_balance_transactions(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    source, kind = params.get("source"), params.get("type")
    payout = params.get("payout")
    in_range = created_filter(params)
    return list_page(
        transactions(sim, request.account),
        params,
        "/v1/balance_transactions",
        lambda t: (
            in_range(t)
            and (source is None or t.body["source"] == source)
            and (kind is None or t.body["type"] == kind)
            and (payout is None or t.body["source"] == payout)
        ),
    )


def retrieve_balance(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    available, pending = available_and_pending(sim, request.account)
    return {
        "object": "balance",
        "available": [_amount(available)],
        "livemode": False,
        "pending": [_amount(pending)],
    }


def _amount(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "aud", "source_types": {"bank_account": amount}}


def add_routes(router: Router) -> None:
    router.add("get", "/v1/balance", retrieve_balance)
    router.add("get", "/v1/balance_transactions", list_balance_transactions)
    router.add("get", "/v1/balance_transactions/{id}", retrieve_balance_transaction)
