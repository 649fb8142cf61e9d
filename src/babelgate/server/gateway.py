"""Everything one server process holds: providers, routing state, the store."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from babelgate.config import Config
from babelgate.observe.usage import UsageLedger
from babelgate.providers.base import Provider
from babelgate.routing.cooldown import CooldownBook
from babelgate.routing.dispatcher import Dispatcher
from babelgate.routing.pool import Pool
from babelgate.store.base import Store

log = logging.getLogger("babelgate.gateway")
SYNC_SECONDS = 2.0


def open_store(config: Config) -> Store:
    from babelgate.store.sqlite import SqliteStore

    return SqliteStore(config.store.path)


async def add_stored_credentials(providers: dict[str, Provider], store: Store) -> None:
    """Keys added with `babelgate accounts add` join their provider's pool."""
    for provider_name, name, key in await store.credentials():
        provider = providers.get(provider_name)
        if provider is None:
            log.warning("stored credential %s#%s names no configured provider; ignored", provider_name, name)
        else:
            provider.add_credential(name, key)


class Gateway:
    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.providers = {name: Provider(name, p) for name, p in config.providers.items()}
        self.book = CooldownBook()
        self.pool = Pool()
        self.ledger = UsageLedger()
        self.store = store or open_store(config)
        self.dispatcher = Dispatcher(config, self.providers, self.book, self.pool, self.ledger, self.store)
        self._syncer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await add_stored_credentials(self.providers, self.store)
        self.book.restore(await self.store.load_cooldowns())
        self._syncer = asyncio.create_task(self._sync_forever())

    async def stop(self) -> None:
        if self._syncer is not None:
            self._syncer.cancel()
        await self.sync()
        for provider in self.providers.values():
            await provider.close()
        await self.store.close()

    async def sync(self) -> None:
        """Write this process's cooldown changes and usage, then adopt the store's cooldowns.

        The store is the shared truth: other workers' cooldowns arrive here, and a credential
        cleared by `babelgate accounts verify` comes back into service.
        """
        dispatcher = self.dispatcher
        dirty, dispatcher.dirty = dispatcher.dirty, {}
        cleared, dispatcher.cleared = dispatcher.cleared, set()
        for credential, model in cleared - dirty.keys():
            await self.store.delete_cooldowns(credential, model)
        for entry in dirty.values():
            await self.store.save_cooldown(entry)
        for (credential, model, day), tally in self.ledger.drain().items():
            await self.store.add_usage(credential, model, day, tally.requests, tally.input_tokens, tally.output_tokens)
        self.book.replace(await self.store.load_cooldowns())
        self.book.restore(dispatcher.dirty.values())  # recorded while we were writing

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            try:
                await self.sync()
            except Exception:
                log.exception("could not sync state with the store")

    def admin_routes(self) -> list[tuple[str, str, Any]]:
        from babelgate.server.admin import account_limits_handler

        return [("GET", "/account-limits", account_limits_handler)]
