"""Collections' tables and the queries on them."""
