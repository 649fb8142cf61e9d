"""The request log in SQLite: one row per request, the summary as JSON beside the columns it is
filtered by, and captured bodies when there are any. The jobs run on the store's worker thread."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from babelgate.store.base import LoggedRequest, RequestFilter

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id            TEXT PRIMARY KEY,
    started       REAL NOT NULL,
    status        INTEGER NOT NULL,
    model         TEXT NOT NULL,
    target        TEXT NOT NULL,
    provider      TEXT NOT NULL,
    size          INTEGER NOT NULL,
    summary       BLOB NOT NULL,
    request_body  BLOB,
    response_body BLOB
);
CREATE INDEX IF NOT EXISTS requests_started ON requests (started);
"""


def insert(conn: sqlite3.Connection, rows: list[LoggedRequest]) -> None:
    values = [
        (
            row.id,
            row.started,
            row.summary["status"],
            row.summary["model"],
            row.summary["target"],
            row.summary["provider"],
            row.size,
            orjson.dumps(row.summary),
            row.request_body,
            row.response_body,
        )
        for row in rows
    ]
    with conn:
        conn.executemany("INSERT OR REPLACE INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)


def recent(conn: sqlite3.Connection, limit: int, where: RequestFilter) -> list[dict[str, Any]]:
    clauses, params = _clauses(where)
    sql = f"SELECT summary FROM requests {clauses} ORDER BY started DESC LIMIT ?"
    return [orjson.loads(row[0]) for row in conn.execute(sql, (*params, limit))]


def one(conn: sqlite3.Connection, request_id: str) -> LoggedRequest | None:
    row = conn.execute("SELECT id, started, summary, request_body, response_body FROM requests WHERE id = ?", (request_id,)).fetchone()
    if row is None:
        return None
    return LoggedRequest(row[0], row[1], orjson.loads(row[2]), row[3], row[4])


def prune(conn: sqlite3.Connection, older_than: float, max_bytes: int) -> None:
    """Rows older than `older_than` go, then every row past the newest `max_bytes`."""
    with conn:
        conn.execute("DELETE FROM requests WHERE started < ?", (older_than,))
        conn.execute(
            "DELETE FROM requests WHERE id IN (SELECT id FROM "
            "(SELECT id, SUM(size) OVER (ORDER BY started DESC) AS kept FROM requests) WHERE kept > ?)",
            (max_bytes,),
        )


def _clauses(where: RequestFilter) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if where.model is not None:
        parts.append("(target = ? OR model = ?)")
        params += [where.model, where.model]
    if where.provider is not None:
        parts.append("provider = ?")
        params.append(where.provider)
    if where.status is not None:
        if where.status < 10:
            parts.append("status / 100 = ?")
        else:
            parts.append("status = ?")
        params.append(where.status)
    if where.before is not None:
        parts.append("started < ?")
        params.append(where.before)
    if where.since is not None:
        parts.append("started >= ?")
        params.append(where.since)
    return ("WHERE " + " AND ".join(parts)) if parts else "", params
