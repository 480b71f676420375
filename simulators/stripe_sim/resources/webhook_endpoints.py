"""Webhook endpoints: platform or Connect (`connect=true`), each with its own signing secret."""

from typing import Any

from simulators.stripe_sim.resources.common import updated_metadata
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.ids import new_secret
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.webhooks.delivery import is_local_url
from simulators.stripe_sim.wire.errors import invalid_request, resource_missing
from simulators.stripe_sim.wire.listing import list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router


def create_webhook_endpoint(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    _check_url(params["url"])
    body: dict[str, Any] = {
        "object": "webhook_endpoint",
        "api_version": params.get("api_version"),
        "application": None,
        "created": sim.timestamp(),
        "description": params.get("description"),
        "enabled_events": params["enabled_events"],
        "livemode": False,
        "metadata": updated_metadata({}, params.get("metadata", {})),
        "status": "enabled",
        "url": params["url"],
    }
    secret = new_secret("whsec")
    internal = {"secret": secret, "connect": bool(params.get("connect", False))}
    # Endpoints belong to the platform even when created with a Stripe-Account header.
    endpoint = sim.objects.create("webhook_endpoint", "we", body, account=None, internal=internal)
    # Like Stripe, the secret is shown only in the response to the creation.
    return {**endpoint.body, "secret": secret}


def retrieve_webhook_endpoint(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return _find(sim, request).body


def update_webhook_endpoint(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    endpoint = _find(sim, request)
    params = request.params
    if "url" in params:
        _check_url(params["url"])
    if "metadata" in params:  # before any change: it may still refuse the request (too many keys)
        endpoint.body["metadata"] = updated_metadata(endpoint.body["metadata"], params["metadata"])
    if "url" in params:
        endpoint.body["url"] = params["url"]
    if "enabled_events" in params:
        endpoint.body["enabled_events"] = params["enabled_events"]
    if "description" in params:
        endpoint.body["description"] = params["description"] or None
    if "disabled" in params:
        endpoint.body["status"] = "disabled" if params["disabled"] else "enabled"
    sim.objects.save(endpoint)
    return endpoint.body


def delete_webhook_endpoint(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    endpoint = _find(sim, request)
    endpoint.internal["deleted"] = True
    endpoint.body["status"] = "disabled"
    sim.objects.save(endpoint)
    return {"id": endpoint.id, "object": "webhook_endpoint", "deleted": True}


def list_webhook_endpoints(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return list_page(
        sim.objects.newest_first("webhook_endpoint", None),
        request.params,
        "/v1/webhook_endpoints",
        lambda e: not e.internal.get("deleted"),
    )


def _find(sim: Simulator, request: ApiRequest) -> StoredObject:
    endpoint_id = request.path_params["webhook_endpoint"]
    endpoint = sim.objects.get(endpoint_id, "webhook_endpoint")
    if endpoint is None or endpoint.internal.get("deleted"):
        raise resource_missing("webhook_endpoint", endpoint_id)
    return endpoint


def _check_url(url: str) -> None:
    if not is_local_url(url):
        raise invalid_request(
            "Invalid URL: the simulator delivers webhooks only to 127.0.0.1 or localhost.",
            code="url_invalid",
            param="url",
        )


def add_routes(router: Router) -> None:
    router.add("post", "/v1/webhook_endpoints", create_webhook_endpoint)
    router.add("get", "/v1/webhook_endpoints", list_webhook_endpoints)
    router.add("get", "/v1/webhook_endpoints/{webhook_endpoint}", retrieve_webhook_endpoint)
    router.add("post", "/v1/webhook_endpoints/{webhook_endpoint}", update_webhook_endpoint)
    router.add("delete", "/v1/webhook_endpoints/{webhook_endpoint}", delete_webhook_endpoint)
