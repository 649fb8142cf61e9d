"""Token estimates for count_tokens endpoints, without any tokenizer download.

About four characters a token for text and JSON, a flat cost per image or document.
It is an estimate: documented as such, close enough for context-window decisions.
"""

from __future__ import annotations

import orjson

from babelgate import ir

CHARS_PER_TOKEN = 4
MEDIA_TOKENS = 1600


def _part_chars(part: ir.Part) -> tuple[int, int]:
    if isinstance(part, ir.TextPart):
        return len(part.text), 0
    if isinstance(part, ir.ThinkingPart):
        return len(part.text), 0
    if isinstance(part, ir.ToolCallPart):
        return len(part.name) + len(orjson.dumps(part.arguments)), 0
    if isinstance(part, ir.MediaPart):
        return 0, 1
    chars, media = 0, 0
    for inner in part.content:
        c, m = _part_chars(inner)
        chars, media = chars + c, media + m
    return chars, media


def estimate(request: ir.Request) -> int:
    chars = sum(len(p.text) for p in request.system)
    media = 0
    for message in request.messages:
        chars += 4
        for part in message.parts:
            c, m = _part_chars(part)
            chars, media = chars + c, media + m
    for tool in request.tools:
        chars += len(tool.name) + len(tool.description) + len(orjson.dumps(tool.parameters))
    return max(1, -(-chars // CHARS_PER_TOKEN) + media * MEDIA_TOKENS)
