"""Every official SDK as the client, against every upstream type: a tool loop, streaming and not.

The client declares a tool and a system instruction; the upstream (a loopback server speaking
its provider's wire format) first thinks and calls the tool, then answers in text once the
tool result arrives. Both sides are checked: what the client's own SDK parsed, and what the
upstream received in its own format.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from tests.conftest import GatewayFactory
from tests.fakes.turns import UPSTREAM_KINDS, ToolCall, Turn, reply
from tests.fakes.upstream import FakeUpstream, Received, Reply

SYSTEM = "Answer briefly, in English."
QUESTION = "What is the weather in Paris?"
FINAL = "It is sunny in Paris."
SCHEMA = {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}}, "required": ["city"]}
UPSTREAM_CALL_ID = "call_up_1"


@dataclass
class Outcome:
    """What the client saw: the tool call of turn 1, the text of turn 2, and input tokens reported."""

    call_name: str
    call_args: dict[str, Any]
    text: str
    input_tokens: int
    output_tokens: int


Client = Callable[[str, bool], Awaitable[Outcome]]


def upstream_script(kind: str) -> Callable[[Received], Reply]:
    def script(record: Received) -> Reply:
        stream = bool(record.body.get("stream")) or "streamGenerateContent" in record.path
        if b"sunny" in orjson.dumps(record.body):
            return reply(kind, Turn(text=FINAL), stream)
        call = ToolCall("get_weather", {"city": "Paris"}, id=UPSTREAM_CALL_ID)
        return reply(kind, Turn(thinking="The user wants weather.", text="Let me check.", calls=[call]), stream)

    return script


def upstream_config(kind: str, upstream: FakeUpstream) -> dict[str, Any]:
    base = f"{upstream.url}/v1" if kind in ("openai", "openai-responses") else upstream.url
    provider = {"type": kind, "base_url": base, "api_keys": ["sk-upstream-secret-9"], "models": ["up-model"]}
    return {"providers": {"up": provider}, "aliases": {"weather": "up/up-model"}, "routing": {"max_wait": 0}}


# ---- the four clients -------------------------------------------------------------------------


async def anthropic_client(url: str, stream: bool) -> Outcome:
    sdk = anthropic.AsyncAnthropic(base_url=url, api_key="client-key", max_retries=0)
    tools: Any = [{"name": "get_weather", "description": "Weather for a city", "input_schema": SCHEMA}]
    messages: list[Any] = [{"role": "user", "content": QUESTION}]

    async def turn() -> anthropic.types.Message:
        if stream:
            async with sdk.messages.stream(model="weather", max_tokens=1024, system=SYSTEM, tools=tools, messages=messages) as s:
                return await s.get_final_message()
        return await sdk.messages.create(model="weather", max_tokens=1024, system=SYSTEM, tools=tools, messages=messages)

    first = await turn()
    assert first.stop_reason == "tool_use"
    assert any(b.type == "thinking" and b.thinking == "The user wants weather." for b in first.content)
    call = next(b for b in first.content if b.type == "tool_use")
    messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]})
    messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 24C"}]})
    second = await turn()
    text = "".join(b.text for b in second.content if b.type == "text")
    usage = second.usage
    total_in = usage.input_tokens + (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0)
    return Outcome(call.name, dict(call.input), text, total_in, usage.output_tokens)  # type: ignore[arg-type]


async def openai_chat_client(url: str, stream: bool) -> Outcome:
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="client-key", max_retries=0)
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city", "parameters": SCHEMA}}]
    messages: list[Any] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]

    async def turn() -> Any:
        if stream:
            options: Any = {"include_usage": True}
            async with client.chat.completions.stream(model="weather", messages=messages, tools=tools, stream_options=options) as s:
                return await s.get_final_completion()
        return await client.chat.completions.create(model="weather", messages=messages, tools=tools)

    first = await turn()
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    messages.append({"role": "assistant", "content": first.choices[0].message.content, "tool_calls": [call.model_dump()]})
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 24C"})
    second = await turn()
    return Outcome(
        call.function.name,
        json.loads(call.function.arguments),
        second.choices[0].message.content,
        second.usage.prompt_tokens,
        second.usage.completion_tokens,
    )


async def openai_responses_client(url: str, stream: bool) -> Outcome:
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="client-key", max_retries=0)
    tools: Any = [{"type": "function", "name": "get_weather", "description": "Weather for a city", "parameters": SCHEMA, "strict": False}]
    items: list[Any] = [{"role": "user", "content": QUESTION}]

    async def turn() -> Any:
        if stream:
            async with client.responses.stream(model="weather", instructions=SYSTEM, input=items, tools=tools, store=False) as s:
                return await s.get_final_response()
        return await client.responses.create(model="weather", instructions=SYSTEM, input=items, tools=tools, store=False)

    first = await turn()
    call = next(item for item in first.output if item.type == "function_call")
    items.extend(item.model_dump(exclude_none=True) for item in first.output)
    items.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 24C"})
    second = await turn()
    return Outcome(call.name, json.loads(call.arguments), second.output_text, second.usage.input_tokens, second.usage.output_tokens)


async def gemini_client(url: str, stream: bool) -> Outcome:
    client = genai.Client(api_key="client-key", http_options=gtypes.HttpOptions(base_url=url, api_version="v1beta"))
    declaration = gtypes.FunctionDeclaration(name="get_weather", description="Weather for a city", parameters_json_schema=SCHEMA)
    config = gtypes.GenerateContentConfig(
        system_instruction=SYSTEM,
        tools=[gtypes.Tool(function_declarations=[declaration])],
        automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
    )
    contents: list[Any] = [gtypes.Content(role="user", parts=[gtypes.Part(text=QUESTION)])]

    async def turn() -> tuple[list[gtypes.Part], gtypes.GenerateContentResponseUsageMetadata | None]:
        if stream:
            parts: list[gtypes.Part] = []
            usage = None
            async for chunk in await client.aio.models.generate_content_stream(model="weather", contents=contents, config=config):
                parts.extend(chunk.candidates[0].content.parts or [] if chunk.candidates and chunk.candidates[0].content else [])
                usage = chunk.usage_metadata or usage
            return parts, usage
        response = await client.aio.models.generate_content(model="weather", contents=contents, config=config)
        assert response.candidates and response.candidates[0].content
        return list(response.candidates[0].content.parts or []), response.usage_metadata

    parts, _ = await turn()
    call = next(p.function_call for p in parts if p.function_call)
    assert call is not None and call.name
    contents.append(gtypes.Content(role="model", parts=parts))
    contents.append(
        gtypes.Content(role="user", parts=[gtypes.Part.from_function_response(name=call.name, response={"result": "sunny, 24C"})])
    )
    parts, usage = await turn()
    text = "".join(p.text for p in parts if p.text and not p.thought)
    assert usage is not None
    return Outcome(call.name, dict(call.args or {}), text, usage.prompt_token_count or 0, usage.candidates_token_count or 0)


CLIENTS: dict[str, Client] = {
    "anthropic": anthropic_client,
    "openai-chat": openai_chat_client,
    "openai-responses": openai_responses_client,
    "gemini": gemini_client,
}


# ---- what the upstream must have received -----------------------------------------------------


def tool_link(kind: str, body: dict[str, Any]) -> tuple[str, str]:
    """(id or name on the call, id or name on the result) from the upstream's second request."""
    if kind == "openai":
        call = next(m for m in body["messages"] if m.get("tool_calls"))["tool_calls"][0]
        result = next(m for m in body["messages"] if m["role"] == "tool")
        return call["id"], result["tool_call_id"]
    if kind == "anthropic":
        blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
        return next(b["id"] for b in blocks if b["type"] == "tool_use"), next(
            b["tool_use_id"] for b in blocks if b["type"] == "tool_result"
        )
    if kind == "openai-responses":
        items = body["input"]
        return next(i["call_id"] for i in items if i.get("type") == "function_call"), next(
            i["call_id"] for i in items if i.get("type") == "function_call_output"
        )
    parts = [p for c in body["contents"] for p in c["parts"]]
    return next(p["functionCall"]["name"] for p in parts if "functionCall" in p), next(
        p["functionResponse"]["name"] for p in parts if "functionResponse" in p
    )


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("kind", UPSTREAM_KINDS)
@pytest.mark.parametrize("client_name", list(CLIENTS))
async def test_tool_loop(client_name: str, kind: str, stream: bool, upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.script = upstream_script(kind)
    gw = await gateway_factory(upstream_config(kind, upstream))
    outcome = await CLIENTS[client_name](gw.url, stream)

    assert (outcome.call_name, outcome.call_args) == ("get_weather", {"city": "Paris"})
    assert outcome.text == FINAL
    assert outcome.input_tokens == 21 and outcome.output_tokens >= 9
    assert len(upstream.received) == 2
    first, second = (r.body for r in upstream.received)
    for body in (first, second):
        dumped = orjson.dumps(body).decode()
        assert SYSTEM in dumped and QUESTION in dumped
        assert "get_weather" in dumped and "City name" in dumped
    on_call, on_result = tool_link(kind, second)
    assert on_call == on_result
    assert "sunny, 24C" in orjson.dumps(second).decode()
    if kind == "gemini":
        assert upstream.received[0].headers["x-goog-api-key"] == "sk-upstream-secret-9"
        assert ("streamGenerateContent" in upstream.received[0].path) is stream
    elif kind == "anthropic":
        assert upstream.received[0].headers["x-api-key"] == "sk-upstream-secret-9"
    else:
        assert upstream.received[0].headers["authorization"] == "Bearer sk-upstream-secret-9"
