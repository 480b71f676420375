"""The simulator's settings: command-line options and `STRIPE_SIM_*` environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The API version the pinned stripe SDK (16.x) sends; events are rendered for it.
SDK_API_VERSION = "2026-10-28.endive"


class StripeSimSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRIPE_SIM_", frozen=True)

    host: str = "127.0.0.1"
    port: int = 12111
    public_url: str | None = Field(
        default=None, description="Base URL the simulator puts in links; default http://host:port."
    )
    data_dir: Path | None = Field(
        default=None, description="Where the SQLite file lives; none keeps state in memory only."
    )
    spec_path: Path | None = Field(
        default=None,
        description="Stripe's OpenAPI spec (JSON, plain or gzip); none: the copy kept in the simulator.",
    )
    api_version: str = SDK_API_VERSION

    clock: Literal["system", "manual", "simulated"] = Field(
        default="system",
        description="system: wall time; manual: starts now, moves only via /_sim/clock/advance; "
        "simulated: the project's shared clock on NATS.",
    )
    nats_url: str = "nats://127.0.0.1:4222"
    namespace: str = Field(
        default="",
        pattern=r"^[a-z0-9_]*$",
        description="simulated clock: the stack's namespace, which prefixes the clock bucket's name.",
    )
    poll_interval_seconds: float = 0.05

    timing: Literal["fast", "realistic"] = "fast"
    fast_settle_seconds: float = 2.0
    delayed_extra_seconds: float = Field(
        default=180.0, description="How much later the *Delayed BECS test accounts resolve."
    )
    fast_funds_available_seconds: float = Field(
        default=2.0, description="Fast mode: from a debit's success to its funds being available."
    )
    fast_refund_seconds: float = Field(default=3.0, description="Fast mode: a refund's time to land.")
    fast_payout_in_transit_seconds: float = 1.0
    fast_payout_arrival_seconds: float = 3.0
    automatic_payout_interval_seconds: float = Field(
        default=86_400.0, description="How often automatic payouts sweep connected accounts' balances."
    )
    account_link_lifetime_seconds: float = 300.0

    webhook_retry_delays_seconds: tuple[float, ...] | None = Field(
        default=None,
        description="Back-off before each retry; default follows the timing mode.",
    )
    webhook_timeout_seconds: float = 10.0
    signature_time: Literal["wall", "clock"] = Field(
        default="wall",
        description="Sign deliveries with wall time (what stripe.Webhook checks) or the clock's.",
    )
    api_delay_seconds: float = Field(
        default=0.0, description="Latency added to every POST, e.g. to exercise concurrent keys."
    )
    webhook_concurrency: int = Field(default=16, description="Deliveries in flight at once.")

    rate_limit_ops_per_second: float = Field(
        default=25.0, description="API requests per second before 429 (test mode's 25); 0 turns it off."
    )
    fault_seed: int | None = Field(default=None, description="Seed for the faults' randomness.")
    fault_duplicate_percent: float = 0.0
    fault_out_of_order_window_seconds: float = 0.0
    fault_delivery_delay_seconds: float = 0.0
    fault_endpoints_down: tuple[str, ...] = Field(
        default=(), description="Webhook endpoint ids whose deliveries fail; '*' for all."
    )
    fault_server_error_percent: float = 0.0
    fault_rate_limited_percent: float = 0.0
    fault_dropped_connection_percent: float = 0.0

    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def retry_delays(self) -> tuple[float, ...]:
        if self.webhook_retry_delays_seconds is not None:
            return self.webhook_retry_delays_seconds
        if self.timing == "realistic":
            # Test mode retries three times over a few hours.
            return (3_600.0, 3 * 3_600.0, 6 * 3_600.0)
        return (1.0, 5.0, 25.0)
