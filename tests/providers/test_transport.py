"""Per-provider outbound proxy (`proxy_url`), CA bundle (`ca_bundle`) and extra `headers`, end to end.

The OpenAI SDK -> a real gateway -> a real loopback proxy that records what passed through
(tests/fakes/proxy.py) -> a loopback upstream, over plain HTTP or over HTTPS with a certificate
from a CA made at test time (tests/support/tls.py), which nothing trusts unless told to.
"""

from __future__ import annotations

import base64
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from babelgate import registry
from babelgate.config import ConfigError, ProviderConfig, parse
from babelgate.providers.http import HttpUpstream
from babelgate.providers.wire_pool import WireClient
from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.proxy import FakeHttpProxy, FakeSocks5Proxy
from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.tls import LocalCA, make_ca

HELLO: Any = [{"role": "user", "content": "hello"}]
PROXY_PASSWORD = "pr0xy-s3cret-pa55"


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return make_ca(tmp_path)


@pytest.fixture
async def https_upstream(ca: LocalCA) -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    fake.ssl_context = ca.server_context()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def proxy() -> AsyncIterator[FakeHttpProxy]:
    server = FakeHttpProxy()
    await server.start()
    yield server
    await server.stop()


async def ask(gateway_url: str, fake: FakeUpstream) -> str:
    fake.push(Reply(json=wire.completion("Hi there")))
    client = openai.AsyncOpenAI(base_url=f"{gateway_url}/v1", api_key="client-key", max_retries=0, timeout=30)
    completion = await client.chat.completions.create(model="up/gpt-5", messages=HELLO)
    return completion.choices[0].message.content or ""


async def test_a_plain_request_is_forwarded_through_an_http_proxy(
    upstream: FakeUpstream, proxy: FakeHttpProxy, gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(openai_config(upstream, provider={"proxy_url": proxy.url, "headers": {"X-Team": "search"}}))
    assert await ask(gw.url, upstream) == "Hi there"
    assert [(p.method, p.target) for p in proxy.seen] == [("POST", f"{upstream.url}/v1/chat/completions")]
    assert proxy.seen[0].headers["authorization"] == "Bearer sk-test-secret-key-1"  # the provider's key, not the client's
    assert upstream.received[-1].headers["x-team"] == "search"  # extra headers go along


async def test_tls_goes_through_a_connect_tunnel_checked_against_the_ca_bundle(
    https_upstream: FakeUpstream, proxy: FakeHttpProxy, ca: LocalCA, gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(openai_config(https_upstream, provider={"proxy_url": proxy.url, "ca_bundle": str(ca.ca_pem)}))
    assert await ask(gw.url, https_upstream) == "Hi there"
    assert await ask(gw.url, https_upstream) == "Hi there"
    assert [(p.method, p.target) for p in proxy.seen] == [("CONNECT", f"127.0.0.1:{https_upstream.port}")]  # one pooled tunnel
    assert "authorization" not in proxy.seen[0].headers  # the key travels inside the tunnel only
    assert len(https_upstream.received) == 2


async def test_an_https_proxy_is_reached_over_tls(https_upstream: FakeUpstream, ca: LocalCA, gateway_factory: GatewayFactory) -> None:
    secure = FakeHttpProxy(ssl_context=ca.server_context())
    await secure.start()
    try:
        provider = {"proxy_url": secure.url, "ca_bundle": str(ca.ca_pem)}
        gw = await gateway_factory(openai_config(https_upstream, provider=provider))
        assert await ask(gw.url, https_upstream) == "Hi there"
        assert [(p.method, p.target) for p in secure.seen] == [("CONNECT", f"127.0.0.1:{https_upstream.port}")]
    finally:
        await secure.stop()


async def test_a_socks5_proxy_through_aiohttp_socks(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    socks = FakeSocks5Proxy()
    await socks.start()
    try:
        gw = await gateway_factory(openai_config(upstream, provider={"proxy_url": socks.url}))
        assert await ask(gw.url, upstream) == "Hi there"
        assert [(p.method, p.target) for p in socks.seen] == [("SOCKS5", f"127.0.0.1:{upstream.port}")]
    finally:
        await socks.stop()


async def test_proxy_credentials_are_sent_to_the_proxy_and_never_shown(
    upstream: FakeUpstream, proxy: FakeHttpProxy, gateway_factory: GatewayFactory
) -> None:
    with_user = proxy.url.replace("http://", f"http://ops:{PROXY_PASSWORD}@")
    gw = await gateway_factory(openai_config(upstream, provider={"proxy_url": with_user}))
    assert await ask(gw.url, upstream) == "Hi there"
    expected = base64.b64encode(f"ops:{PROXY_PASSWORD}".encode()).decode()
    assert proxy.seen[0].headers["proxy-authorization"] == f"Basic {expected}"
    assert "proxy-authorization" not in upstream.received[-1].headers
    await proxy.stop()  # now the proxy is gone: the error names the failure, not the password
    gone = await gateway_factory(openai_config(upstream, provider={"proxy_url": with_user}, routing={"max_wait": 0}))
    client = openai.AsyncOpenAI(base_url=f"{gone.url}/v1", api_key="client-key", max_retries=0, timeout=30)
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="up/gpt-5", messages=HELLO)
    assert caught.value.status_code >= 500 and "unreachable" in caught.value.message
    assert PROXY_PASSWORD not in str(caught.value.body) and PROXY_PASSWORD not in caught.value.message


async def test_the_ca_bundle_decides_whether_the_upstream_is_trusted(
    https_upstream: FakeUpstream, ca: LocalCA, gateway_factory: GatewayFactory
) -> None:
    untrusted = await gateway_factory(openai_config(https_upstream, routing={"max_wait": 0}))
    client = openai.AsyncOpenAI(base_url=f"{untrusted.url}/v1", api_key="client-key", max_retries=0, timeout=30)
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="up/gpt-5", messages=HELLO)
    assert "certificate verify failed" in caught.value.message
    assert https_upstream.received == []  # refused at the handshake
    trusted = await gateway_factory(openai_config(https_upstream, provider={"ca_bundle": str(ca.ca_pem)}))
    assert await ask(trusted.url, https_upstream) == "Hi there"


async def test_the_client_and_its_tls_context_are_made_once(https_upstream: FakeUpstream, ca: LocalCA) -> None:
    config = ProviderConfig(type="openai", base_url=f"{https_upstream.url}/v1", ca_bundle=str(ca.ca_pem))
    upstream = registry.build_upstream("up", config)
    assert isinstance(upstream, HttpUpstream)
    try:
        client = upstream.client
        assert isinstance(client, WireClient)
        https_upstream.push(Reply(json={"object": "list", "data": []}), Reply(json={"object": "list", "data": []}))
        for _ in range(2):
            assert await upstream.verify(upstream.credentials[0]) == (200, "ok")
        assert upstream.client is client and client.tls is upstream.client.tls
        assert len({r.peer for r in https_upstream.received}) == 1  # the second request reused the first's connection
    finally:
        await upstream.close()


async def test_providers_without_a_ca_bundle_share_the_systems_tls_context() -> None:
    """Loading the system's CAs costs ~25 ms and ~1 MB: a config with hundreds of providers does it once."""
    upstreams = [registry.build_upstream(name, ProviderConfig(type="openai", base_url=f"https://{name}.example/v1")) for name in "ab"]
    try:
        clients = [upstream.client for upstream in upstreams if isinstance(upstream, HttpUpstream)]
        assert len(clients) == 2 and all(isinstance(client, WireClient) for client in clients)
        first, second = (client.tls() for client in clients if isinstance(client, WireClient))
        assert first is second and first.verify_mode == ssl.CERT_REQUIRED
    finally:
        for upstream in upstreams:
            await upstream.close()


def test_config_checks_proxy_and_ca_bundle(tmp_path: Path) -> None:
    def error(**provider: Any) -> str:
        with pytest.raises(ConfigError) as caught:
            parse({"providers": {"up": {"type": "openai", "base_url": "https://x/v1", **provider}}})
        return str(caught.value)

    assert "providers.up.proxy_url" in error(proxy_url="ftp://proxy:21") and "socks5://" in error(proxy_url="proxy:3128")
    missing = error(ca_bundle=str(tmp_path / "nope.pem"))
    assert "providers.up.ca_bundle" in missing and "No such file" in missing
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    assert "cannot load CA certificates" in error(ca_bundle=str(tmp_path / "junk.pem"))
    ok = parse({"providers": {"up": {"type": "openai", "base_url": "https://x/v1", "proxy_url": "socks5h://127.0.0.1:1080"}}})
    assert ok.providers["up"].proxy_url == "socks5h://127.0.0.1:1080"


def test_a_socks_proxy_without_aiohttp_socks_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp_socks", None)  # as if the package were not installed
    with pytest.raises(ConfigError) as caught:
        parse({"providers": {"up": {"type": "openai", "base_url": "https://x/v1", "proxy_url": "socks5://127.0.0.1:1080"}}})
    assert "providers.up.proxy_url" in str(caught.value) and "pip install 'babelgate[socks]'" in str(caught.value)
