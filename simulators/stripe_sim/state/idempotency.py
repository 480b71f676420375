"""Idempotency keys the way Stripe keeps them: first result replayed, per account, for 24 h."""

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class SavedResult:
    fingerprint: str
    created_at: float
    status: int
    body: bytes


def request_fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    canonical = json.dumps([method, path, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._saved: dict[tuple[str, str], SavedResult] = {}
        self._in_flight: set[tuple[str, str]] = set()
        for scope, key, fingerprint, created_at, status, body in connection.execute(
            "SELECT scope, key, fingerprint, created_at, status, body FROM idempotency"
        ):
            self._saved[(scope, key)] = SavedResult(fingerprint, created_at, status, body.encode())

    def saved(self, scope: str, key: str, now: float) -> SavedResult | None:
        result = self._saved.get((scope, key))
        if result is not None and now - result.created_at >= KEY_LIFETIME.total_seconds():
            self._forget(scope, key)
            return None
        return result

    def is_in_flight(self, scope: str, key: str) -> bool:
        return (scope, key) in self._in_flight

    def begin(self, scope: str, key: str) -> None:
        self._in_flight.add((scope, key))

    def end(self, scope: str, key: str) -> None:
        self._in_flight.discard((scope, key))

    def save(self, scope: str, key: str, result: SavedResult) -> None:
        self._saved[(scope, key)] = result
        self._connection.execute(
            "INSERT OR REPLACE INTO idempotency (scope, key, fingerprint, created_at, status, body) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (scope, key, result.fingerprint, result.created_at, result.status, result.body.decode()),
        )

    def forget_expired(self, now: float) -> None:
        horizon = now - KEY_LIFETIME.total_seconds()
        for scope, key in [k for k, r in self._saved.items() if r.created_at <= horizon]:
            self._forget(scope, key)

    def _forget(self, scope: str, key: str) -> None:
        self._saved.pop((scope, key), None)
        self._connection.execute("DELETE FROM idempotency WHERE scope = ? AND key = ?", (scope, key))
