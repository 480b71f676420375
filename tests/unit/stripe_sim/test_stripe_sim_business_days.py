from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from simulators.stripe_sim.business_days import becs_settlement_at
from simulators.stripe_sim.settings import StripeSimSettings
from simulators.stripe_sim.settlement_timing import expected_debit_date, settles_at

MELBOURNE = ZoneInfo("Australia/Melbourne")


def _melbourne(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MELBOURNE).astimezone(UTC)


@pytest.mark.parametrize(
    ("submitted", "answered"),
    [
        (_melbourne(2026, 3, 2, 10), _melbourne(2026, 3, 4, 10)),  # Monday before cut-off
        (_melbourne(2026, 3, 2, 18, 29), _melbourne(2026, 3, 4, 10)),
        (_melbourne(2026, 3, 2, 18, 30), _melbourne(2026, 3, 5, 10)),  # cut-off: next batch
        (_melbourne(2026, 3, 5, 12), _melbourne(2026, 3, 9, 10)),  # Thursday: over the weekend
        (_melbourne(2026, 4, 2, 12), _melbourne(2026, 4, 8, 10)),  # Good Friday, Easter Monday
    ],
)
def test_realistic_answers_come_two_becs_days_after_the_batch_at_ten_in_melbourne(
    submitted: datetime, answered: datetime
) -> None:
    assert becs_settlement_at(submitted) == answered


def test_fast_mode_answers_after_the_configured_seconds() -> None:
    submitted = _melbourne(2026, 3, 2, 10)
    settings = StripeSimSettings(timing="fast", fast_settle_seconds=2.5)

    assert settles_at(settings, submitted, delayed=False) == submitted + timedelta(seconds=2.5)


def test_delayed_test_accounts_answer_three_minutes_later_in_both_modes() -> None:
    submitted = _melbourne(2026, 3, 2, 10)
    for timing in ("fast", "realistic"):
        settings = StripeSimSettings(timing=timing)
        assert settles_at(settings, submitted, delayed=True) - settles_at(
            settings, submitted, delayed=False
        ) == timedelta(minutes=3)


def test_expected_debit_date_is_the_melbourne_calendar_day() -> None:
    # 15:00 UTC on 3 March is already 4 March in Melbourne.
    assert expected_debit_date(datetime(2026, 3, 3, 15, tzinfo=UTC)) == "2026-03-04"
