"""The simulator's SQLite file: one connection, WAL, one transaction per API request."""

import sqlite3
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account TEXT,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    internal TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS due_work (
    id INTEGER PRIMARY KEY,
    due_at REAL NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at REAL NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at REAL NOT NULL,
    status INTEGER,
    error TEXT
);
"""


def open_database(data_dir: Path | None) -> sqlite3.Connection:
    """A file under ``data_dir``, or a private in-memory database when there is none."""
    if data_dir is None:
        connection = sqlite3.connect(":memory:", check_same_thread=False)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(data_dir / "stripe_sim.sqlite3", check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL survives a process crash; only a power cut may lose the last commits.
        connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(_SCHEMA)
    connection.commit()
    return connection
