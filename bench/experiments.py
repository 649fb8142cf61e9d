"""The profile's recommended src changes, tried without touching src: `python -m bench.experiments PATCHES -- serve ...`.

Each patch is the smallest stand-in for one recommended change, applied to the imported
modules before the CLI starts (so one worker only: `--workers` children re-import).
The "experiments" scenario runs babelgate as shipped and with each patch under the same
loads: the before/after numbers in docs/BENCHMARKS.md. Nothing here is part of babelgate.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from bench.targets import ANTHROPIC_HEADERS, CLIENT_KEY, Running, babelgate_config


def access_log_debug() -> None:
    """server/app.py `guard`: the one-line-per-request log at INFO becomes DEBUG (errors stay INFO)."""
    logging.getLogger("babelgate.server").setLevel(logging.WARNING)


def lazy_session_key() -> None:
    """routing/router.py `Router.route`: hash the first user message only when a strategy needs a session."""
    from babelgate import ir
    from babelgate.routing import router

    def header_only(request: ir.Request, headers: Mapping[str, str]) -> str:
        return headers.get("x-claude-code-session-id", "")

    router.session_key = header_only


def cached_today() -> None:
    """observe/usage.py `today`: format the UTC date once per day instead of once per request."""
    from babelgate.observe import usage

    until = 0.0
    value = ""

    def today() -> str:
        nonlocal until, value
        now = time.time()
        if now >= until:
            until = (now // 86400 + 1) * 86400
            value = time.strftime("%Y-%m-%d", time.gmtime(now))
        return value

    usage.today = today


def url_objects() -> None:
    """providers/*.py `url`: build the upstream URL once as a yarl.URL, not a str aiohttp re-parses."""
    from yarl import URL

    from babelgate.providers.http import HttpUpstream
    from babelgate.registry import UPSTREAM_TYPES, load

    cache: dict[tuple[int, str, bool], URL] = {}

    def cached(original: Callable[[HttpUpstream, str, bool], str]) -> Callable[[HttpUpstream, str, bool], URL]:
        def url(self: HttpUpstream, model: str, stream: bool) -> URL:
            key = (id(self), model, stream)
            found = cache.get(key)
            if found is None:
                found = cache[key] = URL(original(self, model, stream))
            return found

        return url

    for type_name in UPSTREAM_TYPES:
        family = load(UPSTREAM_TYPES[type_name])
        family.url = cached(family.url)  # type: ignore[assignment,method-assign,arg-type]


def gc_freeze() -> None:
    """cli/main.py `_run_worker`: after the imports, `gc.freeze()` and a larger first-generation threshold.

    A 50 KB Claude Code request allocates tens of thousands of objects (the parsed JSON, the ir);
    with the default threshold (700) they trigger collections that walk every young object.
    """
    import gc

    import babelgate.server.app  # noqa: F401  (what the worker imports, so it is frozen too)

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


PATCHES: dict[str, Callable[[], None]] = {
    "access-log-debug": access_log_debug,
    "lazy-session-key": lazy_session_key,
    "cached-today": cached_today,
    "url-objects": url_objects,
    "gc-freeze": gc_freeze,
}


@dataclass
class Patched:
    """babelgate (one worker) started through this module with some patches."""

    patches: tuple[str, ...]
    only: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return "+".join(self.patches) or "as shipped"

    @property
    def label(self) -> str:
        return f"babelgate 1 worker, {self.key}"

    def start(self, work: Path, upstream_port: int, models: list[str]) -> Running:
        work = work / ("experiment-" + "-".join(self.patches or ("baseline",)))
        work.mkdir(parents=True, exist_ok=True)
        port = procs.free_port()
        config = babelgate_config(work, port, upstream_port, models)
        argv = [
            sys.executable,
            "-m",
            "bench.experiments",
            ",".join(self.patches),
            "--",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
        ]
        proc = procs.spawn(self.key, argv, work / "server.log")
        running = Running(self.key, f"http://127.0.0.1:{port}", {**ANTHROPIC_HEADERS, "x-api-key": CLIENT_KEY}, proc)
        return running.ready()

    def version(self) -> str:
        return self.key


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[2] != "--":
        raise SystemExit("usage: python -m bench.experiments PATCH[,PATCH...] -- serve --config FILE --port P")
    for name in filter(None, sys.argv[1].split(",")):
        PATCHES[name]()
    from babelgate.cli.main import app

    app(args=sys.argv[3:], prog_name="babelgate")


if __name__ == "__main__":
    main()
