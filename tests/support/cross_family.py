"""Conversations through babelgate with the official SDKs, each turn asking for any model.

A `Conversation` keeps its history the way the dialect's real clients do: Claude Code keeps every
content block it got (signatures too); an OpenAI Chat client keeps content and tool calls only
(no reasoning); a Responses client sends its output items back; a Gemini client keeps the
candidate's Content (the SDK holds signatures as bytes and re-encodes them). Every turn the model
calls a tool; the next turn sends its result (and, in `talk` mode, a new user message with it).
Odd turns stream, even ones do not.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types

_CLIENTS: dict[tuple[str, str], Any] = {}  # one SDK client per gateway and SDK: making one costs more than a turn


def _client(kind: str, url: str) -> Any:
    client = _CLIENTS.get((kind, url))
    if client is None or getattr(client, "is_closed", lambda: False)():
        if kind == "anthropic":
            client = anthropic.AsyncAnthropic(base_url=url, api_key="client-key", max_retries=0)
        elif kind == "openai":
            client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="client-key", max_retries=0)
        else:
            client = genai.Client(api_key="client-key", http_options=types.HttpOptions(base_url=url, timeout=30_000))
        _CLIENTS[(kind, url)] = client
    return client


def forget_clients() -> None:
    """The cached clients are closed by the test suite when each test ends (tests/conftest.py)."""
    _CLIENTS.clear()


class Conversation:
    def __init__(self, dialect: str, url: str, name: str, talk: bool) -> None:
        self.dialect, self.url, self.talk = dialect, url, talk
        self.history: list[Any] = []
        self.pending: list[tuple[str, str]] = []  # (call id, tool name) waiting for their results
        self.first = f"conversation {name} starts: run the steps"
        self.turns = 0

    async def turn(self, model: str) -> None:
        self.turns += 1
        stream = self.turns % 2 == 1
        await getattr(self, f"_{self.dialect.replace('-', '_')}")(model, stream)

    def _prompt(self) -> str | None:
        return self.first if self.turns == 1 else f"now step {self.turns}" if self.talk else None

    # ---- Anthropic Messages (Claude Code) --------------------------------------------------

    async def _anthropic(self, model: str, stream: bool) -> None:
        content: list[Any] = [{"type": "tool_result", "tool_use_id": i, "content": f"ok {i}"} for i, _ in self.pending]
        if (prompt := self._prompt()) is not None:
            content.append({"type": "text", "text": prompt})
        self.history.append({"role": "user", "content": content})
        client = _client("anthropic", self.url)
        kwargs: dict[str, Any] = {
            "model": model,
            "max_tokens": 4096,
            "messages": self.history,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tools": [{"name": "Bash", "description": "Run", "input_schema": {"type": "object", "properties": {}}}],
        }
        if stream:
            async with client.messages.stream(**kwargs) as events:
                message = await events.get_final_message()
        else:
            message = await client.messages.create(**kwargs)
        blocks = [b.model_dump(exclude_none=True) for b in message.content]
        self.history.append({"role": "assistant", "content": blocks})
        self.pending = [(b["id"], b["name"]) for b in blocks if b["type"] == "tool_use"]

    # ---- OpenAI Chat Completions -------------------------------------------------------------

    async def _openai(self, model: str, stream: bool) -> None:
        self.history += [{"role": "tool", "tool_call_id": i, "content": f"ok {i}"} for i, _ in self.pending]
        if (prompt := self._prompt()) is not None:
            self.history.append({"role": "user", "content": prompt})
        client = _client("openai", self.url)
        tools: Any = [{"type": "function", "function": {"name": "Bash", "parameters": {"type": "object", "properties": {}}}}]
        kwargs: dict[str, Any] = {"model": model, "messages": self.history, "tools": tools, "reasoning_effort": "medium"}
        if stream:
            async with client.chat.completions.stream(**kwargs) as events:
                completion = await events.get_final_completion()
        else:
            completion = await client.chat.completions.create(**kwargs)
        reply = completion.choices[0].message
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in reply.tool_calls or []
        ]  # type: ignore[union-attr]
        self.history.append({"role": "assistant", "content": reply.content or "", "tool_calls": calls})  # what a chat client keeps
        self.pending = [(c["id"], c["function"]["name"]) for c in calls]

    # ---- OpenAI Responses --------------------------------------------------------------------

    async def _openai_responses(self, model: str, stream: bool) -> None:
        self.history += [{"type": "function_call_output", "call_id": i, "output": f"ok {i}"} for i, _ in self.pending]
        if (prompt := self._prompt()) is not None:
            self.history.append({"role": "user", "content": prompt})
        client = _client("openai", self.url)
        tools: Any = [{"type": "function", "name": "Bash", "parameters": {"type": "object", "properties": {}}}]
        kwargs: dict[str, Any] = {
            "model": model,
            "input": self.history,
            "tools": tools,
            "store": False,
            "include": ["reasoning.encrypted_content"],
            "reasoning": {"effort": "medium", "summary": "auto"},
        }
        if stream:
            async with client.responses.stream(**kwargs) as events:
                response = await events.get_final_response()
        else:
            response = await client.responses.create(**kwargs)
        items = [i.model_dump(exclude_none=True) for i in response.output]
        self.history += [{k: v for k, v in i.items() if k != "status" or i["type"] != "reasoning"} for i in items]
        self.pending = [(i["call_id"], i["name"]) for i in items if i["type"] == "function_call"]

    # ---- Gemini generateContent ----------------------------------------------------------------

    async def _gemini(self, model: str, stream: bool) -> None:
        parts = [
            types.Part(function_response=types.FunctionResponse(id=i, name=n, response={"output": f"ok {i}"})) for i, n in self.pending
        ]
        if (prompt := self._prompt()) is not None:
            parts.append(types.Part(text=prompt))
        self.history.append(types.Content(role="user", parts=parts))
        client = _client("gemini", self.url)
        config = types.GenerateContentConfig(
            tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="Bash", parameters_json_schema={"type": "object"})])],
            thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=2048),
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        if stream:
            got: list[types.Part] = []
            async for chunk in await client.aio.models.generate_content_stream(model=model, contents=self.history, config=config):
                got += (chunk.candidates[0].content.parts or []) if chunk.candidates and chunk.candidates[0].content else []
            content = types.Content(role="model", parts=got)
        else:
            response = await client.aio.models.generate_content(model=model, contents=self.history, config=config)
            assert response.candidates and response.candidates[0].content
            content = response.candidates[0].content
        self.history.append(content)
        calls = [p.function_call for p in content.parts or [] if p.function_call]
        self.pending = [(str(c.id), str(c.name)) for c in calls]
