"""Prometheus metrics (prometheus-client): requests, errors, latency, time to first token, tokens,
cost, in-flight requests, upstream failures and active cooldowns, by provider, model and credential
slot id (never a key).

Each gateway has its own registry (tests run many gateways in one process). With `--workers`, the
supervisor sets PROMETHEUS_MULTIPROC_DIR before the workers start: prometheus-client then keeps
every worker's values in files there, and `/metrics` on any worker reads them all, so the counts
are the whole server's. Cooldowns are read from the worker's own book at scrape time; the book is
shared through the store, so every worker sees the same ones.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from babelgate.observe.records import RequestRecord
from babelgate.store.base import Entry

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class _Cooldowns(Collector):
    def __init__(self, entries: Callable[[], list[Entry]]) -> None:
        self.entries = entries

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("babelgate_cooldowns_active", "Credentials cooling down now", labels=["credential", "reason"])
        now = time.time()
        counts: dict[tuple[str, str], int] = {}
        for entry in self.entries():
            if entry.active(now):
                key = (entry.credential, entry.reason.value)
                counts[key] = counts.get(key, 0) + 1
        for (credential, reason), count in sorted(counts.items()):
            family.add_metric([credential, reason], count)
        yield family


class Metrics:
    def __init__(self, cooldowns: Callable[[], list[Entry]]) -> None:
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        own = CollectorRegistry()
        self.requests = Counter("babelgate_requests", "Requests answered", ["dialect", "provider", "model", "status"], registry=own)
        self.errors = Counter("babelgate_errors", "Requests answered with an error, by kind", ["kind"], registry=own)
        self.latency = Histogram(
            "babelgate_request_duration_seconds", "Time to the last byte", ["provider"], buckets=LATENCY_BUCKETS, registry=own
        )
        self.ttft = Histogram(
            "babelgate_time_to_first_token_seconds", "Time to a stream's first byte", ["provider"], buckets=LATENCY_BUCKETS, registry=own
        )
        self.tokens = Counter("babelgate_tokens", "Tokens", ["provider", "model", "type"], registry=own)
        self.cost = Counter("babelgate_cost_usd", "Cost from the price table", ["provider", "model"], registry=own)
        self.failures = Counter("babelgate_upstream_failures", "Failed upstream attempts", ["credential", "reason"], registry=own)
        self.in_flight = Gauge("babelgate_in_flight_requests", "Requests being answered", registry=own, multiprocess_mode="livesum")
        self.registry = own
        if self.multiprocess_dir:
            self.registry = CollectorRegistry()
            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        self.registry.register(_Cooldowns(cooldowns))
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """`metric.labels(*labels)`, remembered: prometheus-client checks and locks on every `labels` call (4 µs)."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, record: RequestRecord, error_kind: str) -> None:
        provider = record.provider or "none"
        model = record.target.split("/", 1)[-1] if record.target else ""
        self._child(self.requests, record.dialect or "none", provider, model, str(record.status)).inc()
        if error_kind:
            self._child(self.errors, error_kind).inc()
        self._child(self.latency, provider).observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            self._child(self.ttft, provider).observe(record.ttft_ms / 1000)
        if record.target:
            for kind, count in (
                ("input", record.input_tokens),
                ("output", record.output_tokens),
                ("cache_read", record.cache_read_tokens),
                ("cache_write", record.cache_write_tokens),
            ):
                if count:
                    self._child(self.tokens, provider, model, kind).inc(count)
            if record.cost:
                self._child(self.cost, provider, model).inc(record.cost)
        for attempt in record.attempts:
            self._child(self.failures, attempt.credential, attempt.reason).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
