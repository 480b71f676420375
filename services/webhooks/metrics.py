"""Prometheus metrics of the webhook gateway (on /metrics with the runtime's)."""

from prometheus_client import Counter, Histogram

DELIVERIES = Counter(
    "rosca_webhook_deliveries_total",
    "Stripe deliveries by endpoint and outcome: accepted, completed, duplicate, rejected, "
    "unavailable, not_configured.",
    ["endpoint", "outcome"],
)
REJECTIONS = Counter(
    "rosca_webhook_rejections_total",
    "Deliveries refused (nothing stored or published), by endpoint and reason.",
    ["endpoint", "reason"],
)
INGEST_SECONDS = Histogram(
    "rosca_webhook_ingest_seconds",
    "Time to store and publish a verified delivery (until its PubAck).",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
PUBLISHED_BY_SWEEP = Counter(
    "rosca_webhook_published_by_sweep_total",
    "Stored events whose publishing had not finished, published by the background sweep.",
)
