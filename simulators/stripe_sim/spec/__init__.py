"""Stripe's OpenAPI spec as package data (see SOURCE.md); read by `simulators.stripe_sim.wire.spec`."""
