"""The local stack behind ``rosca up``: NATS, Postgres, the services and the gateway as processes."""
