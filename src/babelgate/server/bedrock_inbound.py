"""Bedrock InvokeModel for clients: Claude Code with `CLAUDE_CODE_USE_BEDROCK=1`, anthropic's AnthropicBedrock.

`POST /model/{modelId}/invoke` answers the Anthropic response JSON; `.../invoke-with-response-stream`
answers the Anthropic stream events in AWS event-stream (server/eventstream.py); `.../count-tokens`
answers `{"inputTokens": N}` for an InvokeModel body (base64 in `input.invokeModel.body`). The
model id (URL-encoded, maybe an inference profile id or ARN) is routed like any model name
(server/cloud_inbound.py). Claude Code also asks the control plane for inference profiles:
`GET /inference-profiles` gets an empty list (it then uses its own default ids) and
`GET /inference-profiles/{id}` names the plain model behind a routable id, which is what lets
Claude Code count tokens with CountTokens. Errors are Bedrock's: `{"message": ...}` with the
exception's name in `x-amzn-ErrorType` and its HTTP status. The request's AWS signature, if any,
is not checked: the gateway's own `api_keys` are (an API key as `Authorization: Bearer`, which
Claude Code sends from `AWS_BEARER_TOKEN_BEDROCK`, or `x-api-key`).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

import orjson
from aiohttp import web

from babelgate.call import Call
from babelgate.dialects import anthropic
from babelgate.errors import BadRequest, GatewayError, Kind
from babelgate.server import cloud_inbound
from babelgate.server.eventstream import BedrockFraming
from babelgate.server.serve import count_call, json_body, serve

PREFIXES = ("/model/", "/inference-profiles")
# Each error kind as the Bedrock exception with its HTTP status (botocore's bedrock-runtime model).
EXCEPTIONS: dict[Kind, tuple[int, str]] = {
    Kind.INVALID_REQUEST: (400, "ValidationException"),
    Kind.AUTHENTICATION: (403, "UnrecognizedClientException"),
    Kind.PERMISSION: (403, "AccessDeniedException"),
    Kind.NOT_FOUND: (404, "ResourceNotFoundException"),
    Kind.TOO_LARGE: (400, "ValidationException"),
    Kind.RATE_LIMIT: (429, "ThrottlingException"),
    Kind.BILLING: (429, "ServiceQuotaExceededException"),
    Kind.OVERLOADED: (503, "ServiceUnavailableException"),
    Kind.UPSTREAM: (500, "InternalServerException"),
    Kind.TIMEOUT: (408, "ModelTimeoutException"),
}


def owns(path: str) -> bool:
    return path.startswith(PREFIXES)


def error_response(error: GatewayError) -> web.Response:
    status, name = EXCEPTIONS[error.kind]
    headers = {**error.headers, "x-amzn-ErrorType": name, "x-amzn-RequestId": str(uuid.uuid4())}
    return web.Response(status=status, body=orjson.dumps({"message": error.message}), content_type="application/json", headers=headers)


def _model_id(request: web.Request) -> str:
    model_id = request.match_info["model"]
    if not model_id or len(model_id) > 2048:
        raise BadRequest("modelId", "expected a model id of 1 to 2048 characters")
    return model_id


async def invoke(request: web.Request) -> web.StreamResponse:
    action = request.match_info["action"]
    if action == "count-tokens":
        return await count_tokens(request)
    if action in ("converse", "converse-stream"):
        raise GatewayError(400, Kind.INVALID_REQUEST, f"Converse ({action}) is not served; use invoke or invoke-with-response-stream")
    if action not in ("invoke", "invoke-with-response-stream"):
        expected = "invoke, invoke-with-response-stream or count-tokens"
        raise GatewayError(404, Kind.NOT_FOUND, f"unknown operation {action!r}; expected {expected}")
    stream = action == "invoke-with-response-stream"
    body, headers = cloud_inbound.anthropic_body(request, await json_body(request), stream)
    model = cloud_inbound.routed_model(request, _model_id(request))
    return await serve(request, anthropic, model, stream, body=body, headers=headers, framing=BedrockFraming() if stream else None)


def _counted_body(body: dict[str, Any]) -> dict[str, Any]:
    where = "input.invokeModel.body"
    inner = (body.get("input") or {}).get("invokeModel") if isinstance(body.get("input"), dict) else None
    encoded = inner.get("body") if isinstance(inner, dict) else None
    if not isinstance(encoded, str):
        raise BadRequest(where, "expected the base64 of an InvokeModel body (only invokeModel input is counted)")
    try:
        counted = orjson.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, orjson.JSONDecodeError):
        raise BadRequest(where, "is not the base64 of a JSON body") from None
    if not isinstance(counted, dict):
        raise BadRequest(where, "must hold a JSON object")
    return counted


async def count_tokens(request: web.Request) -> web.StreamResponse:
    model = cloud_inbound.routed_model(request, _model_id(request))
    counted, headers = cloud_inbound.anthropic_body(request, _counted_body(await json_body(request)), False)
    call = Call(anthropic, anthropic.parse_request(counted, model, False), headers, raw=counted)
    return web.json_response({"inputTokens": (await count_call(request, call)).tokens})  # an unknown model: the router's 404


async def list_profiles(request: web.Request) -> web.StreamResponse:
    return web.json_response({"inferenceProfileSummaries": []})


async def get_profile(request: web.Request) -> web.StreamResponse:
    """A routable id's backing model: the name it is routed by, as a foundation-model ARN."""
    profile = request.match_info["profile"]
    model = cloud_inbound.model_name(request, cloud_inbound.plain_names(profile))
    if model is None or "/" in model:  # an ARN's model id ends at its last slash
        raise GatewayError(404, Kind.NOT_FOUND, f"inference profile {profile!r} names no model this gateway routes")
    model_arn = f"arn:aws:bedrock:babelgate::foundation-model/{model}"
    arn = f"arn:aws:bedrock:babelgate::inference-profile/{profile}"
    body = {
        "inferenceProfileName": profile,
        "inferenceProfileArn": arn,
        "inferenceProfileId": profile,
        "models": [{"modelArn": model_arn}],
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }
    return web.json_response(body)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/model/{model:.+}/{action}", invoke)
    router.add_get("/inference-profiles", list_profiles)
    router.add_get("/inference-profiles/{profile:.+}", get_profile)
