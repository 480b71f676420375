"""The scheduler service: durable timers and the Australian business-day calendar."""
