"""The onboarding tables and the queries on them, run inside the caller's transaction."""
