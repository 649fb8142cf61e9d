"""Config hot reload: the config file watched, `SIGHUP`, or `babelgate reload` (POST /admin/api/reload).

A reload reads and validates the whole file first; an invalid one is refused with its key paths
(logged, and answered to `babelgate reload`) and the running config stays. A valid one becomes a new
generation (server/generation.py) that the next request uses, while requests in flight finish on
the old one. Providers, aliases, routing, models, addons, client and admin keys, `observe:` and the
upstream limits change this way; the listen address, `server.max_body_mb`,
`server.client_timeouts.headers` and the `store:` need a restart, and the reload says so (and keeps
the running values). A reload that would leave a gateway other machines reach without client keys
is refused, as `serve` refuses to start so (unless `server.allow_public`).

With `--workers N`, the supervisor passes `SIGHUP` to every worker, and a worker that reloads on the
admin endpoint sends its supervisor `SIGHUP` so the others follow. The watcher polls the file's
`stat()` once a second (a few microseconds; no thread, no watcher library needed for one file) and
reloads when it changed and its text differs from the running one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from babelgate import config as config_module
from babelgate.config import Config, ConfigError

if TYPE_CHECKING:
    from babelgate.server.gateway import Gateway

log = logging.getLogger("babelgate.reload")
WATCH_SECONDS = 1.0
SUPERVISOR_ENV = "BABELGATE_SUPERVISOR"  # the pid of `serve --workers N`'s supervisor, set for its workers


@dataclass
class Outcome:
    status: Literal["reloaded", "unchanged", "refused"]
    changes: list[str] = field(default_factory=list)  # what the new config changed (names only, never a key)
    restart: list[str] = field(default_factory=list)  # keys that changed but need a restart (kept as they run)
    error: str = ""  # why it was refused: the file and each key path with its problem

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "changes": self.changes, "restart_needed": self.restart, "error": self.error}


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


class Reloader:
    def __init__(self, gateway: Gateway, path: Path | None) -> None:
        self.gateway = gateway
        self.path = path
        self._digest = _digest_of(path)
        self._seen = _signature(path) if path is not None else None
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.path is not None:
            self._watcher = asyncio.create_task(self._watch_forever())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    async def reload(self, reason: str) -> Outcome:
        """Read the file again and adopt it if it is valid and differs from the running one."""
        if self.path is None:
            return Outcome("refused", error="this gateway started without a config file (zero-config discovery): nothing to reload")
        async with self._lock:
            outcome = await self._reload(self.path, reason)
        if outcome.status == "refused":
            log.error("config reload (%s) refused; still serving the previous config: %s", reason, outcome.error)
        elif outcome.status == "reloaded":
            restart = f"; needs a restart, kept as running: {', '.join(outcome.restart)}" if outcome.restart else ""
            log.info("config reloaded (%s): %s%s", reason, "; ".join(outcome.changes) or "no effective change", restart)
        return outcome

    async def _reload(self, path: Path, reason: str) -> Outcome:
        self._seen = _signature(path)
        try:
            text = await asyncio.to_thread(path.read_bytes)
        except OSError as error:
            return Outcome("refused", error=f"cannot read {path}: {error.strerror}")
        digest = hashlib.sha256(text).hexdigest()
        if digest == self._digest:  # env variables cannot have changed either: the same config
            return Outcome("unchanged")
        try:
            new = await asyncio.to_thread(config_module.load, path)
        except ConfigError as error:
            return Outcome("refused", error=str(error))
        old = self.gateway.config
        restart = _keep_restart_only(old, new)
        exposed = _exposed(old, new)
        if exposed:
            return Outcome("refused", error=f"{path}: {exposed}")
        changes = describe_changes(old, new)
        try:
            await self.gateway.adopt(new)
        except Exception as error:  # an addon that cannot load, a provider that cannot be built
            return Outcome("refused", error=f"{path}: {error}")
        self._digest = digest
        return Outcome("reloaded", changes, restart)

    async def _watch_forever(self) -> None:
        assert self.path is not None
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            if not self.gateway.config.server.watch_config:
                continue
            seen = _signature(self.path)
            if seen is not None and seen != self._seen:
                try:
                    await self.reload("config file changed")
                except Exception:
                    log.exception("config reload failed")


def _digest_of(path: Path | None) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path is not None else ""
    except OSError:
        return ""


def _keep_restart_only(old: Config, new: Config) -> list[str]:
    """Set what a running process cannot change back to the running values; the keys that differed."""
    changed = []
    for key in ("host", "port", "max_body_mb"):
        if getattr(old.server, key) != getattr(new.server, key):
            changed.append(f"server.{key}")
            setattr(new.server, key, getattr(old.server, key))
    if old.server.client_timeouts.headers != new.server.client_timeouts.headers:  # the connection layer took it at start
        changed.append("server.client_timeouts.headers")
        new.server.client_timeouts.headers = old.server.client_timeouts.headers
    if old.store != new.store:
        changed.append("store")
        new.store = old.store
    return changed


def _exposed(old: Config, new: Config) -> str:
    """Why `new` would open a gateway that other machines reach to anyone (as `serve` refuses at start), or ""."""
    server = new.server
    if not old.server.api_keys or server.api_keys or server.allow_public:
        return ""
    try:
        if server.host == "localhost" or ipaddress.ip_address(server.host).is_loopback:
            return ""
    except ValueError:
        pass  # a name: not resolved here (no DNS on the event loop), taken as reachable
    return (
        f"server.api_keys: removing every client key would let anyone who reaches {server.host or '(all interfaces)'} "
        "spend your credentials; keep a key, or set server.allow_public: true"
    )


def _named(section: str, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    changed = sorted(k for k in old.keys() & new.keys() if old[k] != new[k])
    parts = [*(f"+{k}" for k in added), *(f"-{k}" for k in removed), *(f"~{k}" for k in changed)]
    return f"{section}: {' '.join(parts)}" if parts else None


def describe_changes(old: Config, new: Config) -> list[str]:
    """What differs, by name: `providers: +b ~a`, `aliases: +fast`, `server.api_keys: 2 -> 3 keys`, `routing`."""
    lines = [_named("providers", old.providers, new.providers), _named("aliases", old.aliases, new.aliases)]
    for key in ("api_keys",):
        before, after = getattr(old.server, key), getattr(new.server, key)
        if before != after:
            lines.append(f"server.{key}: {len(before)} -> {len(after)} keys")
    for key in ("admin_key", "metrics_token"):
        if getattr(old.server, key) != getattr(new.server, key):
            lines.append(f"server.{key} changed")
    for section in ("routing", "upstream", "addons", "models", "observe"):
        if getattr(old, section) != getattr(new, section):
            lines.append(section)
    return [line for line in lines if line]


def install_sighup(gateway: Gateway) -> None:
    """`SIGHUP` reloads (the process's main loop must be running: call it from an on_startup hook)."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[Outcome]] = set()

    def hangup() -> None:
        task = loop.create_task(gateway.reloader.reload("SIGHUP"))
        pending.add(task)
        task.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGHUP, hangup)


def tell_siblings() -> None:
    """Under `serve --workers N`: ask the supervisor to pass `SIGHUP` to every worker."""
    supervisor = os.environ.get(SUPERVISOR_ENV)
    if supervisor and supervisor == str(os.getppid()):
        with contextlib.suppress(OSError):
            os.kill(int(supervisor), signal.SIGHUP)
