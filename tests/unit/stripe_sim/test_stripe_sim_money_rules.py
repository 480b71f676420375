from simulators.stripe_sim.fees import becs_fee
from simulators.stripe_sim.payout_test_accounts import outcome_for


def test_the_becs_fee_is_one_percent_plus_30_cents_capped_at_350() -> None:
    assert becs_fee(5_000) == 80
    assert becs_fee(100) == 31
    assert becs_fee(1_000_000) == 350


def test_payout_test_accounts_fail_with_their_codes_and_others_are_paid() -> None:
    assert outcome_for("110000", "111111116").failure_code == "no_account"
    assert outcome_for("110000", "444444440").failure_code == "invalid_currency"
    assert outcome_for("110000", "000123456").failure_code is None
    assert outcome_for("062000", "111111116").failure_code is None
