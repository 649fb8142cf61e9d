"""Gemini generateContent (v1beta): `POST /v1beta/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`, as a client dialect and an upstream.

The model and the stream flag live in the URL: the server passes them to `parse_request`.
Field names are read in camelCase or snake_case (the REST API accepts both).

- Tool-call ids: `functionCall.id` / `functionResponse.id` are used when given. Otherwise
  ids are made from position and name (`call_<content>_<part>_<name>`), so the same history
  gives the same ids, and a `functionResponse` answers the oldest open call of its name.
  Going out, a tool result takes its function name from `ToolResultPart.name` or from the
  matching `ToolCallPart` in the history.
- thoughtSignature: on a thought part it is that `ThinkingPart`'s signature (family "gemini");
  on a functionCall it is `ToolCallPart.signature`; on any other part it becomes a text-less
  `ThinkingPart` right after that part, and goes back onto the preceding part on the way out.
  Gemini 3 upstreams need a signature on each step's first functionCall: history from other
  models gets Google's documented placeholder.
- Tools the upstream cannot serve are dropped (googleSearch, codeExecution, urlContext...);
  if `functionCallingConfig` forces only dropped tools → 400. Function parameters go out
  through `gemini_schema.clean_schema`.
- Streams carry whole parts: text and thoughts as they come, function calls whole (argument
  deltas are buffered until the block stops).

The parts: `client_request` parses a client's request, `client_response` renders to a
client (body, stream, error), `upstream_request` builds an upstream's body, and
`upstream_response` reads an upstream's answer (body, stream, error). `_wire` holds what
two of them share: the tables, and Gemini parts read and written.
"""

from __future__ import annotations

from babelgate.dialects.gemini.client_request import parse_request
from babelgate.dialects.gemini.client_response import render_error, render_response, stream_renderer
from babelgate.dialects.gemini.upstream_request import encode_request, passthrough
from babelgate.dialects.gemini.upstream_response import error_message, parse_response, stream_parser

name = "gemini"

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
