"""The HTTP upstream every family builds on: one pooled client, auth, errors, the stream read.

A family subclass (one file each) names its `dialect`, says where requests go (`url`), which
headers it adds (`headers`) and how the key travels (`key_header`/`key_format`, or an async
`authenticate` that sees the whole outgoing request, for request signing or expiring tokens).
`send` does the rest: encode the request (or edit the client's own body on the same-dialect
path), let addons see the body, authenticate, post, turn an error status into a classified
`UpstreamError`, and read a stream up to its first event.

A provider owns one pooled client for its whole life (providers/transport.py); requests never open their own.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import Mapping
from functools import cached_property
from typing import Any, ClassVar

import aiohttp
import orjson

from babelgate import ir
from babelgate.config import KeySpec, ProviderConfig
from babelgate.config_upstream import Limits
from babelgate.dialects.base import Dialect, EncodeOptions
from babelgate.errors import Kind, UpstreamError
from babelgate.providers import transport, wire_pool
from babelgate.providers.auto_stream import collected, streamed
from babelgate.providers.base import Attempt, Credential, Outgoing, Reply
from babelgate.providers.classify import Failure, classify
from babelgate.providers.counting import CountRequest, ask_count
from babelgate.providers.deadline import Clock, LimitReached, read_body, too_large
from babelgate.providers.entra import EntraTokens, EntraUnavailable, identity_installed
from babelgate.providers.framing import Framing, SSEFraming
from babelgate.providers.stream import CONNECTION_ERRORS, READ_ERRORS, StreamReader, reason
from babelgate.providers.transport import Answer
from babelgate.providers.validate import problem
from babelgate.providers.wire import ConnectTimeout

VERIFY_SECONDS = 15
ERROR_BODY_LIMIT = 64 * 1024  # bytes of an error body read; the rest is left unread
ERROR_TEXT_LIMIT = 2000  # characters of an upstream's error text kept in a message
log = logging.getLogger("babelgate.upstream")


class HttpUpstream:
    dialect: Dialect
    version: ClassVar[str] = ""  # the API version segment added to a `base_url` written without one
    key_header: ClassVar[str] = "Authorization"
    key_format: ClassVar[str] = "Bearer {}"
    min_output_tokens: ClassVar[int] = 1  # the API's minimum max_tokens

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config
        self.options = EncodeOptions(
            max_tokens_field=config.max_tokens_field,
            reasoning_effort=config.reasoning_effort,
            echo_reasoning=config.echo_reasoning,
        )
        self.credentials = [self._credential(i, spec) for i, spec in enumerate(config.api_keys)] or [self._keyless]
        self._client: transport.Client | None = None
        scope = None if config.api_keys else self.entra_scope()
        self.entra = EntraTokens(name, scope) if scope else None  # a keyless provider signs in with Microsoft Entra ID
        if self.entra is not None and not identity_installed():
            log.warning("provider %r has no api_keys and azure-identity is not installed: its requests will fail", name)

    # What a family says about itself.

    def url(self, model: str, stream: bool) -> str:
        raise NotImplementedError

    def headers(self, client_headers: Mapping[str, str]) -> dict[str, str]:
        """The headers of every request, before authentication."""
        return {"Content-Type": "application/json", **self.config.headers}

    def entra_scope(self) -> str | None:
        """The Microsoft Entra ID scope this provider signs in for when it has no keys (None: no credentials sent)."""
        return self.config.entra_scope

    def framing(self) -> Framing:
        """What cuts this upstream's stream into frames."""
        return SSEFraming(self.limits.max_event_bytes)

    def dialect_for(self, model: str) -> Dialect:
        """The wire format spoken to `model`: the family's `dialect` (a family may speak several, by model)."""
        return self.dialect

    def reader(self, response: Answer, attempt: Attempt) -> StreamReader:
        """What reads a stream: the family's framing, then the dialect's parser."""
        return StreamReader(self.name, response.content, self.framing(), self.dialect_for(attempt.model).stream_parser())

    async def authenticate(self, request: Outgoing, credential: Credential) -> None:
        if credential.key:
            request.headers[self.key_header] = self.key_format.format(credential.key)
        elif self.entra is not None:
            try:
                request.headers["Authorization"] = f"Bearer {await self.entra.token()}"
            except EntraUnavailable as error:
                raise self.error(401, f"{self.name}: {error}") from None

    @cached_property
    def limits(self) -> Limits:
        """The provider's timeouts and sizes (read once: pydantic's private attribute is slow to reach)."""
        return self.config.limits

    @cached_property
    def api_root(self) -> str:
        """`base_url` with the family's API version segment: users may write it with or without one."""
        base = self.config.base_url
        if self.version and not base.rsplit("/", 1)[-1].startswith("v1"):
            return f"{base}/{self.version}"
        return base

    # Credentials and limits.

    @property
    def _keyless(self) -> Credential:
        return Credential(f"{self.name}#0", self.name, "")

    def _credential(self, index: int, spec: str | KeySpec) -> Credential:
        if isinstance(spec, str):
            return Credential(f"{self.name}#{index}", self.name, spec)
        return Credential(f"{self.name}#{spec.name or index}", self.name, spec.key, spec.weight, spec.priority)

    def add_credential(self, name: str, key: str) -> None:
        """A key added with `babelgate accounts add` (kept in the store, not the config)."""
        if self.credentials == [self._keyless]:
            self.credentials = []
        self.credentials.append(Credential(f"{self.name}#{name}", self.name, key))

    def max_tokens_cap(self, model: str) -> int | None:
        cap = self.config.max_tokens
        if cap is None or isinstance(cap, int):
            return cap
        return next((value for pattern, value in cap.items() if fnmatch.fnmatchcase(model, pattern)), None)

    def max_tokens_floor(self, model: str) -> int:
        return self.min_output_tokens

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.config.type, "base_url": self.config.base_url, "credentials": len(self.credentials)}

    # The HTTP exchange.

    @property
    def client(self) -> transport.Client:
        if self._client is None or self._client.closed:  # its proxy and CAs are set up here, once (providers/transport.py)
            self._client = transport.client(self.config)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self.entra is not None:
            await self.entra.close()

    def redact(self, text: str, credential: Credential) -> str:
        """`text` without the credential's key, the Entra ID token or the proxy's password."""
        if credential.key:  # some upstreams echo the key they were given
            text = text.replace(credential.key, credential.redacted)
        if self.entra is not None:
            text = self.entra.redact(text)
        return transport.redact(text, self.config)

    def encode(self, attempt: Attempt) -> dict[str, Any]:
        dialect = self.dialect_for(attempt.model)
        if attempt.raw is not None:
            return dialect.passthrough(attempt.raw, attempt.request, attempt.model)
        return dialect.encode_request(attempt.request, attempt.model, self.options)

    async def send(self, attempt: Attempt) -> Reply:
        if self.config.auto_stream and not attempt.request.stream:
            return await collected(await self._send(streamed(attempt)), lambda status, text: self.error(status, f"{self.name} {text}"))
        return await self._send(attempt)

    async def _send(self, attempt: Attempt) -> Reply:
        body = self.encode(attempt)
        attempt.hooks.upstream_request(attempt, body)
        stream = attempt.request.stream
        outgoing = Outgoing("POST", self.url(attempt.model, stream), self.headers(attempt.client_headers), orjson.dumps(body))
        await self.authenticate(outgoing, attempt.credential)
        clock = Clock(self.limits)
        response: Answer | None = None
        wire_pool.sending()
        try:
            async with asyncio.timeout_at(clock.first_byte_at):  # nothing has reached the client before this
                response = await self.client.request(outgoing.method, outgoing.url, outgoing.headers, outgoing.body)
                if response.status >= 400:
                    raise await self._error_reply(response, attempt.credential)
                if stream:
                    return await self._stream(response, attempt, clock)
            return await self._whole(response, attempt, clock)
        except BaseException as error:
            if response is not None:
                response.close()
            raise self._unanswered(error, attempt.credential, clock) from None

    def _unanswered(self, error: BaseException, credential: Credential, clock: Clock) -> BaseException:
        """What a failure before the first byte is: a classified, retryable `UpstreamError` where it is ours to say."""
        if isinstance(error, UpstreamError | asyncio.CancelledError) or not isinstance(error, Exception):
            return error
        if isinstance(error, aiohttp.ConnectionTimeoutError | ConnectTimeout):
            seconds = clock.limits.connect
            return self.error(0, f"provider {self.name!r} at {self.api_root} did not connect within {seconds:g} s (timeouts.connect)")
        if isinstance(error, TimeoutError) and not isinstance(error, aiohttp.ServerTimeoutError):
            if wire_pool.queued_in_vain():
                cap = clock.limits.max_connections
                waited = f"waited {clock.limits.first_byte:g} s (timeouts.first_byte) for one of its {cap} connections"
                raise_cap = f"raise providers.{self.name}.max_connections or upstream.max_connections"
                message = f"{self.name}: babelgate {waited}, all busy ({raise_cap})"
                return self.error(0, message, own_cap=True)
            return self.error(0, f"{self.name} {clock.expired('first_byte').message}")
        if isinstance(error, LimitReached):
            return self.error(502, f"{self.name} {error.message}")
        if isinstance(error, (*READ_ERRORS, OSError)):
            detail = self.redact(reason(error), credential)
            return self.error(0, f"provider {self.name!r} is unreachable at {self.api_root}: {detail}")
        return error

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None, body: Any = None, own_cap: bool = False
    ) -> UpstreamError:
        """An upstream failure with its classification (status 0: unreachable, or `own_cap`: never sent)."""
        message = message[:ERROR_TEXT_LIMIT]
        failure = self.classify(status, headers or {}, body, message)
        return UpstreamError(self.name, status, message, failure=failure, headers=headers, body=body, own_cap=own_cap)

    def classify(self, status: int, headers: dict[str, str], body: Any, message: str) -> Failure:
        """What the failure means for the credential (providers/classify.py)."""
        return classify(status, headers, body, message)

    async def error_body(self, response: Answer) -> bytes:
        """The start of an error body (ERROR_BODY_LIMIT bytes); an error never needs more."""
        raw, _ = await read_body(response.content, ERROR_BODY_LIMIT, None)
        return raw

    async def _error_reply(self, response: Answer, credential: Credential) -> UpstreamError:
        raw = await self.error_body(response)
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw[: 4 * ERROR_TEXT_LIMIT].decode("utf-8", "replace")[:ERROR_TEXT_LIMIT]
        message = self.redact(self.dialect.error_message(body), credential)
        if response.status == 401 and self.entra is not None and not credential.key:
            self.entra.invalidate()  # a refused token is never sent again
        return self.error(response.status, message, dict(response.headers), body)  # the provider's name travels apart

    async def _whole(self, response: Answer, attempt: Attempt, clock: Clock) -> Reply:
        limit = clock.limits.max_response_bytes
        if response.content_length is not None and response.content_length > limit:
            raise too_large(limit, "an answer", "max_response_mb")
        raw, over = await read_body(response.content, limit, clock)
        if over:
            raise too_large(limit, "an answer", "max_response_mb")
        dialect = self.dialect_for(attempt.model)
        try:
            data = orjson.loads(raw)
            wrong = problem(dialect.name, data)
            parsed = dialect.parse_response(data) if wrong is None else None
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            wrong, parsed = reason(error), None
        if parsed is None:
            raise self.error(502, f"{self.name} sent a {response.status} that is not a valid {dialect.name} response: {wrong}")
        response.release()
        return Reply(attempt.passthrough, response=parsed, body=raw)

    async def _stream(self, response: Answer, attempt: Attempt, clock: Clock) -> Reply:
        reader = self.reader(response, attempt)
        try:
            head = await reader.prime()
        except CONNECTION_ERRORS as error:
            raise self.error(502, f"{self.name} stream failed before any output: {reason(error)}") from None
        first = next((e for _, events in head for e in events if not isinstance(e, ir.Start)), None)
        if isinstance(first, ir.StreamError):
            status = {Kind.RATE_LIMIT.value: 429, Kind.OVERLOADED.value: 529}.get(first.kind, 502)
            raise self.error(status, f"{self.name} stream failed: {first.message}")
        reader.clock = clock
        reader.ended = lambda broke: attempt.outcome.stream_ended(attempt, broke)
        return Reply(attempt.passthrough, chunks=reader.chunks(head), release=response.close)

    def count_request(self, attempt: Attempt) -> CountRequest | None:
        """The family's token-counting call for `attempt` (None: it has no counting endpoint)."""
        return None

    async def count_tokens(self, attempt: Attempt) -> int | None:
        """The upstream's own count of the request's input tokens, within COUNT_TIMEOUT; None when the family
        cannot count. A refusal or a failure raises a classified UpstreamError."""
        counting = self.count_request(attempt)
        return None if counting is None else await ask_count(self, counting, attempt)

    def models_url(self) -> str:
        """Where the model list lives, which `verify` asks for."""
        return f"{self.api_root}/models"

    async def verify(self, credential: Credential) -> tuple[int, str]:
        """Ask for the model list, which costs no tokens: (status, detail); status 0 when unreachable."""
        outgoing = Outgoing("GET", self.models_url(), self.headers({}))
        try:
            await self.authenticate(outgoing, credential)
        except UpstreamError as error:
            return error.upstream_status, error.message
        try:
            async with asyncio.timeout(VERIFY_SECONDS), await self.client.request("GET", outgoing.url, outgoing.headers) as response:
                text = (await self.error_body(response)).decode("utf-8", "replace")
        except (*READ_ERRORS, OSError) as error:
            return 0, f"unreachable: {self.redact(reason(error), credential)}"
        if response.status == 200:
            return 200, "ok"
        if response.status == 401 and self.entra is not None and not credential.key:
            self.entra.invalidate()
        return response.status, self.redact(text, credential)[:200]
