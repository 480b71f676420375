"""Account links: single-use onboarding URLs, served by the simulator itself, valid for 300 s.

Visiting one (`GET /_sim/account_links/{token}?account_number=…`) plays the member filling in the
Express form: onboarding completes and the browser goes to `return_url`. A used or expired link
goes to `refresh_url`, where the platform makes a new one.
"""

from typing import Any

from simulators.stripe_sim.resources.accounts import complete_onboarding, connected_account
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.ids import new_id
from simulators.stripe_sim.wire.errors import invalid_request, parameter_missing
from simulators.stripe_sim.wire.router import ApiRequest, Router

KIND = "account_link"
DEFAULT_PAYOUT_ACCOUNT_NUMBER = "000123456"


def create_account_link(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    account = connected_account(sim, params["account"])
    if params["type"] != "account_onboarding":
        raise invalid_request(
            "Express accounts support only account_onboarding links in the simulator.", param="type"
        )
    for url in ("refresh_url", "return_url"):
        if not params.get(url):
            raise parameter_missing(url)
    created = sim.timestamp()
    token = new_id("link", 32)
    body: dict[str, Any] = {
        "object": KIND,
        "created": created,
        "expires_at": created + int(sim.settings.account_link_lifetime_seconds),
        "url": f"{sim.settings.base_url()}/_sim/account_links/{token}",
    }
    internal = {
        "account": account.id,
        "refresh_url": params["refresh_url"],
        "return_url": params["return_url"],
        "used": False,
    }
    sim.objects.create(KIND, "link", body, account=None, internal=internal, object_id=token)
    return body


def visit_account_link(sim: Simulator, token: str, account_number: str | None) -> str:
    """Where the browser is redirected after visiting the link."""
    link = sim.objects.get(token, KIND)
    if link is None:
        raise invalid_request("This account link does not exist.", status=404)
    if link.internal["used"] or sim.timestamp() > link.body["expires_at"]:
        return str(link.internal["refresh_url"])
    account = connected_account(sim, link.internal["account"])
    complete_onboarding(sim, account, account_number or DEFAULT_PAYOUT_ACCOUNT_NUMBER)
    link.internal["used"] = True
    sim.objects.save(link)
    return str(link.internal["return_url"])


def add_routes(router: Router) -> None:
    router.add("post", "/v1/account_links", create_account_link)
