"""`python -m bench.alternatives [--rounds N] [--only KEY ...]`: the hot path's server and client alternatives
side by side (issue 15, item 2).

Each target is one minimal relay process (bench/alt_servers.py) doing the gateway's job for OpenAI chat
in → OpenAI chat out (bench/alt_job.py), with one server and one upstream client: every server with the
aiohttp client, the aiohttp server with every client, the best pair, and the aiohttp pair with msgspec
instead of orjson. The fake upstream's own chat endpoint runs too (the floor of "added p50"). The loads:
small non-streaming requests at 64 and 1 connections, 20-chunk streams sent at once at 64, and 20-chunk
streams 5 ms apart at 1 (its added time to first token shows a relay that holds events back). Each round
runs every load on every target, the order reversed every other round (A B … B A), so drift on a shared
machine hits all alike; medians with their range are printed, and the runs saved to
bench/results/alternatives.json. granian, uvicorn, httptools, pyreqwest and msgspec are installed once
into `.cache/bench/alternatives-site` (`pip install --target`), never into the gateway's environment.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import machine, procs, scenarios
from bench.peers import CACHE, REPO, _run
from bench.targets import Direct, Running, Upstream

SITE = CACHE / "alternatives-site"
PACKAGES = ("granian==2.8.9", "uvicorn==0.54.0", "httptools==0.9.0", "pyreqwest==0.15.1", "msgspec==0.23.0")
RESULTS = REPO / "bench" / "results" / "alternatives.json"


def ensure_packages() -> Path:
    """The bench-only folder the relays import granian, uvicorn, httptools, pyreqwest and msgspec from."""
    marker = SITE / (".installed-" + "-".join(p.replace("==", "") for p in PACKAGES))
    if not marker.exists():
        print(f"installing {', '.join(PACKAGES)} into {SITE} (once)...", flush=True)
        _run([sys.executable, "-m", "pip", "install", "-q", "--target", str(SITE), *PACKAGES], CACHE / "alternatives-install.log")
        marker.touch()
    return SITE


@dataclass
class Relay:
    server: str
    client: str
    json: str = "orjson"

    @property
    def key(self) -> str:
        return f"{self.server}+{self.client}" + ("" if self.json == "orjson" else f"+{self.json}")

    def start(self, work: Path, upstream_port: int) -> Running:
        port = procs.free_port()
        argv = [sys.executable, "-m", "bench.alt_servers", "--server", self.server, "--client", self.client, "--json", self.json]
        argv += ["--port", str(port), "--upstream", f"http://127.0.0.1:{upstream_port}"]
        env = {**os.environ, "PYTHONPATH": f"{ensure_packages()}:{REPO}"}
        proc = procs.spawn(self.key, argv, work / self.key / "server.log", env=env, cwd=REPO)
        headers = {"Content-Type": "application/json"}
        running = Running(self.key, f"http://127.0.0.1:{port}", headers, proc, openai_headers=headers)
        return running.ready()


SERVERS = [Relay(s, "aiohttp") for s in ("aiohttp", "granian", "uvicorn", "raw")]
CLIENTS = [Relay("aiohttp", c) for c in ("pyreqwest", "raw")]
EXTRA = [Relay("raw", "raw"), Relay("raw", "pyreqwest"), Relay("granian", "raw"), Relay("aiohttp", "aiohttp", "msgspec")]
RELAYS = {r.key: r for r in [*SERVERS, *CLIENTS, *EXTRA]}


def loads(settings: scenarios.Settings) -> dict[str, scenarios.Load]:
    small, stream = scenarios.loads("openai-small", settings), scenarios.loads("openai-stream", settings)
    return {"c64": small[1], "stream c64": stream[0], "c1": small[0], "stream c1": stream[1]}


def _figures(outcome: dict[str, Any]) -> dict[str, float]:
    return {
        "rps": outcome["rps"],
        "cpu": outcome["cpu_us_per_request"].get("target", 0.0),
        "p50": (outcome.get("latency_ms") or {}).get("p50", 0.0),
        "ttft": (outcome.get("ttft_ms") or {}).get("p50", 0.0),
        "errors": outcome["errors"],
        "others": outcome["other_cpu_cores"],
    }


def measure(keys: list[str], rounds: int, settings: scenarios.Settings, work: Path) -> dict[str, Any]:
    """Every load on every target, `rounds` times, alternating the order; the runs of each."""
    upstream = Upstream.start(work)
    running: list[Running] = [Direct().start(work, upstream.port, [])]
    runs: dict[str, dict[str, list[dict[str, float]]]] = {}
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    try:
        for key in keys:
            running.append(RELAYS[key].start(work, upstream.port))
        for run in running:
            scenarios.prime(run)
        for round_ in range(rounds):
            for run in running if round_ % 2 == 0 else running[::-1]:
                for name, load in loads(settings).items():
                    figures = _figures(scenarios.run_load(run, upstream.proc, load, settings, work))
                    runs.setdefault(run.key, {}).setdefault(name, []).append(figures)
                    print(
                        f"round {round_ + 1} {run.key:24} {name:10} {figures['rps']:7.0f} req/s {figures['cpu']:6.0f} µs"
                        f" p50 {figures['p50']:6.2f} ms TTFT {figures['ttft']:6.2f} ms errors {figures['errors']:.0f}"
                        f" (others {figures['others']:.2f} cores)",
                        flush=True,
                    )
    finally:
        for run in running:
            run.stop()
        procs.stop(upstream.proc)
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    return {"runs": runs, "loadavg_before": load_before, "loadavg_after": load_after}


def _median(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def table(result: dict[str, Any]) -> str:
    """The medians (and ranges) as a markdown table."""
    runs = result["runs"]
    floor = statistics.median(r["p50"] for r in runs["direct"]["c1"])
    first = statistics.median(r["ttft"] for r in runs["direct"]["stream c1"])
    header = ["target (server+client)", "c64 req/s", "CPU µs/req", "p50 ms", "stream c64 req/s", "CPU µs/stream"]
    header += ["TTFT p50 ms", "c1 added p50 ms", "c1 paced stream added TTFT ms", "errors"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]

    def cell(values: list[float], digits: int = 0) -> str:
        mid, low, high = _median(values)
        return f"{mid:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"

    for key, by_load in runs.items():
        small, stream, one = by_load["c64"], by_load["stream c64"], by_load["c1"]
        added = [r["p50"] - floor for r in one]
        added_ttft = [r["ttft"] - first for r in by_load["stream c1"]]
        errors = sum(r["errors"] for load in by_load.values() for r in load)
        cpu = "-" if key == "direct" else cell([r["cpu"] for r in small])  # direct: no relay process to measure
        stream_cpu = "-" if key == "direct" else cell([r["cpu"] for r in stream])
        row = [key, cell([r["rps"] for r in small]), cpu, cell([r["p50"] for r in small], 1)]
        row += [cell([r["rps"] for r in stream]), stream_cpu, cell([r["ttft"] for r in stream], 1)]
        row += ["-" if key == "direct" else cell(added, 2), "-" if key == "direct" else cell(added_ttft, 2), f"{errors:.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def json_codecs() -> dict[str, dict[str, float]]:
    """µs per call of the relay's three JSON steps with orjson and with msgspec, in this process."""
    sys.path.insert(0, str(ensure_packages()))
    from bench import alt_job, upstream

    body = json.dumps({**scenarios.SMALL_BODY, "model": "bench-fast", "stream": False}).encode()
    answer = upstream.OPENAI_MESSAGE.split(b"\r\n\r\n", 1)[1]
    stream = b"".join(upstream.openai_stream(20).burst(20).split(b"\r\n")[1::2])  # the SSE bytes without the chunked framing
    steps = {
        "request (parse, build, encode)": lambda: alt_job.upstream_body(body),
        "answer (parse, encode)": lambda: alt_job.answer(answer, "bench-fast"),
        "20-chunk stream (split, parse, encode)": lambda: alt_job.Events("bench-fast").feed(stream),
    }
    timings: dict[str, dict[str, float]] = {name: {} for name in steps}
    for _ in range(9):  # the codecs take turns, so a busy spell on the machine hits both; the best of 9 each
        for codec in ("orjson", "msgspec"):
            alt_job.use(codec)
            for name, step in steps.items():
                us = timeit.timeit(step, number=1000) / 1000 * 1e6
                timings[name][codec] = min(us, timings[name].get(codec, us))
    alt_job.use("orjson")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.alternatives", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--only", action="append", default=[], help=f"targets among {', '.join(RELAYS)} (default: all)")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured window of each load (after a 1 s warmup)")
    args = parser.parse_args()
    keys = [k.strip() for item in args.only for k in item.split(",") if k.strip()] or list(RELAYS)
    unknown = [k for k in keys if k not in RELAYS]
    if unknown:
        raise SystemExit(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(RELAYS)}")
    settings = scenarios.Settings(warmup=1.0, duration=args.seconds, held_streams=0, held_seconds=0, translate_budget=0, profile_seconds=0)
    procs.raise_fd_limit()
    ensure_packages()
    result = measure(keys, args.rounds, settings, Path(tempfile.mkdtemp(prefix="babelgate-alternatives-")))
    result["json_us"] = json_codecs()
    result["meta"] = {**machine.info(), "rounds": args.rounds, "seconds": args.seconds, "packages_bench_only": list(PACKAGES)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    for name, by_codec in result["json_us"].items():
        print(f"{name}: " + ", ".join(f"{codec} {us:.2f} µs" for codec, us in by_codec.items()))
    print(f"load average before {' '.join(result['loadavg_before'])}, after {' '.join(result['loadavg_after'])}")


if __name__ == "__main__":
    main()
