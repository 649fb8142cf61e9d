"""What one huge upstream answer costs everyone else: `python -m bench.faults` (scenario `huge-errors`).

Two fake upstreams (each its own process, so pumping the huge bodies never delays a small answer at
the source) answer model `huge` with a 500 whose body is 64 MB (written block by block, never held)
and every other model with a small Chat Completions answer. The
gateway (its own process) has a provider per huge request (`big<round>-<i>`, one key each, so
each huge request meets exactly one 64 MB body, cannot fail over, and no key is benched) and
`small`. While rounds of 20 concurrent huge requests run, 50 concurrent clients loop
small requests; the same 50 loops run alone first as the baseline (after a second of warm-up), and
a small request counts as *during* when it was in flight while a huge one was. Two kinds of loop, each measured
alone and during its own huge rounds: *closed* (each client sends its next request as soon as the last
is answered, so the latency is mostly queueing at the gateway's full throughput on a shared machine)
and *paced* (each client sends one request every PACE_SECONDS, 500 requests a second in all, below
what the gateway serves, so the latency is the time to answer). Reported: the gateway's RSS at idle
and at its peak, the small requests' p50 and p99 with and without the huge errors, and how long each
huge request took to become the client's 502.

`--source PATH` runs the babelgate found under PATH (for example `/work/main/src`) instead, to
compare with an earlier version. Results go to bench/results/faults.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench import procs
from bench.targets import babelgate_argv

HUGE = 64 * 1024 * 1024
BLOCK = 64 * 1024
HUGE_AT_ONCE, SMALL_CLIENTS = 20, 50
PACE_SECONDS = 0.1  # a paced client's interval between request starts
SMALL_ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_760_000_000,
        "model": "small",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
).encode()
SMALL_HEAD = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(SMALL_ANSWER)}\r\n\r\n".encode()
RESULTS = Path(__file__).resolve().parent / "results" / "faults.json"


# ---- the upstream process ----------------------------------------------------------------


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
            body = await reader.readexactly(length)
            if b'"huge"' in body:
                start = b'{"error": {"message": "the server had an error", "type": "server_error", "padding": "'
                writer.write(f"HTTP/1.1 500 Error\r\nContent-Type: application/json\r\nContent-Length: {HUGE}\r\n\r\n".encode() + start)
                for offset in range(len(start), HUGE - 3, BLOCK):
                    writer.write(b"x" * min(BLOCK, HUGE - 3 - offset))
                    await writer.drain()
                writer.write(b'"}}')
                await writer.drain()
                continue
            writer.write(SMALL_HEAD + SMALL_ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(port: int) -> None:
    server = await asyncio.start_server(_connection, "127.0.0.1", port, backlog=1024)
    print(f"faulty bench upstream on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


# ---- the measurement ---------------------------------------------------------------------


def _config(work: Path, port: int, upstream: int, small_upstream: int, rounds: int) -> Path:
    url = f"http://127.0.0.1:{upstream}/v1"
    providers = {f"big{r}-{i}": {"base_url": url, "api_keys": [f"sk-big-{r}-{i}"]} for r in range(rounds) for i in range(HUGE_AT_ONCE)}
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "providers": {**providers, "small": {"base_url": f"http://127.0.0.1:{small_upstream}/v1", "api_keys": ["sk-small"]}},
        "routing": {"max_wait": 0},
        "store": {"type": "memory"},
    }
    path = work / "faults.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def _small_loops(url: str, stop: asyncio.Event, pace: float | None) -> list[tuple[float, float, bool]]:
    """(start, seconds, answered 200) of every small request, until `stop`."""
    requests: list[tuple[float, float, bool]] = []
    body = {"model": "small/small", "messages": [{"role": "user", "content": "hi"}]}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def loop(offset: float) -> None:
            await asyncio.sleep(offset)  # paced clients start spread over one interval
            while not stop.is_set():
                started = time.perf_counter()
                async with session.post(f"{url}/v1/chat/completions", json=body) as response:
                    await response.read()
                requests.append((started, time.perf_counter() - started, response.status == 200))
                if pace is not None:
                    await asyncio.sleep(max(0.0, started + pace - time.perf_counter()))

        await asyncio.gather(*(loop(pace * i / SMALL_CLIENTS if pace else 0.0) for i in range(SMALL_CLIENTS)))
    return requests


async def _huge_rounds(url: str, rounds: range) -> list[tuple[int, float, int]]:
    """(status, seconds, body bytes) of every huge request."""
    results: list[tuple[int, float, int]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:

        async def one(model: str) -> None:
            started = time.perf_counter()
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            async with session.post(f"{url}/v1/chat/completions", json=body) as response:
                raw = await response.read()
            results.append((response.status, time.perf_counter() - started, len(raw)))

        for round_ in rounds:
            await asyncio.gather(*(one(f"big{round_}-{i}/huge") for i in range(HUGE_AT_ONCE)))
    return results


def _latencies(requests: list[tuple[float, float, bool]]) -> dict[str, Any]:
    values = [seconds for _, seconds, _ in requests]
    p50, p99 = round(_percentile(values, 0.5)), round(_percentile(values, 0.99))
    return {"requests": len(values), "failed": sum(not ok for _, _, ok in requests), "p50_ms": p50, "p99_ms": p99}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


async def _measure(url: str, pid: int, baseline_seconds: float, rounds: int) -> dict[str, Any]:
    """Per kind of loop: the loops start, run alone for `baseline_seconds` (their first second is warm-up,
    not counted), then the huge rounds run beside them. *Alone* is every small request that ended before
    the first huge one started, *during* every one that was in flight while a huge one was."""
    result: dict[str, Any] = {}
    for index, (mode, pace) in enumerate((("closed", None), ("paced", PACE_SECONDS))):
        stop = asyncio.Event()
        small = asyncio.create_task(_small_loops(url, stop, pace))
        warm = time.perf_counter() + 1.0
        await asyncio.sleep(1.0 + baseline_seconds)
        idle_kb = procs.rss_kb(procs.tree(pid))
        started = time.perf_counter()
        with procs.Sampler(pid, interval=0.1) as sampler:
            huge = await _huge_rounds(url, range(index * rounds, (index + 1) * rounds))
        ended = time.perf_counter()
        stop.set()
        requests = await small
        alone = [r for r in requests if r[0] >= warm and r[0] + r[1] < started]
        during = [r for r in requests if r[0] < ended and r[0] + r[1] > started]
        seconds = ended - started
        result[mode] = {
            "during_seconds": round(seconds, 1),
            "gateway_cores_during": round(sampler.cpu / seconds, 2),
            "idle_rss_mb": round(idle_kb / 1024, 1),
            "peak_rss_mb": round(sampler.peak_kb / 1024, 1),
            "small_alone": _latencies(alone),
            "small_during": _latencies(during),
            "huge": {
                "requests": len(huge),
                "statuses": sorted({status for status, _, _ in huge}),
                "median_seconds": round(statistics.median(s for _, s, _ in huge), 2),
                "largest_body_bytes": max(size for _, _, size in huge),
            },
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--source", help="a src/ directory whose babelgate to run instead")
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of 20 concurrent huge errors")
    args = parser.parse_args()
    if args.serve_upstream:
        asyncio.run(_serve(args.serve_upstream))
        return
    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    upstream_port, small_port, port = procs.free_port(), procs.free_port(), procs.free_port()
    serve = [sys.executable, "-m", "bench.faults", "--serve-upstream"]
    upstream = procs.spawn("faulty-upstream", [*serve, str(upstream_port)], work / "up.log")
    small_upstream = procs.spawn("small-upstream", [*serve, str(small_port)], work / "small.log")
    env = {**os.environ, "PYTHONPATH": args.source} if args.source else None
    argv = [sys.executable, "-m", "babelgate.cli.main"] if args.source else babelgate_argv()
    config = _config(work, port, upstream_port, small_port, 2 * args.rounds)
    gateway = procs.spawn("babelgate", [*argv, "serve", "--config", str(config)], work / "gw.log", env=env)
    try:
        procs.wait_http(f"http://127.0.0.1:{port}/health", gateway, timeout=30)
        result = asyncio.run(_measure(f"http://127.0.0.1:{port}", gateway.pid, args.baseline_seconds, args.rounds))
    finally:
        procs.stop(gateway)
        procs.stop(upstream)
        procs.stop(small_upstream)
    load_average = Path("/proc/loadavg").read_text().split()[:3]
    result |= {"source": args.source or "this checkout", "rounds": args.rounds, "load_average": load_average}
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
