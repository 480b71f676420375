import pytest
from pydantic import ValidationError

from simulators.stripe_sim.faults import ApiFault, Faults, FaultSettings


def test_the_same_seed_draws_the_same_delivery_delays_and_duplicates() -> None:
    settings = FaultSettings(
        seed=3, duplicate_percent=50, out_of_order_window_seconds=10, rate_limit_ops_per_second=0
    )

    one, two = Faults(settings), Faults(settings)
    drawn = [one.delivery_delays() for _ in range(20)]

    assert drawn == [two.delivery_delays() for _ in range(20)]
    assert {len(delays) for delays in drawn} == {1, 2}
    assert drawn != [Faults(settings.model_copy(update={"seed": 4})).delivery_delays() for _ in range(20)]


def test_with_no_faults_switched_on_nothing_is_drawn_or_delayed() -> None:
    faults = Faults(FaultSettings(rate_limit_ops_per_second=0))

    assert [faults.api_fault() for _ in range(100)] == [None] * 100
    assert faults.delivery_delays() == [0.0]


def test_the_rate_limit_refuses_requests_beyond_the_per_second_budget() -> None:
    faults = Faults(FaultSettings(rate_limit_ops_per_second=3))

    assert [faults.api_fault() for _ in range(5)] == [
        None,
        None,
        None,
        ApiFault.RATE_LIMITED,
        ApiFault.RATE_LIMITED,
    ]


def test_a_certain_server_error_comes_before_a_dropped_connection() -> None:
    faults = Faults(
        FaultSettings(rate_limit_ops_per_second=0, server_error_percent=100, dropped_connection_percent=100)
    )

    assert faults.api_fault() is ApiFault.SERVER_ERROR


def test_a_share_of_requests_is_rate_limited_below_the_limit_too() -> None:
    faults = Faults(FaultSettings(seed=7, rate_limit_ops_per_second=0, rate_limited_percent=5))

    answers = [faults.api_fault() for _ in range(2_000)]

    assert 50 <= answers.count(ApiFault.RATE_LIMITED) <= 150  # 5 % of 2,000 = 100, seeded
    assert set(answers) == {None, ApiFault.RATE_LIMITED}


def test_changing_faults_keeps_the_others_and_refuses_unknown_ones() -> None:
    faults = Faults(FaultSettings(duplicate_percent=5))

    changed = faults.change({"endpoints_down": ["*"]})

    assert (changed.duplicate_percent, faults.endpoint_down("we_any")) == (5, True)
    with pytest.raises(ValidationError):
        faults.change({"surprise": 1})
