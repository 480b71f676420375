from pathlib import Path

from simulators.stripe_sim.state.database import open_database
from simulators.stripe_sim.state.due_work import DueWorkQueue


def test_work_comes_out_in_due_order_whatever_the_scheduling_order() -> None:
    queue = DueWorkQueue(open_database(None))
    queue.schedule(30.0, "c", {})
    queue.schedule(10.0, "a", {})
    queue.schedule(20.0, "b", {})

    kinds = [work.kind for work in iter(lambda: queue.pop_due(100.0), None)]

    assert kinds == ["a", "b", "c"]


def test_work_due_at_the_same_moment_keeps_scheduling_order() -> None:
    queue = DueWorkQueue(open_database(None))
    for name in ("first", "second", "third"):
        queue.schedule(5.0, name, {})

    assert [work.kind for work in iter(lambda: queue.pop_due(5.0), None)] == [
        "first",
        "second",
        "third",
    ]


def test_work_not_yet_due_stays_queued() -> None:
    queue = DueWorkQueue(open_database(None))
    queue.schedule(10.0, "later", {})

    assert queue.pop_due(9.99) is None
    assert len(queue) == 1
    assert queue.next_due_at() == 10.0


def test_queued_work_survives_reopening_the_database(tmp_path: Path) -> None:
    connection = open_database(tmp_path)
    DueWorkQueue(connection).schedule(7.0, "settle", {"charge": "py_1"})
    connection.commit()
    connection.close()

    reopened = DueWorkQueue(open_database(tmp_path))
    work = reopened.pop_due(7.0)

    assert work is not None
    assert (work.kind, work.payload) == ("settle", {"charge": "py_1"})
    assert reopened.schedule(8.0, "next", {}).work_id > work.work_id


def test_canceled_work_never_comes_out_and_is_gone_from_the_database(tmp_path: Path) -> None:
    connection = open_database(tmp_path)
    queue = DueWorkQueue(connection)
    lease = queue.schedule(1.0, "lease", {})
    queue.schedule(2.0, "kept", {})

    queue.cancel(lease)
    connection.commit()
    reopened = DueWorkQueue(open_database(tmp_path))

    assert [work.kind for work in reopened.pending_of_kind("lease")] == []
    assert [work.kind for work in iter(lambda: queue.pop_due(10.0), None)] == ["kept"]
