"""The Stripe simulator in the local stack: its process, and its webhook endpoints, registered once.

Stripe shows an endpoint's signing secret only in the answer to its creation, so the secrets are
kept next to the simulator's data (``webhook_endpoints.json``, owner-only): a restart on the same
data finds its endpoints (by their ``rosca_endpoint`` metadata) and reuses them, pointing them at
the gateway's current address, instead of adding new ones.
"""

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from rosca.errors import CliError
from rosca.stack.local_secrets import write_private_file
from rosca.stack.ports import LOOPBACK, free_port
from rosca.stack.processes import ChildProcess
from rosca.stack.readiness import wait_until_ready
from rosca.stack.signals import StopSignal
from rosca.stack.stripe import SIMULATOR_API_KEY, WEBHOOK_PATHS, StripeAccess, simulated_stripe

if TYPE_CHECKING:
    import stripe

SIMULATOR_NAME = "stripe-sim"
SIMULATOR_MODULE = "simulators.stripe_sim"
ENDPOINTS_FILE = "webhook_endpoints.json"
ROLE_METADATA_KEY = "rosca_endpoint"
START_SECONDS = 15.0


class StackSimulator:
    """The simulator as a child of ``rosca up``: started early, then made ready, its webhook endpoints
    registered, before the services start.

    On the simulated clock, BECS debits settle as they would at Stripe (two business days later);
    on the system clock, within seconds. ``STRIPE_SIM_TIMING`` and the fault options
    (``STRIPE_SIM_*``, see the simulator's README) in the caller's environment still apply.
    """

    def __init__(self, *, data_dir: Path, log_path: Path, clock: str, nats_url: str, namespace: str) -> None:
        port = free_port()
        self.url = f"http://{LOOPBACK}:{port}"
        self.data_dir = data_dir
        defaults = {"STRIPE_SIM_TIMING": "realistic" if clock == "simulated" else "fast"}
        stack = {
            "PYTHONUNBUFFERED": "1",
            "STRIPE_SIM_HOST": LOOPBACK,
            "STRIPE_SIM_PORT": str(port),
            "STRIPE_SIM_DATA_DIR": str(data_dir.resolve()),
            "STRIPE_SIM_CLOCK": clock,
            "STRIPE_SIM_NATS_URL": nats_url,
            "STRIPE_SIM_NAMESPACE": namespace,
        }
        self.process = ChildProcess(
            SIMULATOR_NAME,
            [sys.executable, "-m", SIMULATOR_MODULE],
            log_path=log_path,
            env=defaults | dict(os.environ) | stack,
        )

    def prepare(self, gateway_url: str, *, watched: Iterable[ChildProcess], stop: StopSignal) -> StripeAccess:
        """Wait until the simulator answers, then register the endpoints delivering to the gateway."""
        wait_until_ready(
            {SIMULATOR_NAME: f"{self.url}/_sim/health"},
            watched=watched,
            logs={SIMULATOR_NAME: self.process},
            stop=stop,
            timeout_seconds=START_SECONDS,
        )
        signing_secrets = register_webhook_endpoints(
            simulator_client(self.url, SIMULATOR_API_KEY),
            {role: f"{gateway_url}{path}" for role, path in WEBHOOK_PATHS.items()},
            self.data_dir / ENDPOINTS_FILE,
        )
        return simulated_stripe(self.url, signing_secrets)


def simulator_client(base_url: str, api_key: str) -> "stripe.StripeClient":
    import stripe  # noqa: PLC0415  # a quarter of a second at import, only needed with the simulator

    return stripe.StripeClient(
        api_key, base_addresses={"api": base_url, "connect": base_url}, max_network_retries=2
    )


def register_webhook_endpoints(
    client: "stripe.StripeClient", urls: Mapping[str, str], store: Path
) -> dict[str, str]:
    """Make sure exactly one endpoint per role (``platform``, ``connect``) delivers to ``urls[role]``.

    Returns each role's signing secret. An endpoint of ours whose secret is not in ``store`` (the
    file was lost) is replaced, as are duplicates, so that no delivery goes where nobody can
    verify it.
    """
    import stripe  # noqa: PLC0415

    try:
        return _register(client, urls, store)
    except stripe.StripeError as error:
        raise CliError(
            f"could not register the webhook endpoints on the Stripe simulator: {error.user_message or error}"
        ) from None


def _register(client: "stripe.StripeClient", urls: Mapping[str, str], store: Path) -> dict[str, str]:
    kept = _read_store(store)
    existing = list(client.v1.webhook_endpoints.list({"limit": 100}).auto_paging_iter())
    secrets = {}
    for role, url in urls.items():
        ours = [endpoint for endpoint in existing if _role_of(endpoint) == role]
        known = kept.get(role, {})
        reused = next((endpoint for endpoint in ours if endpoint.id == known.get("id")), None)
        for stale in ours:
            if stale is not reused:
                client.v1.webhook_endpoints.delete(stale.id)
        if reused is None:
            created = client.v1.webhook_endpoints.create(
                {
                    "url": url,
                    "enabled_events": ["*"],
                    "connect": role == "connect",
                    "description": f"rosca {role} events",
                    "metadata": {ROLE_METADATA_KEY: role},
                }
            )
            if not created.secret:
                raise CliError(f"the simulator created webhook endpoint {created.id} without a secret")
            kept[role] = {"id": created.id, "secret": created.secret}
            # At once: an endpoint whose secret is lost would have to be replaced.
            _write_store(store, kept)
        elif reused.url != url or reused.status != "enabled":
            client.v1.webhook_endpoints.update(reused.id, {"url": url, "disabled": False})
        secrets[role] = kept[role]["secret"]
    return secrets


def _role_of(endpoint: "stripe.WebhookEndpoint") -> str | None:
    role = (endpoint.to_dict().get("metadata") or {}).get(ROLE_METADATA_KEY)
    return role if isinstance(role, str) else None


def _read_store(store: Path) -> dict[str, dict[str, str]]:
    try:
        raw = json.loads(store.read_text())
    except (OSError, ValueError):
        return {}  # missing or unreadable: its endpoints are replaced
    if not isinstance(raw, dict):
        return {}
    return {
        role: {"id": str(entry["id"]), "secret": str(entry["secret"])}
        for role, entry in raw.items()
        if isinstance(entry, dict) and entry.get("id") and entry.get("secret")
    }


def _write_store(store: Path, kept: Mapping[str, Mapping[str, str]]) -> None:
    write_private_file(store, json.dumps(kept, indent=2) + "\n")
