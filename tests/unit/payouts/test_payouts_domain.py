"""The payouts domain without I/O: transfer keys, the hold/pause/transfer decision, the recipient's
account view, bank payouts that never move backwards, and when an upcoming pot is expected."""

import uuid
from datetime import UTC, date, datetime, timedelta

from services.payouts.domain.bank_payouts import BankPayout, BankPayoutStatus, apply_report, newly_failed
from services.payouts.domain.decision import (
    FIRST_PAYOUT_HOLD,
    OWES_THE_GROUP,
    Circumstances,
    Hold,
    Pause,
    Transfer,
    decide,
    first_payout_hold_ends,
)
from services.payouts.domain.expected import cycle_day, expected_pot_day
from services.payouts.domain.payout import PlannedTransfer
from services.payouts.domain.recipient import (
    AccountReport,
    AccountView,
    refused_by_stripe,
    report_from_account_object,
)
from services.payouts.domain.recipient import (
    apply_report as apply_account_report,
)
from services.runtime.calendar import BECS_CALENDAR

# Tuesday 2 March 2027, 10:00 in Sydney.
NOW = datetime(2027, 3, 1, 23, 0, tzinfo=UTC)
CYCLE = uuid.UUID("00000000-0000-0000-0000-00000000000c")


def _transfer() -> PlannedTransfer:
    return PlannedTransfer("py_1", uuid.uuid4(), "pi_1", "payer", 4_950)


def _view(*, can_receive: bool = True, ready_since: datetime | None = None) -> AccountView:
    return AccountView(
        "acct_1", "m", can_receive, None if can_receive else "requirements.past_due", (), ready_since, NOW
    )


def _circumstances(**changes: object) -> Circumstances:
    values: dict[str, object] = {
        "owes_the_group": False,
        "account": _view(),
        "first_pot": True,
        "ready_since_fallback": NOW - timedelta(days=30),
        "first_payout_hold_business_days": 0,
    }
    return Circumstances(**{**values, **changes})  # type: ignore[arg-type]


def test_a_transfers_first_key_is_the_designs_and_each_refusal_gives_the_next_try_its_own() -> None:
    transfer = _transfer()
    refused = transfer.refused("insufficient_capabilities_for_transfer")

    assert transfer.key(CYCLE) == f"payout-{CYCLE}-py_1"
    assert refused.key(CYCLE) == f"payout-{CYCLE}-py_1-2"
    assert refused.refused("x").key(CYCLE) == f"payout-{CYCLE}-py_1-3"


def test_a_ready_recipient_is_transferred_to() -> None:
    assert decide(_circumstances(), NOW, BECS_CALENDAR) == Transfer()
    assert decide(_circumstances(account=None), NOW, BECS_CALENDAR) == Transfer()


def test_a_recipient_who_owes_the_group_is_held_without_a_date_before_anything_else() -> None:
    decided = decide(
        _circumstances(owes_the_group=True, account=_view(can_receive=False)), NOW, BECS_CALENDAR
    )
    assert decided == Hold(OWES_THE_GROUP, None)


def test_an_account_that_cannot_receive_pauses_unless_a_person_forces_a_try() -> None:
    blocked = _circumstances(account=_view(can_receive=False))

    assert decide(blocked, NOW, BECS_CALENDAR) == Pause("requirements.past_due")
    assert decide(Circumstances(**{**vars(blocked), "forced": True}), NOW, BECS_CALENDAR) == Transfer()


def test_a_first_pot_waits_business_days_after_the_account_became_ready() -> None:
    # Ready on Friday 26 February 2027, 15:00 in Sydney: one business day on is Monday 1 March.
    ready = datetime(2027, 2, 26, 4, 0, tzinfo=UTC)
    held = _circumstances(account=_view(ready_since=ready), first_payout_hold_business_days=1)
    ends = first_payout_hold_ends(ready, 1, BECS_CALENDAR)

    assert ends == datetime(2027, 3, 1, 4, 0, tzinfo=UTC)
    assert decide(held, ends - timedelta(seconds=1), BECS_CALENDAR) == Hold(FIRST_PAYOUT_HOLD, ends)
    assert decide(held, ends, BECS_CALENDAR) == Transfer()
    assert decide(
        Circumstances(**{**vars(held), "first_pot": False}), ends - timedelta(days=1), BECS_CALENDAR
    ) == (Transfer())


def test_account_reports_never_move_the_view_back_in_time_and_remember_when_it_was_first_ready() -> None:
    ready = AccountReport("acct_1", "m", True, None, (), NOW)
    restricted = AccountReport(
        "acct_1", None, False, "requirements.past_due", ("x",), NOW + timedelta(seconds=5)
    )
    stale = AccountReport("acct_1", None, True, None, (), NOW + timedelta(seconds=1))

    first = apply_account_report(None, ready)
    assert first is not None
    second = apply_account_report(first, restricted)
    assert second is not None
    restored = apply_account_report(
        second, AccountReport("acct_1", None, True, None, (), NOW + timedelta(seconds=9))
    )

    assert apply_account_report(second, stale) is None
    assert (second.can_receive, second.reason, second.member_id) == (False, "requirements.past_due", "m")
    assert restored is not None
    assert (restored.can_receive, restored.ready_since) == (True, NOW)


def test_a_stripe_report_of_the_same_second_as_onboardings_is_not_taken_for_an_older_one() -> None:
    onboarding = apply_account_report(
        None, AccountReport("acct_1", "m", False, "r", (), NOW.replace(microsecond=700))
    )
    assert onboarding is not None
    assert apply_account_report(onboarding, AccountReport("acct_1", None, True, None, (), NOW)) is not None


def test_a_refusal_by_stripe_marks_the_account_unable_without_dating_it() -> None:
    refused = refused_by_stripe(_view(), "insufficient_capabilities_for_transfer")
    assert (refused.can_receive, refused.reason, refused.as_of) == (
        False,
        "insufficient_capabilities_for_transfer",
        NOW,
    )


def test_stripes_account_object_says_whether_it_can_receive() -> None:
    restricted = {
        "id": "acct_1",
        "capabilities": {"transfers": "inactive"},
        "requirements": {"past_due": ["individual.id_number"], "disabled_reason": "requirements.past_due"},
    }
    report = report_from_account_object(restricted, NOW)
    ready = report_from_account_object({"id": "acct_1", "capabilities": {"transfers": "active"}}, NOW)

    assert (report.can_receive, report.reason, report.requirements_due) == (
        False,
        "requirements.past_due",
        ("individual.id_number",),
    )
    assert ready.can_receive


def _bank_payout(status: BankPayoutStatus, at: datetime) -> BankPayout:
    return BankPayout("po_1", "acct_1", 9_900, "aud", status, None, None, None, NOW, at)


def test_a_bank_payout_never_moves_backwards_but_a_paid_one_may_still_fail() -> None:
    paid = _bank_payout(BankPayoutStatus.PAID, NOW + timedelta(seconds=3))
    late_in_transit = _bank_payout(BankPayoutStatus.IN_TRANSIT, NOW + timedelta(seconds=1))
    failed = _bank_payout(BankPayoutStatus.FAILED, NOW + timedelta(days=2))

    assert apply_report(paid, late_in_transit) is None
    assert apply_report(paid, failed) == failed
    assert newly_failed(paid, failed)
    assert not newly_failed(failed, failed)


def test_an_upcoming_pot_is_expected_after_its_cycles_debit_day_and_settlement() -> None:
    start = date(2027, 1, 29)  # a Friday
    assert cycle_day(start, "fortnightly", 3) == date(2027, 2, 26)
    assert cycle_day(date(2027, 1, 31), "monthly", 2) == date(2027, 2, 28)
    # Debited Friday 26 February; three business days on is Wednesday 3 March.
    assert expected_pot_day(start, "fortnightly", 3, BECS_CALENDAR) == date(2027, 3, 3)
