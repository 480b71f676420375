"""Group commit: what callers hand in while a batch is being written goes into the next one.

Under load one transaction stores many deliveries (one round trip and one WAL flush for all),
while a lone delivery is written at once, without waiting for company. Each caller still waits
for its own item's outcome; a caller that gave up (timeout) before its batch was taken is left out.
"""

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class Batcher(Generic[Item, Outcome]):
    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[list[Outcome]]],
        *,
        max_batch: int,
        writers: int,
        name: str,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._writer_count = writers
        self._name = name
        self._pending: deque[tuple[Item, asyncio.Future[Outcome]]] = deque()
        self._ready = asyncio.Event()
        self._writers: list[asyncio.Task[None]] = []

    async def submit(self, item: Item) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._start_writers()
        self._ready.set()
        return await future

    async def close(self) -> None:
        for writer in self._writers:
            writer.cancel()
        for writer in self._writers:
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        self._writers = []

    def _start_writers(self) -> None:
        # Started on first use, so they run on the loop of whoever uses them (service, CLI, test).
        self._writers = [writer for writer in self._writers if not writer.done()]
        while len(self._writers) < self._writer_count:
            self._writers.append(
                asyncio.create_task(self._write_forever(), name=f"{self._name}-{len(self._writers)}")
            )

    async def _write_forever(self) -> None:
        while True:
            if not self._pending:
                self._ready.clear()
                await self._ready.wait()
                continue
            taken = [self._pending.popleft() for _ in range(min(len(self._pending), self._max_batch))]
            waiting = [(item, future) for item, future in taken if not future.done()]
            if not waiting:
                continue
            try:
                outcomes = await self._write([item for item, _ in waiting])
            except Exception as error:
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), outcome in zip(waiting, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
