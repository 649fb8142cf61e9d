"""The load scenarios and how one of them is run against one started target.

Scenario keys (numbers as in the issue): 1 `small`, 2 `stream`, 3 `claude-code`,
4 `held-streams`, 5 `translate` (no server, see bench.translate), 6 `idle`; and the OpenAI-in
ones, 7 `openai-small` and 8 `openai-stream` (OpenAI chat in → OpenAI chat out, where TensorZero
and Portkey take part: they have no Anthropic endpoint for an OpenAI upstream). `alternatives` is no
load scenario of these targets: bench/alternatives.py runs its own relays and fake upstream.
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import fixtures, procs
from bench.targets import Running

ALIASES = {
    "1": "small",
    "2": "stream",
    "3": "claude-code",
    "4": "held-streams",
    "5": "translate",
    "6": "idle",
    "7": "openai-small",
    "8": "openai-stream",
}
OPENAI_SCENARIOS = ("openai-small", "openai-stream")
LOAD_SCENARIOS = ("small", "stream", "claude-code", "held-streams", *OPENAI_SCENARIOS)
ALL = ("idle", *LOAD_SCENARIOS, "translate", "profile", "experiments", "alternatives")
SMALL_BODY = {"model": "", "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello."}]}
# What the load generator looks for in an OpenAI answer: the fake's text tokens are `tok<n> `, so `"tok`
# is the first content (the role chunk before it has an empty content), `[DONE]` the end of a stream.
OPENAI_MARKERS = {"ttft_marker": '"tok', "done_marker": "[DONE]"}


@dataclass(frozen=True)
class Settings:
    warmup: float
    duration: float
    held_streams: int
    held_seconds: int
    translate_budget: float
    profile_seconds: float

    @classmethod
    def full(cls) -> Settings:
        return cls(warmup=2.0, duration=7.0, held_streams=1000, held_seconds=30, translate_budget=0.4, profile_seconds=8.0)

    @classmethod
    def quick(cls) -> Settings:
        return cls(warmup=1.0, duration=3.0, held_streams=200, held_seconds=5, translate_budget=0.1, profile_seconds=3.0)


@dataclass(frozen=True)
class Load:
    """One load-generator run: `name` is the row label inside its scenario."""

    name: str
    concurrency: int
    stream: bool
    model: str
    fixtures: bool = False
    fixed: int | None = None  # this many requests at once instead of a timed loop
    ramp: float = 0.0
    rate: float | None = None  # offered req/s (open loop, at most `concurrency` in flight)
    openai: bool = False  # OpenAI chat in (the target's chat completions endpoint), else Anthropic Messages


PACED_RATE = 300.0  # below every target's capacity but LiteLLM's: added latency without queueing


def loads(scenario: str, settings: Settings) -> list[Load]:
    held_model = f"bench-{settings.held_seconds + 1}x1000"  # one chunk a second
    table = {
        "small": [
            Load("c1", 1, False, "bench-fast"),
            Load("c64", 64, False, "bench-fast"),
            Load(f"c64 paced {PACED_RATE:.0f}/s", 64, False, "bench-fast", rate=PACED_RATE),
        ],
        "stream": [Load("c64", 64, True, "bench-200x5"), Load("c1 (20 chunks)", 1, True, "bench-20x5")],
        "claude-code": [
            Load("json c1", 1, False, "bench-20x0", fixtures=True),
            Load("json c16", 16, False, "bench-20x0", fixtures=True),
            Load("sse c16", 16, True, "bench-20x0", fixtures=True),
        ],
        "held-streams": [
            Load("held", settings.held_streams, True, held_model, fixed=settings.held_streams, ramp=min(5.0, settings.held_seconds / 3))
        ],
        "openai-small": [Load("c1", 1, False, "bench-fast", openai=True), Load("c64", 64, False, "bench-fast", openai=True)],
        "openai-stream": [
            Load("c64 (20 chunks)", 64, True, "bench-20x0", openai=True),
            Load("c1 (20 chunks, 5 ms apart)", 1, True, "bench-20x5", openai=True),
            Load("c64 (20 chunks, 5 ms apart)", 64, True, "bench-20x5", openai=True),
        ],
    }
    return table[scenario]


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")


def models(settings: Settings) -> list[str]:
    """Every model name the scenarios ask for (each gateway is configured with all of them)."""
    names = [load.model for scenario in LOAD_SCENARIOS for load in loads(scenario, settings)]
    return list(dict.fromkeys(names))


def plan(running: Running, load: Load, settings: Settings) -> dict[str, Any]:
    headers = dict(running.headers)
    url = running.url + "/v1/messages"
    markers = {"ttft_marker": "content_block_delta", "done_marker": "message_stop" if load.stream else "end_turn"}
    if load.openai:
        headers, url = dict(running.openai_headers), running.chat_url()
        markers = {**OPENAI_MARKERS, "done_marker": OPENAI_MARKERS["done_marker"] if load.stream else "stop"}
    if load.fixtures:
        captured = fixtures.claude_code()
        bodies = [fixtures.with_model(f, running.model(load.model), load.stream) for f in captured]
        headers = {**captured[0].headers, **headers}
        url = running.url + captured[0].path
    else:
        bodies = [{**SMALL_BODY, "model": running.model(load.model), "stream": load.stream}]
    timed = load.fixed is None
    return {
        "url": url,
        "bodies": bodies,
        "headers": headers,
        "concurrency": load.concurrency,
        "duration": settings.duration if timed else settings.held_seconds * 3 + 60,
        "warmup": settings.warmup if timed else 0.0,
        "requests": load.fixed,
        "stream": load.stream,
        **markers,
        "timeout": 60.0 if timed else settings.held_seconds * 3 + 30,
        "ramp": load.ramp,
        "rate": load.rate,
    }


def run_load(running: Running, upstream: procs.Proc, load: Load, settings: Settings, work: Path) -> dict[str, Any]:
    """Run the load generator once and add what /proc says about the target meanwhile."""
    plan_file = work / f"plan-{slug(running.key)}-{slug(load.name)}.json"
    plan_file.write_text(json.dumps(plan(running, load, settings)))
    limit = settings.duration + settings.warmup + 120 if load.fixed is None else settings.held_seconds * 4 + 120
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    ticks_before = procs.all_process_ticks()
    sampler = procs.Sampler(running.pid, interval=0.25) if running.pid is not None else nullcontext()
    with procs.Sampler(upstream.pid, interval=1.0) as upstream_sampler, sampler as target:
        done = subprocess.run([sys.executable, "-m", "bench.load", str(plan_file)], capture_output=True, timeout=limit, check=False)
    others = procs.others_cpu_seconds(ticks_before, procs.all_process_ticks(), set(procs.tree(os.getpid())))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed ({done.returncode}): {done.stderr.decode(errors='replace')[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    total = max(result.pop("all_ok", result["ok"]), 1)
    loadgen_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["cpu_us_per_request"] = {"loadgen": loadgen_cpu / total * 1e6, "upstream": upstream_sampler.cpu / total * 1e6}
    result["other_cpu_cores"] = others / max(result["wall_s"], 1e-9)  # processes outside the bench (its exited loadgen aside)
    if isinstance(target, procs.Sampler):
        result["cpu_us_per_request"]["target"] = target.cpu / total * 1e6
        result["target_cpu_util"] = target.cpu / max(result["wall_s"], 1e-9)
        result["rss_before_kb"] = target.rss[0] if target.rss else 0
        result["rss_peak_kb"] = target.peak_kb
    return result


def prime(running: Running, count: int = 3) -> None:
    """A few requests of each kind before any measurement: lazy imports and first-call caches warm up here."""
    endpoints = [(running.url + "/v1/messages", running.headers), (running.chat_url(), running.openai_headers)]
    for (url, headers), stream in [(e, s) for e in endpoints for s in (False, True)]:
        body = json.dumps({**SMALL_BODY, "model": running.model("bench-20x0"), "stream": stream}).encode()
        for _ in range(count):
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    response.read()
            except (urllib.error.URLError, OSError):
                pass


def idle_memory(running: Running, settle: float = 3.0) -> dict[str, Any] | None:
    """RSS of the target's process tree a few seconds after it started answering, before any load."""
    if running.pid is None:
        return None
    time.sleep(settle)
    samples = []
    for _ in range(5):
        samples.append(procs.rss_kb(procs.tree(running.pid)))
        time.sleep(0.2)
    return {"rss_kb": int(statistics.median(samples)), "processes": len(procs.tree(running.pid))}
