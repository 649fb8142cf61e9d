"""Every captured real-client request translates to every upstream type with nothing lost.

The captures (Claude Code, Codex CLI, Gemini CLI) are taken at run time from the pinned CLIs
by tests/support/captures.py and cached in .cache/captures/. Each is parsed by its own dialect,
encoded for each upstream type, then read back by that type's parser: tools, tool calls, tool
results and system text must all survive.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from babelgate import ir
from babelgate.dialects import anthropic, gemini, openai_chat, openai_responses
from babelgate.dialects.base import Dialect, EncodeOptions
from tests.support import captures

UPSTREAMS: dict[str, Dialect] = {"openai": openai_chat, "anthropic": anthropic, "openai-responses": openai_responses, "gemini": gemini}
SECRETS = {"authorization", "x-api-key", "x-goog-api-key"}


def inbound(path: str, body: dict[str, Any]) -> ir.Request:
    if path.startswith("/v1/messages"):
        return anthropic.parse_request(body)
    if path.startswith("/v1/responses"):
        return openai_responses.parse_request(body)
    model, _, action = path.split("?")[0].removeprefix("/v1beta/models/").rpartition(":")
    return gemini.parse_request(body, model, action == "streamGenerateContent")


def texts(request: ir.Request) -> str:
    return orjson.dumps(
        [p.text for p in request.system] + [p.text for m in request.messages for p in m.parts if isinstance(p, ir.TextPart)]
    ).decode()


def results(request: ir.Request) -> list[str]:
    return [
        "\n".join(c.text for c in p.content if isinstance(c, ir.TextPart))
        for m in request.messages
        for p in m.parts
        if isinstance(p, ir.ToolResultPart)
    ]


def calls(request: ir.Request) -> list[tuple[str, str]]:
    return [(p.name, json.dumps(p.arguments, sort_keys=True)) for m in request.messages for p in m.parts if isinstance(p, ir.ToolCallPart)]


@pytest.mark.parametrize("name", captures.NAMES)
def test_the_captures_are_there_with_their_secrets_redacted(name: str) -> None:
    capture = captures.load(name)
    assert capture["method"] == "POST" and isinstance(capture["body"], dict)
    secrets = [value for key, value in capture["headers"] if key.lower() in SECRETS]
    assert secrets and set(secrets) == {"<redacted>"}


@pytest.mark.parametrize("upstream", list(UPSTREAMS))
@pytest.mark.parametrize("fixture", captures.NAMES, ids=[n.removesuffix(".json") for n in captures.NAMES])
def test_capture_survives_translation(fixture: str, upstream: str) -> None:
    capture = captures.load(fixture)
    request = inbound(capture["path"], capture["body"])
    dialect = UPSTREAMS[upstream]
    encoded = dialect.encode_request(request, "target-model", EncodeOptions())
    back = dialect.parse_request(orjson.loads(orjson.dumps(encoded)), "target-model", request.stream)

    assert [t.name for t in back.tools] == [t.name for t in request.tools]
    for before, after in zip(request.tools, back.tools, strict=True):
        assert after.description == before.description
        assert set(after.parameters.get("properties", {})) == set(before.parameters.get("properties", {}))
    assert calls(back) == calls(request)
    assert [r.strip() for r in results(back)] == [r.strip() for r in results(request)] or all(
        before.strip() in after for before, after in zip(results(request), results(back), strict=True)
    )
    wire = orjson.dumps(encoded).decode()
    for part in request.system:
        assert json.dumps(part.text)[1:-1][:200] in wire
    assert len(texts(back)) >= len(texts(request)) * 0.98
