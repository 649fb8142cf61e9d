"""OpenAI Responses API: `POST /v1/responses`, as a client dialect and an upstream.

Rules a client sees:

- Tools the upstream cannot serve are dropped: only `function` tools are kept; hosted and
  client-run tool types (web_search, file_search, computer_use, local_shell, shell,
  apply_patch, custom, namespace, mcp, image_generation, code_interpreter...) are removed.
  If `tool_choice` forces a dropped tool → 400.
- Server-side state cannot follow a request to another upstream: `previous_response_id`,
  `conversation`, `prompt`, `background: true` and `item_reference` / `compaction` items → 400.
  `store`, `include`, `metadata`, `truncation`, `service_tier`... are accepted and ignored.
- Records of server-run tool calls in `input` (web_search_call, file_search_call...) are
  skipped: their results already live in the assistant text that follows them.
- Reasoning items become `ir.ThinkingPart(family="openai-responses")` whose signature is
  `encrypted_content`; they are echoed to a Responses upstream only with that family.

The parts: `client_request` parses a client's request, `client_response` renders to a
client (body, stream, error), `upstream_request` builds an upstream's body, and
`upstream_response` reads an upstream's answer (body, stream, error). `_wire` holds what
two of them share.
"""

from __future__ import annotations

from babelgate.dialects.openai_responses.client_request import parse_request
from babelgate.dialects.openai_responses.client_response import render_error, render_response, stream_renderer
from babelgate.dialects.openai_responses.upstream_request import encode_request, passthrough
from babelgate.dialects.openai_responses.upstream_response import error_message, parse_response, stream_parser

name = "openai-responses"

__all__ = [
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
