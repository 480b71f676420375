"""A body over the service's limit is refused with 413 as it streams in, and never held in memory."""

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.onboarding.support import Stack

pytestmark = pytest.mark.integration

MIB = 1_048_576
PAGE = 4_096


class Upload:
    """A chunked body of ``chunks`` MiB (the same bytes each time: the client holds 1 MiB)."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b" " * MIB
        for _ in range(self.chunks):
            yield chunk


@contextmanager
def peak_memory_growth() -> Iterator[list[int]]:
    """This process's (the test's and the in-thread service's) largest resident-size growth, in bytes."""

    def resident() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE

    baseline = resident()
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], resident() - baseline)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


async def test_a_streamed_body_over_the_limit_is_refused_with_413_without_growing_memory(
    stack: Stack,
) -> None:
    assert stack.settings.max_request_body_bytes == MIB
    with peak_memory_growth() as growth:
        answer = await stack.http.post(
            "/onboarding/members",
            content=Upload(chunks=200),
            headers={**stack.auth("someone"), "Content-Type": "application/json"},
        )
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["type"] == "request_too_large"
    # 200 MiB went through the socket; no more than a few MiB of it was ever held.
    assert growth[0] < 32 * MIB, f"grew by {growth[0] / MIB:.0f} MiB"
