"""The attempt loop: resolve the model, try credentials in order, fail over before the first byte.

A retryable upstream failure records a cooldown for (credential, model) and moves on to
the next credential, then the next target of the fallback chain. When every candidate is
cooling and the earliest reset is within `routing.max_wait`, the loop waits for it. Once
a byte reached the client there is no failover: a later upstream failure becomes an
error event in the client's stream, so output is never duplicated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import math
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from babelgate import ir, tokens
from babelgate.config import Config, Strategy
from babelgate.dialects.base import Dialect, StreamParser
from babelgate.errors import GatewayError, Kind, UpstreamError, context_overflow
from babelgate.observe.usage import UsageLedger
from babelgate.providers.base import Credential, Provider
from babelgate.routing.classify import Reason, classify
from babelgate.routing.cooldown import CooldownBook, Entry
from babelgate.routing.models import ModelResolver, Target
from babelgate.routing.pool import Pool
from babelgate.routing.signatures import SignatureCache
from babelgate.store.base import Store

log = logging.getLogger("babelgate.dispatch")
WAITS_PER_REQUEST = 2
STICKY_TTL = 24 * 3600.0
COOLING_REASONS = {Reason.QUOTA, Reason.RATE_LIMIT}
SERVED_BY = web.RequestKey("served_by", str)  # which target and credential served a request, for the log line
# Past this many seconds to the reset, tell clients not to retry on their own (Claude Code
# would otherwise back off for minutes in silence); the message says when to come back.
CLIENT_RETRY_LIMIT = 60


@dataclass(slots=True)
class Call:
    """One client request on its way through the gateway."""

    inbound: Dialect
    request: ir.Request
    headers: Mapping[str, str]  # the client's, case-insensitive
    raw: dict[str, Any] | None = None  # the client's body, for same-dialect pass-through
    session: str = ""  # the conversation, when a sticky strategy is in play
    failures: list[tuple[Target, Credential, UpstreamError]] = field(default_factory=list)


def strategy_of(provider: Provider, config: Config) -> Strategy:
    return provider.config.strategy or config.routing.strategy


def session_key(request: ir.Request, headers: Mapping[str, str]) -> str:
    """What identifies a conversation, for sticky routing."""
    if headers.get("x-claude-code-session-id"):
        return headers["x-claude-code-session-id"]
    if request.user:
        try:
            user = orjson.loads(request.user)
            if isinstance(user, dict) and user.get("session_id"):
                return str(user["session_id"])
        except orjson.JSONDecodeError:
            pass
        return request.user
    first = next((m for m in request.messages if m.role == "user"), None)
    text = "".join(p.text for p in first.parts if isinstance(p, ir.TextPart)) if first else ""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Dispatcher:
    def __init__(
        self, config: Config, providers: dict[str, Provider], book: CooldownBook, pool: Pool, ledger: UsageLedger, store: Store
    ) -> None:
        self.config = config
        self.providers = providers
        self.resolver = ModelResolver(config)
        self.book = book
        self.pool = pool
        self.ledger = ledger
        self.store = store
        self.signatures = SignatureCache()
        self.last_error: dict[str, tuple[int, str, float]] = {}
        # Cooldown changes not yet written to the store (the gateway's sync takes them).
        self.dirty: dict[tuple[str, str], Entry] = {}
        self.cleared: set[tuple[str, str]] = set()
        self._background: set[asyncio.Task[None]] = set()

    async def handle(self, http: web.Request, call: Call) -> web.StreamResponse:
        targets, variant = self.resolver.resolve(call.request.model)
        if variant is not None:
            call.request = dataclasses.replace(call.request, reasoning=variant)
        if any(strategy_of(self.providers[t.provider], self.config) == "sticky" for t in targets):
            call.session = session_key(call.request, call.headers)  # only sticky routing needs it
        deadline = time.time() + self.config.routing.max_wait
        for _ in range(WAITS_PER_REQUEST + 1):
            for target in targets:
                provider = self.providers[target.provider]
                strategy = strategy_of(provider, self.config)
                if call.session and self.pool.binding(call.session) is None:
                    bound = await self.store.get_binding(call.session)
                    if bound is not None:
                        self.pool.bind(call.session, bound)
                for credential in self.pool.order(provider.credentials, strategy, call.session):
                    if self.book.blocked(credential.id, target.model) is not None:
                        continue
                    response = await self._try(http, call, target, provider, credential)
                    if response is not None:
                        return response
            wait = self._wait_time(targets, deadline)
            if wait is None:
                break
            log.info("all credentials for %s cooling; waiting %.1fs", call.request.model, wait)
            await asyncio.sleep(wait)
        raise self._exhausted(call, targets)

    async def _try(
        self, http: web.Request, call: Call, target: Target, provider: Provider, credential: Credential
    ) -> web.StreamResponse | None:
        """Serve the call from one credential; None means it failed retryably and was recorded."""
        try:
            response = await self._attempt(http, call, target, provider, credential)
        except UpstreamError as error:
            failure = classify(error.upstream_status, error.upstream_headers, error.body, error.message)
            entry = self.book.record_failure(credential.id, target.model, failure)
            if entry is not None:
                self.dirty[(entry.credential, entry.model)] = entry
            self.last_error[credential.id] = (error.upstream_status, error.message, time.time())
            self.pool.used(credential, call.session, ok=False)
            call.failures.append((target, credential, error))
            log.warning(
                "%s via %s failed: %s %s (%s)",
                target,
                credential.id,
                error.upstream_status or "unreachable",
                failure.reason.value,
                error.message[:200],
            )
            if not failure.retryable:
                raise
            return None
        for dropped in self.book.record_success(credential.id, target.model):
            self.cleared.add((dropped.credential, dropped.model))
        if call.session and self.pool.binding(call.session) != credential.id:
            self._in_background(self.store.set_binding(call.session, credential.id, STICKY_TTL))
        self.pool.used(credential, call.session, ok=True)
        return response

    def _in_background(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(job)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _prepare(self, call: Call, target: Target, provider: Provider) -> ir.Request:
        request = call.request
        cap = provider.max_tokens_cap(target.model)
        if cap is not None and (request.max_tokens is None or request.max_tokens > cap):
            request = dataclasses.replace(request, max_tokens=cap)
        return request

    async def _attempt(
        self, http: web.Request, call: Call, target: Target, provider: Provider, credential: Credential
    ) -> web.StreamResponse:
        http[SERVED_BY] = f"{call.request.model} -> {target} ({credential.id})"
        request = self._prepare(call, target, provider)
        if self._passthrough(call, provider):
            assert call.raw is not None
            body = orjson.dumps(provider.dialect.passthrough(call.raw, request, target.model))
        else:
            self.signatures.restore(request)
            body = orjson.dumps(provider.dialect.encode_request(request, target.model, provider.options))
        url = provider.url(target.model, request.stream)
        try:
            upstream = await provider.session.post(url, data=body, headers=provider.headers(credential, call.headers))
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise UpstreamError(
                provider.name, 0, f"provider {provider.name!r} is unreachable at {provider.config.base_url}: {_reason(error)}"
            ) from None
        try:
            if upstream.status >= 400:
                raise await self._upstream_error(provider, credential, upstream)
            if not request.stream:
                return await self._complete(call, target, credential, provider, upstream)
            return await self._stream(http, call, target, credential, provider, upstream)
        finally:
            upstream.close()

    async def _upstream_error(self, provider: Provider, credential: Credential, upstream: aiohttp.ClientResponse) -> UpstreamError:
        raw = await upstream.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")[:1000]
        message = provider.dialect.error_message(body)
        if credential.key:  # some upstreams echo the key they were given
            message = message.replace(credential.key, credential.redacted)
        said = f"{provider.name} returned HTTP {upstream.status}: {message}"
        overflow = context_overflow(message) if upstream.status in (400, 413, 422) else None
        return UpstreamError(
            provider.name,
            upstream.status,
            f"{overflow} ({said})" if overflow else said,
            headers=dict(upstream.headers),
            body=body,
        )

    async def _complete(
        self, call: Call, target: Target, credential: Credential, provider: Provider, upstream: aiohttp.ClientResponse
    ) -> web.Response:
        try:
            raw = await upstream.read()
            data = orjson.loads(raw)
            response = provider.dialect.parse_response(data)
        except (TimeoutError, ValueError, TypeError, KeyError, AttributeError, aiohttp.ClientError) as error:
            raise UpstreamError(provider.name, 502, f"{provider.name} sent an unreadable response: {_reason(error)}") from None
        self.ledger.record(credential, target.model, response.usage)
        self.signatures.remember_parts(response.parts)
        if self._passthrough(call, provider):
            return web.Response(body=raw, content_type="application/json")
        response.model = call.request.model
        return web.Response(body=orjson.dumps(call.inbound.render_response(response)), content_type="application/json")

    async def _stream(
        self, http: web.Request, call: Call, target: Target, credential: Credential, provider: Provider, upstream: aiohttp.ClientResponse
    ) -> web.StreamResponse:
        passthrough = self._passthrough(call, provider)
        watch = _Watcher(provider.dialect.stream_parser(), call.request, self.signatures)
        chunks = upstream.content.iter_any()
        # Read until the first real event: an early upstream error can still fail over.
        head: list[bytes] = []
        pending: list[ir.Event] = []
        ended = False
        try:
            while not any(not isinstance(e, ir.Start) for e in pending):
                try:
                    head.append(await chunks.__anext__())
                    pending.extend(watch.feed(head[-1]))
                except StopAsyncIteration:
                    pending.extend(watch.close())
                    ended = True
                    break
        except (TimeoutError, aiohttp.ClientError) as error:
            raise UpstreamError(provider.name, 502, f"{provider.name} stream failed before any output: {_reason(error)}") from None
        first = next((e for e in pending if not isinstance(e, ir.Start)), None)
        if isinstance(first, ir.StreamError):
            status = {Kind.RATE_LIMIT.value: 429, Kind.OVERLOADED.value: 529}.get(first.kind, 502)
            raise UpstreamError(provider.name, status, f"{provider.name} stream failed: {first.message}")

        renderer = call.inbound.stream_renderer(call.request)

        def render(chunk: bytes, events: list[ir.Event]) -> bytes:
            if passthrough:  # same dialect: the upstream's bytes go out untouched, only watched
                return chunk
            return b"".join([renderer.render(e) for e in events])

        out = web.StreamResponse(headers={"Content-Type": renderer.content_type, "Cache-Control": "no-cache"})
        await out.prepare(http)
        await out.write(render(b"".join(head), pending))
        if not ended:
            try:
                async for chunk in chunks:
                    data = render(chunk, watch.feed(chunk))
                    if data:
                        await out.write(data)
                tail = watch.close()
            except (TimeoutError, aiohttp.ClientError) as error:
                tail = [ir.StreamError(Kind.UPSTREAM.value, f"{provider.name} stream broke: {_reason(error)}")]
            # Pass-through already relayed the upstream's own ending; only a break needs telling.
            tail = [e for e in tail if not passthrough or isinstance(e, ir.StreamError)]
            if tail:
                await out.write(b"".join([renderer.render(e) for e in tail]))
        if watch.usage is not None:
            self.ledger.record(credential, target.model, watch.usage)
        await out.write_eof()
        return out

    @staticmethod
    def _passthrough(call: Call, provider: Provider) -> bool:
        return call.raw is not None and call.inbound.name == provider.dialect.name

    def _wait_time(self, targets: list[Target], deadline: float) -> float | None:
        """Seconds until some candidate frees up, if that is before the deadline."""
        now = time.time()
        earliest = math.inf
        for target in targets:
            credentials = [c.id for c in self.providers[target.provider].credentials]
            until = self.book.earliest_available(credentials, target.model)
            if until is not None:
                earliest = min(earliest, until)
        if earliest == math.inf or earliest > deadline:
            return None
        return max(earliest - now, 0.0)

    def _exhausted(self, call: Call, targets: list[Target]) -> GatewayError:
        """The error for a request nothing could serve, built from why each candidate is out."""
        blocks = [
            block
            for target in targets
            for credential in self.providers[target.provider].credentials
            if (block := self.book.blocked(credential.id, target.model)) is not None
        ]
        names = sorted({t.provider for t in targets})
        providers = f"provider{'s' if len(names) > 1 else ''} {', '.join(names)}"
        now = time.time()
        if blocks and all(b.reason in COOLING_REASONS for b in blocks):
            seconds = max(1, math.ceil(min(b.until for b in blocks) - now))
            reasons = " and ".join(sorted({b.reason.value.replace("_", " ") for b in blocks}))
            return GatewayError(
                429,
                Kind.RATE_LIMIT,
                f"All credentials for model {call.request.model!r} are cooling down ({providers}: {reasons}); retry in {seconds}s.",
                code="model_cooldown",
                headers={"Retry-After": str(seconds), **({"x-should-retry": "false"} if seconds > CLIENT_RETRY_LIMIT else {})},
                details={"model": call.request.model, "providers": names, "reset_seconds": seconds},
            )
        last = call.failures[-1][2] if call.failures else None
        if last is not None and len(call.failures) >= len(blocks):
            # Everything that blocks this request failed just now: the upstream's own words say most.
            if last.upstream_status in (401, 403):
                last.headers["x-should-retry"] = "false"
            return last
        counts: dict[str, int] = {}
        for block in blocks:
            counts[block.reason.value] = counts.get(block.reason.value, 0) + 1
        statuses = [self.last_error[b.credential][0] for b in blocks if b.credential in self.last_error]
        finite = [b.until for b in blocks if b.until != math.inf]
        if finite:
            headers = {"Retry-After": str(max(1, math.ceil(min(finite) - now)))}
            hint = ""
        else:
            headers = {"Retry-After": "3600", "x-should-retry": "false"}
            hint = " Waiting will not help: fix or replace the keys, then run `babelgate accounts verify`."
        summary = ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))
        return GatewayError(
            503,
            Kind.OVERLOADED,
            f"No credential can serve model {call.request.model!r} ({providers}): {summary}.{hint}",
            code="auth_unavailable",
            headers=headers,
            details={"model": call.request.model, "providers": names, "counts": counts, "recent_statuses": statuses},
        )


class _Watcher:
    """Parses upstream bytes into ir events and notes the usage; a parser crash ends the stream cleanly."""

    def __init__(self, parser: StreamParser, request: ir.Request, signatures: SignatureCache) -> None:
        self._parser = parser
        self._signatures = signatures
        self._request = request
        self._produced = 0
        self.usage: ir.Usage | None = None
        self.broken = False

    def feed(self, chunk: bytes) -> list[ir.Event]:
        return self._watch(self._parser.feed, chunk)

    def close(self) -> list[ir.Event]:
        return self._watch(lambda _: self._parser.close(), b"")

    def _watch(self, step: Callable[[bytes], list[ir.Event]], chunk: bytes) -> list[ir.Event]:
        if self.broken:
            return []
        try:
            events = step(chunk)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
            self.broken = True
            log.warning("unreadable upstream stream: %s", _reason(error))
            return [ir.StreamError(Kind.UPSTREAM.value, f"the upstream sent an unreadable stream event ({_reason(error)})")]
        for event in events:
            if isinstance(event, ir.TextDelta):
                self._produced += len(event.text)
            elif isinstance(event, ir.ToolArgsDelta):
                self._produced += len(event.partial_json)
            elif isinstance(event, ir.ThinkingDelta):
                self._produced += len(event.text)
            elif isinstance(event, ir.BlockStart) and event.signature:
                self._signatures.remember(event.id, event.signature)
            elif isinstance(event, ir.Finish):
                if event.usage.input_tokens == event.usage.output_tokens == 0:
                    event.usage = estimated_usage(self._request, self._produced)
                self.usage = event.usage
        return events


def estimated_usage(request: ir.Request, output_chars: int) -> ir.Usage:
    """For upstreams that report no usage in streams (llama.cpp): an estimate beats zeros."""
    return ir.Usage(input_tokens=tokens.estimate(request), output_tokens=-(-output_chars // tokens.CHARS_PER_TOKEN))


def _reason(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__
