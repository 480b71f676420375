"""The record of every webhook delivery attempt: when, to which endpoint, and how it went."""

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class DeliveryAttempt:
    event_id: str
    endpoint_id: str
    attempt: int
    attempted_at: float
    status: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class DeliveryLog:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def record(self, attempt: DeliveryAttempt) -> None:
        self._connection.execute(
            "INSERT INTO deliveries (event_id, endpoint_id, attempt, attempted_at, status, error) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                attempt.event_id,
                attempt.endpoint_id,
                attempt.attempt,
                attempt.attempted_at,
                attempt.status,
                attempt.error,
            ),
        )

    def attempts(
        self, *, event_id: str | None = None, endpoint_id: str | None = None
    ) -> list[DeliveryAttempt]:
        rows = self._connection.execute(
            "SELECT event_id, endpoint_id, attempt, attempted_at, status, error FROM deliveries "
            "WHERE (? IS NULL OR event_id = ?) AND (? IS NULL OR endpoint_id = ?) ORDER BY id",
            (event_id, event_id, endpoint_id, endpoint_id),
        )
        return [DeliveryAttempt(*row) for row in rows]
