"""Stripe's error body and the HTTP status each kind of error travels with."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StripeError(Exception):
    """An error answered in Stripe's shape: `{"error": {"type", "code", "message", "param"}}`."""

    status: int
    type: str
    message: str
    code: str | None = None
    param: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


def invalid_request(
    message: str, *, code: str | None = None, param: str | None = None, status: int = 400
) -> StripeError:
    return StripeError(status, "invalid_request_error", message, code=code, param=param)


def parameter_unknown(param: str) -> StripeError:
    return invalid_request(f"Received unknown parameter: {param}", code="parameter_unknown", param=param)


def parameter_missing(param: str) -> StripeError:
    return invalid_request(f"Missing required param: {param}.", code="parameter_missing", param=param)


def resource_missing(object_label: str, object_id: str, param: str = "id") -> StripeError:
    return invalid_request(
        f"No such {object_label}: '{object_id}'", code="resource_missing", param=param, status=404
    )


def unexpected_state(message: str, param: str | None = None) -> StripeError:
    return invalid_request(message, code="payment_intent_unexpected_state", param=param)


def authentication_failed(message: str) -> StripeError:
    # Stripe answers a bad key with 401 but keeps the invalid_request_error type.
    return StripeError(401, "invalid_request_error", message)


def bank_debit_declined(message: str, code: str, extra: dict[str, Any]) -> StripeError:
    # Bank debit declines travel as card_error with HTTP 402, like card declines.
    return StripeError(402, "card_error", message, code=code, extra=extra)


def idempotency_mismatch(key: str) -> StripeError:
    return StripeError(
        400,
        "idempotency_error",
        "Keys for idempotent requests can only be used with the same parameters they were first "
        f"used with. Try using a key other than '{key}' if you meant to execute a different "
        "request.",
    )


def idempotency_in_use(key: str) -> StripeError:
    return StripeError(
        409,
        "idempotency_error",
        f"There is currently another in-progress request using this Stripe token (that "
        f"probably means you clicked twice, and the other request is still going through): "
        f"{key}. This request can be retried.",
        code="idempotency_key_in_use",
        headers={"Stripe-Should-Retry": "true"},
    )
