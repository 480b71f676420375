"""A minimal service used only by the delivery-guarantee tests: it records each message it applies."""
