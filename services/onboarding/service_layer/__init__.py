"""What onboarding does for a request or a Stripe report: load, apply the rules, store, publish."""
