"""How one provider's requests leave the machine: its client, the CAs its TLS trusts and the proxy it goes through.

All are built once, with the provider's client (providers/http.py), never per request. A provider
reached directly uses the wire client (providers/wire_pool.py); one behind a proxy, aiohttp's
(`AiohttpClient`), which speaks the proxies. Both answer `request(method, url, headers, body)`
with an `Answer`.

- `ca_bundle`: a PEM file whose CAs replace the system's for this provider's TLS (a corporate
  root, a private endpoint's CA). Without it, the system's trust store, as aiohttp uses it.
- `proxy_url`: `http://` and `https://` proxies are aiohttp's own (plain requests are forwarded,
  TLS goes through a CONNECT tunnel; an `https://` proxy is itself reached over TLS, checked
  against the same CAs). `socks5://`, `socks5h://` (names resolved by the proxy) and `socks4://`
  need the aiohttp-socks package, whose connector dials through the proxy.

A proxy URL may carry a user and password; `redact` keeps them out of messages.

Both clients note, per task, whether a request had to queue for one of its connections and got
one (`wire_pool.queued_in_vain`): a request that runs out of time in that queue waited for the
`max_connections` cap, and its error says so instead of blaming the upstream.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy

from babelgate.config import ProviderConfig
from babelgate.providers import wire_pool
from babelgate.providers.wire_pool import WireClient


class Content(Protocol):
    """An answer's body as it arrives (providers/deadline.py and providers/stream.py read it)."""

    def at_eof(self) -> bool: ...

    def read_nowait(self) -> bytes: ...

    async def readany(self) -> bytes: ...


class Answer(Protocol):
    """An upstream's answer, once its headers are in: the wire client's `Response` or aiohttp's."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> CIMultiDictProxy[str]: ...

    @property
    def content(self) -> Content: ...

    @property
    def content_length(self) -> int | None: ...

    def close(self) -> None: ...

    def release(self) -> Any: ...

    async def read(self) -> bytes: ...

    async def text(self) -> str: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: Any) -> Any: ...


class Client(Protocol):
    @property
    def closed(self) -> bool: ...

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> Answer: ...

    async def close(self) -> None: ...


def client(config: ProviderConfig) -> WireClient | AiohttpClient:
    """The provider's one client: the wire client, or aiohttp's behind a proxy."""
    if config.proxy_url:
        return AiohttpClient(config)
    context = ssl_context(config)
    tls = (lambda: context) if isinstance(context, ssl.SSLContext) else system_tls
    return WireClient(config.limits.max_connections, config.limits.connect, tls)


class AiohttpClient:
    """aiohttp's client with the provider's connector and proxy (HTTP CONNECT, an https:// proxy, SOCKS)."""

    def __init__(self, config: ProviderConfig) -> None:
        # Connecting has its own timeout; every other wait keeps to the request's `Clock` (providers/deadline.py).
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=config.limits.connect)
        proxy = session_proxy(config)
        self.session = aiohttp.ClientSession(timeout=timeout, connector=connector(config), auto_decompress=True, proxy=proxy)

    @property
    def closed(self) -> bool:
        return self.session.closed

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> aiohttp.ClientResponse:
        return await self.session.request(method, url, data=body, headers=headers)

    async def close(self) -> None:
        await self.session.close()


@functools.cache
def system_tls() -> ssl.SSLContext:
    """The system trust store's TLS context, built once for every provider (loading the CAs takes
    ~25 ms and ~1 MB), at the first https:// request, not for providers that never make one."""
    return ssl.create_default_context()


def ssl_context(config: ProviderConfig) -> ssl.SSLContext | bool:
    """The TLS verification for this provider: its own CAs, or aiohttp's default (True)."""
    if config.ca_bundle:
        return ssl.create_default_context(cafile=config.ca_bundle)
    return True


def is_socks(config: ProviderConfig) -> bool:
    return bool(config.proxy_url and config.proxy_url.startswith("socks"))


def connector(config: ProviderConfig) -> aiohttp.BaseConnector:
    """The provider's one connector: pooled (at most `max_connections` open), its CAs, and for a SOCKS proxy its dialer."""
    options: dict[str, Any] = {"limit": config.limits.max_connections, "ttl_dns_cache": 300, "enable_cleanup_closed": True}
    options["ssl"] = ssl_context(config)
    if is_socks(config):
        from aiohttp_socks import ProxyConnector  # the config checked that it is installed

        url = str(config.proxy_url)
        remote_dns = url.startswith("socks5h://")
        return _noting(ProxyConnector.from_url(url.replace("socks5h://", "socks5://", 1), rdns=remote_dns or None, **options))
    return _noting(aiohttp.TCPConnector(**options))


def _noting(connector: aiohttp.BaseConnector) -> aiohttp.BaseConnector:
    """`connector`, noting in the calling task's context whether a request had to queue for a connection and got one."""
    connect = connector.connect

    async def noted_connect(*args: Any, **kwargs: Any) -> aiohttp.connector.Connection:
        if connector.limit and len(getattr(connector, "_acquired", ())) >= connector.limit:  # aiohttp's count of those in use
            wire_pool.note_queued()
        connection = await connect(*args, **kwargs)
        wire_pool.note_connected()
        return connection

    connector.connect = noted_connect  # type: ignore[method-assign]
    return connector


def session_proxy(config: ProviderConfig) -> str | None:
    """The proxy aiohttp's session sends through (a SOCKS proxy lives in the connector instead)."""
    return None if is_socks(config) else config.proxy_url


def redact(text: str, config: ProviderConfig) -> str:
    """`text` without the proxy's password (aiohttp's errors may name the proxy URL)."""
    if config.proxy_url:
        password = urlsplit(config.proxy_url).password
        if password:
            text = text.replace(password, "****")
    return text
