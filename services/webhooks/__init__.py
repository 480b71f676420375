"""The webhooks service: the Stripe webhook gateway: verified, durable, deduplicated events onto JetStream."""
