"""A 2xx that is not a response of the upstream's dialect is a 502 that fails over before the first byte.

`{"foo": 1}` used to reach a same-dialect client verbatim, or any other as an empty message with
zero usage; now the next provider answers, whatever the upstream type and the client's dialect.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.faulty import FaultyUpstream, answer, reset
from tests.fakes.upstream import FakeUpstream
from tests.reliability.conftest import GOOD_TEXT, ask, fallback_config, posting

BOUND = 8
WRONG = orjson.dumps({"foo": 1})
TYPES = {"openai": "/v1", "anthropic": "", "openai-responses": "/v1", "gemini": ""}


def bad_as(kind: str, url: str) -> dict[str, Any]:
    return {"type": kind, "base_url": url + TYPES[kind]}


def last_error(gw: object) -> str:
    return gw.gateway.router.last_error["bad#0"][1]  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("client", ["anthropic", "openai", "gemini"])
@pytest.mark.parametrize("kind", list(TYPES))
async def test_a_wrong_shape_200_fails_over(
    faulty: FaultyUpstream, upstream: FakeUpstream, gateway_factory: GatewayFactory, kind: str, client: str
) -> None:
    faulty.default = answer(200, WRONG)
    config = fallback_config(faulty.url, upstream)
    config["providers"]["bad"] |= bad_as(kind, faulty.url)
    gw = await gateway_factory(config)
    async with asyncio.timeout(BOUND):
        assert await ask(gw.url, client, False) == GOOD_TEXT
    assert "sent a 200 that is not a valid" in last_error(gw)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(answer(200, WRONG), id="json-to-a-stream"),
        pytest.param(answer(200, b'data: {"foo": 1}\n\ndata: {"foo": 2}\n\n', "text/event-stream"), id="wrong-shape-events"),
        pytest.param(answer(200, b"data: not json at all\n\n", "text/event-stream"), id="unreadable-events"),
        pytest.param(answer(200, b"\x00\xff garbage \r\r\n", "text/event-stream"), id="garbage"),
        pytest.param(
            reset(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\ndat"), id="reset"
        ),
    ],
)
@pytest.mark.parametrize("kind", list(TYPES))
async def test_a_stream_with_no_real_first_event_fails_over(
    faulty: FaultyUpstream, upstream: FakeUpstream, gateway_factory: GatewayFactory, kind: str, body: Any
) -> None:
    faulty.default = body
    config = fallback_config(faulty.url, upstream)
    config["providers"]["bad"] |= bad_as(kind, faulty.url)
    gw = await gateway_factory(config)
    async with asyncio.timeout(BOUND):
        assert await ask(gw.url, "anthropic", True) == GOOD_TEXT


async def test_a_wrong_shape_200_alone_is_a_502_in_the_callers_dialect(faulty: FaultyUpstream, gateway_factory: GatewayFactory) -> None:
    faulty.default = answer(200, WRONG)
    config = fallback_config(faulty.url, None)
    config["providers"]["bad"] |= bad_as("anthropic", faulty.url)
    gw = await gateway_factory(config)
    request = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    async with asyncio.timeout(BOUND), posting(gw.url + "/v1/messages", request) as response:
        body = await response.json()
    assert response.status == 502 and body["type"] == "error" and body["error"]["type"] == "api_error"
    assert "not a valid anthropic response" in body["error"]["message"] and "foo" not in body
