"""The cheapest HTTP/1.1 client Python has: one keep-alive connection, requests written by hand.

Benchmarks use it so that the client is not what they measure (httpx, and the Stripe SDK on top of
it, spend several milliseconds of CPU per request: on two cores that would be the limit).
"""

import asyncio


class Connection:
    """One keep-alive HTTP/1.1 connection to a loopback port."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        self._reader = reader
        self._writer = writer
        self._host = f"127.0.0.1:{port}".encode()

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, port)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST ``body`` with ``headers`` (Host and Content-Length added); the status and the body."""
        head = b"".join(f"{name}: {value}\r\n".encode() for name, value in headers.items())
        self._writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + self._host + b"\r\n" + head
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )  # fmt: skip
        return await self._answer()

    async def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path``; the status and the body (the answer must carry a Content-Length)."""
        self._writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + self._host + b"\r\n\r\n")
        return await self._answer()

    async def _answer(self) -> tuple[int, bytes]:
        answer = await self._reader.readuntil(b"\r\n\r\n")
        status = int(answer[9:12])
        length = 0
        for line in answer.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self._reader.readexactly(length)

    def close(self) -> None:
        self._writer.close()
