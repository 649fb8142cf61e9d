"""Anthropic Messages API: `POST /v1/messages`, both as a client dialect and an upstream.

The parts: `client_request` parses a client's request, `client_response` renders to a
client (body, stream, error), `upstream_request` builds an upstream's body, and
`upstream_response` reads an upstream's answer (body, stream, error). `_wire` holds what
two of them share: the tables and the content blocks, read and written.
"""

from __future__ import annotations

from babelgate.dialects.anthropic._wire import ERROR_TYPES
from babelgate.dialects.anthropic.client_request import parse_request
from babelgate.dialects.anthropic.client_response import render_error, render_response, stream_renderer
from babelgate.dialects.anthropic.upstream_request import BUDGETS, encode_request, passthrough, thinking_budget
from babelgate.dialects.anthropic.upstream_response import error_message, parse_response, stream_parser

name = "anthropic"

__all__ = [
    "BUDGETS",
    "ERROR_TYPES",
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
    "thinking_budget",
]
