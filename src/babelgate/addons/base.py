"""The hook API, and the chain that calls every addon's hooks in order.

An addon subclasses `Addon` and overrides the hooks it needs; the chain calls only those.
A hook that raises is logged with its traceback and skipped: an addon never fails a request.

- `request(call)` (plain or async): before routing. May rewrite `call.request` (and `call.raw`, the client's body
  for same-dialect pass-through), or answer the request itself by returning an `ir.Response`:
  the first answer wins and no upstream is called. Raising a `GatewayError` refuses the request with it.
- `upstream_request(attempt, body)`: the JSON body of each upstream try, editable in place.
- `event(call, event)`: each ir stream event, before it is rendered for the client.
- `response(call, response)`: each whole (non-streaming) response, before it is rendered.
- `reply(call, reply)` (plain or async): the upstream's `Reply` before the relay writes a byte; returns the
  reply to relay (the same one edited, or one that wraps its stream, which may await between events).
- `error(call, error)`: an error about to be answered before any output; returns the error to answer.
- `settle(call)` (async): awaited once the answer is complete, before its last bytes reach the client,
  for work the client's next request may depend on (a store write another instance will read).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from babelgate import ir
from babelgate.call import Call
from babelgate.config import Config, ConfigError
from babelgate.errors import GatewayError
from babelgate.observe.usage import UsageLedger
from babelgate.providers.base import Attempt, Reply
from babelgate.registry import BUILTIN_ADDONS, OPT_IN_ADDONS, load
from babelgate.store.base import Store

if TYPE_CHECKING:
    from babelgate.routing.router import Router

log = logging.getLogger("babelgate.addons")
SETTLE_SECONDS = 5.0  # the most an addon's settle hook may hold back the end of an answer


@dataclass(slots=True)
class Context:
    """What an addon may use of the gateway, and its own options from the config."""

    config: Config
    store: Store
    ledger: UsageLedger
    options: dict[str, Any] = field(default_factory=dict)
    router: Router | None = None  # the gateway's, for an addon that asks a model itself (addons/safeguards.py)


class Addon:
    name: ClassVar[str] = ""
    # Attributes handed from the old instance to the new one when the config is reloaded (server/generation.py):
    # state that running conversations depend on. Everything else is built afresh from the new config.
    kept_on_reload: ClassVar[tuple[str, ...]] = ()

    def __init__(self, context: Context) -> None:
        self.context = context

    def request(self, call: Call) -> ir.Response | Awaitable[ir.Response | None] | None:
        """Plain or `async def`: a hook that needs I/O awaits, the others cost no coroutine."""
        return None

    def upstream_request(self, attempt: Attempt, body: dict[str, Any]) -> None:
        return None

    def event(self, call: Call, event: ir.Event) -> None:
        return None

    def response(self, call: Call, response: ir.Response) -> None:
        return None

    def error(self, call: Call, error: GatewayError) -> GatewayError:
        return error

    def reply(self, call: Call, reply: Reply) -> Reply | Awaitable[Reply]:
        return reply

    async def settle(self, call: Call) -> None:
        return None


class Addons:
    """The hook chain. It is also the `BodyHook` each upstream attempt calls."""

    def __init__(self, addons: list[Addon]) -> None:
        self.addons = addons
        self._request = self._overriding("request")
        self._upstream_request = self._overriding("upstream_request")
        self._event = self._overriding("event")
        self._response = self._overriding("response")
        self._error = self._overriding("error")
        self._reply = self._overriding("reply")
        self._settle = self._overriding("settle")

    def _overriding(self, hook: str) -> list[tuple[str, Callable[..., Any]]]:
        """The addons that define `hook`, as (name, bound method): the rest cost nothing."""
        return [(_name(a), getattr(a, hook)) for a in self.addons if getattr(type(a), hook) is not getattr(Addon, hook)]

    async def request(self, call: Call) -> ir.Response | None:
        for name, hook in self._request:
            try:
                given = hook(call)
                answer: ir.Response | None = await given if inspect.isawaitable(given) else given
            except GatewayError:
                raise
            except Exception:
                _failed(name, "request")
                continue
            if answer is not None:
                return answer
        return None

    def upstream_request(self, attempt: Attempt, body: dict[str, Any]) -> None:
        _each(self._upstream_request, "upstream_request", attempt, body)

    def event(self, call: Call, event: ir.Event) -> None:
        for name, hook in self._event:  # `_each`, inlined: this runs once per event of every stream
            try:
                hook(call, event)
            except Exception:
                _failed(name, "event")

    def response(self, call: Call, response: ir.Response) -> None:
        _each(self._response, "response", call, response)

    async def reply(self, call: Call, reply: Reply) -> Reply:
        for name, hook in self._reply:
            try:
                given = hook(call, reply)
                reply = await given if inspect.isawaitable(given) else given
            except Exception:
                _failed(name, "reply")
        return reply

    async def settle(self, call: Call) -> None:
        """Every settle hook, all within SETTLE_SECONDS (one timer, not one per hook): past that, the
        answer goes out without what the hook under way (and those after it) were doing."""
        if not self._settle:
            return
        name = ""
        try:
            async with asyncio.timeout(SETTLE_SECONDS):  # no task, unlike wait_for
                for name, hook in self._settle:
                    try:
                        await hook(call)
                    except Exception:
                        _failed(name, "settle")
        except TimeoutError:
            _failed(name, "settle")

    def error(self, call: Call, error: GatewayError) -> GatewayError:
        for name, hook in self._error:
            try:
                error = hook(call, error)
            except Exception:
                _failed(name, "error")
        return error


def _each(hooks: list[tuple[str, Callable[..., Any]]], hook_name: str, *args: Any) -> None:
    """Call every hook that returns nothing; one that raises is logged and the next one runs."""
    for name, hook in hooks:
        try:
            hook(*args)
        except Exception:
            _failed(name, hook_name)


def _name(addon: Addon) -> str:
    return addon.name or f"{type(addon).__module__}:{type(addon).__qualname__}"


def _failed(name: str, hook: str) -> None:
    log.exception("addon %s failed in its %s hook; skipped", name, hook)


def load_addons(config: Config, context: Context) -> Addons:
    """The built-ins switched on (all but the `OPT_IN_ADDONS`, unless the config says), in their order, then
    each third-party addon the config names.

    A config value is `true`/`false`, or a mapping: on, with those options (`context.options`)."""
    wanted = [name for name in BUILTIN_ADDONS if config.addons.get(name, name not in OPT_IN_ADDONS) is not False]
    wanted += [name for name, setting in config.addons.items() if setting is not False and name not in BUILTIN_ADDONS]
    addons = []
    for name in wanted:
        cls = _addon_class(name)
        setting = config.addons.get(name, True)
        options = setting if isinstance(setting, dict) else {}
        addons.append(cls(replace(context, options=options)))
    return Addons(addons)


def _addon_class(path: str) -> type[Addon]:
    try:
        found = load(BUILTIN_ADDONS.get(path, path))
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"addons: cannot load {path!r}: {error}") from None
    if not (isinstance(found, type) and issubclass(found, Addon)):
        raise ConfigError(f"addons: {path!r} is not a babelgate.addons.base.Addon subclass")
    return found
