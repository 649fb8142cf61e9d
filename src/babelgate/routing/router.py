"""The attempt loop: resolve the model, try credentials in order, fail over before the first byte.

A retryable upstream failure records a cooldown for (credential, model) and moves on to the
next credential, then the next target of the fallback chain. When every candidate is cooling
and the earliest reset is within `routing.max_wait`, the loop waits for it. The loop ends with
the first `Reply`: an upstream stream is primed to its first event before it counts, and its
opening goes to the client at once; until its first content event the loop's later candidates may
continue it (routing/opening.py), and after that there is no failover, so output is never duplicated. A served
stream reports how it ended (`stream_ended`): a break counts against the credential, and enough
instabilities in a row bench it (`unstable`, routing/cooldown.py).

Every cooldown set or cleared and every new session binding goes to the store's journal
(store/journal.py), and is in the store before the loop goes on: before the next attempt after a
failure, before the reply of an attempt that changed state is handed on. A crash never loses a
cooldown that already steered a request elsewhere.

No HTTP here: upstreams are `providers.base.Upstream` objects, so a fake one tests this alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import AsyncGenerator, Mapping

from babelgate import ir
from babelgate.call import Call
from babelgate.capabilities import Catalog
from babelgate.config import Config
from babelgate.config_routing import Strategy
from babelgate.errors import UpstreamError
from babelgate.providers.base import Attempt, Credential, Reply, Upstream
from babelgate.routing import opening
from babelgate.routing.cooldown import CooldownBook
from babelgate.routing.exhausted import exhausted_error
from babelgate.routing.models import ModelResolver, Target
from babelgate.routing.pool import Pool
from babelgate.routing.scenarios import SCENARIO, Scenarios
from babelgate.routing.sessions import STICKY_TTL, session_key
from babelgate.store.base import Store
from babelgate.store.journal import Journal

log = logging.getLogger("babelgate.routing")
WAITS_PER_REQUEST = 2
PLAN = "routing.plan"  # the call's note: its targets and variant, resolved once


class Router:
    def __init__(
        self,
        config: Config,
        upstreams: Mapping[str, Upstream],
        book: CooldownBook,
        pool: Pool,
        store: Store,
        journal: Journal | None = None,
    ) -> None:
        self.config = config
        self.upstreams = upstreams
        self.resolver = ModelResolver(config)
        self.scenarios = Scenarios(config.routing.scenarios)
        self.catalog = Catalog(config)
        self.book = book
        self.pool = pool
        self.store = store
        self.last_error: dict[str, tuple[int, str, float]] = {}  # per credential: status, message, when
        self.journal = journal or Journal(store)  # cooldown and binding changes, on their way to the store

    def strategy(self, upstream: Upstream) -> Strategy:
        return upstream.config.strategy or self.config.routing.strategy

    def plan(self, call: Call) -> tuple[list[Target], ir.Reasoning | None]:
        """The call's targets: those of its scenario's model (routing/scenarios.py), else of the model it names."""
        planned: tuple[list[Target], ir.Reasoning | None] | None = call.notes.get(PLAN)
        if planned is None:
            scenario = self.scenarios.pick(call) if self.scenarios else None
            if scenario is not None:
                call.notes[SCENARIO] = scenario.name
            planned = call.notes[PLAN] = self.resolver.resolve(scenario.target if scenario else call.request.model)
        return planned

    async def route(self, call: Call) -> Reply:
        """The first reply any candidate gives; `call.served` says which attempt it was. A stream's
        later candidates stay at hand: they may continue it until its first content (routing/opening.py)."""
        replies = self._replies(call)
        reply = await anext(replies)
        if reply.chunks is None:
            await replies.aclose()
            return reply
        return opening.continued(self, call, reply, replies)

    async def _replies(self, call: Call) -> AsyncGenerator[Reply]:
        """Every candidate's reply in turn, as long as the caller asks for another; then the error."""
        targets, variant = self.plan(call)
        if variant is not None:
            call.request = dataclasses.replace(call.request, reasoning=variant)
        if any(self.strategy(self.upstreams[t.provider]) == "sticky" for t in targets):
            call.session = session_key(call.request, call.headers)  # only sticky routing needs it
        deadline = time.time() + self.config.routing.max_wait
        for _ in range(WAITS_PER_REQUEST + 1):
            for target in targets:
                async with contextlib.aclosing(self._try_target(call, target)) as replies:
                    async for reply in replies:
                        yield reply
            wait = self._wait_time(targets, deadline)
            if wait is None:
                break
            log.info("all credentials for %s cooling; waiting %.1fs", call.request.model, wait)
            await asyncio.sleep(wait)
        raise exhausted_error(call, targets, self.upstreams, self.book, self.last_error, self.config.routing.max_wait)

    async def _try_target(self, call: Call, target: Target) -> AsyncGenerator[Reply]:
        upstream = self.upstreams[target.provider]
        if call.session and self.pool.binding(call.session) is None:
            bound = await self.store.get_binding(call.session)
            if bound is not None:
                self.pool.bind(call.session, bound)
        for credential in self.pool.order(upstream.credentials, self.strategy(upstream), call.session):
            if self.book.blocked(credential.id, target.model) is not None:
                continue
            attempt = self._attempt(call, target, upstream, credential)
            try:
                reply = await upstream.send(attempt)
            except UpstreamError as error:
                try:
                    self._failed(call, attempt, error)
                finally:
                    await self.journal.durable()  # the cooldown is stored before anything else is tried or answered
                continue
            if self._served(call, attempt, finished=reply.chunks is None):
                await self.journal.durable()
            yield reply
            # Asked for another: that stream failed before its content (routing/opening.py), and its cooldown is stored first.
            await self.journal.durable()

    def _attempt(self, call: Call, target: Target, upstream: Upstream, credential: Credential) -> Attempt:
        request = self._capped(call.request, target, upstream)
        raw = call.raw if call.inbound.name == upstream.dialect_for(target.model).name else None
        return Attempt(request, target.model, credential, call.headers, raw, call.hooks, self)

    def _capped(self, request: ir.Request, target: Target, upstream: Upstream) -> ir.Request:
        """The request with max_tokens within what the target takes: at most the provider's `max_tokens` (which
        also fills it in when the client sent none), else what the capability table knows of the model (which
        only clamps); at least the upstream's own minimum (OpenAI Responses refuses a `max_output_tokens` under
        16, and Claude Code probes a `/model` switch with `max_tokens: 1`). Every path gets this value, the
        same-dialect pass-through too."""
        wanted = request.max_tokens
        cap = upstream.max_tokens_cap(target.model)
        if cap is None and wanted is not None:
            limit = self.catalog.lookup(target.provider, target.model).output_limit(request)
            cap = limit if limit is not None and wanted > limit else None
        if cap is not None and (wanted is None or wanted > cap):
            wanted = cap
        floor = upstream.max_tokens_floor(target.model)
        if wanted is not None and wanted < floor:
            log.debug("max_tokens %d raised to %s's minimum %d", wanted, target.provider, floor)
            wanted = floor
        return request if wanted == request.max_tokens else dataclasses.replace(request, max_tokens=wanted)

    def _failed(self, call: Call, attempt: Attempt, error: UpstreamError) -> None:
        """Record a failure; raise it when no other credential can do better."""
        credential, failure = attempt.credential, error.failure
        entry = self.book.record_failure(credential.id, attempt.model, failure)
        if entry is not None:
            self.journal.cooldown(entry)
        self.last_error[credential.id] = (error.upstream_status, error.message, time.time())
        self.pool.used(credential, call.session, ok=False)
        call.failures.append((attempt, error))
        status = error.upstream_status or "unreachable"
        log.warning("%s via %s failed: %s %s (%s)", attempt.target, credential.id, status, failure.reason.value, error.message[:200])
        if not failure.retryable:
            raise error

    def _served(self, call: Call, attempt: Attempt, *, finished: bool) -> bool:
        """Record a success; whether it changed what the store keeps (a cooldown cleared, a new binding)."""
        credential = attempt.credential
        call.served = attempt
        changed = False
        for dropped in self.book.record_success(credential.id, attempt.model):
            self.journal.cleared(dropped.credential, dropped.model)
            changed = True
        if finished:
            self.book.record_finished(credential.id)
        if call.session and self.pool.binding(call.session) != credential.id:
            self.journal.binding(call.session, credential.id, STICKY_TTL)
            changed = True
        self.pool.used(credential, call.session, ok=True)
        return changed

    def stream_ended(self, attempt: Attempt, broke: str | None) -> None:
        """A served stream is over: clean (`broke` None), or broken after its first byte."""
        credential = attempt.credential
        if broke is None:
            self.book.record_finished(credential.id)
            return
        self.last_error[credential.id] = (200, broke, time.time())
        entry = self.book.record_break(credential.id, attempt.model)
        if entry is None:
            log.warning("%s via %s broke mid-stream: %s", attempt.target, credential.id, broke[:200])
            return
        self.journal.cooldown(entry)  # written at once; the stream is over, so no answer waits for it
        seconds = entry.until - time.time()
        log.warning("%s benched for %.0fs (unstable): broke mid-stream again: %s", credential.id, seconds, broke[:200])

    def _wait_time(self, targets: list[Target], deadline: float) -> float | None:
        """Seconds until some candidate frees up, if that is before the deadline."""
        earliest = math.inf
        for target in targets:
            credentials = [c.id for c in self.upstreams[target.provider].credentials]
            until = self.book.earliest_available(credentials, target.model)
            if until is not None:
                earliest = min(earliest, until)
        if earliest == math.inf or earliest > deadline:
            return None
        return max(earliest - time.time(), 0.0)
