"""Reasoning state that travels with the conversation: the babelgate envelope.

Each model family leaves opaque state in its answers that it wants back with the history:
Anthropic signs its thinking blocks (`signature`, `redacted_thinking.data`), Gemini signs parts
and function calls (`thoughtSignature`), OpenAI Responses encrypts its reasoning items
(`encrypted_content`). A client of another family has no field for that state, except the one
its own family uses for the same job. So another family's state is sealed into an envelope and
shown to the client in that field; the client sends it back with the history, and the gateway
opens it: the state goes back to the family that made it and is dropped for every other one.
No server state is needed, so this works across restarts, workers and instances.

An envelope is URL-safe base64 (padded) of `MAGIC` + JSON, so it survives clients that decode
and re-encode such fields as bytes (google-genai's `thought_signature`). It never looks like a
real signature: real ones do not start with `PREFIX`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import orjson

from babelgate import ir

MAGIC = b"BGenv1"  # six bytes: the base64 text of every envelope starts with PREFIX
PREFIX = base64.urlsafe_b64encode(MAGIC).decode()
ANTHROPIC = "anthropic"
GEMINI = "gemini"
RESPONSES = "openai-responses"


@dataclass(frozen=True, slots=True)
class Sealed:
    """What an envelope holds: the family and model that made the state, and the state itself.

    `signature` is the family's own opaque string (None when the family made only text, as
    OpenAI-compatible chat models do); `text` is kept when the family checks it against the
    signature (Anthropic); `call_id` marks a signature that belongs to a tool call (Gemini)."""

    family: str
    model: str = ""
    signature: str | None = None
    text: str | None = None
    redacted: bool = False
    call_id: str | None = None


def is_envelope(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def seal(sealed: Sealed) -> str:
    payload: dict[str, object] = {"f": sealed.family, "m": sealed.model}
    for key, value in (("s", sealed.signature), ("t", sealed.text), ("c", sealed.call_id)):
        if value is not None:
            payload[key] = value
    if sealed.redacted:
        payload["r"] = True
    return base64.urlsafe_b64encode(MAGIC + orjson.dumps(payload)).decode()


def unseal(value: object) -> Sealed | None:
    """The envelope's content, or None when `value` is not an envelope (or is a damaged one)."""
    if not is_envelope(value):
        return None
    assert isinstance(value, str)
    try:
        raw = base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4))
        payload = orjson.loads(raw[len(MAGIC) :])
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(MAGIC) or not isinstance(payload, dict) or not isinstance(payload.get("f"), str):
        return None

    def text(key: str) -> str | None:
        found = payload.get(key)
        return found if isinstance(found, str) else None

    return Sealed(payload["f"], text("m") or "", text("s"), text("t"), payload.get("r") is True, text("c"))


def seal_part(part: ir.ThinkingPart, model: str) -> str:
    """The envelope for another family's thinking part. It keeps the text too, unless the family's state
    is only its signature (Gemini, Responses): Anthropic's signature covers the text, a chat model's
    state is nothing but its text, and a client may show and send back the text apart from the field."""
    family = part.family or "unknown"
    text = None if family in (GEMINI, RESPONSES) else part.text
    return seal(Sealed(family, model, part.signature or None, text, part.redacted))


def seal_call(call: ir.ToolCallPart, model: str, family: str = GEMINI) -> str:
    return seal(Sealed(family, model, call.signature, call_id=call.id))


def open_messages(messages: list[ir.Message]) -> None:
    """Open the envelopes in a client's history, in place.

    A thinking part whose signature is an envelope takes the family, signature and text it holds;
    one that holds a tool call's signature gives it to that call (in the same message) and goes."""
    for message in messages:
        if message.role != "assistant" or not any(isinstance(p, ir.ThinkingPart) and is_envelope(p.signature) for p in message.parts):
            continue
        calls = {p.id: p for p in message.parts if isinstance(p, ir.ToolCallPart)}
        kept: list[ir.Part] = []
        for part in message.parts:
            sealed = unseal(part.signature) if isinstance(part, ir.ThinkingPart) else None
            if sealed is None:
                kept.append(part)
            elif sealed.call_id is not None:
                call = calls.get(sealed.call_id)
                if call is not None and not call.signature and sealed.family == GEMINI:
                    call.signature = sealed.signature
            else:
                assert isinstance(part, ir.ThinkingPart)
                text = sealed.text if sealed.text is not None else part.text
                kept.append(ir.ThinkingPart(text, sealed.signature, sealed.family, sealed.redacted))
        message.parts = kept


def signed_by(part: ir.Part, family: str) -> bool:
    """A thinking part carrying state `family` made (and so may be sent back to it)."""
    return isinstance(part, ir.ThinkingPart) and part.family == family and bool(part.signature) and not is_envelope(part.signature)
