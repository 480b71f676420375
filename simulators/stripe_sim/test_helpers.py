"""Test helpers under `/_sim/`: make happen what a bank, a customer or Stripe would decide."""

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from simulators.stripe_sim.resources import accounts, capabilities
from simulators.stripe_sim.resources.account_links import visit_account_link
from simulators.stripe_sim.resources.disputes import open_dispute, win_dispute
from simulators.stripe_sim.resources.mandates import deactivate_mandate
from simulators.stripe_sim.resources.refunds import fail_refund_on_request
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.wire.errors import invalid_request
from simulators.stripe_sim.wire.http import Response, json_response

if TYPE_CHECKING:
    from simulators.stripe_sim.control import ControlRequest

Route = tuple[str, tuple[str, ...], Callable[["ControlRequest"], Awaitable[Response]]]


class TestHelpers:
    __test__ = False  # not a pytest class

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def routes(self) -> list[Route]:
        return [
            ("post", ("mandates", "*", "deactivate"), self._deactivate_mandate),
            ("get", ("mandates", "*"), self._mandate_page),
            ("post", ("refunds", "*", "fail"), self._fail_refund),
            ("get", ("account_links", "*"), self._visit_account_link),
            ("post", ("accounts", "*", "restrict"), self._restrict_account),
            ("post", ("charges", "*", "dispute"), self._dispute_charge),
            ("post", ("disputes", "*", "win"), self._win_dispute),
            ("post", ("accounts", "*", "capabilities", "*", "disable"), self._disable_capability),
            ("post", ("accounts", "*", "capabilities", "*", "enable"), self._enable_capability),
        ]

    async def _deactivate_mandate(self, request: "ControlRequest") -> Response:
        return json_response(200, deactivate_mandate(self._sim, request.ids[0]))

    async def _mandate_page(self, request: "ControlRequest") -> Response:
        mandate = self._sim.objects.get(request.ids[0], "mandate")
        if mandate is None:
            raise invalid_request(f"No such mandate: '{request.ids[0]}'", status=404)
        acceptance = json.dumps(mandate.body["customer_acceptance"], indent=2)
        page = (
            "<!doctype html><title>Direct Debit Request</title>"
            f"<h1>BECS Direct Debit Request {mandate.id}</h1>"
            f"<p>Status: {mandate.body['status']}</p><pre>{acceptance}</pre>"
        )
        return 200, [(b"content-type", b"text/html; charset=utf-8")], page.encode()

    async def _fail_refund(self, request: "ControlRequest") -> Response:
        reason = request.query.get("reason", "declined")
        return json_response(200, fail_refund_on_request(self._sim, request.ids[0], reason))

    async def _visit_account_link(self, request: "ControlRequest") -> Response:
        target = visit_account_link(self._sim, request.ids[0], request.query.get("account_number"))
        return 302, [(b"location", target.encode())], b""

    async def _restrict_account(self, request: "ControlRequest") -> Response:
        account = accounts.connected_account(self._sim, request.ids[0])
        accounts.restrict(self._sim, account)
        return json_response(200, account.body)

    async def _dispute_charge(self, request: "ControlRequest") -> Response:
        # What the 666666660 test account does at once, on any succeeded debit and at any later time:
        # BECS disputes can come months after the debit, and a demo or test picks the moment.
        charge = self._sim.objects.get(request.ids[0], "charge")
        if charge is None:
            raise invalid_request(f"No such charge: '{request.ids[0]}'", status=404)
        if charge.body["status"] != "succeeded":
            raise invalid_request(f"Charge {charge.id} has not succeeded (only a succeeded debit is)")
        if charge.body.get("disputed"):
            raise invalid_request(f"Charge {charge.id} has already been disputed.")
        return json_response(200, open_dispute(self._sim, charge).body)

    async def _win_dispute(self, request: "ControlRequest") -> Response:
        dispute = self._sim.objects.get(request.ids[0], "dispute")
        if dispute is None:
            raise invalid_request(f"No such dispute: '{request.ids[0]}'", status=404)
        return json_response(200, win_dispute(self._sim, dispute).body)

    async def _disable_capability(self, request: "ControlRequest") -> Response:
        return self._switch_capability(request.ids[0], request.ids[1], enabled=False)

    async def _enable_capability(self, request: "ControlRequest") -> Response:
        return self._switch_capability(request.ids[0], request.ids[1], enabled=True)

    def _switch_capability(self, account_id: str, name: str, *, enabled: bool) -> Response:
        sim = self._sim
        account = accounts.connected_account(sim, account_id)
        if name not in account.internal["capabilities"]:
            raise invalid_request(f"The account has no {name} capability.", status=404)
        before = {**account.body}
        status = "active" if enabled and account.body["details_submitted"] else "inactive"
        capabilities.set_status(sim, account, name, status, disabled=not enabled)
        accounts.announce_update(sim, account, before)
        return json_response(200, capabilities.capability_object(account, name))
