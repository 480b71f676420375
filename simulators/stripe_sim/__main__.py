"""`python -m simulators.stripe_sim --port P`: run the simulator as its own process."""

import argparse
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from services.runtime.memory import freeze_long_lived_objects
from simulators.stripe_sim.main import create_app
from simulators.stripe_sim.settings import StripeSimSettings


def main(arguments: Sequence[str] | None = None, prog: str = "python -m simulators.stripe_sim") -> None:
    """Parse ``arguments`` (default: the command line's) and serve until interrupted."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", help="default 127.0.0.1")
    parser.add_argument("--port", type=int, help="default 12111")
    parser.add_argument("--data-dir", type=Path, help="keep state in a SQLite file here")
    parser.add_argument("--clock", choices=["system", "manual", "simulated"])
    parser.add_argument("--nats-url", help="for --clock simulated")
    parser.add_argument("--namespace", help="for --clock simulated: the stack's namespace (default none)")
    parser.add_argument("--timing", choices=["fast", "realistic"])
    parser.add_argument("--fast-settle-seconds", type=float)
    parser.add_argument("--public-url", help="base URL used in links the simulator hands out")
    faults = parser.add_argument_group("faults (also changeable at run time: POST /_sim/faults)")
    faults.add_argument(
        "--rate-limit-ops-per-second", type=float, help="429 above this many requests/s (default 25; 0 = off)"
    )
    faults.add_argument("--fault-seed", type=int, help="seed for every random fault, for repeatable runs")
    faults.add_argument("--fault-duplicate-percent", type=float, help="deliveries sent twice")
    faults.add_argument(
        "--fault-out-of-order-window-seconds", type=float, help="each delivery delayed by a random 0..N s"
    )
    faults.add_argument("--fault-delivery-delay-seconds", type=float, help="every delivery delayed by N s")
    faults.add_argument(
        "--fault-endpoints-down", nargs="*", help="webhook endpoint ids whose deliveries fail ('*' = all)"
    )
    faults.add_argument("--fault-server-error-percent", type=float, help="API requests answered 500")
    faults.add_argument(
        "--fault-rate-limited-percent", type=float, help="API requests answered 429 below the rate limit too"
    )
    faults.add_argument(
        "--fault-dropped-connection-percent", type=float, help="API requests whose connection drops"
    )
    options = parser.parse_args(arguments)
    overrides = {name: value for name, value in vars(options).items() if value is not None}
    if "fault_endpoints_down" in overrides:
        overrides["fault_endpoints_down"] = tuple(overrides["fault_endpoints_down"])
    settings = StripeSimSettings(**overrides)
    app = create_app(settings)
    freeze_long_lived_objects()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
