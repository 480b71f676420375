"""Composition root: `create_app(settings)` builds the simulator; nothing runs at import."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from services.runtime.clock import Clock, FixedClock, SystemClock
from simulators.stripe_sim.control import ControlEndpoints
from simulators.stripe_sim.due_runner import DueWorkHandler, DueWorkRunner
from simulators.stripe_sim.events import DELIVER_WEBHOOK
from simulators.stripe_sim.resources import (
    account_links,
    accounts,
    balance_transactions,
    capabilities,
    charges,
    customers,
    disputes,
    events,
    external_accounts,
    mandates,
    payment_intents,
    payment_methods,
    payouts,
    refunds,
    setup_attempts,
    setup_intents,
    transfers,
    webhook_endpoints,
)
from simulators.stripe_sim.resources.automatic_payouts import (
    RUN_AUTOMATIC_PAYOUTS,
    keep_scheduled,
    run_automatic_payouts,
)
from simulators.stripe_sim.resources.becs_debits import SETTLE_BECS_DEBIT, settle_becs_debit
from simulators.stripe_sim.resources.payouts import (
    PAYOUT_ARRIVES,
    PAYOUT_IN_TRANSIT,
    payout_arrives,
    payout_in_transit,
)
from simulators.stripe_sim.resources.refunds import SETTLE_REFUND, settle_refund
from simulators.stripe_sim.settings import StripeSimSettings
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.database import open_database
from simulators.stripe_sim.webhooks.delivery import WebhookDeliverer
from simulators.stripe_sim.wire.http import StripeApi
from simulators.stripe_sim.wire.router import Router
from simulators.stripe_sim.wire.spec import StripeSpec

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class StripeSimulatorApp:
    """The ASGI app plus handles tests need: the state, the routes and an explicit `run_due()`."""

    def __init__(self, api: StripeApi, sim: Simulator, runner: DueWorkRunner, router: Router) -> None:
        self.asgi = api
        self.sim = sim
        self.runner = runner
        self.router = router

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.asgi(scope, receive, send)

    async def run_due(self) -> int:
        return await self.runner.run_due(wait=True)


def create_app(settings: StripeSimSettings, clock: Clock | None = None) -> StripeSimulatorApp:
    """``clock`` overrides the one named in settings (tests pass a FixedClock)."""
    spec = StripeSpec.load(settings.spec_path)
    sim = Simulator(settings, clock or _clock_from(settings), spec, open_database(settings.data_dir))
    http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)
    handlers: dict[str, DueWorkHandler] = {
        DELIVER_WEBHOOK: WebhookDeliverer(http, settings.webhook_concurrency),
        SETTLE_BECS_DEBIT: settle_becs_debit,
        SETTLE_REFUND: settle_refund,
        PAYOUT_IN_TRANSIT: payout_in_transit,
        PAYOUT_ARRIVES: payout_arrives,
        RUN_AUTOMATIC_PAYOUTS: run_automatic_payouts,
    }
    keep_scheduled(sim)
    runner = DueWorkRunner(sim, handlers, concurrent_kinds=frozenset({DELIVER_WEBHOOK}))
    router = Router(spec)
    for resource in (
        customers,
        payment_methods,
        setup_intents,
        setup_attempts,
        mandates,
        payment_intents,
        charges,
        disputes,
        refunds,
        balance_transactions,
        accounts,
        capabilities,
        external_accounts,
        account_links,
        transfers,
        payouts,
        events,
        webhook_endpoints,
    ):
        resource.add_routes(router)
    shared_clock_stop: list[Callable[[], Awaitable[None]]] = []

    async def on_startup() -> None:
        if clock is None and settings.clock == "simulated":
            shared_clock_stop.append(await _start_shared_clock(sim, settings))
        runner.start()

    async def on_shutdown() -> None:
        await runner.stop()
        for stop in shared_clock_stop:
            await stop()
        await http.aclose()
        sim.close()

    api = StripeApi(sim, router, ControlEndpoints(sim, runner), on_startup, on_shutdown)
    return StripeSimulatorApp(api, sim, runner, router)


def _clock_from(settings: StripeSimSettings) -> Clock:
    if settings.clock == "manual":
        return FixedClock(SystemClock().now())
    # "simulated" starts on the wall clock and is replaced at startup, once NATS is reachable.
    return SystemClock()


async def _start_shared_clock(sim: Simulator, settings: StripeSimSettings) -> Callable[[], Awaitable[None]]:
    import nats  # noqa: PLC0415 - only the simulated-clock mode needs a broker

    from services.runtime.clock import CLOCK_BUCKET, SimulatedClock  # noqa: PLC0415
    from services.runtime.naming import Namespace  # noqa: PLC0415

    # A cluster's nodes come comma-separated, as the services take them.
    connection = await nats.connect(settings.nats_url.split(","))
    shared = SimulatedClock(connection.jetstream(), Namespace(settings.namespace).bucket(CLOCK_BUCKET))
    await shared.start()
    sim.clock = shared

    async def stop() -> None:
        await shared.stop()
        await connection.close()

    return stop
