"""Message schemas, subjects and stream definitions shared by every rosca service (data only)."""
