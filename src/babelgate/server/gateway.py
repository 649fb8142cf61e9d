"""Everything one server process holds: upstreams, addons, routing state, the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping

from aiohttp import web

from babelgate import redact
from babelgate.addons.base import Addons
from babelgate.call import Call
from babelgate.config import Config
from babelgate.observe.observer import Observer
from babelgate.observe.sessions import Sessions
from babelgate.observe.usage import UsageLedger
from babelgate.providers.base import Credential, Reply, Upstream
from babelgate.registry import build_upstream
from babelgate.routing.cooldown import CooldownBook
from babelgate.routing.pool import Pool
from babelgate.routing.router import Router
from babelgate.server import generation
from babelgate.server.generation import Generation, Shared
from babelgate.server.reload import Reloader
from babelgate.store.base import Store
from babelgate.store.journal import Journal
from babelgate.store.shared import Change, SharedStore

log = logging.getLogger("babelgate.gateway")
SYNC_SECONDS = 2.0  # how often the request log is written and stored keys adopted (cooldowns come as they change: store/shared.py)
RELOAD_SECONDS = 30.0  # a shared store pushes changes; its cooldowns are reloaded this often besides, as a safety net


def open_store(config: Config) -> Store:
    if config.store.type == "memory":
        from babelgate.store.memory import MemoryStore

        return MemoryStore()
    from babelgate.store.keys import KeyCipher

    cipher = KeyCipher(config.store.key_file)
    if config.store.type == "redis":
        from babelgate.store.redis import RedisStore

        return RedisStore(config.store.url, prefix=config.store.prefix, timeout=config.store.timeout, cipher=cipher)
    from babelgate.store.sqlite import SqliteStore

    return SqliteStore(config.store.path, cipher=cipher)


def build_upstreams(config: Config) -> dict[str, Upstream]:
    return {name: build_upstream(name, provider) for name, provider in config.providers.items()}


async def add_stored_credentials(upstreams: Mapping[str, Upstream], store: Store) -> None:
    """Keys added with `babelgate accounts add` join their provider's pool."""
    for provider_name, name, key in await store.credentials():
        upstream = upstreams.get(provider_name)
        if upstream is None:
            log.warning("stored credential %s#%s names no configured provider; ignored", provider_name, name)
        else:
            upstream.add_credential(name, key)


class Gateway:
    """The running generation (server/generation.py) and the state every generation shares.

    `config`, `upstreams`, `router` and `addons` are the current generation's; a request holds its own
    generation from start to end (`serve`), so a reload (`adopt`) never changes one in flight."""

    def __init__(self, config: Config, store: Store | None = None) -> None:
        ledger, store = UsageLedger(), store or open_store(config)
        self.shared = Shared(CooldownBook(), Pool(), ledger, store, Journal(store, ledger.drain))
        self.book, self.pool, self.ledger, self.store = self.shared.book, self.shared.pool, self.shared.ledger, self.shared.store
        self.journal = self.shared.journal  # this process's writes, stored before the answers end (every generation's)
        self.current = generation.build(config, self.shared)
        self.retiring: set[Generation] = set()  # replaced generations with requests still in flight
        self.observer = Observer(config, self.book.snapshot)
        self.sessions = Sessions()  # Claude Code sessions: their telemetry (server/telemetry.py) and their requests
        self.observer.listeners.append(self.sessions.request)
        self.stored: set[tuple[str, str, str]] = set()  # the store's credentials this gateway has adopted
        self._syncer: asyncio.Task[None] | None = None
        self._stopping = False  # stop() asks the syncer to end after the sync under way
        self._closers: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()  # another instance's change to adopt: sync now rather than at the next tick
        self._reload_at = 0.0  # a shared store: when its cooldowns are next reloaded without being told
        self.reloader = Reloader(self, config.source)

    @property
    def config(self) -> Config:
        return self.current.config

    @property
    def upstreams(self) -> dict[str, Upstream]:
        return self.current.upstreams

    @property
    def router(self) -> Router:
        return self.current.router

    @property
    def addons(self) -> Addons:
        return self.current.addons

    async def answer(self, call: Call) -> Reply:
        """The current generation's answer (`serve` holds a generation and asks it directly)."""
        return await self.current.answer(call)

    async def adopt(self, config: Config) -> Generation:
        """Swap in a generation built from `config` (already validated). Requests in flight finish on the
        old one, whose upstreams that the new one does not reuse are closed once its last request is done.
        Raises what building fails with (an addon that cannot load); the running generation then stays."""
        old = self.current
        new = generation.build(config, self.shared, old)
        fresh = [u for u in new.upstreams.values() if u not in old.upstreams.values()]
        for upstream in fresh:
            for provider, name, key in self.stored:
                if provider == upstream.name:
                    upstream.add_credential(name, key)
        self.current = new
        self.observer.configure(config)
        _learn_secrets(new)
        closing = generation.retired_upstreams(old, new.upstreams.values())
        self.retiring.add(old)
        task = asyncio.create_task(self._retire(old, closing))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)
        return new

    async def _retire(self, old: Generation, closing: list[Upstream]) -> None:
        """Close `closing` once no request holds `old` (bounded by the longest exchange it allows)."""
        bound = max((u.config.limits.total for u in old.upstreams.values()), default=0.0) + 5.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(old.idle.wait(), bound)
        self.retiring.discard(old)
        for upstream in closing:
            await upstream.close()

    async def start(self) -> None:
        await self.journal.start()  # SQLite: what a killed process left in its redo log is applied first
        await self.adopt_stored_credentials()
        self.book.restore(await self.store.load_cooldowns())
        if isinstance(self.store, SharedStore):
            self.store.watch(self._changed)
            self._reload_at = time.monotonic() + RELOAD_SECONDS
        self._syncer = asyncio.create_task(self._sync_forever())
        self.reloader.start()

    async def stop(self) -> None:
        await self.reloader.stop()
        if self._syncer is not None:  # stopped between two syncs, never in the middle of one (its writes would be lost)
            self._stopping = True
            self._wake.set()
            await self._syncer
        await self.sync()
        for task in list(self._closers):
            task.cancel()
        closed: set[int] = set()
        for gen in [self.current, *self.retiring]:
            for upstream in gen.upstreams.values():
                if id(upstream) not in closed:
                    closed.add(id(upstream))
                    await upstream.close()
        await self.store.close()

    async def adopt_stored_credentials(self) -> None:
        """Keys added (or removed) with `babelgate accounts add|remove` join (or leave) their provider's pool,
        at start and at every sync: a running gateway needs no restart for them."""
        stored = set(await self.store.credentials())
        if stored == self.stored:
            return
        gone, added = self.stored - stored, stored - self.stored
        self.stored = stored
        upstreams = self.upstreams
        for provider_name, name, key in gone:
            upstream = upstreams.get(provider_name)
            if upstream is not None:
                slot = f"{provider_name}#{name}"
                left = [c for c in upstream.credentials if not (c.id == slot and c.key == key)]
                upstream.credentials = left or [Credential(f"{provider_name}#0", provider_name, "")]  # keyless again
        for provider_name, name, key in sorted(added):
            upstream = upstreams.get(provider_name)
            if upstream is None:
                log.warning("stored credential %s#%s names no configured provider; ignored", provider_name, name)
                continue
            slot = f"{provider_name}#{name}"
            upstream.credentials = [c for c in upstream.credentials if c.id != slot]  # a key replaced under its name
            upstream.add_credential(name, key)
            log.info("credential %s joined the pool (from the store)", slot)
        _learn_secrets(self.current)

    async def sync(self) -> None:
        """Write what the journal still holds (usage no answer waited for), then adopt the store's cooldowns.

        The store is the shared truth: other workers' cooldowns arrive here, and a credential
        cleared by `babelgate accounts verify` comes back into service.
        """
        await self.journal.stored()
        await self.observer.flush(self.store)
        await self.adopt_stored_credentials()
        if isinstance(self.store, SharedStore) and time.monotonic() < self._reload_at:
            return  # nothing changed elsewhere (it would have been pushed)
        self._reload_at = time.monotonic() + RELOAD_SECONDS
        stored = await self.store.load_cooldowns()
        unwritten = self.journal.unwritten()  # recorded while we were reading
        self.book.replace(e for e in stored if (e.credential, e.model) not in unwritten.cleared)
        self.book.restore(unwritten.cooldowns.values())

    def _changed(self, change: Change) -> None:
        """Another instance changed shared state (pushed by the store)."""
        if change.kind == "binding":
            self.pool.bind(change.session, change.credential)
        else:
            self._reload_at = 0.0
            self._wake.set()

    async def _sync_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SYNC_SECONDS)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.sync()
            except Exception:
                log.exception("could not sync state with the store")


def _learn_secrets(gen: Generation) -> None:
    """A config's secrets and its pools' keys join the redactor (babelgate/redact.py), which never forgets one."""
    redact.REDACTOR.add(redact.config_secrets(gen.config))
    redact.REDACTOR.add(c.key for upstream in gen.upstreams.values() for c in upstream.credentials)


GATEWAY = web.AppKey("gateway", Gateway)
