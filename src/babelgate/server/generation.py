"""One generation of what the gateway builds from its config: the upstreams, the router, the addons.

A config reload (server/reload.py) builds a new generation next to the running one and swaps it in:
a request holds the generation it started on (`enter`/`leave`) to its last byte, so requests in
flight finish on the old upstreams while new ones use the new. What outlives a config (the cooldown
book, sticky bindings, usage, the store, the journal of pending writes) is shared; an
upstream whose provider config did not change is carried over with its pooled connections, and an
addon keeps the state it names in `kept_on_reload` (caches a conversation depends on).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from babelgate.addons.base import Addons, Context, load_addons
from babelgate.call import Call
from babelgate.config import Config
from babelgate.dialects import validate
from babelgate.errors import GatewayError
from babelgate.observe.usage import UsageLedger
from babelgate.providers.base import Reply, Upstream
from babelgate.registry import build_upstream
from babelgate.routing.cooldown import CooldownBook
from babelgate.routing.pool import Pool
from babelgate.routing.router import Router
from babelgate.server.relay import canned
from babelgate.store.base import Store
from babelgate.store.journal import Journal


@dataclass(slots=True)
class Shared:
    """What every generation of one gateway uses: state that a config change must not reset."""

    book: CooldownBook
    pool: Pool
    ledger: UsageLedger
    store: Store
    journal: Journal  # the writes of every generation's router, on their way to the store (store/journal.py)


@dataclass(eq=False)
class Generation:
    config: Config
    upstreams: dict[str, Upstream]
    router: Router
    addons: Addons
    in_flight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # set while no request holds this generation

    def __post_init__(self) -> None:
        self.idle.set()

    def enter(self) -> None:
        self.in_flight += 1
        self.idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.idle.set()

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

    def credentials_ids(self) -> set[str]:
        return {c.id for upstream in self.upstreams.values() for c in upstream.credentials}


def build(config: Config, shared: Shared, previous: Generation | None = None) -> Generation:
    """A generation for `config`; with `previous`, unchanged upstreams and the router's pending state carry over."""
    upstreams: dict[str, Upstream] = {}
    for name, provider in config.providers.items():
        old = previous.upstreams.get(name) if previous is not None else None
        upstreams[name] = old if old is not None and old.config == provider else build_upstream(name, provider)
    router = Router(config, upstreams, shared.book, shared.pool, shared.store, shared.journal)
    if previous is not None:
        router.last_error = previous.router.last_error
    addons = load_addons(config, Context(config, shared.store, shared.ledger, router=router))
    if previous is not None:
        _keep_addon_state(previous.addons, addons)
    return Generation(config, upstreams, router, addons)


def _keep_addon_state(old: Addons, new: Addons) -> None:
    """An addon of the same class hands over the attributes it lists in `kept_on_reload`."""
    by_class = {type(addon): addon for addon in old.addons}
    for addon in new.addons:
        before = by_class.get(type(addon))
        for name in addon.kept_on_reload if before is not None else ():
            if hasattr(before, name):
                setattr(addon, name, getattr(before, name))


def retired_upstreams(old: Generation, kept: Iterable[Upstream]) -> list[Upstream]:
    """The upstreams of `old` that the next generation does not use: closed once `old` is idle."""
    still = {id(upstream) for upstream in kept}
    return [upstream for upstream in old.upstreams.values() if id(upstream) not in still]
