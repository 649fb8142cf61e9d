"""The gateway's writes to the store, gathered and committed before the answers that caused them end.

The router queues every cooldown it sets or clears and every session binding (`cooldown`,
`cleared`, `binding`); the usage ledger's counts are taken at each write. `durable()` waits until
everything queued so far is in the store: the router awaits it before the next attempt after a
failure and before an answer it changed state for, and the usage addon's settle hook awaits it
before the last bytes of an answer reach the client. So a `kill -9` loses no cooldown that steered
a request elsewhere and no usage of an answer the client received.

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
from typing import Protocol

from babelgate.store.base import Changes, Entry, Store

log = logging.getLogger("babelgate.store")
DURABLE_SECONDS = 5.0  # the longest an answer waits for its writes before going out without them


class Tally(Protocol):
    requests: int
    input_tokens: int
    output_tokens: int


UsageCounts = Mapping[tuple[str, str, str], Tally]  # (credential, model, day) → what was counted


class Journal:
    def __init__(self, store: Store, usage: Callable[[], UsageCounts] | None = None) -> None:
        self.store = store
        self._usage = usage  # hands over the usage counted since it was last called (UsageLedger.drain)
        self._queued = Changes()
        self._writing = Changes()  # the batch being applied now
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

    def unwritten(self) -> Changes:
        """What is queued or being written, not yet in the store (for a reload of the store's cooldowns)."""
        both = Changes()
        self._queued.under(both)  # the newest first: `under` keeps what `both` already has
        self._writing.under(both)
        return both

    async def durable(self) -> None:
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
            batch, self._queued = self._queued, Changes()
            self._take_usage(batch)
            if not batch and not waiters:
                return
            self._writing = batch
            started = time.monotonic()
            try:
                if batch:
                    await self.store.apply(batch)
            except Exception as error:
                self.failures += 1
                batch.under(self._queued)
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
