"""How every service talks to Stripe: the official SDK's client, built from settings, inside one
request budget shared by every replica of every service, with Stripe's errors translated.

- ``StripeSettings``: what a service's settings add to call Stripe (``ROSCA_<SERVICE>_STRIPE_*``).
- ``stripe_client``: a ``stripe.StripeClient`` whose every HTTP request (the SDK's own retries
  included) first waits for a slot of the shared budget, and whose 429s are retried with back-off,
  each try inside the budget: a rate limit costs a member time, never an error, unless the queue
  grows past what a request may wait.
- ``stripe_errors_translated``: around a call, turns Stripe's refusals into ``StripeRejectedError``
  (answered 422, with Stripe's code and param) and every other failure into
  ``StripeUnavailableError`` (502) or, for a budget that is full, ``StripeBusyError`` (503).
- ``idempotency_key``: the deterministic key every Stripe write carries.

The services call the SDK's ``*_async`` methods; the budget's client is async only.
"""

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import aiohttp
import stripe
from nats.js import JetStreamContext
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

from services.runtime.errors import ApiError, Problem
from services.runtime.naming import Namespace
from services.runtime.request_budget import (
    RequestBudgetExhaustedError,
    RequestBudgetUnavailableError,
    SharedRequestBudget,
)

# One budget per Stripe account: every service of a deployment (one namespace) shares it.
BUDGET_BUCKET: Final = "stripe_request_budget"
RATE_LIMITED: Final = 429
RATE_LIMIT_TRIES: Final = 6
IDEMPOTENCY_KEY_LENGTH: Final = 255
REQUEST_TIMEOUT_SECONDS: Final = 80.0  # the SDK's own default


class StripeSettings(BaseSettings):
    """What a service's settings class inherits to call Stripe; its ``env_prefix`` names them."""

    stripe_api_key: SecretStr | None = Field(
        default=None,
        description="Stripe secret key (sk_…) or restricted key (rk_…) of the platform account. "
        "No default: it is a secret.",
    )
    stripe_api_base_url: str = Field(
        default="https://api.stripe.com",
        pattern=r"^https?://",
        description="Base URL of the Stripe API (the simulator's URL in development).",
    )
    stripe_max_network_retries: int = Field(
        default=2,
        ge=0,
        le=5,
        description="Retries of a Stripe request that failed on the network or with a 5xx (safe: every "
        "write carries its idempotency key).",
    )
    stripe_requests_per_second: float = Field(
        default=25.0,
        gt=0,
        le=10_000,
        description="Stripe requests a second shared by every replica of every service on this Stripe "
        "account (one namespace): 25 in test mode, 100 in live mode. Calls wait for their turn.",
    )

    @field_validator("stripe_api_key", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value


class StripeRejectedError(ApiError):
    """Stripe refused the request as made (bad bank details, a state it cannot be in)."""

    def __init__(self, message: str, code: str | None, param: str | None) -> None:
        problems = [Problem(field=param, message=message)] if param else []
        super().__init__(422, "stripe_rejected", f"Stripe refused: {message}", problems=problems)
        self.stripe_message = message
        self.code = code
        self.param = param


class StripeUnavailableError(ApiError):
    """Stripe could not be reached or failed; the same request may be tried again."""

    def __init__(self, reason: str, *, status_code: int = 502, kind: str = "stripe_unavailable") -> None:
        super().__init__(status_code, kind, f"Stripe did not answer as expected; try again ({reason})")


class StripeBusyError(StripeUnavailableError):
    """Our share of Stripe's rate is taken for longer than a request may wait; try again shortly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, status_code=503, kind="stripe_busy")
        self.headers = {"Retry-After": "1"}


class StripeNotConfiguredError(ApiError):
    def __init__(self, variable: str) -> None:
        super().__init__(503, "stripe_not_configured", f"{variable} is not set")


def idempotency_key(owner: str, *parts: str) -> str:
    """``owner:part:part…``: the same purpose always gets the same key, so a retry never repeats a write."""
    return ":".join((owner, *parts))[:IDEMPOTENCY_KEY_LENGTH]


def fingerprint(values: Mapping[str, str]) -> str:
    """A short digest of request parameters, so a different request gets a different key."""
    return hashlib.sha256(json.dumps(dict(values), sort_keys=True).encode()).hexdigest()[:24]


def stripe_request_budget(
    settings: StripeSettings, namespace: Namespace, jetstream: Callable[[], JetStreamContext]
) -> SharedRequestBudget:
    """The budget of the Stripe account, shared through NATS by every service in ``namespace``."""
    return SharedRequestBudget(
        jetstream, namespace.bucket(BUDGET_BUCKET), requests_per_second=settings.stripe_requests_per_second
    )


class ClosableStripeClient(stripe.StripeClient):
    """The SDK's client, with a way to let go of the HTTP connections under it: aiohttp's session
    must be closed on the event loop it ran on, or it is reported unclosed when the process exits."""

    def __init__(self, api_key: str, http_client: "BudgetedHttpClient", **options: Any) -> None:
        super().__init__(api_key, http_client=http_client, **options)
        self._http = http_client

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]


def stripe_client(settings: StripeSettings, budget: SharedRequestBudget) -> ClosableStripeClient:
    """The SDK client within ``budget``; its owner closes it when done (a service at its stop)."""
    if settings.stripe_api_key is None:
        raise StripeNotConfiguredError(f"{settings.model_config.get('env_prefix', '')}STRIPE_API_KEY")
    base_url = settings.stripe_api_base_url
    return ClosableStripeClient(
        settings.stripe_api_key.get_secret_value(),
        BudgetedHttpClient(budget),
        base_addresses={"api": base_url, "connect": base_url, "files": base_url},
        # Safe: every write has its idempotency key, and the SDK retries only what may succeed.
        max_network_retries=settings.stripe_max_network_retries,
    )


class BudgetedHttpClient(stripe.AIOHTTPClient):
    """The SDK's aiohttp client, each request of which waits for a slot of the shared budget.

    aiohttp rather than the SDK's httpx client: measured against the simulator, a request cost the
    calling process 0.6 to 1 ms of CPU through aiohttp and 3.3 to 4.7 ms through httpx, which at a
    100/s budget is a third of a core (benchmarks/README.md, "Collections cycle start").

    A 429 (rate limited: the request did not run) is tried again after a back-off, each try in its
    own slot; after ``RATE_LIMIT_TRIES`` the 429 goes back to the SDK, which raises RateLimitError.
    """

    def __init__(self, budget: SharedRequestBudget, **options: Any) -> None:
        super().__init__(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS), **options)
        self._budget = budget
        self._retrying = AsyncRetrying(
            retry=retry_if_result(_rate_limited),
            wait=wait_exponential_jitter(multiplier=0.25, max=4.0, jitter=0.25),
            stop=stop_after_attempt(RATE_LIMIT_TRIES),
            retry_error_callback=_last_answer,
            reraise=True,
        )

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        answer: tuple[bytes, int, Mapping[str, str]] = await self._retrying(
            self._request_in_turn, method, url, headers, post_data
        )
        return answer

    async def request_stream_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> Any:
        await self._budget.take()
        return await super().request_stream_async(method, url, headers, post_data)

    async def _request_in_turn(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> tuple[bytes, int, Mapping[str, str]]:
        await self._budget.take()
        # The SDK's own request_async would call our request_stream_async, and so take a second slot.
        content, status, answer_headers = await super().request_stream_async(method, url, headers, post_data)
        try:
            body: bytes = await content.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            # The SDK turns only the request's own failures into a connection error; a connection
            # dropped mid-answer is one too, which the SDK then retries (same idempotency key).
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                f"Stripe's answer was cut off: {error!r}", should_retry=True
            ) from error
        return body, status, answer_headers


def _rate_limited(answer: tuple[bytes, int, Mapping[str, str]]) -> bool:
    return answer[1] == RATE_LIMITED


def _last_answer(state: RetryCallState) -> Any:
    assert state.outcome is not None
    return state.outcome.result()


@contextlib.contextmanager
def stripe_errors_translated() -> Iterator[None]:
    """Around a Stripe call: its failures as ``StripeRejectedError``, ``StripeBusyError`` or
    ``StripeUnavailableError``."""
    try:
        yield
    except (RequestBudgetExhaustedError, stripe.RateLimitError) as error:
        raise StripeBusyError(f"rate limit: {error}") from error
    except RequestBudgetUnavailableError as error:
        raise StripeUnavailableError(str(error)) from error
    except (stripe.InvalidRequestError, stripe.CardError, stripe.IdempotencyError) as error:
        raise StripeRejectedError(
            error.user_message or str(error), error.code, getattr(error, "param", None)
        ) from error
    except stripe.StripeError as error:
        raise StripeUnavailableError(f"{type(error).__name__}: {error.user_message or error}") from error
