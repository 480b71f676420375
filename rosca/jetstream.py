"""Short-lived NATS connections for operator commands: provision streams, read and move the clock."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import nats
from nats.js import JetStreamContext
from nats.js.errors import Error as JetStreamError

from rosca.errors import CliError
from services.runtime.naming import Namespace
from services.runtime.streams import ProvisionResult, StreamSettings, provision_streams

CONNECT_SECONDS = 5.0


@asynccontextmanager
async def jetstream(nats_url: str) -> AsyncIterator[JetStreamContext]:
    async def ignore(_problem: Exception) -> None:
        return None

    try:
        async with asyncio.timeout(CONNECT_SECONDS):
            client = await nats.connect(
                servers=nats_url.split(","),
                name="rosca-cli",
                connect_timeout=2,
                # nats-py retries the first connect forever unless a server is allowed few attempts.
                max_reconnect_attempts=1,
                reconnect_time_wait=0.1,
                error_cb=ignore,
            )
    except Exception as error:
        raise CliError(
            f"cannot reach NATS at {nats_url} ({one_line(error)}): is the stack running? "
            "Start it with `make up`, or pass --nats-url"
        ) from None
    try:
        yield client.jetstream()
    finally:
        await client.close()


async def provision(nats_url: str, namespace: str) -> list[ProvisionResult]:
    async with jetstream(nats_url) as js:
        try:
            return await provision_streams(js, Namespace(namespace), StreamSettings())
        except (JetStreamError, TimeoutError) as error:
            raise CliError(f"could not provision the streams on {nats_url}: {one_line(error)}") from None


def describe_provisioning(results: Sequence[ProvisionResult]) -> str:
    """``created: STRIPE, ONBOARDING; unchanged: KV_rosca_clock``: one line for the whole run."""
    by_outcome: dict[str, list[str]] = {}
    for result in results:
        by_outcome.setdefault(result.outcome, []).append(result.name)
    return "; ".join(f"{outcome}: {', '.join(names)}" for outcome, names in by_outcome.items())


def one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
