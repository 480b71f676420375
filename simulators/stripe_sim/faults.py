"""Faults on demand: what can go wrong between a client, Stripe and a webhook endpoint.

Set at start (settings) and changed at run time (`POST /_sim/faults`). Every random choice comes
from one seeded generator, drawn only for faults that are switched on, so a seed replays the
same faults for the same sequence of requests and deliveries.
"""

import random
import time
from collections import deque
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from simulators.stripe_sim.settings import StripeSimSettings


class FaultSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int | None = None
    duplicate_percent: float = Field(default=0.0, ge=0, le=100)
    out_of_order_window_seconds: float = Field(default=0.0, ge=0)
    delivery_delay_seconds: float = Field(default=0.0, ge=0)
    endpoints_down: tuple[str, ...] = Field(default=(), description="we_ ids, or '*' for every endpoint")
    rate_limit_ops_per_second: float = Field(default=25.0, ge=0, description="0 turns rate limiting off")
    server_error_percent: float = Field(default=0.0, ge=0, le=100)
    # Stripe also answers 429 below the rate limit (lock timeouts, load shedding): a share of requests.
    rate_limited_percent: float = Field(default=0.0, ge=0, le=100)
    dropped_connection_percent: float = Field(default=0.0, ge=0, le=100)

    @classmethod
    def from_settings(cls, settings: StripeSimSettings) -> "FaultSettings":
        return cls(
            seed=settings.fault_seed,
            duplicate_percent=settings.fault_duplicate_percent,
            out_of_order_window_seconds=settings.fault_out_of_order_window_seconds,
            delivery_delay_seconds=settings.fault_delivery_delay_seconds,
            endpoints_down=settings.fault_endpoints_down,
            rate_limit_ops_per_second=settings.rate_limit_ops_per_second,
            server_error_percent=settings.fault_server_error_percent,
            rate_limited_percent=settings.fault_rate_limited_percent,
            dropped_connection_percent=settings.fault_dropped_connection_percent,
        )


class ApiFault(Enum):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    DROPPED_CONNECTION = "dropped_connection"


class Faults:
    def __init__(self, settings: FaultSettings) -> None:
        self._settings = settings
        self._random = random.Random(settings.seed)  # noqa: S311 - faults, not secrets
        self._recent_requests: deque[float] = deque()

    def current(self) -> FaultSettings:
        return self._settings

    def change(self, changes: dict[str, object]) -> FaultSettings:
        """Raises ValueError (pydantic's ValidationError) for an unknown or invalid setting."""
        self._settings = FaultSettings.model_validate({**self._settings.model_dump(), **changes})
        if "seed" in changes:
            self._random = random.Random(self._settings.seed)  # noqa: S311
        return self._settings

    def api_fault(self) -> ApiFault | None:
        """What happens to the API request arriving now, if anything."""
        if self._over_rate_limit() or self._happens(self._settings.rate_limited_percent):
            return ApiFault.RATE_LIMITED
        if self._happens(self._settings.server_error_percent):
            return ApiFault.SERVER_ERROR
        if self._happens(self._settings.dropped_connection_percent):
            return ApiFault.DROPPED_CONNECTION
        return None

    def delivery_delays(self) -> list[float]:
        """Seconds from an event to each delivery of it to one endpoint: one, or two if duplicated."""
        copies = 2 if self._happens(self._settings.duplicate_percent) else 1
        return [self._delivery_delay() for _ in range(copies)]

    def endpoint_down(self, endpoint_id: str) -> bool:
        down = self._settings.endpoints_down
        return "*" in down or endpoint_id in down

    def _delivery_delay(self) -> float:
        window = self._settings.out_of_order_window_seconds
        jitter = self._random.uniform(0, window) if window > 0 else 0.0
        return self._settings.delivery_delay_seconds + jitter

    def _happens(self, percent: float) -> bool:
        return percent > 0 and self._random.uniform(0, 100) < percent

    def _over_rate_limit(self) -> bool:
        limit = self._settings.rate_limit_ops_per_second
        if limit <= 0:
            return False
        now = time.monotonic()
        while self._recent_requests and self._recent_requests[0] <= now - 1.0:
            self._recent_requests.popleft()
        if len(self._recent_requests) >= limit:
            return True
        self._recent_requests.append(now)
        return False
