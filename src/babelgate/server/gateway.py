"""Everything one server process holds: upstreams, addons, routing state, the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping

from aiohttp import web

from babelgate.addons.base import Addons, Context, load_addons
from babelgate.call import Call
from babelgate.config import Config
from babelgate.dialects import validate
from babelgate.errors import GatewayError
from babelgate.observe.observer import Observer
from babelgate.observe.usage import UsageLedger
from babelgate.providers.base import Reply, Upstream
from babelgate.registry import build_upstream
from babelgate.routing.cooldown import CooldownBook
from babelgate.routing.pool import Pool
from babelgate.routing.router import Router
from babelgate.server.relay import canned
from babelgate.store.base import Store
from babelgate.store.journal import Journal
from babelgate.store.shared import Change, SharedStore

log = logging.getLogger("babelgate.gateway")
SYNC_SECONDS = 2.0  # how often other workers' cooldowns are adopted (this process's own changes are written at once)
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
    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.upstreams = build_upstreams(config)
        self.book = CooldownBook()
        self.pool = Pool()
        self.ledger = UsageLedger()
        self.store = store or open_store(config)
        self.journal = Journal(self.store, self.ledger.drain)  # this process's writes, stored before the answers end
        self.router = Router(config, self.upstreams, self.book, self.pool, self.store, self.journal)
        self.addons: Addons = load_addons(config, Context(config, self.store, self.ledger, router=self.router))
        self.observer = Observer(config, self.book.snapshot)
        self._syncer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()  # another instance's change to adopt: sync now rather than at the next tick
        self._reload_at = 0.0  # a shared store: when its cooldowns are next reloaded without being told

    async def answer(self, call: Call) -> Reply:
        """An addon's own answer, else the first upstream reply (through the addons' reply hooks);
        errors, an addon's refusal too, pass the addons' error hooks."""
        try:
            response = await self.addons.request(call)
            if response is not None:
                return canned(response, call.request.stream)
            validate.pairing(call.inbound.name, call.raw or {}, call.request)
            reply = await self.router.route(call)
        except GatewayError as error:
            raise self.addons.error(call, error) from None
        return await self.addons.reply(call, reply)

    async def start(self) -> None:
        await add_stored_credentials(self.upstreams, self.store)
        self.book.restore(await self.store.load_cooldowns())
        if isinstance(self.store, SharedStore):
            self.store.watch(self._changed)
            self._reload_at = time.monotonic() + RELOAD_SECONDS
        self._syncer = asyncio.create_task(self._sync_forever())

    async def stop(self) -> None:
        if self._syncer is not None:
            self._syncer.cancel()
        await self.sync()
        for upstream in self.upstreams.values():
            await upstream.close()
        await self.store.close()

    async def sync(self) -> None:
        """Write what the journal still holds (usage no answer waited for), then adopt the store's cooldowns.

        The store is the shared truth: other workers' cooldowns arrive here, and a credential
        cleared by `babelgate accounts verify` comes back into service.
        """
        await self.journal.durable()
        await self.observer.flush(self.store)
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
            try:
                await self.sync()
            except Exception:
                log.exception("could not sync state with the store")


GATEWAY = web.AppKey("gateway", Gateway)
