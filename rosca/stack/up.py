"""``rosca up``: start NATS, Postgres, the Stripe simulator, the services and the gateway; stop in order."""

import asyncio
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rosca.console import say, warn
from rosca.errors import CliError
from rosca.gateway import format_routes
from rosca.stack.leftovers import stop_leftovers
from rosca.stack.local_secrets import local_secrets, secrets_path, write_env_file
from rosca.stack.nats_server import (
    CLUSTER_CONFIG,
    CLUSTER_NODES,
    cluster_url,
    nats_cluster_processes,
    nats_server_process,
    nats_url,
    wait_until_listening,
)
from rosca.stack.ports import LOOPBACK, free_port, port_is_free
from rosca.stack.postgres import (
    EmbeddedPostgres,
    ensure_databases,
    service_database_name,
    service_database_url,
)
from rosca.stack.processes import ChildProcess, stop_processes
from rosca.stack.readiness import wait_until_ready
from rosca.stack.restarts import CrashRestarts
from rosca.stack.services import SERVICES, ServiceSpec, service_environment
from rosca.stack.signals import StopRequested, StopSignal
from rosca.stack.state import (
    StackState,
    remove_stack_state,
    running_stack,
    service_environment_path,
    write_stack_state,
)
from rosca.stack.stripe import WEBHOOK_PATHS, StripeAccess, stripe_service_settings
from rosca.stack.stripe_sim import SIMULATOR_NAME, StackSimulator
from rosca.streams import describe_provisioning, provision
from services.runtime.streams import ProvisionResult

GATEWAY_START_SECONDS = 15.0
CLUSTER_FORMING_SECONDS = 30.0


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    gateway_port: int
    nats_port: int
    clock: str
    namespace: str
    log_level: str
    ready_timeout_seconds: float
    database_url: str | None
    # Origins of the browser apps the gateway lets call the API (CORS).
    cors_origins: tuple[str, ...] = ()
    # None: the Stripe simulator, started by the stack; else Stripe test mode.
    stripe: StripeAccess | None = None
    services: tuple[ServiceSpec, ...] = SERVICES
    # Start again any process of the stack that exits or is killed, instead of stopping them all.
    restart_crashed: bool = False
    # NATS as deployed: a three-node JetStream cluster (three processes here), streams with 3 replicas.
    nats_cluster: bool = False


def run_up(options: UpOptions) -> int:
    """Run the stack until SIGINT/SIGTERM (exit status 0) or a failure (its status, after a clean stop)."""
    stop = StopSignal()
    stop.install()
    stack = LocalStack(options, stop)
    status = 0
    try:
        stack.start()
        stack.supervise()
    except StopRequested:
        status = 0
    except CliError as failure:
        warn(f"error: {failure}")
        if failure.details:
            warn(_indent(failure.details))
        status = failure.exit_code
    finally:
        stack.stop()
    return status


class LocalStack:
    def __init__(self, options: UpOptions, stop: StopSignal) -> None:
        self.options = options
        self.stop_signal = stop
        self.data_dir = options.data_dir
        self.logs_dir = options.data_dir / "logs"
        self.postgres: EmbeddedPostgres | None = None
        self.nats: ChildProcess | None = None
        self.nats_nodes: list[ChildProcess] = []
        self.stripe_sim: StackSimulator | None = None
        self.services: dict[str, ChildProcess] = {}
        self.gateway: ChildProcess | None = None
        self._ports: dict[str, int] = {}
        self.nats_url = ""
        self.gateway_url = f"http://{LOOPBACK}:{options.gateway_port}"
        self.stripe: StripeAccess | None = options.stripe
        self._owns_state_file = False
        self._restarts = CrashRestarts()
        self._started_at = datetime.now(UTC).isoformat(timespec="seconds")

    @property
    def children(self) -> list[ChildProcess]:
        simulator = self._simulator_process
        nats = [self.nats, *self.nats_nodes]
        return [child for child in (*nats, simulator, *self.services.values(), self.gateway) if child]

    @property
    def _simulator_process(self) -> ChildProcess | None:
        return self.stripe_sim.process if self.stripe_sim is not None else None

    def start(self) -> None:
        started = time.monotonic()
        self._check_preconditions()
        say(f"rosca: starting the stack in {self.data_dir} (logs in {self.logs_dir}/<name>.log)")
        secrets = local_secrets(self.data_dir)
        self._start_nats()
        # The simulator reads the clock bucket: streams first. Postgres starts while it loads.
        self._provision_streams()
        if self.stripe is None:
            self._start_stripe_simulator()
        server_url = self._prepare_postgres()
        stripe = self._connect_stripe()
        # Before the services: the webhooks service reads its signing secrets at start.
        self._start_services(server_url, stripe_service_settings(stripe, secrets))
        self._start_gateway()
        self._write_state()
        self._wait_until_ready()
        self._announce(time.monotonic() - started)

    def supervise(self) -> None:
        if self.options.restart_crashed:
            now = time.monotonic()
            for child in self.children:
                self._restarts.started(child.name, now)
            self._restarts.started("postgres", now)
            say("rosca: a process that exits or is killed is started again (--restart-crashed)")
        while not self.stop_signal.wait(0.5):
            for child in self.children:
                if child.exit_code() is not None:
                    if not self.options.restart_crashed:
                        raise child.exited_early()
                    self._restart_child(child)
            if self.options.restart_crashed and self.postgres is not None and not self.postgres.running():
                self._restart_postgres()
        self.stop_signal.raise_if_requested()

    def _restart_child(self, child: ChildProcess) -> None:
        """Start ``child`` again with its own command and environment: same port, same data."""
        now = time.monotonic()
        if not self._restarts.due(child.name, now):
            return
        status = child.exit_code()
        count = self._restarts.restarting(child.name, now)
        child.start()
        warn(f"rosca: {child.name} exited with status {status}; started it again (restart {count})")
        self._write_state()

    def _restart_postgres(self) -> None:
        assert self.postgres is not None
        now = time.monotonic()
        if not self._restarts.due("postgres", now):
            return
        count = self._restarts.restarting("postgres", now)
        try:
            self.postgres.restart()
        except CliError as failure:
            warn(f"rosca: postgres stopped; starting it again failed (restart {count}): {failure}")
            return
        warn(f"rosca: postgres stopped; started it again on the same data (restart {count})")
        self._write_state()

    def stop(self) -> None:
        if self.postgres is None and not any(child.started for child in self.children):
            return
        reason = f" ({self.stop_signal.signal_name})" if self.stop_signal.signal_name else ""
        say(f"rosca: stopping{reason}")
        simulator = self._simulator_process
        front = [child for child in (self.gateway, *self.services.values(), simulator) if child is not None]
        if front:
            killed = stop_processes(front)
            late = f" ({', '.join(killed)} did not stop within 10 s: killed)" if killed else ""
            also = ", stripe-sim" if simulator is not None else ""
            say(f"  services   stopped, gateway{also} too{late}")
        nats = [node for node in (self.nats, *self.nats_nodes) if node is not None]
        if nats:
            killed = stop_processes(nats)
            say(
                "  nats       stopped"
                + (f" ({', '.join(killed)} did not stop within 10 s: killed)" if killed else "")
            )
        if self.postgres is not None:
            try:
                self.postgres.stop()
                say("  postgres   stopped")
            except Exception as error:
                warn(f"  postgres   did not stop cleanly: {error}")
        if self._owns_state_file:
            remove_stack_state(self.data_dir)
        say("rosca: stopped")

    def _check_preconditions(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        already = running_stack(self.data_dir)
        if already is not None and already.supervisor_pid != os.getpid():
            raise CliError(
                f"a stack is already running from {self.data_dir} (rosca up pid {already.supervisor_pid}, "
                f"gateway {already.gateway_url}); stop it first (Ctrl-C in its terminal, "
                f"or kill -TERM {already.supervisor_pid}), or use another --data-dir"
            )
        stopped = stop_leftovers(self.data_dir, self.options.services)
        if stopped:
            say(f"rosca: stopped what a killed earlier run left running: {', '.join(stopped)}")
        if not port_is_free(self.options.gateway_port):
            raise CliError(
                f"port {self.options.gateway_port} (gateway) is already in use; "
                "choose another with --gateway-port"
            )
        if self.options.nats_port and not port_is_free(self.options.nats_port):
            raise CliError(
                f"port {self.options.nats_port} (NATS) is already in use; choose another with --nats-port, "
                "or leave it out to use a free port"
            )

    def _start_nats(self) -> None:
        if self.options.nats_cluster:
            self._start_nats_cluster()
            return
        port = self.options.nats_port or free_port()
        self.nats_url = nats_url(port)
        store_dir = (self.data_dir / "nats").resolve()
        self.nats = nats_server_process(store_dir=store_dir, port=port, log_path=self.logs_dir / "nats.log")
        self.nats.start()
        wait_until_listening(self.nats, port)
        say(f"  nats       {self.nats_url} (JetStream, data in {self.data_dir / 'nats'})")
        self.stop_signal.raise_if_requested()

    def _start_nats_cluster(self) -> None:
        ports = [free_port() for _ in range(3 * CLUSTER_NODES)]
        self.nats_url = cluster_url(ports)
        self.nats_nodes = nats_cluster_processes(
            store_dir=(self.data_dir / "nats").resolve(), ports=ports, logs_dir=self.logs_dir
        )
        for node in self.nats_nodes:
            node.start()
        for node, port in zip(self.nats_nodes, ports, strict=False):
            wait_until_listening(node, port)
        say(
            f"  nats       {self.nats_url} (JetStream cluster of {CLUSTER_NODES} nodes, "
            f"{CLUSTER_CONFIG.name}, {CLUSTER_NODES} replicas a stream; data in {self.data_dir / 'nats'})"
        )
        self.stop_signal.raise_if_requested()

    def _prepare_postgres(self) -> str:
        if self.options.database_url:
            server_url = self.options.database_url
            where = "from DATABASE_URL"
        else:
            self.postgres = EmbeddedPostgres((self.data_dir / "postgres").resolve())
            server_url = self.postgres.start()
            where = f"embedded, data in {self.data_dir / 'postgres'}"
        names = [service_database_name(spec.name) for spec in self.options.services]
        created = ensure_databases(server_url, names)
        existing = len(names) - len(created)
        say(f"  postgres   {where}; databases: {len(created)} created, {existing} already there")
        self.stop_signal.raise_if_requested()
        return server_url

    def _provision_streams(self) -> None:
        if self.options.nats_cluster:
            results = self._provision_on_the_cluster()
        else:
            results = asyncio.run(provision(self.nats_url, self.options.namespace))
        say(f"  streams    {describe_provisioning(results)}")
        self.stop_signal.raise_if_requested()

    def _provision_on_the_cluster(self) -> list[ProvisionResult]:
        """The streams with a replica on every node, once the nodes have elected a JetStream leader."""
        deadline = time.monotonic() + CLUSTER_FORMING_SECONDS
        while True:
            try:
                return asyncio.run(provision(self.nats_url, self.options.namespace, replicas=CLUSTER_NODES))
            except CliError:
                if time.monotonic() > deadline:
                    raise
            self.stop_signal.wait(0.5)
            self.stop_signal.raise_if_requested()

    def _start_stripe_simulator(self) -> None:
        self.stripe_sim = StackSimulator(
            data_dir=self.data_dir / SIMULATOR_NAME,
            log_path=self.logs_dir / f"{SIMULATOR_NAME}.log",
            clock=self.options.clock,
            nats_url=self.nats_url,
            namespace=self.options.namespace,
        )
        self.stripe_sim.process.start()

    def _connect_stripe(self) -> StripeAccess:
        """The simulator ready with both webhook endpoints registered, or Stripe test mode as configured."""
        if self.stripe_sim is None:
            assert self.stripe is not None
            say(f"  stripe     test mode at {self.stripe.api_base_url} (STRIPE_API_KEY)")
            for name in self.stripe.missing_secrets():
                warn(f"  note: {name} is not set: that webhook endpoint answers 503 until it is")
            return self.stripe
        self.stripe = self.stripe_sim.prepare(self.gateway_url, watched=self.children, stop=self.stop_signal)
        say(f"  stripe-sim {self.stripe.api_base_url} (data in {self.stripe_sim.data_dir}; endpoints set)")
        self.stop_signal.raise_if_requested()
        return self.stripe

    def _start_services(self, server_url: str, own_settings: dict[str, dict[str, str]]) -> None:
        base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for spec in self.options.services:
            port = free_port()
            settings = service_environment(
                spec,
                database_url=service_database_url(server_url, spec.name),
                nats_url=self.nats_url,
                namespace=self.options.namespace,
                clock=self.options.clock,
                host=LOOPBACK,
                port=port,
                log_level=self.options.log_level,
                own=own_settings.get(spec.name, {}),
            )
            # Kept (owner-only) for the operator commands, e.g. `rosca webhooks replay`.
            write_env_file(service_environment_path(self.data_dir, spec.name), settings)
            child = ChildProcess(
                spec.name, spec.argv(), log_path=self.logs_dir / f"{spec.name}.log", env=base_env | settings
            )
            child.start()
            self.services[spec.name] = child
            self._ports[spec.name] = port
        say(f"  services   started {', '.join(self.services)} (as separate processes)")

    def _start_gateway(self) -> None:
        routes = {name: f"http://{LOOPBACK}:{port}" for name, port in self._ports.items()}
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "ROSCA_GATEWAY_ROUTES": format_routes(routes),
            "ROSCA_GATEWAY_HOST": LOOPBACK,
            "ROSCA_GATEWAY_PORT": str(self.options.gateway_port),
            "ROSCA_GATEWAY_CORS_ORIGINS": ",".join(self.options.cors_origins),
        }
        self.gateway = ChildProcess(
            "gateway",
            [sys.executable, "-m", "rosca.gateway"],
            log_path=self.logs_dir / "gateway.log",
            env=env,
        )
        self.gateway.start()
        wait_until_ready(
            {"gateway": f"{self.gateway_url}/healthz"},
            watched=self.children,
            logs={"gateway": self.gateway},
            stop=self.stop_signal,
            timeout_seconds=GATEWAY_START_SECONDS,
        )
        say(f"  gateway    {self.gateway_url}")

    def _wait_until_ready(self) -> None:
        say("waiting for every service to be ready:")
        wait_until_ready(
            {name: f"{self.gateway_url}/{name}/readyz" for name in self.services},
            watched=self.children,
            logs=self.services,
            stop=self.stop_signal,
            timeout_seconds=self.options.ready_timeout_seconds,
            on_ready=lambda name, seconds: say(f"  {name:<12} ready ({seconds:.1f} s)"),
        )

    def _write_state(self) -> None:
        pids = {child.name: child.pid for child in self.children}
        if self.postgres is not None and self.postgres.pid is not None:
            pids["postgres"] = self.postgres.pid
        state = StackState(
            supervisor_pid=os.getpid(),
            gateway_url=self.gateway_url,
            nats_url=self.nats_url,
            namespace=self.options.namespace,
            clock=self.options.clock,
            started_at=self._started_at,
            pids=pids,
            services={name: f"{self.gateway_url}/{name}" for name in self.services},
            stripe_api_base_url=self.stripe.api_base_url if self.stripe else "",
        )
        write_stack_state(self.data_dir, state)
        self._owns_state_file = True

    def _announce(self, elapsed_seconds: float) -> None:
        say(f"rosca is up in {elapsed_seconds:.1f} s")
        say(f"  gateway    {self.gateway_url}")
        for index, name in enumerate(self.services):
            label = "docs" if index == 0 else ""
            say(f"  {label:<10} {self.gateway_url}/{name}/docs")
        say(f"  nats       {self.nats_url}")
        say(f"  clock      {self.options.clock}" + self._clock_hint())
        say(f"  stripe     {self._stripe_hint()}")
        say(f"  browsers   {self._cors_hint()}")
        say(f"  secrets    operator tokens and the dev JWT secret in {secrets_path(self.data_dir)}")
        say(f"  logs       {self.logs_dir}/<name>.log; stack file {self.data_dir / 'stack.json'}")
        say("Press Ctrl-C to stop.")

    def _stripe_hint(self) -> str:
        if self.stripe_sim is not None:
            return f"simulator {self.stripe_sim.url} (any sk_test_ key; simulators/stripe_sim/README.md)"
        platform, connect = (f"{self.gateway_url}{WEBHOOK_PATHS[role]}" for role in ("platform", "connect"))
        return (
            "test mode; forward its webhooks with "
            f"`stripe listen --forward-to {platform} --forward-connect-to {connect}`"
        )

    def _cors_hint(self) -> str:
        if not self.options.cors_origins:
            return "no origin may call the API (--cors-origins)"
        return f"{', '.join(self.options.cors_origins)} may call the API (--cors-origins)"

    def _clock_hint(self) -> str:
        return " (move it with `rosca clock advance 2d`)" if self.options.clock == "simulated" else ""


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
