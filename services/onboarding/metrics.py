"""What the onboarding service adds to /metrics."""

from prometheus_client import Counter

MEMBERS_REGISTERED = Counter("rosca_onboarding_members_registered_total", "Members registered.")
READINESS_CHANGES = Counter(
    "rosca_onboarding_readiness_changes_total", "Members who became ready or stopped being ready.", ["to"]
)
GROUPS_ACTIVATED = Counter("rosca_onboarding_groups_activated_total", "Groups activated.")
STRIPE_EVENTS = Counter(
    "rosca_onboarding_stripe_events_total",
    "Stripe events taken, by type and outcome: applied, unchanged (nothing new), stale (older than "
    "what is held), unknown (not about a member of ours).",
    ["event_type", "outcome"],
)
