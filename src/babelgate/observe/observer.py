"""Where finished requests go: priced, counted in the metrics, kept for the dashboard's live view,
and queued for the store's request log (written with the rest of the state at each sync).

Bodies are captured per `observe.capture` (off, errors, all), capped at `capture_max_kb`, with
every secret the gateway knows masked wherever it appears (babelgate/redact.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from babelgate import ir
from babelgate.config import Config
from babelgate.observe.metrics import Metrics
from babelgate.observe.prices import PriceTable
from babelgate.observe.records import RequestRecord
from babelgate.redact import REDACTOR
from babelgate.store.base import Entry, LoggedRequest, Store

RECENT = 1000  # records kept in memory for the live view
SUBSCRIBER_QUEUE = 256  # a live view that falls this far behind misses records (it reloads from the store)
PRUNE_EVERY = 300.0  # seconds between request-log retention passes


class Observer:
    def __init__(self, config: Config, cooldowns: Callable[[], list[Entry]]) -> None:
        self.configure(config)
        self.metrics = Metrics(cooldowns)
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []  # told of every finished request (observe/sessions.py)
        self.in_flight = 0  # requests this process is answering now
        self._pending: list[LoggedRequest] = []
        self._pruned = 0.0

    def configure(self, config: Config) -> None:
        """The `observe:` settings; called again when the config is reloaded."""
        observe = config.observe
        self.capture = observe.capture
        self.capture_limit = observe.capture_max_kb * 1024
        self.retention_seconds = observe.retention.days * 86400
        self.retention_bytes = int(observe.retention.max_mb * 1024 * 1024)
        self.prices = PriceTable(observe.prices)

    def begin(self) -> None:
        self.in_flight += 1
        self.metrics.in_flight.inc()

    def end(self) -> None:
        self.in_flight -= 1
        self.metrics.in_flight.dec()

    def wants_bodies(self) -> bool:
        return self.capture != "off"

    def finish(self, record: RequestRecord, error_kind: str, request_body: bytes | None, response_body: bytes | None) -> None:
        if record.target:
            usage = ir.Usage(record.input_tokens, record.output_tokens, record.cache_read_tokens, record.cache_write_tokens)
            record.cost = round(self.prices.cost(record.target.split("/", 1)[-1], usage), 8)
        if record.error:
            record.error = REDACTOR(record.error)  # an upstream may echo a key, an address its credentials
        for attempt in record.attempts:
            attempt.message = REDACTOR(attempt.message)
        if self.capture == "all" or (self.capture == "errors" and record.status >= 400):
            record.request_body = self._redact(request_body)
            record.response_body = self._redact(response_body)
        self.metrics.observe(record, error_kind)
        summary = record.summary()
        self.recent.append(summary)
        self._pending.append(LoggedRequest(record.id, record.started, summary, record.request_body, record.response_body))
        for listener in self.listeners:
            listener(summary)
        for queue in self.subscribers:
            if queue.qsize() < SUBSCRIBER_QUEUE:
                queue.put_nowait(summary)

    def _redact(self, body: bytes | None) -> bytes | None:
        if body is None:
            return None
        text = bytes(body[: self.capture_limit]).decode("utf-8", "surrogateescape")
        return REDACTOR(text).encode("utf-8", "surrogateescape")

    async def flush(self, store: Store) -> None:
        """Write the finished requests to the store's log; now and then, apply the retention limits."""
        pending, self._pending = self._pending, []
        if pending:
            await store.log_requests(pending)
        now = time.time()
        if now - self._pruned > PRUNE_EVERY:
            self._pruned = now
            await store.prune_requests(now - self.retention_seconds, self.retention_bytes)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.subscribers.discard(queue)
