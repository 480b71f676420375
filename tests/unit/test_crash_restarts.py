"""The back-off of ``rosca up --restart-crashed``: short at first, longer for a process that keeps dying."""

from rosca.stack.restarts import (
    FIRST_BACKOFF_SECONDS,
    MAX_BACKOFF_SECONDS,
    STABLE_AFTER_SECONDS,
    CrashRestarts,
)


def test_a_process_found_down_is_restarted_after_the_first_backoff() -> None:
    restarts = CrashRestarts()
    restarts.started("nats", 0.0)

    assert not restarts.due("nats", 100.0)
    assert restarts.due("nats", 100.0 + FIRST_BACKOFF_SECONDS)
    assert restarts.restarting("nats", 100.0 + FIRST_BACKOFF_SECONDS) == 1


def test_a_process_that_keeps_dying_waits_longer_each_time_up_to_the_ceiling() -> None:
    restarts = CrashRestarts()
    restarts.started("webhooks", 0.0)
    now = 100.0
    waits = []
    for _ in range(8):
        down_at = now
        while not restarts.due("webhooks", now):
            now += 0.25
        waits.append(now - down_at)
        restarts.restarting("webhooks", now)
        now += 1.0  # dies again a second after its restart
    assert waits[0] == FIRST_BACKOFF_SECONDS
    assert waits == sorted(waits)
    assert waits[-1] == MAX_BACKOFF_SECONDS


def test_a_process_that_ran_long_enough_starts_over_with_the_first_backoff() -> None:
    restarts = CrashRestarts()
    restarts.started("collections", 0.0)
    for crashed_at in (10.0, 20.0, 30.0):
        now = crashed_at
        while not restarts.due("collections", now):
            now += 0.25
        restarts.restarting("collections", now)
    later = 1_000.0 + STABLE_AFTER_SECONDS

    assert not restarts.due("collections", later)
    assert restarts.due("collections", later + FIRST_BACKOFF_SECONDS)
