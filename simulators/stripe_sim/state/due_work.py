"""Work that falls due at a moment of simulated time: settlements, webhook (re)deliveries.

Ordered by due time, then by the order it was scheduled, so advancing the clock by days
replays everything in between in the order it would have happened.
"""

import heapq
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any


@dataclass(order=True, frozen=True)
class DueWork:
    due_at: float
    work_id: int
    kind: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False)


class DueWorkQueue:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._heap: list[DueWork] = []
        self._canceled: set[int] = set()
        self._next_id = 1
        for work_id, due_at, kind, payload in connection.execute(
            "SELECT id, due_at, kind, payload FROM due_work"
        ):
            self._heap.append(DueWork(due_at, work_id, kind, json.loads(payload)))
            self._next_id = max(self._next_id, work_id + 1)
        heapq.heapify(self._heap)

    def schedule(self, due_at: float, kind: str, payload: dict[str, Any]) -> DueWork:
        work = DueWork(due_at, self._next_id, kind, payload)
        self._next_id += 1
        heapq.heappush(self._heap, work)
        self._connection.execute(
            "INSERT INTO due_work (id, due_at, kind, payload) VALUES (?, ?, ?, ?)",
            (work.work_id, due_at, kind, json.dumps(payload)),
        )
        return work

    def pop_due(self, now: float) -> DueWork | None:
        self._drop_canceled_head()
        if not self._heap or self._heap[0].due_at > now:
            return None
        work = heapq.heappop(self._heap)
        self._connection.execute("DELETE FROM due_work WHERE id = ?", (work.work_id,))
        return work

    def cancel(self, work: DueWork) -> None:
        self._canceled.add(work.work_id)
        self._connection.execute("DELETE FROM due_work WHERE id = ?", (work.work_id,))

    def next_due_at(self) -> float | None:
        self._drop_canceled_head()
        return self._heap[0].due_at if self._heap else None

    def pending_of_kind(self, kind: str) -> list[DueWork]:
        return [work for work in self._heap if work.kind == kind and work.work_id not in self._canceled]

    def _drop_canceled_head(self) -> None:
        while self._heap and self._heap[0].work_id in self._canceled:
            self._canceled.discard(heapq.heappop(self._heap).work_id)

    def __len__(self) -> int:
        return len(self._heap) - len(self._canceled)
