"""Stripe objects as their JSON bodies, plus the private facts Stripe would not show."""

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from simulators.stripe_sim.state.ids import new_id


@dataclass
class StoredObject:
    id: str
    kind: str
    account: str | None
    seq: int
    body: dict[str, Any]
    internal: dict[str, Any] = field(default_factory=dict)


class ObjectStore:
    """Everything lives in memory for speed; changed objects are written at ``flush()``."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._by_id: dict[str, StoredObject] = {}
        self._by_kind: dict[str, list[StoredObject]] = {}
        self._dirty: dict[str, StoredObject] = {}
        self._next_seq = 1
        self._load()

    def _load(self) -> None:
        rows = self._connection.execute(
            "SELECT id, kind, account, seq, body, internal FROM objects ORDER BY seq"
        )
        for object_id, kind, account, seq, body, internal in rows:
            stored = StoredObject(object_id, kind, account, seq, json.loads(body), json.loads(internal))
            self._index(stored)
            self._next_seq = seq + 1

    def _index(self, stored: StoredObject) -> None:
        self._by_id[stored.id] = stored
        self._by_kind.setdefault(stored.kind, []).append(stored)

    def create(
        self,
        kind: str,
        prefix: str,
        body: dict[str, Any],
        *,
        account: str | None,
        internal: dict[str, Any] | None = None,
        object_id: str | None = None,
    ) -> StoredObject:
        identifier = object_id or new_id(prefix)
        stored = StoredObject(
            identifier, kind, account, self._next_seq, {"id": identifier, **body}, internal or {}
        )
        self._next_seq += 1
        self._index(stored)
        self.save(stored)
        return stored

    def get(self, object_id: str, kind: str | None = None) -> StoredObject | None:
        stored = self._by_id.get(object_id)
        if stored is None or (kind is not None and stored.kind != kind):
            return None
        return stored

    def save(self, stored: StoredObject) -> None:
        self._dirty[stored.id] = stored

    def newest_first(self, kind: str, account: str | None) -> Iterator[StoredObject]:
        for stored in reversed(self._by_kind.get(kind, [])):
            if stored.account == account:
                yield stored

    def flush(self) -> None:
        if not self._dirty:
            return
        self._connection.executemany(
            "INSERT OR REPLACE INTO objects (id, kind, account, seq, body, internal) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (s.id, s.kind, s.account, s.seq, json.dumps(s.body), json.dumps(s.internal))
                for s in self._dirty.values()
            ],
        )
        self._dirty.clear()
