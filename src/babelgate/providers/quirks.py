"""Per-provider fixes to the body sent to an OpenAI-compatible upstream, declared in its config
(the zero-config presets set them for the providers that need them):

- `drop_fields`: fields the upstream rejects are removed, `logprobs` at the top level or
  `messages[].name` on every message;
- `rename_fields`: fields it spells otherwise are renamed in place, `{seed: random_seed}` or
  `{messages[].reasoning_content: reasoning}` (a name already present is kept);
- `tool_call_ids: alnum9`: every tool-call id becomes nine letters and digits, the same id always
  the same nine, so calls and their results still pair (ids already of that form are kept);
- `reasoning_field: reasoning`: the requested reasoning goes as OpenRouter's `reasoning`
  object, `{"effort": level}` or `{"max_tokens": budget}`, in place of `reasoning_effort`.

They apply after the body is built, to an encoded body and to a client's own body alike. The
client's body is never changed in place: a later attempt at another upstream gets it as it came.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from babelgate import ir
from babelgate.config import ProviderConfig

MESSAGES = "messages[]."
ALPHABET = string.digits + string.ascii_letters
_ALNUM9 = re.compile(r"[A-Za-z0-9]{9}")


def short_id(call_id: str) -> str:
    """`call_id` as nine letters and digits: itself when it already is, else a digest of it."""
    if _ALNUM9.fullmatch(call_id):
        return call_id
    number = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")
    out = []
    for _ in range(9):
        number, digit = divmod(number, len(ALPHABET))
        out.append(ALPHABET[digit])
    return "".join(out)


def openrouter_reasoning(reasoning: ir.Reasoning | None, effort: str) -> dict[str, Any]:
    """OpenRouter's `reasoning` object: a token budget as `max_tokens`, else the effort level."""
    if reasoning is not None and reasoning.budget and reasoning.effort != "none":
        return {"max_tokens": reasoning.budget}
    level = reasoning.effort if reasoning is not None and reasoning.effort else effort
    return {"effort": "xhigh" if level == "max" else level}


def _split(paths: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(top-level names, names on each message)."""
    paths = list(paths)
    top = frozenset(p for p in paths if not p.startswith(MESSAGES))
    return top, frozenset(p.removeprefix(MESSAGES) for p in paths if p.startswith(MESSAGES))


def _rename(target: dict[str, Any], renames: Iterable[tuple[str, str]]) -> None:
    for old, new in renames:
        if old in target:
            value = target.pop(old)
            target.setdefault(new, value)


@dataclass(frozen=True, slots=True)
class Quirks:
    drop: frozenset[str] = frozenset()
    drop_in_messages: frozenset[str] = frozenset()
    rename: tuple[tuple[str, str], ...] = ()
    rename_in_messages: tuple[tuple[str, str], ...] = ()
    short_ids: bool = False
    reasoning_object: bool = False

    @classmethod
    def of(cls, config: ProviderConfig) -> Quirks:
        drop, drop_in_messages = _split(config.drop_fields)
        renames = config.rename_fields.items()
        return cls(
            drop,
            drop_in_messages,
            tuple((old, new) for old, new in renames if not old.startswith(MESSAGES)),
            tuple((old.removeprefix(MESSAGES), new) for old, new in renames if old.startswith(MESSAGES)),
            config.tool_call_ids == "alnum9",
            config.reasoning_field == "reasoning",
        )

    @property
    def touch_messages(self) -> bool:
        return bool(self.drop_in_messages or self.rename_in_messages or self.short_ids)

    def apply(self, body: dict[str, Any], request: ir.Request) -> None:
        """Fix `body` (a fresh top-level dict) for this upstream; nested client objects are copied before they change."""
        if self.reasoning_object and "reasoning_effort" in body:
            effort = body.pop("reasoning_effort")
            if "reasoning" not in body:  # a client that speaks OpenRouter's own field keeps it
                body["reasoning"] = openrouter_reasoning(request.reasoning, str(effort))
        _rename(body, self.rename)
        for name in self.drop:
            body.pop(name, None)
        if self.touch_messages and isinstance(body.get("messages"), list):
            body["messages"] = [self._message(m) if isinstance(m, dict) else m for m in body["messages"]]

    def _message(self, message: dict[str, Any]) -> dict[str, Any]:
        message = dict(message)
        if self.short_ids:
            if isinstance(message.get("tool_call_id"), str):
                message["tool_call_id"] = short_id(message["tool_call_id"])
            if isinstance(message.get("tool_calls"), list):
                message["tool_calls"] = [_short_call(c) for c in message["tool_calls"]]
        _rename(message, self.rename_in_messages)
        for name in self.drop_in_messages:
            message.pop(name, None)
        return message


def _short_call(call: Any) -> Any:
    if isinstance(call, dict) and isinstance(call.get("id"), str):
        return {**call, "id": short_id(call["id"])}
    return call
