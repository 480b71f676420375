"""Short-lived NATS connections for operator commands (provision streams, read and move the clock)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
from nats.js import JetStreamContext

from rosca.errors import CliError, one_line

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
