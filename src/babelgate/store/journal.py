"""The gateway's writes to the store, gathered and committed before the answers that caused them end.

The router queues every cooldown it sets or clears and every session binding (`cooldown`,
`cleared`, `binding`); the usage ledger's counts are taken at each write. `durable()` makes
everything queued so far survive `kill -9`: the router awaits it before the next attempt after a
failure and before an answer it changed state for, and the usage addon's settle hook awaits it
before the last bytes of an answer reach the client. So a `kill -9` loses no cooldown that steered
a request elsewhere and no usage of an answer the client received. With SQLite, `durable()` appends
the batch to the store's redo log (store/redo.py: one `write`, nothing awaited) and the writer
applies it behind; with another store it waits for the store (`stored()`, which is also what
`/account-limits` awaits before reading the store).

One writer task applies one batch at a time (`Store.apply`: a single transaction in SQLite, on the
store's own thread), and whatever is queued while a batch is written goes into the next one: under
load many answers share one commit (group commit), and the event loop never waits on the disk.

A batch the store refuses (a locked or full disk) goes back under the newer changes, to be written
with the next batch: nothing is lost or counted twice, since a refused batch was not applied. The
answers waiting for it are let go after `DURABLE_SECONDS` at most; the writer retries at the next
`durable()` (the gateway's periodic sync calls it too).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from babelgate.store.base import Changes, Entry, Store

if TYPE_CHECKING:
    from babelgate.store.redo import RedoLog

log = logging.getLogger("babelgate.store")
DURABLE_SECONDS = 5.0  # the longest an answer waits for its writes before going out without them


class Tally(Protocol):
    requests: int
    input_tokens: int
    output_tokens: int


UsageCounts = Mapping[tuple[str, str, str], Tally]  # (credential, model, day) → what was counted


@runtime_checkable
class LoggingStore(Protocol):
    """A store with a redo log (store/redo.py: SQLite's)."""

    async def start_redo_log(self) -> RedoLog: ...

    async def apply_logged(self, changes: Changes, seq: int) -> None: ...


class Journal:
    def __init__(self, store: Store, usage: Callable[[], UsageCounts] | None = None) -> None:
        self.store = store
        self._usage = usage  # hands over the usage counted since it was last called (UsageLedger.drain)
        self._queued = Changes()
        self._redo: RedoLog | None = None  # open once `start` ran, for a store that keeps one
        self._logged = Changes()  # in the redo log, not yet in the store
        self._writing = Changes()  # the batch being applied now
        self._logged_seq = 0  # the redo log's last batch in `_logged`
        self._waiters: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None
        self.failures = 0  # batches the store refused (each is retried)

    def cooldown(self, entry: Entry) -> None:
        self._queued.save(entry)
        self._kick()

    def cleared(self, credential: str, model: str) -> None:
        self._queued.clear(credential, model)
        self._kick()

    def binding(self, session: str, credential: str, ttl: float) -> None:
        self._queued.bindings[session] = (credential, ttl)
        self._kick()

    async def start(self) -> None:
        """For a store with a redo log: replay what a killed process left, and log from now on."""
        if isinstance(self.store, LoggingStore):
            self._redo = await self.store.start_redo_log()

    def unwritten(self) -> Changes:
        """What is queued or being written, not yet in the store (for a reload of the store's cooldowns)."""
        both = Changes()
        self._queued.under(both)  # the newest first: `under` keeps what `both` already has
        self._logged.under(both)
        self._writing.under(both)
        return both

    async def durable(self) -> None:
        """Make everything queued so far, and the usage counted so far, survive `kill -9`: appended to
        the redo log where the store keeps one (one `write`, no wait), else in the store (`stored`)."""
        if self._redo is None or not self._log():
            await self.stored()

    def _log(self) -> bool:
        """Append what is queued to the redo log; False when the file refused it (it stays queued)."""
        assert self._redo is not None
        batch, self._queued = self._queued, Changes()
        self._take_usage(batch)
        if not batch:
            return True
        try:
            seq = self._redo.append(batch)
        except OSError as error:  # a full disk: the store's own commit is the way left
            log.error("store: could not append to the redo log (%s); waiting for the store instead", error)
            batch.under(self._queued)
            return False
        self._logged.under(batch)
        self._logged, self._logged_seq = batch, seq
        self._kick()
        return True

    async def stored(self) -> None:
        """Wait until everything queued so far, and the usage counted so far, is in the store
        (at most DURABLE_SECONDS; past that the writes stay queued and the wait ends)."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        self._kick()
        timer = loop.call_later(DURABLE_SECONDS, _expire, waiter)  # cheaper than wait_for: no task, no shield
        try:
            await waiter
        finally:
            timer.cancel()

    def _kick(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        while True:
            waiters, self._waiters = self._waiters, []
            if self._redo is not None:
                self._log()  # what is queued joins the log first; what the file refused stays queued, and goes too
                batch, self._queued = self._queued, Changes()
                self._logged.under(batch)
                seq, self._logged = self._logged_seq, Changes()
            else:
                batch, seq, self._queued = self._queued, 0, Changes()
                self._take_usage(batch)
            if not batch and not waiters:
                return
            self._writing = batch
            started = time.monotonic()
            try:
                if batch and self._redo is not None:
                    assert isinstance(self.store, LoggingStore)
                    await self.store.apply_logged(batch, seq)  # marks the log's batches up to `seq` applied
                    self._redo.mark_applied(seq)
                elif batch:
                    await self.store.apply(batch)
            except Exception as error:
                self.failures += 1
                batch.under(self._logged if self._redo is not None else self._queued)  # applied with the next batch
                log.error("store: could not write %s (%s); kept to retry", _describe(batch), error)
                _release(waiters)
                return  # retried at the next kick, not in a tight loop
            finally:
                self._writing = Changes()
            if time.monotonic() - started > 1.0:
                log.warning("store: a write took %.1fs (%s)", time.monotonic() - started, _describe(batch))
            _release(waiters)

    def _take_usage(self, batch: Changes) -> None:
        if self._usage is None:
            return
        for key, tally in self._usage().items():
            batch.count(key, tally.requests, tally.input_tokens, tally.output_tokens)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        log.warning("store: writes not confirmed within %.0fs; they stay queued", DURABLE_SECONDS)
        waiter.set_result(None)


def _release(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)


def _describe(batch: Changes) -> str:
    requests = sum(counts[0] for counts in batch.usage.values())
    return f"{len(batch.cooldowns)} cooldowns, {len(batch.cleared)} cleared, {len(batch.bindings)} bindings, usage of {requests} requests"
