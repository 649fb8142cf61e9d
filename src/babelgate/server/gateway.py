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
FLUSH_SECONDS = 5.0


def open_store(config: Config) -> Store:
    from babelgate.store.sqlite import SqliteStore

    return SqliteStore(config.store.path)


class Gateway:
    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.providers = {name: Provider(name, p) for name, p in config.providers.items()}
        self.book = CooldownBook()
        self.pool = Pool()
        self.ledger = UsageLedger()
        self.store = store or open_store(config)
        self.dispatcher = Dispatcher(config, self.providers, self.book, self.pool, self.ledger)
        self._flusher: asyncio.Task[None] | None = None
        self._saved: set[Any] = set()

    async def start(self) -> None:
        self.book.restore(await self.store.load_cooldowns())
        self._flusher = asyncio.create_task(self._flush_forever())

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        await self.flush()
        for provider in self.providers.values():
            await provider.close()
        await self.store.close()

    async def flush(self) -> None:
        """Write cooldown changes and usage increments to the store (off the event loop)."""
        entries = self.book.snapshot()
        current = {(e.credential, e.model) for e in entries}
        for entry in entries:
            await self.store.save_cooldown(entry)
        for credential, model in self._saved - current:
            await self.store.delete_cooldowns(credential, model)
        self._saved = current
        for (credential, model, day), tally in self.ledger.drain().items():
            await self.store.add_usage(credential, model, day, tally.requests, tally.input_tokens, tally.output_tokens)

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:
                log.exception("could not write state to the store")

    def admin_routes(self) -> list[tuple[str, str, Any]]:
        from babelgate.server.admin import account_limits_handler

        return [("GET", "/account-limits", account_limits_handler)]
