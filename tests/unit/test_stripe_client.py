"""The runtime's Stripe client: settings, idempotency keys, and what Stripe's failures become."""

import pytest
import stripe
from nats.js import JetStreamContext
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from services.runtime.errors import ApiError
from services.runtime.request_budget import (
    RequestBudgetExhaustedError,
    RequestBudgetUnavailableError,
    SharedRequestBudget,
)
from services.runtime.stripe_client import (
    BudgetedHttpClient,
    StripeBusyError,
    StripeNotConfiguredError,
    StripeRejectedError,
    StripeSettings,
    StripeUnavailableError,
    fingerprint,
    idempotency_key,
    stripe_client,
    stripe_errors_translated,
)


class CallerSettings(StripeSettings):
    model_config = SettingsConfigDict(env_prefix="ROSCA_CALLER_", extra="ignore", frozen=True)


def unused_budget() -> SharedRequestBudget:
    def no_nats() -> JetStreamContext:
        raise AssertionError("no request is made here")

    return SharedRequestBudget(no_nats, "budget", requests_per_second=25)


def test_idempotency_keys_are_deterministic_owned_and_bounded() -> None:
    assert idempotency_key("payouts", "transfer", "cycle-7") == "payouts:transfer:cycle-7"
    assert idempotency_key("payouts", "transfer", "cycle-7") == idempotency_key(
        "payouts", "transfer", "cycle-7"
    )
    assert len(idempotency_key("collections", "x" * 400)) == 255
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1"}) != fingerprint({"a": "2"})


def test_settings_default_to_stripe_test_mode_rate_and_read_the_service_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert CallerSettings().stripe_requests_per_second == 25
    monkeypatch.setenv("ROSCA_CALLER_STRIPE_REQUESTS_PER_SECOND", "100")
    monkeypatch.setenv("ROSCA_CALLER_STRIPE_API_KEY", "")
    settings = CallerSettings()
    assert settings.stripe_requests_per_second == 100
    assert settings.stripe_api_key is None
    monkeypatch.setenv("ROSCA_CALLER_STRIPE_REQUESTS_PER_SECOND", "0")
    with pytest.raises(ValidationError):
        CallerSettings()


def test_the_client_is_the_sdks_with_every_request_through_the_budget() -> None:
    settings = CallerSettings(stripe_api_key=SecretStr("sk_test_x"), stripe_api_base_url="http://127.0.0.1:9")
    client = stripe_client(settings, unused_budget())
    assert isinstance(client, stripe.StripeClient)
    assert isinstance(client._requestor._client, BudgetedHttpClient)


def test_without_a_key_the_client_is_not_configured_and_says_which_variable() -> None:
    with pytest.raises(StripeNotConfiguredError, match="ROSCA_CALLER_STRIPE_API_KEY"):
        stripe_client(CallerSettings(), unused_budget())


def translated(error: Exception) -> ApiError:
    with pytest.raises(ApiError) as raised, stripe_errors_translated():
        raise error
    return raised.value


def test_a_refusal_is_a_422_carrying_stripes_code_and_param() -> None:
    error = translated(
        stripe.InvalidRequestError("No such customer: cus_1", "customer", code="resource_missing")  # type: ignore[no-untyped-call]
    )
    assert isinstance(error, StripeRejectedError)
    assert (error.status_code, error.kind, error.code, error.param) == (
        422,
        "stripe_rejected",
        "resource_missing",
        "customer",
    )
    assert [(p.field, p.message) for p in error.problems] == [("customer", "No such customer: cus_1")]


@pytest.mark.parametrize(
    "failure",
    [
        stripe.APIConnectionError("connection reset"),  # type: ignore[no-untyped-call]
        stripe.APIError("internal"),
        RequestBudgetUnavailableError("x"),
    ],
)
def test_an_unreachable_or_failing_stripe_is_unavailable(failure: Exception) -> None:
    error = translated(failure)
    assert type(error) is StripeUnavailableError
    assert (error.status_code, error.kind) == (502, "stripe_unavailable")


@pytest.mark.parametrize(
    "failure", [stripe.RateLimitError("Too many requests"), RequestBudgetExhaustedError("x")]
)
def test_a_rate_limit_that_outlasts_the_wait_is_a_503_to_retry_never_a_502(failure: Exception) -> None:
    error = translated(failure)
    assert isinstance(error, StripeBusyError)
    assert (error.status_code, error.kind) == (503, "stripe_busy")
    assert error.headers == {"Retry-After": "1"}
