"""SQLite's redo log (store/redo.py): batches appended before the answer ends are applied exactly once,
by this process behind the answers or, after a `kill -9`, by the next process to start."""

from __future__ import annotations

import math
import os
import sqlite3
from pathlib import Path

import pytest

from babelgate.providers.classify import Reason
from babelgate.store import redo
from babelgate.store.base import Changes, Entry
from babelgate.store.journal import Journal
from babelgate.store.sqlite import SqliteStore

DAY = "2026-12-02"


def usage(requests: int) -> Changes:
    batch = Changes()
    batch.count(("k1", "m", DAY), requests, 10 * requests, requests)
    return batch


def stored_requests(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COALESCE(SUM(requests), 0) FROM usage").fetchone()[0])


def logs(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.redo.*"))


async def test_a_killed_process_log_is_replayed_once_by_the_next(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = SqliteStore(path)
    log = await first.start_redo_log()
    log.append(usage(1))
    await first.apply_logged(usage(1), 1)  # the first batch reached the database; the next two did not
    log.mark_applied(1)
    cooling = Changes()
    cooling.save(Entry("k2", "m", Reason.AUTH, math.inf, 1, 401))
    log.append(usage(2))
    log.append(cooling)
    # kill -9: the process is gone without closing anything (its flock goes with it)
    first._executor.shutdown(wait=True)
    os.close(log._fd)
    assert stored_requests(path) == 1 and len(logs(path)) == 1

    second = SqliteStore(path)
    await second.start_redo_log()
    assert stored_requests(path) == 3  # batch 1 was marked applied: not counted twice
    assert [e.credential for e in await second.load_cooldowns()] == ["k2"]
    assert len(logs(path)) == 1  # the old log is gone; this is the second process's own
    await second.close()
    assert logs(path) == []  # closed with everything applied

    third = SqliteStore(path)
    await third.start_redo_log()
    assert stored_requests(path) == 3
    await third.close()


async def test_a_live_process_log_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    live = SqliteStore(path)
    log = await live.start_redo_log()
    log.append(usage(5))
    other = SqliteStore(path)
    await other.start_redo_log()
    assert stored_requests(path) == 0  # still the live process's to apply
    await live.apply_logged(usage(5), 1)
    log.mark_applied(1)
    assert stored_requests(path) == 5
    await other.close()
    await live.close()


async def test_a_line_cut_short_ends_the_log(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    leftover = path.with_name(f"{path.name}.redo.0123456789ab.1")
    path.parent.mkdir(exist_ok=True)
    leftover.write_bytes(redo.encode(1, usage(2)) + redo.encode(2, usage(3))[:-7])
    store = SqliteStore(path)
    await store.start_redo_log()
    assert stored_requests(path) == 2
    await store.close()


async def test_under_steady_load_the_log_moves_to_new_files_and_drops_applied_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redo, "ROTATE_BYTES", 200)
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    journal = Journal(store)
    await journal.start()
    for n in range(30):
        journal.cooldown(Entry(f"k{n}", "m", Reason.RATE_LIMIT, 1e12, 1, 429))
        await journal.durable()  # appended; the writer applies behind
    assert len(logs(path)) > 1  # full files were followed by new ones
    await journal.stored()
    assert len(await store.load_cooldowns()) == 30
    assert len(logs(path)) == 1  # the full files were removed once applied; the current one is empty
    assert logs(path)[0].stat().st_size == 0
    await store.close()
    assert logs(path) == []
