"""The SQLite store's redo log: each batch of the gateway's writes appended to a file of this process's
before the answer that caused it ends, and applied to the database behind it.

Why: an answer must not end before its usage and the cooldowns it caused would survive `kill -9`
(store/journal.py). Waiting for an SQLite commit costs a hop to the store's thread and back for every
answer, which a lone client pays in full (about 0.5 ms a request). Appending one line to a file costs
one `write` into the operating system's cache, which survives the process being killed as a commit
with `synchronous = NORMAL` does (a power cut may lose either).

The files are `<store file>.redo.<token>.<n>`, 0600, one JSON line per batch: `[seq, cooldowns,
cleared, bindings, usage]`. The process holds an exclusive `flock` on each while it is in use. The
journal applies the logged batches to the database in the background, and the transaction that
applies them also records the highest `seq` applied (table `redo`, by token), so a batch is applied
exactly once. Once everything appended is applied, the file is emptied; under steady load (the
database never quite catches up) a file past ROTATE_BYTES is followed by the next, and removed once
its batches are applied; when the store closes, the files go.

At start, `recover` replays the files no live process holds (a worker killed with `kill -9`, the
whole server killed): each line above the `seq` the database has for that file, in order, in one
transaction, then the file is removed. A line cut short (a power cut mid-write) ends the file.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import orjson

from babelgate.store import sqlite_jobs as jobs
from babelgate.store.base import Changes

SCHEMA = """
CREATE TABLE IF NOT EXISTS redo (
    log TEXT PRIMARY KEY,   -- a redo file's name
    seq INTEGER NOT NULL    -- the last of its batches applied
);
"""
ROTATE_BYTES = 4 * 1024 * 1024  # a redo file this large is followed by a new one
MARK = "INSERT INTO redo VALUES (?, ?) ON CONFLICT (log) DO UPDATE SET seq = excluded.seq"


class RedoLog:
    """This process's redo files (opened on the event loop: at start, and each ROTATE_BYTES; appends are one `write`)."""

    def __init__(self, store_path: Path) -> None:
        self.name = f"{store_path.name}.redo.{secrets.token_hex(6)}"  # this process's; its files add `.<n>`
        self._folder = store_path.parent
        self._files: list[tuple[int, Path, int]] = []  # (fd, path, its last seq): full files not yet all applied
        self._number = 0
        self._fd, self._path = self._open()
        self._size = 0
        self.seq = 0  # the last batch appended
        self.applied = 0  # the last batch the database has

    def _open(self) -> tuple[int, Path]:
        self._number += 1
        path = self._folder / f"{self.name}.{self._number}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new name: nobody else holds it
        return fd, path

    def append(self, batch: Changes) -> int:
        if self._size > ROTATE_BYTES:  # under steady load the database never quite catches up: a new file
            self._files.append((self._fd, self._path, self.seq))
            self._fd, self._path = self._open()
            self._size = 0
        self.seq += 1
        line = encode(self.seq, batch)
        os.write(self._fd, line)
        self._size += len(line)
        return self.seq

    def mark_applied(self, seq: int) -> None:
        self.applied = max(self.applied, seq)
        while self._files and self._files[0][2] <= self.applied:
            fd, path, _ = self._files.pop(0)
            path.unlink(missing_ok=True)
            os.close(fd)
        if self.applied == self.seq and self._size:  # everything appended is in the database
            os.ftruncate(self._fd, 0)
            self._size = 0

    def close(self) -> None:
        """Remove the files if the database has everything in them (else leave them for `recover`)."""
        if self._fd < 0:
            return
        done = self.applied == self.seq
        for fd, path in [(fd, path) for fd, path, _ in self._files] + [(self._fd, self._path)]:
            if done:
                path.unlink(missing_ok=True)
            os.close(fd)
        self._files, self._fd = [], -1


def encode(seq: int, batch: Changes) -> bytes:
    cooldowns = [jobs.cooldown_row(entry) for entry in batch.cooldowns.values()]
    bindings = [[session, credential, ttl] for session, (credential, ttl) in batch.bindings.items()]
    usage = [[*key, *counts] for key, counts in batch.usage.items()]
    return orjson.dumps([seq, cooldowns, sorted(batch.cleared), bindings, usage]) + b"\n"


def decode(line: bytes) -> tuple[int, Changes]:
    seq, cooldowns, cleared, bindings, usage = orjson.loads(line)
    batch = Changes()
    for row in cooldowns:
        entry = jobs.entry(tuple(row))
        if entry is not None:
            batch.save(entry)
    for credential, model in cleared:
        batch.clear(credential, model)
    for session, credential, ttl in bindings:
        batch.bindings[session] = (credential, ttl)
    for credential, model, day, requests, input_tokens, output_tokens in usage:
        batch.count((credential, model, day), requests, input_tokens, output_tokens)
    return int(seq), batch


def apply_logged(conn: sqlite3.Connection, batch: Changes, now: float, log: str, seq: int) -> None:
    """`sqlite_jobs.apply` with the log's mark in the same transaction."""
    jobs.apply(conn, batch, now, lambda: conn.execute(MARK, (log, seq)))


def recover(conn: sqlite3.Connection, store_path: Path, now: float) -> int:
    """Replay the redo files no live process holds; returns how many batches were applied. A job of
    the store's thread (file reads and the database)."""
    logs: dict[str, list[Path]] = {}
    for path in store_path.parent.glob(f"{store_path.name}.redo.*.*"):
        logs.setdefault(path.name.rsplit(".", 1)[0], []).append(path)
    replayed = 0
    for name, paths in sorted(logs.items()):
        paths.sort(key=_number)
        held = _unheld(paths)
        if held is None:
            continue  # a live process's own
        try:
            batches = [batch for path in paths for batch in _batches(path)]
            replayed += _replay(conn, name, batches, now)
            for path in paths:
                path.unlink(missing_ok=True)
        finally:
            for fd in held:
                os.close(fd)
    live = sorted({path.name.rsplit(".", 1)[0] for path in store_path.parent.glob(f"{store_path.name}.redo.*.*")})
    with conn:  # the marks of logs gone (closed cleanly, or replayed above)
        conn.execute(f"DELETE FROM redo WHERE log NOT IN ({', '.join('?' * len(live))})", live)
    return replayed


def _number(path: Path) -> int:
    """A redo file's place in its log (`.<n>` at the end of its name)."""
    tail = path.name.rsplit(".", 1)[1]
    return int(tail) if tail.isdigit() else 0


def _unheld(paths: list[Path]) -> list[int] | None:
    """Lock every file of one log (their fds, to close after); None when a live process holds one."""
    fds: list[int] = []
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # removed by its owner meanwhile
        fds.append(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            for opened in fds:
                os.close(opened)
            return None
    return fds


def _batches(path: Path) -> list[tuple[int, Changes]]:
    batches: list[tuple[int, Changes]] = []
    for line in path.read_bytes().split(b"\n"):
        if not line:
            continue
        try:
            batches.append(decode(line))
        except (orjson.JSONDecodeError, ValueError, TypeError):
            break  # cut short: nothing after it was acknowledged
    return batches


def _replay(conn: sqlite3.Connection, name: str, batches: list[tuple[int, Changes]], now: float) -> int:
    row: Any = conn.execute("SELECT seq FROM redo WHERE log = ?", (name,)).fetchone()
    done = int(row[0]) if row else 0
    pending = [(seq, batch) for seq, batch in batches if seq > done]
    if not pending:
        return 0
    merged = Changes()
    for _, batch in pending:  # oldest first: each newer batch wins where both set a key
        merged.under(batch)
        merged = batch
    apply_logged(conn, merged, now, name, pending[-1][0])
    return len(pending)
