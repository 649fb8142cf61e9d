"""How one provider's requests leave the machine: the CAs its TLS trusts and the proxy it goes through.

Both are built once, with the provider's pooled session (providers/http.py), never per request.

- `ca_bundle`: a PEM file whose CAs replace the system's for this provider's TLS (a corporate
  root, a private endpoint's CA). Without it, the system's trust store, as aiohttp uses it.
- `proxy_url`: `http://` and `https://` proxies are aiohttp's own (plain requests are forwarded,
  TLS goes through a CONNECT tunnel; an `https://` proxy is itself reached over TLS, checked
  against the same CAs). `socks5://`, `socks5h://` (names resolved by the proxy) and `socks4://`
  need the aiohttp-socks package, whose connector dials through the proxy.

A proxy URL may carry a user and password; `redact` keeps them out of messages.

The connector notes, per task, whether a request had to queue for one of its connections and got
one (`queued_in_vain`): a request that runs out of time in that queue waited for the
`max_connections` cap, and its error says so instead of blaming the upstream.
"""

from __future__ import annotations

import ssl
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from babelgate.config import ProviderConfig


def ssl_context(config: ProviderConfig) -> ssl.SSLContext | bool:
    """The TLS verification for this provider: its own CAs, or aiohttp's default (True)."""
    if config.ca_bundle:
        return ssl.create_default_context(cafile=config.ca_bundle)
    return True


def is_socks(config: ProviderConfig) -> bool:
    return bool(config.proxy_url and config.proxy_url.startswith("socks"))


_connection: ContextVar[str] = ContextVar("connection", default="")  # "", "queued" (all busy when asked), "got"


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
            _connection.set("queued")
        connection = await connect(*args, **kwargs)
        _connection.set("got")
        return connection

    connector.connect = noted_connect  # type: ignore[method-assign]
    return connector


def sending() -> None:
    """A request of this task is about to ask the connector for a connection."""
    _connection.set("")


def queued_in_vain() -> bool:
    """Did this task's request queue for a connection, all `max_connections` being busy, and never get one?"""
    return _connection.get() == "queued"


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
