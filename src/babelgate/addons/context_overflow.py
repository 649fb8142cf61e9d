"""Context-window overflows from any upstream read like Anthropic's own.

Claude Code compacts the conversation when an error says "prompt is too long"; OpenAI-style,
Gemini and local servers each say it their own way. Other clients get the same plain statement.
"""

from __future__ import annotations

import re

from babelgate.addons.base import Addon
from babelgate.call import Call
from babelgate.errors import GatewayError, UpstreamError

OVERFLOW_STATUSES = (400, 413, 422)
_OVERFLOW = (
    # OpenAI and most compatible servers
    re.compile(r"maximum context length is (?P<max>\d+) tokens.*?(?:requested|resulted in|you requested) (?P<got>\d+)", re.I | re.S),
    # Gemini
    re.compile(r"input token count \(?(?P<got>\d+)\)? exceeds the maximum number of tokens allowed \(?(?P<max>\d+)", re.I),
    # Anthropic, and gateways that already speak its phrase
    re.compile(r"prompt is too long: (?P<got>\d+) tokens > (?P<max>\d+) maximum", re.I),
)
_OVERFLOW_WORDS = re.compile(r"context_length_exceeded|context length|context window|prompt is too long|too many tokens", re.I)


def context_overflow(message: str) -> str | None:
    """Anthropic's phrase for a prompt over the model's window, if `message` says so in any dialect.

    Claude Code compacts the conversation when it reads "prompt is too long"; other clients get
    the same plain statement.
    """
    for pattern in _OVERFLOW:
        match = pattern.search(message)
        if match:
            return f"prompt is too long: {match['got']} tokens > {match['max']} maximum"
    if _OVERFLOW_WORDS.search(message):
        return "prompt is too long for this model's context window"
    return None


class ContextOverflow(Addon):
    name = "context_overflow"

    def error(self, call: Call, error: GatewayError) -> GatewayError:
        if isinstance(error, UpstreamError) and error.upstream_status in OVERFLOW_STATUSES:
            overflow = context_overflow(error.message)
            if overflow:
                error.message = f"{overflow} ({error.message})"
        return error
