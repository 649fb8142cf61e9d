"""Amazon Bedrock's Converse API (`/model/{modelId}/converse` and `/converse-stream`), an upstream-only dialect.

The `type: bedrock` provider speaks it to every Bedrock model that is not Anthropic's (Anthropic
models take their own Messages body through InvokeModel). No client speaks Converse to the
gateway, so the client side of the `Dialect` protocol raises `NotImplementedError`, and so does
`passthrough` (a client body is never in this dialect).

Modules: `request` (encode_request), `response` (parse_response), `stream` (stream_parser; its
input is providers/eventstream.py's `{"<event>": <payload>}` frames).
"""

from __future__ import annotations

from typing import Any, NoReturn

from babelgate import ir
from babelgate.dialects.bedrock_converse.request import encode_request
from babelgate.dialects.bedrock_converse.response import parse_response
from babelgate.dialects.bedrock_converse.stream import stream_parser
from babelgate.errors import GatewayError

name = "bedrock_converse"
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


def _upstream_only(function: str) -> NoReturn:
    raise NotImplementedError(f"bedrock_converse is an upstream-only dialect: no client speaks it, so it has no {function}")


def parse_request(body: dict[str, Any], model: str | None = None, stream: bool | None = None) -> ir.Request:
    _upstream_only("parse_request")


def render_response(response: ir.Response) -> dict[str, Any]:
    _upstream_only("render_response")


def stream_renderer(request: ir.Request) -> Any:
    _upstream_only("stream_renderer")


def render_error(error: GatewayError) -> dict[str, Any]:
    _upstream_only("render_error")


def passthrough(raw: dict[str, Any], request: ir.Request, model: str) -> dict[str, Any]:
    _upstream_only("passthrough")


def error_message(body: Any) -> str:
    """Bedrock's error body is `{"message": ...}` (`Message` from some front ends)."""
    if isinstance(body, dict):
        for key in ("message", "Message"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return str(body)[:500]
