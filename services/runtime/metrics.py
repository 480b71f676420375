"""Prometheus metrics every service exposes on /metrics."""

from prometheus_client import Counter, Histogram

MESSAGES_HANDLED = Counter(
    "rosca_messages_handled_total",
    "Messages taken by a consumer, by outcome: applied, duplicate, retried, dead_lettered.",
    ["consumer", "outcome"],
)
MESSAGE_HANDLING_SECONDS = Histogram(
    "rosca_message_handling_seconds",
    "Time from fetch to ack of one message.",
    ["consumer"],
)
MESSAGE_BATCHES = Counter(
    "rosca_message_batches_total",
    "Batches a consumer in batch mode applied in one transaction (messages / batches: their mean size).",
    ["consumer"],
)
OUTBOX_PUBLISHED = Counter("rosca_outbox_published_total", "Outbox messages published to JetStream.")
OUTBOX_PUBLISH_FAILURES = Counter(
    "rosca_outbox_publish_failures_total", "Relay rounds that stopped on a publish error."
)
