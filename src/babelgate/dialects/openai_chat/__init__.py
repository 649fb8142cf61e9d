"""OpenAI Chat Completions: `POST /v1/chat/completions`, as a client dialect and an upstream.

The parts: `client_request` parses a client's request, `client_response` renders to a
client (body, stream, error), `upstream_request` builds an upstream's body, and
`upstream_response` reads an upstream's answer (body, stream, error). `_wire` holds what
two of them share.
"""

from __future__ import annotations

from babelgate.dialects.openai_chat.client_request import parse_request
from babelgate.dialects.openai_chat.client_response import STOP_TO_FINISH, render_error, render_response, stream_renderer
from babelgate.dialects.openai_chat.upstream_request import encode_request, passthrough
from babelgate.dialects.openai_chat.upstream_response import error_message, parse_response, stream_parser

name = "openai"

__all__ = [
    "STOP_TO_FINISH",
    "encode_request",
    "error_message",
    "name",
    "parse_request",
    "parse_response",
    "passthrough",
    "render_error",
    "render_response",
    "stream_parser",
    "stream_renderer",
]
