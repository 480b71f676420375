"""One module per Stripe resource: its handlers, its object shape, its state changes."""
