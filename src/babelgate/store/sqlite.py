"""The embedded default store: one SQLite file in WAL mode, shared safely by several processes.

The gateway writes its changes with `apply` (store/journal.py gathers them): one transaction per
batch, committed before the answer that caused them ends. With `synchronous = NORMAL` a commit is in
the WAL file (the operating system's cache) when it returns, so it survives the process being
killed (`kill -9`, an OOM kill); a power cut may lose the last commits, never corrupt the file.

All database work runs in one dedicated worker thread that owns the connection (a single-thread
executor), so the event loop never waits on disk or on another process's lock. The connection is
opened and the schema created by the first job of that thread, so constructing a store is cheap
and never blocks. WAL lets readers run beside one writer; the busy timeout makes a writer wait for
another process's write instead of failing with "database is locked".

Default file: `$XDG_STATE_HOME/babelgate/state.db`, i.e. `~/.local/state/babelgate/state.db`.
The file is created 0600 (SQLite gives its -wal and -shm files the same mode), a directory it
creates 0700; keys added with `babelgate accounts add` are stored encrypted (store/keys.py).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from babelgate.store import redo, request_log, sqlite_counters, sqlite_file
from babelgate.store import sqlite_jobs as jobs
from babelgate.store.base import Changes, Counter, Entry, Increment, LoggedRequest, RequestFilter, Usage
from babelgate.store.keys import KeyCipher
from babelgate.store.shared import Change, Listener
from babelgate.store.sqlite_file import StoreUnavailable, default_path

__all__ = ["SqliteStore", "StoreUnavailable", "default_path"]

T = TypeVar("T")

BUSY_TIMEOUT = 10.0  # seconds a write waits for another process's write lock
STALE_COOLDOWN = 86400.0  # expired cooldowns older than this are dropped when loading
WATCH_SECONDS = 0.25  # how often the file is asked whether another process changed the cooldowns


class SqliteStore:
    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = BUSY_TIMEOUT,
        cipher: KeyCipher | None = None,
    ) -> None:
        self.path = Path(path).expanduser() if path else sqlite_file.default_path()
        self.cipher = cipher or KeyCipher()
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._pruned = 0.0  # when expired counters were last deleted
        self.redo: redo.RedoLog | None = None  # the gateway's, once `start_redo_log` opened it
        self._listeners: list[Listener] = []
        self._watcher: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="babelgate-sqlite")
        self._opened = self._executor.submit(self._open, busy_timeout)  # the worker's first job

    async def apply(self, changes: Changes) -> None:
        """Every change in one transaction: all of them reach the file, or none (and the caller
        may apply them again without counting usage twice)."""
        await self._run(jobs.apply, changes, self._clock())

    # The redo log (store/redo.py): what the gateway's journal appends before an answer ends.

    async def start_redo_log(self) -> redo.RedoLog:
        """Replay what earlier processes left unapplied, then open this process's redo file."""
        await self._run(redo.recover, self.path, self._clock())
        self.redo = redo.RedoLog(self.path)
        return self.redo

    async def apply_logged(self, changes: Changes, seq: int) -> None:
        """`apply`, marking the redo log's batches up to `seq` as applied in the same transaction."""
        assert self.redo is not None, "start_redo_log comes first"
        await self._run(redo.apply_logged, changes, self._clock(), self.redo.name, seq)

    # Cooldowns.

    async def load_cooldowns(self) -> list[Entry]:
        rows = await self._run(jobs.load_cooldowns, self._clock() - STALE_COOLDOWN)
        return [entry for entry in map(jobs.entry, rows) if entry is not None]

    async def save_cooldown(self, entry: Entry) -> None:
        await self._run(jobs.save_cooldown, jobs.cooldown_row(entry))

    async def delete_cooldowns(self, credential: str, model: str | None = None) -> None:
        await self._run(jobs.delete_cooldowns, credential, model)

    # Session bindings.

    async def get_binding(self, session_key: str) -> str | None:
        sql = "SELECT credential FROM bindings WHERE session_key = ? AND expires > ?"
        rows = await self._run(_query, sql, (session_key, self._clock()))
        return str(rows[0][0]) if rows else None

    async def set_binding(self, session_key: str, credential: str, ttl: float) -> None:
        await self._run(jobs.set_binding, session_key, credential, self._clock(), ttl)

    # Cached reasoning state.

    async def put_reasoning(self, entries: Mapping[str, str], ttl: float) -> None:
        if entries:
            await self._run(_put_reasoning, dict(entries), self._clock(), ttl)

    async def get_reasoning(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(keys), 500):  # well under SQLite's limit on bound parameters
            batch = keys[start : start + 500]
            sql = f"SELECT key, value FROM reasoning WHERE key IN ({', '.join('?' * len(batch))}) AND expires > ?"
            rows = await self._run(_query, sql, (*batch, self._clock()))
            found.update((str(key), str(value)) for key, value in rows)
        return found

    # Usage.

    async def add_usage(self, credential: str, model: str, day: str, requests: int, input_tokens: int, output_tokens: int) -> None:
        await self._run(_execute, jobs.ADD_USAGE, (day, credential, model, requests, input_tokens, output_tokens))

    async def usage_for_day(self, day: str) -> list[Usage]:
        rows = await self._run(
            _query,
            "SELECT credential, model, day, requests, input_tokens, output_tokens FROM usage WHERE day = ? ORDER BY credential, model",
            (day,),
        )
        return [Usage(*row) for row in rows]

    # Named counters (the client keys' limits; store/sqlite_counters.py).

    async def add_counters(self, increments: list[Increment]) -> list[Counter]:
        now = self._clock()
        prune = now - self._pruned > sqlite_counters.PRUNE_SECONDS  # on the event loop: no lock needed
        self._pruned = now if prune else self._pruned
        return await self._run(sqlite_counters.add, now, increments, prune)

    async def read_counters(self, names: list[str]) -> list[Counter]:
        return await self._run(sqlite_counters.read, self._clock(), names)

    # Credentials added with `babelgate accounts add`.

    async def add_credential(self, provider: str, name: str, key: str) -> None:
        await self._run(_add_credential, provider, name, key, self.cipher)

    async def remove_credential(self, provider: str, name: str) -> bool:
        rows = await self._run(_query, "DELETE FROM credentials WHERE provider = ? AND name = ? RETURNING name", (provider, name))
        return bool(rows)

    async def credentials(self) -> list[tuple[str, str, str]]:
        return await self._run(_credentials, self.cipher)

    # The request log (store/request_log.py).

    async def log_requests(self, rows: list[LoggedRequest]) -> None:
        await self._run(request_log.insert, rows)

    async def recent_requests(self, limit: int, where: RequestFilter) -> list[dict[str, Any]]:
        return await self._run(request_log.recent, limit, where)

    async def logged_request(self, request_id: str) -> LoggedRequest | None:
        return await self._run(request_log.one, request_id)

    async def prune_requests(self, older_than: float, max_bytes: int) -> None:
        await self._run(request_log.prune, older_than, max_bytes)

    # Sharing (store/shared.py): other processes on the same file (`--workers`, `babelgate accounts`).

    def watch(self, listener: Listener) -> None:
        """Tell `listener` when another process changed the cooldowns: the file's cooldowns version is
        read every WATCH_SECONDS (one indexed row on the store's thread), so a sibling worker adopts a
        new cooldown within that, not at its next sync. The first read is queued at once, so a change
        made after any later job of this store is seen."""
        self._listeners.append(listener)
        if self._watcher is None:
            first = asyncio.wrap_future(self._executor.submit(self._call, jobs.cooldowns_version, ()))
            self._watcher = asyncio.get_running_loop().create_task(self._watch_cooldowns(first))

    def health(self) -> dict[str, Any]:
        return {"state": "up", "type": "sqlite"}

    async def _watch_cooldowns(self, first: Awaitable[int]) -> None:
        seen = await _version_or_none(first)
        while not self._closed:
            await asyncio.sleep(WATCH_SECONDS)
            version = await _version_or_none(self._run(jobs.cooldowns_version))
            if version is None:
                continue  # closed meanwhile, or the file is busy: asked again later
            if seen is not None and version != seen:
                for listener in self._listeners:
                    listener(Change("cooldowns"))
            seen = version

    # Lifecycle: everything below runs the connection on the worker thread only.

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._watcher is not None:
            self._watcher.cancel()
        if self.redo is not None:
            self.redo.close()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_connection)
        self._executor.shutdown(wait=False)

    async def _run(self, job: Callable[..., T], *args: object) -> T:
        if self._closed:
            raise RuntimeError(f"the store at {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, job, args)

    def _call(self, job: Callable[..., T], args: tuple[object, ...]) -> T:
        self._opened.result()  # done already (an earlier job on this thread); re-raises an open error
        assert self._conn is not None
        return job(self._conn, *args)

    def _open(self, busy_timeout: float) -> None:
        try:
            sqlite_file.create_private(self.path)
            conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)  # autocommit
            sqlite_file.switch_to_wal(conn, busy_timeout)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(sqlite_file.SCHEMA + request_log.SCHEMA + sqlite_counters.SCHEMA + redo.SCHEMA)
        except (OSError, sqlite3.Error) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise sqlite_file.StoreUnavailable(f"store.path: cannot open the store at {self.path}: {reason}") from None
        self._conn = conn

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


async def _version_or_none(read: Awaitable[int]) -> int | None:
    try:
        return await read
    except (RuntimeError, OSError, sqlite3.Error):
        return None


# Jobs: plain functions of the connection, run on the worker thread.


def _execute(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> None:
    conn.execute(sql, params)


def _query(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params).fetchall()


def _put_reasoning(conn: sqlite3.Connection, entries: dict[str, str], now: float, ttl: float) -> None:
    conn.execute("BEGIN IMMEDIATE")  # one transaction: the entries of one answer land together
    try:
        conn.execute("DELETE FROM reasoning WHERE expires <= ?", (now,))
        conn.executemany("INSERT OR REPLACE INTO reasoning VALUES (?, ?, ?)", [(k, v, now + ttl) for k, v in entries.items()])
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _add_credential(conn: sqlite3.Connection, provider: str, name: str, key: str, cipher: KeyCipher) -> None:
    conn.execute("INSERT OR REPLACE INTO credentials VALUES (?, ?, ?)", (provider, name, cipher.encrypt(key)))


def _credentials(conn: sqlite3.Connection, cipher: KeyCipher) -> list[tuple[str, str, str]]:
    """The stored keys, decrypted; a plaintext one (an older babelgate wrote it) is encrypted in place."""
    out = []
    for provider, name, stored in conn.execute("SELECT provider, name, key FROM credentials ORDER BY provider, name").fetchall():
        key = cipher.decrypt(str(stored))
        if key == stored:
            conn.execute("UPDATE credentials SET key = ? WHERE provider = ? AND name = ?", (cipher.encrypt(key), provider, name))
        out.append((str(provider), str(name), key))
    return out
