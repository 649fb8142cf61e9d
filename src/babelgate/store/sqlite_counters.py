"""Named counters in the SQLite store (the client keys' limits, server/limits.py): jobs that run on the
store's worker thread, one transaction per call, so other processes on the file see all of it or none."""

from __future__ import annotations

import sqlite3

from babelgate.store.base import Counter, Increment

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    name    TEXT PRIMARY KEY,
    value   INTEGER NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS counters_expires ON counters (expires);
"""
# One increment: a live counter grows and keeps its expiry; a new or expired one starts over. (SET reads the old row.)
_ADD = """
INSERT INTO counters VALUES (:name, :amount, :expires) ON CONFLICT (name) DO UPDATE SET
    value = CASE WHEN counters.expires <= :now THEN excluded.value ELSE counters.value + excluded.value END,
    expires = CASE WHEN counters.expires <= :now THEN excluded.expires ELSE counters.expires END
RETURNING value, expires
"""
PRUNE_SECONDS = 60.0  # expired counters are deleted this often (by each process)
BATCH = 500  # names per SELECT, under SQLite's limit of bound parameters


def add(conn: sqlite3.Connection, now: float, increments: list[Increment], prune: bool) -> list[Counter]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if prune:
            conn.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        params = [{"name": name, "amount": amount, "expires": now + ttl, "now": now} for name, amount, ttl in increments]
        rows = [conn.execute(_ADD, one).fetchone() for one in params]
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return [Counter(int(value), float(expires)) for value, expires in rows]


def read(conn: sqlite3.Connection, now: float, names: list[str]) -> list[Counter]:
    found: dict[str, Counter] = {}
    for start in range(0, len(names), BATCH):
        part = names[start : start + BATCH]
        sql = f"SELECT name, value, expires FROM counters WHERE expires > ? AND name IN ({', '.join('?' * len(part))})"
        found.update((name, Counter(int(value), float(expires))) for name, value, expires in conn.execute(sql, (now, *part)))
    return [found.get(name, Counter(0, 0.0)) for name in names]
