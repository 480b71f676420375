from functools import cache

import pytest

from simulators.stripe_sim.wire.errors import StripeError
from simulators.stripe_sim.wire.params import check_params
from simulators.stripe_sim.wire.spec import StripeSpec


@cache
def _spec() -> StripeSpec:
    return StripeSpec.load()


def _check(method: str, path: str, params: dict[str, object]) -> dict[str, object]:
    spec = _spec()
    return check_params(spec, spec.request_schema(method, path), params)


def test_integers_and_booleans_are_typed_from_the_spec() -> None:
    checked = _check(
        "post",
        "/v1/payment_intents",
        {"amount": "1000", "currency": "aud", "confirm": "true", "metadata": {"n": "1"}},
    )

    assert checked == {"amount": 1000, "currency": "aud", "confirm": True, "metadata": {"n": "1"}}


def test_an_unknown_top_level_parameter_is_refused_by_name() -> None:
    with pytest.raises(StripeError) as refused:
        _check("post", "/v1/payment_intents", {"amount": "1", "currency": "aud", "amout": "1"})

    assert (refused.value.status, refused.value.code, refused.value.param) == (
        400,
        "parameter_unknown",
        "amout",
    )


def test_an_unknown_nested_parameter_is_refused_with_its_bracket_name() -> None:
    params: dict[str, object] = {
        "mandate_data": {"customer_acceptance": {"type": "online", "offline_typo": {}}}
    }

    with pytest.raises(StripeError) as refused:
        _check("post", "/v1/setup_intents", params)

    assert refused.value.param == "mandate_data[customer_acceptance][offline_typo]"


def test_a_missing_required_parameter_is_named() -> None:
    with pytest.raises(StripeError) as refused:
        _check("post", "/v1/payment_intents", {"amount": "1000"})

    assert (refused.value.code, refused.value.param) == ("parameter_missing", "currency")


def test_a_non_numeric_integer_is_refused() -> None:
    with pytest.raises(StripeError) as refused:
        _check("post", "/v1/payment_intents", {"amount": "ten", "currency": "aud"})

    assert refused.value.code == "parameter_invalid_integer"


def test_query_parameters_of_list_endpoints_are_checked_too() -> None:
    assert _check("get", "/v1/events", {"limit": "3", "created": {"gte": "5"}}) == {
        "limit": 3,
        "created": {"gte": 5},
    }
    with pytest.raises(StripeError):
        _check("get", "/v1/events", {"colour": "red"})
