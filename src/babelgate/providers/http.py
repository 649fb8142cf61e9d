"""The HTTP upstream every family builds on: one pooled aiohttp session, auth, errors, the stream read.

A family subclass (one file each) names its `dialect`, says where requests go (`url`), which
headers it adds (`headers`) and how the key travels (`key_header`/`key_format`, or an async
`authenticate` that sees the whole outgoing request, for request signing or expiring tokens).
`send` does the rest: encode the request (or edit the client's own body on the same-dialect
path), let addons see the body, authenticate, post, turn an error status into a classified
`UpstreamError`, and read a stream up to its first event.

A provider owns one pooled aiohttp session for its whole life; requests never open their own.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import aiohttp
import orjson

from babelgate import ir
from babelgate.config import KeySpec, ProviderConfig
from babelgate.dialects.base import Dialect, EncodeOptions
from babelgate.errors import Kind, UpstreamError
from babelgate.providers import transport
from babelgate.providers.base import Attempt, Credential, Reply
from babelgate.providers.classify import classify
from babelgate.providers.entra import EntraTokens, EntraUnavailable, identity_installed
from babelgate.providers.framing import Framing, SSEFraming
from babelgate.providers.stream import READ_ERRORS, StreamReader, reason

VERIFY_TIMEOUT = aiohttp.ClientTimeout(total=15)
COUNT_TIMEOUT = aiohttp.ClientTimeout(total=5)  # a count is a hint: past this, the offline count answers
log = logging.getLogger("babelgate.upstream")


@dataclass(slots=True)
class Outgoing:
    """One request about to go upstream; `authenticate` may add headers or sign it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class CountRequest:
    """Where an upstream counts a request's input tokens, the body it wants, and the answer's field that holds the count."""

    url: str
    body: dict[str, Any]
    field: str


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
        self._session: aiohttp.ClientSession | None = None
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
        return SSEFraming()

    def dialect_for(self, model: str) -> Dialect:
        """The wire format spoken to `model`: the family's `dialect` (a family may speak several, by model)."""
        return self.dialect

    def reader(self, response: aiohttp.ClientResponse, attempt: Attempt) -> StreamReader:
        """What reads a stream: the family's framing, then the dialect's parser."""
        return StreamReader(self.name, response.content.iter_any(), self.framing(), self.dialect_for(attempt.model).stream_parser())

    async def authenticate(self, request: Outgoing, credential: Credential) -> None:
        if credential.key:
            request.headers[self.key_header] = self.key_format.format(credential.key)
        elif self.entra is not None:
            try:
                request.headers["Authorization"] = f"Bearer {await self.entra.token()}"
            except EntraUnavailable as error:
                raise self.error(401, f"{self.name}: {error}") from None

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
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:  # its proxy and CAs are set up here, once (providers/transport.py)
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.config.connect_timeout, sock_read=self.config.read_timeout)
            connector = transport.connector(self.config)
            proxy = transport.session_proxy(self.config)
            self._session = aiohttp.ClientSession(timeout=timeout, connector=connector, auto_decompress=True, proxy=proxy)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
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
        body = self.encode(attempt)
        attempt.hooks.upstream_request(attempt, body)
        stream = attempt.request.stream
        outgoing = Outgoing("POST", self.url(attempt.model, stream), self.headers(attempt.client_headers), orjson.dumps(body))
        await self.authenticate(outgoing, attempt.credential)
        try:
            response = await self.session.request(outgoing.method, outgoing.url, data=outgoing.body, headers=outgoing.headers)
        except (*READ_ERRORS, OSError) as error:
            detail = self.redact(reason(error), attempt.credential)
            raise self.error(0, f"provider {self.name!r} is unreachable at {self.api_root}: {detail}") from None
        try:
            if response.status >= 400:
                raise await self._error_reply(response, attempt.credential)
            return await (self._stream(response, attempt) if stream else self._whole(response, attempt))
        except BaseException:
            response.close()
            raise

    def error(self, status: int, message: str, headers: dict[str, str] | None = None, body: Any = None) -> UpstreamError:
        """An upstream failure with its classification (status 0: unreachable)."""
        failure = classify(status, headers or {}, body, message)
        return UpstreamError(self.name, status, message, failure=failure, headers=headers, body=body)

    async def _error_reply(self, response: aiohttp.ClientResponse, credential: Credential) -> UpstreamError:
        raw = await response.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")[:1000]
        message = self.redact(self.dialect.error_message(body), credential)
        if response.status == 401 and self.entra is not None and not credential.key:
            self.entra.invalidate()  # a refused token is never sent again
        return self.error(response.status, f"{self.name} returned HTTP {response.status}: {message}", dict(response.headers), body)

    async def _whole(self, response: aiohttp.ClientResponse, attempt: Attempt) -> Reply:
        try:
            raw = await response.read()
            parsed = self.dialect_for(attempt.model).parse_response(orjson.loads(raw))
        except (*READ_ERRORS, ValueError, TypeError, KeyError, AttributeError) as error:
            raise self.error(502, f"{self.name} sent an unreadable response: {reason(error)}") from None
        response.release()
        return Reply(attempt.passthrough, response=parsed, body=raw)

    async def _stream(self, response: aiohttp.ClientResponse, attempt: Attempt) -> Reply:
        reader = self.reader(response, attempt)
        try:
            head = await reader.prime()
        except READ_ERRORS as error:
            raise self.error(502, f"{self.name} stream failed before any output: {reason(error)}") from None
        first = next((e for _, events in head for e in events if not isinstance(e, ir.Start)), None)
        if isinstance(first, ir.StreamError):
            status = {Kind.RATE_LIMIT.value: 429, Kind.OVERLOADED.value: 529}.get(first.kind, 502)
            raise self.error(status, f"{self.name} stream failed: {first.message}")
        return Reply(attempt.passthrough, chunks=reader.chunks(head), release=response.close)

    def count_request(self, attempt: Attempt) -> CountRequest | None:
        """The family's token-counting call for `attempt` (None: it has no counting endpoint)."""
        return None

    async def count_tokens(self, attempt: Attempt) -> int | None:
        """The upstream's own count of the request's input tokens, within COUNT_TIMEOUT; None when the family
        cannot count. A refusal or a failure raises a classified UpstreamError."""
        counting = self.count_request(attempt)
        if counting is None:
            return None
        outgoing = Outgoing("POST", counting.url, self.headers(attempt.client_headers), orjson.dumps(counting.body))
        await self.authenticate(outgoing, attempt.credential)
        try:
            async with self.session.post(outgoing.url, data=outgoing.body, headers=outgoing.headers, timeout=COUNT_TIMEOUT) as response:
                if response.status >= 400:
                    raise await self._error_reply(response, attempt.credential)
                answer: Any = orjson.loads(await response.read())
        except (*READ_ERRORS, OSError, ValueError) as error:
            raise self.error(0, f"{self.name} could not count tokens: {self.redact(reason(error), attempt.credential)}") from None
        value = answer.get(counting.field) if isinstance(answer, dict) else None
        if not isinstance(value, int):
            raise self.error(502, f"{self.name} answered a token count without {counting.field!r}")
        return value

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
            async with self.session.get(outgoing.url, headers=outgoing.headers, timeout=VERIFY_TIMEOUT) as response:
                text = await response.text()
        except (*READ_ERRORS, OSError) as error:
            return 0, f"unreachable: {self.redact(reason(error), credential)}"
        if response.status == 200:
            return 200, "ok"
        if response.status == 401 and self.entra is not None and not credential.key:
            self.entra.invalidate()
        return response.status, self.redact(text, credential)[:200]
