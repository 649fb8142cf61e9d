"""Loopback OpenAI-compatible providers, each as strict as its API reference about the request body.

Each fake answers `POST {prefix}/chat/completions` (and `GET {prefix}/models`) for its keys and
refuses, with the provider's own error text and shape, what the real API refuses:

- Groq (console.groq.com/docs/openai): `logprobs`, `logit_bias`, `top_logprobs` and `messages[].name`
  are a 400; so is a `reasoning_content` on an assistant message (observed error text).
- Mistral (its OpenAPI spec: every request and message schema has `additionalProperties: false`): a
  field outside the schema is a 422 `extra_forbidden`; a tool-call id other than nine letters and
  digits is a 400 "Tool call id was ... but must be a-z, A-Z, 0-9, with a length of 9.".
- Cerebras (its OpenAPI spec, likewise closed): a field outside the schema is a 400 `wrong_api_format`
  naming the property; its assistant messages carry reasoning as `reasoning`.
- DeepSeek (api-docs.deepseek.com, thinking mode): in a turn that called tools, every assistant message
  must carry its `reasoning_content` back, in every later request; else a 400.
- OpenRouter: takes anything; answers with `reasoning` and `reasoning_details`, as it does.

Requests that pass get the next pushed reply, else the provider's default answer (a stream when asked).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply

OPENAI_ERROR = "Incorrect API key provided"


class StrictChat(FakeUpstream):
    prefix: ClassVar[str] = "/v1"
    model: ClassVar[str] = "m"

    def __init__(self, keys: Iterable[str], text: str = "Hello!") -> None:
        super().__init__()
        self.keys = set(keys)
        self.text = text
        self.answered: list[dict[str, Any]] = []  # the chat bodies that passed the API's checks
        self.script = self._route

    def _route(self, record: Received) -> Reply:
        if record.headers.get("authorization", "").removeprefix("Bearer ") not in self.keys:
            return wire.error(401, OPENAI_ERROR, "invalid_request_error", "invalid_api_key")
        if record.method == "GET" and record.path == f"{self.prefix}/models":
            return Reply(json={"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "x"}]})
        if record.method != "POST" or record.path != f"{self.prefix}/chat/completions" or not isinstance(record.body, dict):
            return wire.error(404, "Not found", "not_found_error")
        refused = self.refuse(record.body)
        if refused is not None:
            return refused
        self.answered.append(record.body)
        return self.queue.pop(0) if self.queue else self.answer(record.body)

    def refuse(self, body: dict[str, Any]) -> Reply | None:
        return None

    def answer(self, body: dict[str, Any]) -> Reply:
        if body.get("stream"):
            return wire.stream_reply(wire.text_stream(self.text[:3], self.text[3:], usage=True))
        return Reply(json=wire.completion(self.text, model=body.get("model", self.model)))


# ---- Groq -----------------------------------------------------------------------------------

GROQ_UNSUPPORTED = ("logprobs", "logit_bias", "top_logprobs")


def groq_error(message: str) -> Reply:
    return Reply(400, {"error": {"message": message, "type": "invalid_request_error"}})


class FakeGroq(StrictChat):
    prefix = "/openai/v1"
    model = "llama-3.3-70b-versatile"

    def refuse(self, body: dict[str, Any]) -> Reply | None:
        for name in GROQ_UNSUPPORTED:
            if name in body:
                return groq_error(f"`{name}` is not supported with this model")
        for index, message in enumerate(body.get("messages") or []):
            for name in ("name", "reasoning_content"):
                if name in message:
                    where = f"messages.{index}"
                    return groq_error(
                        f"'{where}' : for 'role:{message.get('role')}' the following must be satisfied"
                        f"[('{where}' : property '{name}' is unsupported)]"
                    )
        return None


# ---- Mistral ----------------------------------------------------------------------------------

MISTRAL_REQUEST = frozenset(
    [
        "frequency_penalty",
        "guardrails",
        "max_tokens",
        "messages",
        "metadata",
        "model",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "prompt_mode",
        "random_seed",
        "reasoning_effort",
        "response_format",
        "safe_prompt",
        "service_tier",
        "stop",
        "stream",
        "temperature",
        "tool_choice",
        "tools",
        "top_p",
    ]
)
MISTRAL_MESSAGES = {
    "system": frozenset({"content", "role"}),
    "user": frozenset({"content", "role"}),
    "assistant": frozenset({"content", "prefix", "role", "tool_calls"}),
    "tool": frozenset({"content", "name", "role", "tool_call_id"}),
}
MISTRAL_TOOL_CALL = frozenset({"function", "id", "index", "type"})
MISTRAL_BAD_ID = "Tool call id was {} but must be a-z, A-Z, 0-9, with a length of 9."


def _extra(loc: list[Any], value: Any) -> dict[str, Any]:
    return {"type": "extra_forbidden", "loc": loc, "msg": "Extra inputs are not permitted", "input": value}


def _nine(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 9 and value.isascii() and value.isalnum()


class FakeMistral(StrictChat):
    model = "mistral-large-latest"
    call_id = "D681PevKs"

    def refuse(self, body: dict[str, Any]) -> Reply | None:
        problems = [_extra(["body", k], v) for k, v in body.items() if k not in MISTRAL_REQUEST]
        for index, message in enumerate(body.get("messages") or []):
            role = message.get("role", "")
            allowed = MISTRAL_MESSAGES.get(role, frozenset())
            problems += [_extra(["body", "messages", index, role, k], v) for k, v in message.items() if k not in allowed]
            for call in message.get("tool_calls") or []:
                problems += [
                    _extra(["body", "messages", index, role, "tool_calls", k], v) for k, v in call.items() if k not in MISTRAL_TOOL_CALL
                ]
        if problems:
            return Reply(
                422, {"object": "error", "message": {"detail": problems}, "type": "invalid_request_error", "param": None, "code": None}
            )
        for message in body.get("messages") or []:
            ids = [c.get("id") for c in message.get("tool_calls") or []] + ([message["tool_call_id"]] if "tool_call_id" in message else [])
            bad = next((i for i in ids if not _nine(i)), None)
            if bad is not None:
                error = {
                    "object": "error",
                    "message": MISTRAL_BAD_ID.format(bad),
                    "type": "invalid_function_call",
                    "param": None,
                    "code": "3280",
                }
                return Reply(400, error)
        return None

    def answer(self, body: dict[str, Any]) -> Reply:
        if body.get("tools") and not any(m.get("role") == "tool" for m in body["messages"]):
            call = {"id": self.call_id, "type": "function", "function": {"name": body["tools"][0]["function"]["name"], "arguments": "{}"}}
            if body.get("stream"):
                chunks = [wire.chunk({"role": "assistant", "content": ""}), wire.chunk({"tool_calls": [{**call, "index": 0}]})]
                return wire.stream_reply([*chunks, {**wire.chunk({}, "tool_calls"), "usage": _usage()}])
            return Reply(json=wire.completion(None, tool_calls=[call], finish="tool_calls", model=self.model))
        if body.get("stream"):  # Mistral's last chunk carries the usage; it has no stream_options
            chunks = [wire.chunk({"role": "assistant", "content": ""}), wire.chunk({"content": self.text})]
            return wire.stream_reply([*chunks, {**wire.chunk({}, "stop"), "usage": _usage()}])
        return Reply(json=wire.completion(self.text, model=self.model))


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}


# ---- Cerebras ---------------------------------------------------------------------------------

CEREBRAS_REQUEST = frozenset(
    [
        "clear_thinking",
        "disable_reasoning",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "messages",
        "min_completion_tokens",
        "min_tokens",
        "model",
        "model_parameters",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "reasoning_effort",
        "reasoning_format",
        "response_format",
        "seed",
        "service_tier",
        "stop",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
    ]
)
CEREBRAS_MESSAGES = {
    "system": frozenset({"content", "name", "role"}),
    "developer": frozenset({"content", "name", "role"}),
    "user": frozenset({"content", "name", "role"}),
    "assistant": frozenset({"content", "name", "reasoning", "role", "tool_calls"}),
    "tool": frozenset({"content", "name", "role", "tool_call_id"}),
}


def _unsupported(path: str) -> str:
    return f"{path}: property '{path}' is unsupported"


class FakeCerebras(StrictChat):
    model = "gpt-oss-120b"
    reasoning = "Short and sweet."

    def refuse(self, body: dict[str, Any]) -> Reply | None:
        problems = [_unsupported(k) for k in body if k not in CEREBRAS_REQUEST]
        for index, message in enumerate(body.get("messages") or []):
            role = message.get("role", "")
            allowed = CEREBRAS_MESSAGES.get(role, frozenset())
            problems += [_unsupported(f"messages.{index}.{role}.{k}") for k in message if k not in allowed]
        if problems:
            error = {
                "message": "\n".join(problems),
                "type": "invalid_request_error",
                "param": "validation_error",
                "code": "wrong_api_format",
            }
            return Reply(400, error)
        return None

    def answer(self, body: dict[str, Any]) -> Reply:
        if body.get("stream"):
            chunks = [
                wire.chunk({"role": "assistant", "content": ""}),
                wire.chunk({"reasoning": self.reasoning}),
                wire.chunk({"content": self.text}),
            ]
            return wire.stream_reply([*chunks, wire.chunk({}, "stop"), wire.usage_chunk()])
        completion = wire.completion(self.text, model=self.model)
        completion["choices"][0]["message"]["reasoning"] = self.reasoning
        return Reply(json=completion)


# ---- DeepSeek ---------------------------------------------------------------------------------

DEEPSEEK_PASS_BACK = "The `reasoning_content` in the thinking mode must be passed back to the API."


def tool_turn_assistants(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The assistant messages of the turns (one user message to the next) that called tools."""
    found: list[dict[str, Any]] = []
    turn: list[dict[str, Any]] = []
    for message in [*messages, {"role": "user"}]:
        if message.get("role") == "user":
            found += turn if any(m.get("tool_calls") for m in turn) else []
            turn = []
        elif message.get("role") == "assistant":
            turn.append(message)
    return found


class FakeDeepSeek(StrictChat):
    model = "deepseek-reasoner"
    reasoning = "The user wants the weather, so I call the tool."

    def refuse(self, body: dict[str, Any]) -> Reply | None:
        if any("reasoning_content" not in m for m in tool_turn_assistants(body.get("messages") or [])):
            return Reply(
                400,
                {"error": {"message": DEEPSEEK_PASS_BACK, "type": "invalid_request_error", "param": None, "code": "invalid_request_error"}},
            )
        return None

    def answer(self, body: dict[str, Any]) -> Reply:
        calls_tool = bool(body.get("tools")) and body["messages"][-1].get("role") == "user"
        call = {"id": "call_00_weather1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        if body.get("stream"):
            chunks = [wire.chunk({"role": "assistant", "content": None, "reasoning_content": ""}, model=self.model)]
            chunks += [wire.chunk({"reasoning_content": self.reasoning[:10]}, model=self.model)]
            chunks += [wire.chunk({"reasoning_content": self.reasoning[10:]}, model=self.model)]
            if calls_tool:
                chunks += [
                    wire.chunk({"tool_calls": [{**call, "index": 0}]}, model=self.model),
                    wire.chunk({}, "tool_calls", model=self.model),
                ]
            else:
                chunks += [wire.chunk({"content": self.text}, model=self.model), wire.chunk({}, "stop", model=self.model)]
            return wire.stream_reply([*chunks, wire.usage_chunk()])
        if calls_tool:
            return Reply(json=wire.completion(None, tool_calls=[call], finish="tool_calls", reasoning=self.reasoning, model=self.model))
        return Reply(json=wire.completion(self.text, reasoning=self.reasoning, model=self.model))


# ---- OpenRouter --------------------------------------------------------------------------------


class FakeOpenRouter(StrictChat):
    prefix = "/api/v1"
    model = "anthropic/claude-sonnet-4.5"
    reasoning = "Thinking it over."

    def answer(self, body: dict[str, Any]) -> Reply:
        detail = {"type": "reasoning.text", "text": self.reasoning, "signature": "sig-or-1", "format": "anthropic-claude-v1", "index": 0}
        if body.get("stream"):  # each delta carries the text twice: `reasoning`, and its `reasoning_details` piece
            half = len(self.reasoning) // 2
            pieces = [self.reasoning[:half], self.reasoning[half:]]
            chunks = [wire.chunk({"role": "assistant", "content": ""}, model=self.model)]
            chunks += [
                wire.chunk({"content": "", "reasoning": p, "reasoning_details": [{**detail, "text": p}]}, model=self.model) for p in pieces
            ]
            chunks += [wire.chunk({"content": self.text}, model=self.model), wire.chunk({}, "stop", model=self.model)]
            return wire.stream_reply([*chunks, wire.usage_chunk()])
        completion = wire.completion(self.text, model=self.model)
        completion["choices"][0]["message"].update({"reasoning": None, "reasoning_details": [detail]})
        return Reply(json=completion)
