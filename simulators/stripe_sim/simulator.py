"""The simulator's state and time, shared by the HTTP edge, the resources and the due work."""

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from services.runtime.clock import Clock
from simulators.stripe_sim.faults import Faults, FaultSettings
from simulators.stripe_sim.settings import StripeSimSettings
from simulators.stripe_sim.state.deliveries import DeliveryLog
from simulators.stripe_sim.state.due_work import DueWorkQueue
from simulators.stripe_sim.state.idempotency import IdempotencyStore
from simulators.stripe_sim.state.objects import ObjectStore
from simulators.stripe_sim.wire.spec import StripeSpec


@dataclass(frozen=True)
class RequestOrigin:
    """What an event records in `request`: the API call that caused it, if any."""

    request_id: str
    idempotency_key: str | None


# Context variables, not attributes: due work and API requests run as separate asyncio tasks.
_acting_at: ContextVar[datetime | None] = ContextVar("acting_at", default=None)
_request_origin: ContextVar[RequestOrigin | None] = ContextVar("request_origin", default=None)


class Simulator:
    def __init__(
        self,
        settings: StripeSimSettings,
        clock: Clock,
        spec: StripeSpec,
        connection: sqlite3.Connection,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.spec = spec
        self.objects = ObjectStore(connection)
        self.idempotency = IdempotencyStore(connection)
        self.due_work = DueWorkQueue(connection)
        self.deliveries = DeliveryLog(connection)
        self.due_work_lock = asyncio.Lock()
        self.faults = Faults(FaultSettings.from_settings(settings))
        self._connection = connection

    def now(self) -> datetime:
        """The clock's time, or the moment a piece of due work fell due while it runs."""
        acting_at = _acting_at.get()
        return acting_at if acting_at is not None else self.clock.now()

    def timestamp(self) -> int:
        return int(self.now().timestamp())

    @contextmanager
    def acting_at(self, moment: datetime) -> Iterator[None]:
        token = _acting_at.set(moment)
        try:
            yield
        finally:
            _acting_at.reset(token)

    @contextmanager
    def handling_request(self, origin: RequestOrigin) -> Iterator[None]:
        token = _request_origin.set(origin)
        try:
            yield
        finally:
            _request_origin.reset(token)

    def request_origin(self) -> RequestOrigin | None:
        return _request_origin.get()

    def commit(self) -> None:
        self.objects.flush()
        self._connection.commit()

    def close(self) -> None:
        self.commit()
        self._connection.close()


def from_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
