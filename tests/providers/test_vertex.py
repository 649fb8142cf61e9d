"""Vertex AI (`type: vertex`): the official SDKs -> babelgate -> a loopback Vertex and Google token endpoint.

Gemini models go to publishers/google with the gemini dialect; Claude models to
publishers/anthropic through rawPredict with Vertex's body rules. The fake checks the URL shape,
the token and the body, as the real service does (tests/fakes/vertex.py).
"""

from __future__ import annotations

from typing import Any

import anthropic
import orjson
import pytest

from babelgate.config import ConfigError, ProviderConfig, parse
from babelgate.providers.vertex import VertexUpstream
from tests.conftest import GatewayFactory
from tests.fakes.turns import ToolCall, Turn
from tests.fakes.upstream import Received, Reply
from tests.fakes.vertex import VertexFake, vertex_reply
from tests.providers.vertex_setup import CLAUDE, GEMINI, vertex, vertex_config
from tests.test_dialect_matrix import FINAL, anthropic_client, gemini_client

__all__ = ["vertex"]  # the fixture


def weather_script(record: Received) -> Reply:
    """Turn 1 thinks and calls get_weather; once the tool result is in the conversation, the answer."""
    if b"sunny" in orjson.dumps(record.body):
        return vertex_reply(record, Turn(text=FINAL))
    call = ToolCall("get_weather", {"city": "Paris"}, id="toolu_vrtx_1")
    return vertex_reply(record, Turn(thinking="The user wants weather.", text="Let me check.", calls=[call]))


# ---- where requests go ----------------------------------------------------------------------


def upstream(location: str, base_url: str | None = None) -> VertexUpstream:
    return VertexUpstream("vx", ProviderConfig(type="vertex", project="my-proj", location=location, base_url=base_url))


def test_global_and_regional_hosts() -> None:
    root = "https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global/publishers"
    assert upstream("global").url(GEMINI, False) == f"{root}/google/models/{GEMINI}:generateContent"
    assert upstream("global").url(GEMINI, True) == f"{root}/google/models/{GEMINI}:streamGenerateContent?alt=sse"
    assert upstream("global").claude.url(CLAUDE, False) == f"{root}/anthropic/models/{CLAUDE}:rawPredict"
    regional = "https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5/publishers"
    assert upstream("us-east5").claude.url(CLAUDE, True) == f"{regional}/anthropic/models/{CLAUDE}:streamRawPredict"
    assert upstream("europe-west4").url(GEMINI, False).startswith("https://europe-west4-aiplatform.googleapis.com/v1/projects/")


def test_base_url_overrides_the_host_with_or_without_its_version() -> None:
    for base in ("https://vertex.internal.example", "https://vertex.internal.example/v1/"):
        url = upstream("us-east5", base).url(GEMINI, False)
        assert (
            url
            == f"https://vertex.internal.example/v1/projects/my-proj/locations/us-east5/publishers/google/models/{GEMINI}:generateContent"
        )


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ({"type": "vertex"}, "project is required for type 'vertex'"),
        ({"type": "vertex", "project": "p", "api_keys": ["k"]}, "not api_keys"),
        ({"type": "vertex", "project": "p", "location": "us-east5/../x"}, "is not a Google Cloud location"),
        ({"type": "openai"}, "base_url: field required"),
        ({"type": "gemini", "base_url": None}, "base_url: field required"),
    ],
)
def test_config_errors_name_the_key(provider: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=r"providers\.vx") as raised:
        parse({"providers": {"vx": provider}})
    assert expected in str(raised.value)


def test_the_documented_config_parses() -> None:
    provider = {"type": "vertex", "project": "my-project", "location": "global", "credentials_file": None, "base_url": None}
    config = parse({"providers": {"vertex": {**provider, "models": [GEMINI, CLAUDE]}}}).providers["vertex"]
    assert config.base_url == "" and config.credentials_file is None and config.location == "global"


# ---- the official SDKs, both publishers, both locations --------------------------------------


@pytest.mark.parametrize("location", ["global", "us-east5"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("target", ["gemini", "claude"])
@pytest.mark.parametrize("client", ["anthropic", "gemini"])
async def test_sdk_tool_loop(
    client: str, target: str, stream: bool, location: str, vertex: VertexFake, gateway_factory: GatewayFactory
) -> None:
    vertex.script = weather_script
    config = vertex_config(vertex, location)
    config["aliases"]["weather"] = f"vx/{GEMINI if target == 'gemini' else CLAUDE}"
    gw = await gateway_factory(config)
    outcome = await (anthropic_client if client == "anthropic" else gemini_client)(gw.url, stream)

    assert (outcome.call_name, outcome.call_args, outcome.text) == ("get_weather", {"city": "Paris"}, FINAL)
    assert not vertex.rejected and len(vertex.received) == 2 and vertex.token_hits == 1
    publisher, model = ("google", GEMINI) if target == "gemini" else ("anthropic", CLAUDE)
    action = {("google", False): "generateContent", ("google", True): "streamGenerateContent"}.get((publisher, stream))
    action = action or ("streamRawPredict" if stream else "rawPredict")
    for record in vertex.received:
        assert record.path == f"/v1/projects/test-project/locations/{location}/publishers/{publisher}/models/{model}:{action}"
        assert record.headers["host"] == f"127.0.0.1:{vertex.port}"  # base_url overrides the host
        assert record.headers["authorization"] == f"Bearer {vertex.used_tokens[0]}"
        assert "x-api-key" not in record.headers and "x-goog-api-key" not in record.headers
        if publisher == "google" and stream:
            assert record.query == {"alt": "sse"}
        if publisher == "anthropic":
            assert record.body["anthropic_version"] == "vertex-2023-10-16" and "model" not in record.body
            assert "anthropic-version" not in record.headers
            assert bool(record.body.get("stream")) is stream


async def test_claude_code_body_loses_tags_and_their_beta(vertex: VertexFake, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(vertex_config(vertex))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0)
    message = await sdk.messages.create(
        model="claude-weather",
        max_tokens=512,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"tags": {"billing_group": "research"}, "metadata": {"user_id": "u-1"}},
        extra_headers={"anthropic-beta": "request-tags-2026-08-21, interleaved-thinking-2025-05-14"},
    )
    assert message.content[0].type == "text" and message.content[0].text == "Hello from Vertex."
    sent = vertex.received[0]
    assert "tags" not in sent.body and "model" not in sent.body and sent.body["metadata"] == {"user_id": "u-1"}
    assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert not vertex.rejected


async def test_a_claude_client_speaking_to_gemini_on_vertex_is_translated(vertex: VertexFake, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(vertex_config(vertex))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0)
    message = await sdk.messages.create(
        model="weather", max_tokens=512, messages=[{"role": "user", "content": "hi"}], extra_body={"tags": {"g": "x"}}
    )
    assert message.content[0].text == "Hello from Vertex."  # type: ignore[union-attr]
    body = vertex.received[0].body
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}] and "tags" not in body


# ---- the fake is as strict as Vertex ----------------------------------------------------------


async def test_the_fake_refuses_what_vertex_refuses(vertex: VertexFake, gateway_factory: GatewayFactory) -> None:
    import aiohttp

    gw = await gateway_factory(vertex_config(vertex))  # its token endpoint use gives us a valid token
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0)
    await sdk.messages.create(model="claude-weather", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    token = vertex.used_tokens[0]
    claude = f"{vertex.url}/v1/projects/test-project/locations/global/publishers/anthropic/models/{CLAUDE}:rawPredict"
    good = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}
    cases: list[tuple[str, dict[str, str], Any, int, str]] = [
        (claude, {}, good, 401, "CREDENTIALS_MISSING"),
        (claude, {"Authorization": "Bearer ya29.unknown"}, good, 401, "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
        (claude, {"Authorization": f"Bearer {token}"}, {**good, "model": CLAUDE}, 400, "model: Extra inputs are not permitted"),
        (claude, {"Authorization": f"Bearer {token}"}, {k: v for k, v in good.items() if k != "anthropic_version"}, 400, "Field required"),
        (claude.replace("test-project", "other"), {"Authorization": f"Bearer {token}"}, good, 403, "PERMISSION_DENIED"),
        (claude.replace(CLAUDE, "claude-nope"), {"Authorization": f"Bearer {token}"}, good, 404, "NOT_FOUND"),
        (claude.replace("anthropic", "google").replace(CLAUDE, GEMINI), {"Authorization": f"Bearer {token}"}, good, 404, "not found"),
    ]
    async with aiohttp.ClientSession() as session:
        for url, headers, body, status, text in cases:
            async with session.post(url, json=body, headers=headers) as response:
                assert (response.status, text in await response.text()) == (status, True), (url, body)
