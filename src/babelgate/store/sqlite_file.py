"""The SQLite store's file: where it lives, its schema, how it is created (0600 in a 0700 folder) and
switched to WAL. store/sqlite.py runs everything else."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS cooldowns (
    credential  TEXT NOT NULL,
    model       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    until       REAL,              -- NULL: until the credential is cleared
    strikes     INTEGER NOT NULL,
    last_status INTEGER,
    PRIMARY KEY (credential, model)
);
CREATE TABLE IF NOT EXISTS bindings (
    session_key TEXT PRIMARY KEY,
    credential  TEXT NOT NULL,
    expires     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS bindings_expires ON bindings (expires);
CREATE TABLE IF NOT EXISTS reasoning (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reasoning_expires ON reasoning (expires);
CREATE TABLE IF NOT EXISTS credentials (
    provider TEXT NOT NULL,
    name     TEXT NOT NULL,
    key      TEXT NOT NULL,
    PRIMARY KEY (provider, name)
);
CREATE TABLE IF NOT EXISTS versions (
    name  TEXT PRIMARY KEY,            -- 'cooldowns': changed by every write of them
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    day           TEXT NOT NULL,
    credential    TEXT NOT NULL,
    model         TEXT NOT NULL,
    requests      INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    PRIMARY KEY (day, credential, model)
);
"""


def default_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state) / "babelgate" / "state.db"


class StoreUnavailable(OSError):
    """The store file cannot be created or opened; the message names `store.path` and why."""


def create_private(path: Path) -> None:
    """The store's directory (0700 when created here) and file (0600, tightened if it was looser)."""
    for parent in (path.parent, *path.parent.parents):
        if parent.exists() and not parent.is_dir():
            raise NotADirectoryError(20, f"{parent} is a file, not a directory")
    if not path.parent.is_dir():
        path.parent.mkdir(mode=0o700, parents=True)
    if path.is_dir():
        raise IsADirectoryError(21, "it is a directory; store.path names the database file")
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def switch_to_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Turn on WAL. SQLite answers "locked" at once, without its busy handler, while another
    process does the same on a new file (workers starting together), so retry until the timeout."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # on the store's own worker thread, never the event loop
