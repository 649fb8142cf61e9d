"""Loopback upstreams that count tokens and hold requests to the real APIs' token-limit rules.

`CountingUpstream(kind)` answers one family's generation route with a scripted turn
(tests/fakes/turns.py) and its token-counting route with a count of its own, refusing what the
real API refuses, with its error text:

- Anthropic `POST /v1/messages/count_tokens` takes model, messages, system, tools, tool_choice,
  thinking, mcp_servers, context_management, output_config: any other field (`max_tokens`,
  `stream`...) is a 400 `<field>: Extra inputs are not permitted`. `/v1/messages` refuses a
  `max_tokens` over the model's output limit (`max_tokens: N > L, which is the maximum allowed
  number of output tokens for M`) or under 1.
- OpenAI Responses `POST /v1/responses` refuses a `max_output_tokens` under 16 ("Invalid
  'max_output_tokens': integer below minimum value. Expected a value >= 16, but got N instead.");
  `POST /v1/responses/input_tokens` refuses a parameter it does not define ("Unknown parameter").
- OpenAI Chat `POST /v1/chat/completions` for a reasoning model (gpt-5*, o*) refuses `max_tokens`
  ("Unsupported parameter: 'max_tokens' is not supported with this model. Use
  'max_completion_tokens' instead.").
- Gemini `POST /v1beta/models/M:countTokens` takes `contents` or `generateContentRequest` (which
  must name `models/M`): another top-level field is "Invalid JSON payload received. Unknown name".
- Bedrock `POST /model/M/count-tokens` takes `input` with exactly one of `invokeModel` (the base64
  of an InvokeModel body) or `converse`; an inference profile id is "The provided model doesn't
  support counting tokens."

The count is `fake_count(text)`: one token per word or punctuation mark of the counted JSON,
which no tokenizer of babelgate's produces, so a test tells whose count reached the client.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson

from tests.fakes import openai_wire, turns
from tests.fakes.anthropic_api import invalid
from tests.fakes.turns import Turn
from tests.fakes.upstream import FakeUpstream, Received, Reply

ANTHROPIC_COUNT_FIELDS = {
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "mcp_servers",
    "context_management",
    "output_config",
}
RESPONSES_COUNT_FIELDS = {
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "truncation",
    "conversation",
    "previous_response_id",
}
REASONING_CHAT_MODELS = re.compile(r"^(gpt-5|o\d)")


def fake_count(value: Any) -> int:
    return len(re.findall(r"\w+|[^\w\s]", orjson.dumps(value).decode()))


def openai_error(message: str, param: str, code: str) -> Reply:
    return Reply(400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})


def gemini_error(message: str, status: int = 400, code: str = "INVALID_ARGUMENT") -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": code}})


def bedrock_error(message: str, status: int = 400, kind: str = "ValidationException") -> Reply:
    return Reply(status, {"message": message}, headers={"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"})


class CountingUpstream(FakeUpstream):
    def __init__(self, kind: str, output_limit: int = 64000, turn: Turn | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.output_limit = output_limit
        self.turn = turn or Turn(text="ok")
        self.counts: list[Received] = []  # the counting requests that passed the checks
        self.answers: list[int] = []  # the count each of them was answered
        self.generations: list[Received] = []  # the generation requests that passed the checks
        self.refused: list[tuple[Received, Any]] = []  # every request refused, with the error body
        self.down = False  # counting answers 503 (the model still serves)
        self.script = self._route

    def _route(self, record: Received) -> Reply:
        body = record.body if isinstance(record.body, dict) else {}
        counting = record.path.endswith(("/count_tokens", "/input_tokens", ":countTokens", "/count-tokens"))
        if counting and self.down:
            return Reply(503, {"error": {"message": "counting is down", "type": "server_error"}})
        handler = getattr(self, f"_{self.kind.replace('-', '_')}")
        reply: Reply | None = handler(record, body, counting)
        if reply is None or reply.status < 400:
            (self.counts if counting else self.generations).append(record)
            if counting and reply is not None:
                self.answers.append(next(v for v in reply.json.values() if isinstance(v, int)))
            if reply is None:
                return self.queue.pop(0) if self.queue else turns.reply(self._reply_kind, self.turn, bool(body.get("stream")))
            return reply
        self.refused.append((record, reply.json))
        return reply

    @property
    def _reply_kind(self) -> str:
        return "anthropic" if self.kind == "bedrock" else self.kind

    def _anthropic(self, record: Received, body: dict[str, Any], counting: bool) -> Reply | None:
        if counting:
            for field in body:
                if field not in ANTHROPIC_COUNT_FIELDS:
                    return invalid(f"{field}: Extra inputs are not permitted")
            if "messages" not in body or "model" not in body:
                return invalid("messages: Field required" if "model" in body else "model: Field required")
            return Reply(json={"input_tokens": fake_count([body.get("system"), body["messages"], body.get("tools")])})
        wanted = body.get("max_tokens")
        if not isinstance(wanted, int):
            return invalid("max_tokens: Field required")
        if wanted < 1:
            return invalid("max_tokens: Input should be greater than or equal to 1")
        if wanted > self.output_limit:
            model = body.get("model")
            return invalid(f"max_tokens: {wanted} > {self.output_limit}, which is the maximum allowed number of output tokens for {model}")
        return None

    def _openai_responses(self, record: Received, body: dict[str, Any], counting: bool) -> Reply | None:
        if counting:
            for field in body:
                if field not in RESPONSES_COUNT_FIELDS:
                    return openai_error(f"Unknown parameter: '{field}'.", field, "unknown_parameter")
            counted = fake_count([body.get("instructions"), body.get("input"), body.get("tools")])
            return Reply(json={"object": "response.input_tokens", "input_tokens": counted})
        wanted = body.get("max_output_tokens")
        if isinstance(wanted, int) and wanted < 16:
            message = f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {wanted} instead."
            return openai_error(message, "max_output_tokens", "integer_below_min_value")
        return None

    def _openai(self, record: Received, body: dict[str, Any], counting: bool) -> Reply | None:
        if REASONING_CHAT_MODELS.match(str(body.get("model"))) and "max_tokens" in body:
            message = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
            return openai_error(message, "max_tokens", "unsupported_parameter")
        if body.get("stream"):
            return openai_wire.stream_reply(openai_wire.text_stream("o", "k", usage=True))
        return None

    def _gemini(self, record: Received, body: dict[str, Any], counting: bool) -> Reply | None:
        if not counting:
            return None
        model = record.path.rsplit("/", 1)[-1].partition(":")[0]
        for field in body:
            if field not in ("contents", "generateContentRequest"):
                return gemini_error(f'Invalid JSON payload received. Unknown name "{field}": Cannot find field.')
        inner = body.get("generateContentRequest")
        if inner is not None and inner.get("model") != f"models/{model}":
            return gemini_error("* GenerateContentRequest.model: unexpected model name format\n")
        counted = inner or body
        tokens = fake_count([counted.get("systemInstruction"), counted.get("contents"), counted.get("tools")])
        return Reply(json={"totalTokens": tokens, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}]})

    def _bedrock(self, record: Received, body: dict[str, Any], counting: bool) -> Reply | None:
        model = record.path.split("/")[2]
        if not counting:
            return self._anthropic(record, body, False)
        if not model.startswith(("anthropic.", "amazon.", "meta.")):
            return bedrock_error("The provided model doesn't support counting tokens.")
        given = body.get("input") if isinstance(body.get("input"), dict) else {}
        if len(given) != 1 or next(iter(given)) not in ("invokeModel", "converse"):
            return bedrock_error(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: exactly one member must be set"
            )
        if "invokeModel" in given:
            invoked = orjson.loads(base64.b64decode(given["invokeModel"]["body"]))
            return Reply(json={"inputTokens": fake_count([invoked.get("system"), invoked["messages"], invoked.get("tools")])})
        converse = given["converse"]
        return Reply(json={"inputTokens": fake_count([converse.get("system"), converse["messages"], converse.get("toolConfig")])})
