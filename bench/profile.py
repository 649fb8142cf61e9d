"""Profile babelgate's hot path under load with py-spy and summarise where the time goes.

py-spy (PyPI) is installed once into `.cache/bench/py-spy`, outside the project venv.
It attaches to the one-worker server while the load generator runs, samples every
stack, and the collapsed stacks are folded here into: time by area (socket writes,
logging, aiohttp server, aiohttp client, babelgate's own code, ...), the functions
with the most self time, and the babelgate functions with the most inclusive time.
orjson is native code: its time shows as self time of the babelgate line calling it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import procs, scenarios
from bench.peers import CACHE, PeerUnavailable
from bench.targets import Babelgate, Running, Upstream

PY_SPY_DIR = CACHE / "py-spy"
RATE = 250
AREAS: list[tuple[str, Callable[[str], bool]]] = [
    ("socket writes (send syscalls)", lambda f: "http_writer.py" in f and ("_writelines" in f or "_write " in f)),
    ("per-request log line (logging)", lambda f: "logging/" in f),
    ("babelgate: dialects (parse/encode/render, orjson)", lambda f: "babelgate/dialects/" in f or "babelgate/sse.py" in f),
    ("babelgate: routing (attempt loop)", lambda f: "babelgate/routing/" in f),
    ("babelgate: providers (upstream request, stream read)", lambda f: "babelgate/providers/" in f),
    ("babelgate: addons (hooks)", lambda f: "babelgate/addons/" in f),
    ("babelgate: server (middleware, handlers)", lambda f: "babelgate/server/" in f),
    ("babelgate: other", lambda f: "babelgate/" in f),
    (
        "aiohttp client (upstream request)",
        lambda f: any(m in f for m in ("aiohttp/client", "aiohttp/connector", "aiohttp/payload", "aiohttp/streams")),
    ),
    ("aiohttp server (request, response)", lambda f: "aiohttp/web" in f or "aiohttp/http" in f or "aiohttp/" in f),
    ("event loop (uvloop in C: epoll, recv, callbacks)", lambda f: "asyncio/" in f or "run_app" in f or "uvloop" in f),
    ("other (multidict, yarl, stdlib)", lambda f: True),
]


def ensure_py_spy() -> Path:
    binary = PY_SPY_DIR / "bin" / "py-spy"
    if binary.exists():
        return binary
    print("installing py-spy into .cache/bench/py-spy (once)...", flush=True)
    argv = [sys.executable, "-m", "pip", "install", "-q", "--target", str(PY_SPY_DIR), "py-spy"]
    done = subprocess.run(argv, capture_output=True, timeout=600, check=False)
    if done.returncode != 0 or not binary.exists():
        raise PeerUnavailable(f"could not install py-spy: {done.stderr.decode(errors='replace')[-500:]}")
    return binary


def fold(collapsed: Path) -> dict[str, Any]:
    """Time by area, top self-time functions, top babelgate functions (inclusive), in % of samples."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        if "_bootstrap (threading.py" in frames[0]:
            continue  # helper threads (the store's executor) wait most of the time: only the event loop's thread counts
        leaf = frames[-1]
        self_time[leaf] += samples
        areas[next(name for name, match in AREAS if match(leaf))] += samples
        for frame in set(frames):
            if "babelgate/" in frame and "cli/main.py" not in frame:
                inclusive[frame] += samples

    def share(counter: Counter[str], n: int) -> list[list[Any]]:
        return [[name, round(100 * value / max(total, 1), 1)] for name, value in counter.most_common(n)]

    return {"samples": total, "areas": share(areas, len(AREAS)), "self": share(self_time, 15), "babelgate_inclusive": share(inclusive, 15)}


def _record(py_spy: Path, pid: int, seconds: float, out: Path) -> None:
    argv = [str(py_spy), "record", "-p", str(pid), "-d", str(max(1, round(seconds))), "-r", str(RATE), "-f", "raw", "-o", str(out)]
    done = subprocess.run(argv, capture_output=True, timeout=seconds + 60, check=False)
    if done.returncode != 0 or not out.exists():
        raise PeerUnavailable(f"py-spy record failed: {done.stderr.decode(errors='replace')[-500:]}")


def _under_load(py_spy: Path, running: Running, load: scenarios.Load, settings: scenarios.Settings, work: Path) -> dict[str, Any]:
    seconds = settings.profile_seconds
    timed = scenarios.Settings(
        settings.warmup, seconds + 2, settings.held_streams, settings.held_seconds, settings.translate_budget, seconds
    )
    plan = work / f"profile-plan-{scenarios.slug(load.name)}.json"
    plan.write_text(json.dumps(scenarios.plan(running, load, timed)))
    out = work / f"profile-{scenarios.slug(load.name)}.txt"
    loadgen = procs.spawn(
        "loadgen", [sys.executable, "-m", "bench.load", str(plan)], work / f"profile-load-{scenarios.slug(load.name)}.log"
    )
    try:
        time.sleep(settings.warmup + 0.5)
        assert running.pid is not None
        with procs.Sampler(running.pid) as sampler:
            _record(py_spy, running.pid, seconds, out)
        loadgen.popen.wait(timeout=seconds + settings.warmup + 60)
    finally:
        procs.stop(loadgen)
    summary = fold(out)
    summary["target_cpu_util"] = sampler.cpu / seconds
    return summary


def run(work: Path, upstream: Upstream, settings: scenarios.Settings, target: Babelgate | None = None) -> dict[str, Any]:
    """Profile each representative load against babelgate (one worker unless `target` says otherwise)."""
    py_spy = ensure_py_spy()
    target = target or Babelgate()
    profiled = [
        ("small c64", scenarios.loads("small", settings)[1]),
        ("stream c64", scenarios.loads("stream", settings)[0]),
        ("claude-code json c16", scenarios.loads("claude-code", settings)[1]),
    ]
    running = target.start(work / "profile", upstream.port, scenarios.models(settings))
    results: dict[str, Any] = {"tool": f"py-spy {RATE} Hz", "target": target.label}
    try:
        scenarios.prime(running)
        for name, load in profiled:
            print(f"  profiling {target.label} under {name}...", flush=True)
            results[name] = _under_load(py_spy, running, load, settings, work / "profile")
    finally:
        running.stop()
    return results
