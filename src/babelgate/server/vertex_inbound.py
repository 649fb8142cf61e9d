"""Vertex AI rawPredict for clients: Claude Code with `CLAUDE_CODE_USE_VERTEX=1`, anthropic's AnthropicVertex.

`POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict` answers the
Anthropic response JSON, `...:streamRawPredict` Anthropic SSE, and `.../models/count-tokens:rawPredict`
(whose body names the model) `{"input_tokens": N}`. The body is Anthropic Messages with
`anthropic_version` and without `model`; the model (`claude-sonnet-4-5@20250929`, or any name the
config routes) is routed like any model name (server/cloud_inbound.py). The project and location
are not checked. Errors are in Anthropic's envelope, which the anthropic SDKs read for Vertex as
they do for the Messages API. The request's Google access token, if any, is not checked: the
gateway's own `api_keys` are (`x-api-key`, or `Authorization: Bearer`).
"""

from __future__ import annotations

from aiohttp import web

from babelgate.call import Call
from babelgate.dialects import anthropic
from babelgate.errors import GatewayError, Kind
from babelgate.server import cloud_inbound
from babelgate.server.serve import count_call, json_body, serve

MODELS = "/projects/{project}/locations/{location}/publishers/{publisher}/models/{target:.+}"  # a model name may hold a slash
ACTIONS = ("rawPredict", "streamRawPredict")


async def predict(request: web.Request) -> web.StreamResponse:
    publisher = request.match_info["publisher"]
    if publisher != "anthropic":
        raise GatewayError(404, Kind.NOT_FOUND, f"publisher {publisher!r} is not served here; only publishers/anthropic is")
    model, _, action = request.match_info["target"].rpartition(":")
    if model == "count-tokens" and action == "rawPredict":
        return await count_tokens(request)
    if not model or action not in ACTIONS:
        target = request.match_info["target"]
        raise GatewayError(404, Kind.NOT_FOUND, f"unknown method {target!r}; expected MODEL:rawPredict or MODEL:streamRawPredict")
    stream = action == "streamRawPredict"
    body, headers = cloud_inbound.anthropic_body(request, await json_body(request), stream)
    return await serve(request, anthropic, cloud_inbound.routed_model(request, model), stream, body=body, headers=headers)


async def count_tokens(request: web.Request) -> web.StreamResponse:
    body, headers = cloud_inbound.anthropic_body(request, await json_body(request), False)
    parsed = anthropic.parse_request(body)
    model = cloud_inbound.routed_model(request, parsed.model)
    call = Call(anthropic, anthropic.parse_request(body, model, False), headers, raw=body)
    return web.json_response({"input_tokens": (await count_call(request, call)).tokens})  # an unknown model: the router's 404


def add_routes(router: web.UrlDispatcher) -> None:
    for version in ("/v1", "/v1beta1", ""):  # the SDKs' base URL ends in /v1; a base URL without it is forgiven
        router.add_post(version + MODELS, predict)
