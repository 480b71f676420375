"""The HTTP edge: how Stripe's wire format is read and written."""
