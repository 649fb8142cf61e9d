"""The SQLite store's jobs for the gateway's own state (cooldowns, bindings, usage): plain functions
of the connection, run on the store's thread (store/sqlite.py). `apply` writes a journal batch
(store/journal.py) in one transaction."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from typing import Any

from babelgate.providers.classify import Reason
from babelgate.store.base import Changes, Entry

SAVE_COOLDOWN = "INSERT OR REPLACE INTO cooldowns VALUES (?, ?, ?, ?, ?, ?)"
ADD_USAGE = (
    "INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (day, credential, model) DO UPDATE SET "
    "requests = requests + excluded.requests, input_tokens = input_tokens + excluded.input_tokens, "
    "output_tokens = output_tokens + excluded.output_tokens"
)


BUMP = "INSERT INTO versions VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1"


def cooldowns_version(conn: sqlite3.Connection) -> int:
    """A number every write of cooldowns changes (other processes watch it: store/sqlite.py)."""
    row = conn.execute("SELECT value FROM versions WHERE name = 'cooldowns'").fetchone()
    return int(row[0]) if row else 0


def save_cooldown(conn: sqlite3.Connection, row: tuple[object, ...]) -> None:
    with conn:
        conn.execute(SAVE_COOLDOWN, row)
        conn.execute(BUMP, ("cooldowns",))


def delete_cooldowns(conn: sqlite3.Connection, credential: str, model: str | None) -> None:
    with conn:
        if model is None:
            conn.execute("DELETE FROM cooldowns WHERE credential = ?", (credential,))
        else:
            conn.execute("DELETE FROM cooldowns WHERE credential = ? AND model = ?", (credential, model))
        conn.execute(BUMP, ("cooldowns",))


def load_cooldowns(conn: sqlite3.Connection, stale_before: float) -> list[tuple[Any, ...]]:
    conn.execute("DELETE FROM cooldowns WHERE until < ?", (stale_before,))
    return conn.execute("SELECT credential, model, reason, until, strikes, last_status FROM cooldowns").fetchall()


def apply(conn: sqlite3.Connection, changes: Changes, now: float, also: Callable[[], object] | None = None) -> None:
    """Every change in one transaction, with `also` (the redo log's mark, store/redo.py) in it too."""
    conn.execute("BEGIN IMMEDIATE")  # take the write lock now (waiting up to the busy timeout), not midway
    try:
        if changes.cleared:
            conn.executemany("DELETE FROM cooldowns WHERE credential = ? AND model = ?", changes.cleared)
        if changes.cooldowns:
            conn.executemany(SAVE_COOLDOWN, map(cooldown_row, changes.cooldowns.values()))
        if changes.cleared or changes.cooldowns:
            conn.execute(BUMP, ("cooldowns",))
        if changes.bindings:
            conn.execute("DELETE FROM bindings WHERE expires <= ?", (now,))
            rows = ((session, credential, now + ttl) for session, (credential, ttl) in changes.bindings.items())
            conn.executemany("INSERT OR REPLACE INTO bindings VALUES (?, ?, ?)", rows)
        if changes.usage:
            conn.executemany(ADD_USAGE, [(day, cred, model, *counts) for (cred, model, day), counts in changes.usage.items()])
        if also is not None:
            also()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def cooldown_row(entry: Entry) -> tuple[object, ...]:
    until = entry.until if math.isfinite(entry.until) else None
    return (entry.credential, entry.model, entry.reason.value, until, entry.strikes, entry.last_status)


def set_binding(conn: sqlite3.Connection, session_key: str, credential: str, now: float, ttl: float) -> None:
    conn.execute("DELETE FROM bindings WHERE expires <= ?", (now,))
    conn.execute("INSERT OR REPLACE INTO bindings VALUES (?, ?, ?)", (session_key, credential, now + ttl))


def entry(row: tuple[Any, ...]) -> Entry | None:
    credential, model, reason, until, strikes, last_status = row
    try:
        known = Reason(reason)
    except ValueError:  # written by a newer version: ignore
        return None
    return Entry(credential, model, known, math.inf if until is None else until, strikes, last_status)
