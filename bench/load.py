"""Load generator: `python -m bench.load PLAN.json` prints one JSON result on stdout.

A fixed number of workers (the concurrency) each loop over the plan's request bodies on
their own keep-alive connection (aiohttp), from a warmup until the deadline, or for a
fixed number of requests. Each request records its latency and, for streams, the time
until the first content event arrived (`ttft_marker`). A request counts as an error
unless it got HTTP 200 and its body contained `done_marker`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

TAIL = 256


@dataclass(slots=True)
class Plan:
    url: str
    bodies: list[bytes]
    headers: dict[str, str]
    concurrency: int
    duration: float
    warmup: float = 0.0
    requests: int | None = None  # fixed count instead of a duration (each worker does its share)
    stream: bool = False
    ttft_marker: bytes = b"content_block_delta"
    done_marker: bytes = b""
    timeout: float = 60.0
    ramp: float = 0.0  # seconds over which the workers start
    rate: float | None = None  # offered requests per second across all workers (None: each worker sends back to back)

    @classmethod
    def load(cls, data: dict[str, Any]) -> Plan:
        return cls(
            url=str(data["url"]),
            bodies=[orjson.dumps(b) if not isinstance(b, str) else b.encode() for b in data["bodies"]],
            headers={str(k): str(v) for k, v in data.get("headers", {}).items()},
            concurrency=int(data["concurrency"]),
            duration=float(data["duration"]),
            warmup=float(data.get("warmup", 0.0)),
            requests=int(data["requests"]) if data.get("requests") is not None else None,
            stream=bool(data.get("stream", False)),
            ttft_marker=str(data.get("ttft_marker", "content_block_delta")).encode(),
            done_marker=str(data.get("done_marker", "")).encode(),
            timeout=float(data.get("timeout", 60.0)),
            ramp=float(data.get("ramp", 0.0)),
            rate=float(data["rate"]) if data.get("rate") else None,
        )


@dataclass(slots=True)
class Sample:
    start: float
    latency: float
    ttft: float | None
    ok: bool


@dataclass
class State:
    samples: list[Sample] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    began: float = 0.0
    sent: int = 0  # requests handed out by the pacer (rate mode)
    late: int = 0  # paced requests that could not start on time: every worker was busy
    open_streams: int = 0
    max_open_streams: int = 0
    all_open_at: float | None = None

    def error(self, message: str) -> None:
        self.errors[message] = self.errors.get(message, 0) + 1


async def _one(session: aiohttp.ClientSession, plan: Plan, body: bytes, state: State) -> Sample:
    started = time.perf_counter()
    ttft: float | None = None
    ok = False
    try:
        async with session.post(plan.url, data=body, headers=plan.headers) as response:
            if not plan.stream:
                data = await response.read()
                ok = response.status == 200 and plan.done_marker in data
                if not ok:
                    state.error(f"HTTP {response.status}: {data[:160]!r}")
                return Sample(started, time.perf_counter() - started, None, ok)
            state.open_streams += 1
            state.max_open_streams = max(state.max_open_streams, state.open_streams)
            if state.open_streams == plan.concurrency and state.all_open_at is None:
                state.all_open_at = time.perf_counter()
            try:
                tail = b""
                async for chunk in response.content.iter_any():
                    seen = tail + chunk
                    if ttft is None and plan.ttft_marker in seen:
                        ttft = time.perf_counter() - started
                    tail = seen[-TAIL:]
                ok = response.status == 200 and plan.done_marker in tail
                if not ok:
                    state.error(f"HTTP {response.status}, stream ended with {tail[-160:]!r}")
            finally:
                state.open_streams -= 1
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        state.error(f"{type(error).__name__}: {str(error)[:160]}")
    return Sample(started, time.perf_counter() - started, ttft, ok)


async def _worker(number: int, session: aiohttp.ClientSession, plan: Plan, state: State, deadline: float, share: int | None) -> None:
    if plan.ramp > 0:
        await asyncio.sleep(plan.ramp * number / plan.concurrency)
    position = number
    done = 0
    while time.perf_counter() < deadline and (share is None or done < share):
        if plan.rate:  # open loop: the n-th request of the run is due at n / rate
            due = state.began + state.sent / plan.rate
            state.sent += 1
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -0.001:
                state.late += 1
        body = plan.bodies[position % len(plan.bodies)]
        position += 1
        state.samples.append(await _one(session, plan, body, state))
        done += 1


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "min": ordered[0] * 1000,
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "max": ordered[-1] * 1000,
        "mean": sum(ordered) / len(ordered) * 1000,
    }


async def run(plan: Plan) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=plan.timeout)
    connector = aiohttp.TCPConnector(limit=plan.concurrency, limit_per_host=plan.concurrency, force_close=False)
    state = State()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, auto_decompress=False) as session:
        began = state.began = time.perf_counter()
        measure_from = began + plan.warmup
        deadline = measure_from + plan.duration
        share = None if plan.requests is None else -(-plan.requests // plan.concurrency)
        workers = [_worker(i, session, plan, state, deadline, share) for i in range(plan.concurrency)]
        await asyncio.gather(*workers)
        ended = time.perf_counter()
    kept = [s for s in state.samples if s.start >= measure_from]
    whole_run = not kept and plan.requests is None  # nothing started after the warmup: report every request instead
    if whole_run:
        kept = list(state.samples)
    good = [s for s in kept if s.ok]
    if plan.requests is None:  # a rate counts what finished inside the window, whenever it started
        window = plan.duration
        finished = sum(1 for s in state.samples if s.ok and measure_from <= s.start + s.latency <= deadline)
        if whole_run:
            window, finished = ended - began, sum(1 for s in kept if s.ok)
    else:
        window = ended - measure_from
        finished = len(good)
    return {
        "requests": len(kept),
        "ok": len(good),
        "errors": len(kept) - len(good),
        "error_samples": dict(sorted(state.errors.items(), key=lambda kv: -kv[1])[:5]),
        "seconds": window,
        "rps": finished / window if window > 0 else 0.0,
        "latency_ms": _percentiles([s.latency for s in good]),
        "ttft_ms": _percentiles([s.ttft for s in good if s.ttft is not None]),
        "max_open_streams": state.max_open_streams,
        "offered_rps": plan.rate,
        "warmup_included": whole_run,
        "late": state.late,
        "all_open_after_s": None if state.all_open_at is None else state.all_open_at - began,
        "concurrency": plan.concurrency,
        "all_ok": sum(1 for s in state.samples if s.ok),  # warmup included: divides the CPU time measured meanwhile
        "wall_s": ended - began,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="babelgate bench load generator")
    parser.add_argument("plan", help="JSON file: url, bodies, headers, concurrency, duration, ...")
    args = parser.parse_args()
    with open(args.plan, "rb") as handle:
        plan = Plan.load(orjson.loads(handle.read()))
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(plan))
    else:
        result = uvloop.run(run(plan))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
