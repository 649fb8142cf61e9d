"""One strict loopback upstream per model family, each answering every turn with thinking and a tool call.

`FamilyFake(kind)` speaks Anthropic Messages, OpenAI Chat (DeepSeek-like: it wants its reasoning back
on tool turns), OpenAI Responses or Gemini generateContent (a Gemini 3 model), streaming or not as
asked. Every answer carries fresh reasoning state (a signature, an encrypted item, a
thoughtSignature, reasoning text) that the fake remembers. Every request is checked against the
real API's rules (tests/fakes/reasoning_rules.py): a request that breaks one gets the real error
and is kept in `rejected`. Then the fake looks for the state of its own earlier answers in the
history (its tool calls are marked with `by` and `step` in their arguments) and records in
`checked` whether each came back exactly as it gave it out.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

from tests.fakes import reasoning_rules as rules
from tests.fakes.openai_compat import DEEPSEEK_PASS_BACK, tool_turn_assistants
from tests.fakes.turns import ToolCall, Turn, reply
from tests.fakes.upstream import FakeUpstream, Received, Reply

MODELS = {"anthropic": "claude-m", "openai": "deepseek-m", "openai-responses": "gpt-m", "gemini": "gemini-3-pro-m"}
_serial = itertools.count(1)


def _opaque(tag: str) -> str:
    """A fresh opaque value, valid base64 (the google-genai SDK decodes signatures as bytes)."""
    return base64.b64encode(f"{tag}:{next(_serial)}".encode()).decode()


class FamilyFake(FakeUpstream):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.script = self._answer
        self.rejected: list[tuple[Received, Reply]] = []
        self.checked: list[tuple[str, bool]] = []  # (conversation:step, its state came back whole)
        self.signed: dict[str, str] = {}  # anthropic: signature -> thinking text
        self.encrypted: dict[str, str] = {}  # responses: encrypted content -> item id
        self.gemini_signed: set[bytes] = set()
        self.state: dict[str, str] = {}  # conversation:step -> the state given out with that step

    def _answer(self, record: Received) -> Reply:
        body = record.body if isinstance(record.body, dict) else {}
        refused = self._refuse(body)
        if refused is not None:
            self.rejected.append((record, refused))
            return refused
        self._check_own(body)
        conversation, step = self._next_step(body)
        key = f"{conversation}:{step}"
        call = ToolCall("Bash", {"command": f"echo {step}", "by": self.kind, "step": key}, self._call_id(key))
        turn = Turn(text=f"{self.kind} step {step}.", calls=[call])
        turn.signature = _opaque(f"{self.kind}-{key}")  # Gemini 3 signs its calls whether or not thoughts are shown
        if self._thinks(body):
            turn.thinking = f"{self.kind} thinks about {key}"
        if turn.thinking or self.kind == "gemini":
            self._remember(key, turn)
        stream = bool(body.get("stream")) or record.path.endswith(":streamGenerateContent")
        return reply(self.kind, turn, stream, split=None)

    def _call_id(self, key: str) -> str:
        return {"anthropic": "toolu_", "openai": "call_", "openai-responses": "fc_call_", "gemini": "unused_"}[self.kind] + key.replace(
            ":", "_"
        )

    def _thinks(self, body: dict[str, Any]) -> bool:
        if self.kind == "anthropic":
            return isinstance(body.get("thinking"), dict)
        if self.kind == "gemini":
            return bool(((body.get("generationConfig") or {}).get("thinkingConfig") or {}).get("includeThoughts"))
        if self.kind == "openai-responses":
            return "reasoning.encrypted_content" in (body.get("include") or [])
        return True  # a reasoning chat model always reasons

    def _remember(self, key: str, turn: Turn) -> None:
        if self.kind == "anthropic":
            self.signed[turn.signature] = turn.thinking
        elif self.kind == "openai-responses":
            self.encrypted[turn.signature] = "rs_1"  # the id tests/fakes/turns.py gives its reasoning item
        elif self.kind == "gemini":
            self.gemini_signed.add(base64.b64decode(turn.signature))
        self.state[key] = turn.thinking if self.kind == "openai" else turn.signature

    def _refuse(self, body: dict[str, Any]) -> Reply | None:
        if self.kind == "anthropic":
            return rules.anthropic(body, self.signed)
        if self.kind == "gemini":
            return rules.gemini(body, self.gemini_signed)
        if self.kind == "openai-responses":
            return rules.responses(body, self.encrypted)
        if any("reasoning_content" not in m for m in tool_turn_assistants(body.get("messages") or [])):
            error = {"message": DEEPSEEK_PASS_BACK, "type": "invalid_request_error", "param": None, "code": "invalid_request_error"}
            return Reply(400, {"error": error})
        return None

    # ---- what came back --------------------------------------------------------------------

    def _next_step(self, body: dict[str, Any]) -> tuple[str, int]:
        """The conversation (named in the first user message) and how many tool calls it holds so far."""
        text = json.dumps(body)
        conversation = text.split("conversation ", 1)[1].split(" ", 1)[0].strip('\\"') if "conversation " in text else "?"
        return conversation, text.count("echo ") + 1

    def _check_own(self, body: dict[str, Any]) -> None:
        for key, found in self._own_steps(body):
            if key in self.state:
                self.checked.append((key, found == self.state[key]))

    def _own_steps(self, body: dict[str, Any]) -> list[tuple[str, str | None]]:
        """(step, the state found with it) for each of this fake's own tool calls in the history."""
        if self.kind == "anthropic":
            return self._anthropic_steps(body.get("messages") or [])
        if self.kind == "gemini":
            out = []
            for content in body.get("contents") or []:
                for part in content.get("parts") or []:
                    args = (part.get("functionCall") or {}).get("args") or {}
                    if args.get("by") == self.kind:
                        found = rules.signature_bytes(str(part.get("thoughtSignature") or ""))
                        out.append((str(args["step"]), base64.b64encode(found).decode() if found else None))
            return out
        if self.kind == "openai-responses":
            items = body.get("input") or []
            out = []
            reasoning: str | None = None  # the reasoning item of the answer being read
            for item in items:
                if item.get("type") == "reasoning":
                    reasoning = item.get("encrypted_content")
                elif item.get("type") == "function_call" and json.loads(item.get("arguments") or "{}").get("by") == self.kind:
                    out.append((json.loads(item["arguments"])["step"], reasoning))
                elif item.get("type") == "function_call_output" or item.get("role") == "user":
                    reasoning = None
            return out
        out = []
        for message in body.get("messages") or []:
            for call in message.get("tool_calls") or []:
                args = json.loads(call["function"]["arguments"])
                if args.get("by") == self.kind:
                    out.append((str(args["step"]), message.get("reasoning_content")))
        return out

    def _anthropic_steps(self, messages: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
        out = []
        thinking: str | None = None
        for message in messages:
            if message.get("role") != "assistant":
                thinking = None
                continue
            for block in message.get("content") if isinstance(message.get("content"), list) else []:
                if block.get("type") == "thinking":
                    thinking = block.get("signature")
                elif block.get("type") == "tool_use" and (block.get("input") or {}).get("by") == self.kind:
                    out.append((str(block["input"]["step"]), thinking))
        return out


def family_config(fakes: dict[str, FamilyFake]) -> dict[str, Any]:
    """babelgate in front of the four fakes, one provider each, every model named by MODELS."""
    kinds = {
        "anthropic": ("anthropic", ""),
        "openai": ("openai", "/v1"),
        "openai-responses": ("openai-responses", "/v1"),
        "gemini": ("gemini", ""),
    }
    providers: dict[str, Any] = {}
    for kind, fake in fakes.items():
        kind_type, suffix = kinds[kind]
        provider: dict[str, Any] = {"type": kind_type, "base_url": fake.url + suffix, "api_keys": [f"key-{kind}"], "models": [MODELS[kind]]}
        if kind in ("openai", "openai-responses"):
            provider["reasoning_effort"] = True
        if kind == "openai":
            provider["echo_reasoning"] = True
        providers[kind.replace("-", "_")] = provider
    return {"providers": providers}
