"""A stateful stand-in for the Stripe API, driven by the official SDK unchanged."""
