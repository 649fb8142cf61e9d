"""A loopback Amazon Bedrock: the runtime (InvokeModel, Converse, and their streams) and ListFoundationModels.

Strict where Bedrock is, with Bedrock's own error shapes (`x-amzn-ErrorType` and `{"message"}`):

- Every request is authenticated. A SigV4 `Authorization` is checked by recomputing the signature
  with botocore's signer, the fake's known secret and the request's own signed headers, raw path
  and body; a wrong one is `InvalidSignatureException` 403 ("The request signature we calculated
  does not match..."), an unknown key or session token `UnrecognizedClientException` 403, a date
  more than 15 minutes off "Signature expired", a scope for another region or service an invalid
  signature too. `Authorization: Bearer` must carry one of the fake's Bedrock API keys.
- An InvokeModel body is checked the way Bedrock's schema check words it ("Malformed input
  request: #: extraneous key [model] is not permitted, please reformat your input and try again."):
  `anthropic_version`, `max_tokens` and `messages` are required; `model`, `stream` and `tags` are
  extraneous; the `request-tags-2026-08-21` beta is an "invalid beta flag".
- A Converse body must start with a user message and alternate roles, and needs `toolConfig` when
  it holds toolUse or toolResult blocks.

Tests queue `BedrockReply` objects: a JSON body, stream events (sent as real event-stream messages,
in pieces of `split` bytes when asked), or an error. Every request is kept in `received`.
"""

from __future__ import annotations

import hmac
import itertools
import re
import time
from calendar import timegm
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from tests.fakes import bedrock_wire as wire
from tests.fakes.serving import serve_loopback

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
BAD_TOKEN = "The security token included in the request is invalid."
BAD_API_KEY = "Authentication failed: Please make sure your API Key is valid."
TAGS_BETA = "request-tags-2026-08-21"
ALTERNATE = (
    "A conversation must alternate between user and assistant roles. "
    "Make sure the conversation alternates between user and assistant roles and try again."
)
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})"
)
_ROUTE = re.compile(r"/model/([^/]+)/(invoke|invoke-with-response-stream|converse|converse-stream)")


@dataclass
class BedrockReply:
    status: int = 200
    json: Any = None  # a whole body
    events: list[tuple[str, dict[str, Any]]] | None = None  # a stream: (event or exception name, payload)
    error_type: str | None = None  # x-amzn-ErrorType of an error reply
    split: int | None = None  # send the stream in pieces of this many bytes


def error(status: int, kind: str | None, message: str, key: str = "message") -> BedrockReply:
    return BedrockReply(status, {key: message}, error_type=kind)


def invoke_stream(reply: dict[str, Any], split: int | None = None) -> BedrockReply:
    return BedrockReply(events=[("chunk", e) for e in wire.anthropic_events(reply)], split=split)


@dataclass
class Seen:
    method: str
    path: str  # raw, as sent
    model: str
    action: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeBedrock:
    region: str = "us-east-1"
    access_key: str = "AKIAFAKEBEDROCK7EXAMPLE"
    secret_key: str = "fAkE/SeCrEt+KeY/bEdRoCk/0123456789abcdefg"
    session_token: str | None = None
    api_keys: set[str] = field(default_factory=set)
    may_list_models: bool = True  # False: ListFoundationModels is denied by IAM (the credentials still check out)
    queue: list[BedrockReply] = field(default_factory=list)
    script: Callable[[Seen], BedrockReply] | None = None  # answers every request when set
    received: list[Seen] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def push(self, *replies: BedrockReply) -> None:
        self.queue.extend(replies)

    async def start(self) -> FakeBedrock:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner, self.port = await serve_loopback(app)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        path = request.raw_path
        route = _ROUTE.fullmatch(path)
        model, action = (unquote(route[1]), route[2]) if route else ("", "")
        try:
            body: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        self.received.append(Seen(request.method, path, model, action, {k.lower(): v for k, v in request.headers.items()}, body))
        refusal = self._authenticate(request, raw)
        if refusal is None and request.method == "GET" and path == "/foundation-models":
            if not self.may_list_models:
                denied = "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: bedrock:ListFoundationModels"
                return await _send(request, error(403, "AccessDeniedException", denied), "")
            return web.json_response(
                {"modelSummaries": [{"modelId": "anthropic.claude-sonnet-4-5-20250929-v1:0", "providerName": "Anthropic"}]}
            )
        if refusal is None and route is None:
            refusal = error(404, "UnknownOperationException", "Unknown operation")
        if refusal is None:
            problem = _invoke_problem(body) if action.startswith("invoke") else _converse_problem(body)
            refusal = error(400, "ValidationException", problem) if problem else None
        reply = refusal or self._next(self.received[-1])
        return await _send(request, reply, action)

    def _next(self, seen: Seen) -> BedrockReply:
        if self.script is not None:
            return self.script(seen)
        return self.queue.pop(0) if self.queue else error(500, "InternalServerException", "fake: no reply queued")

    def _authenticate(self, request: web.Request, body: bytes) -> BedrockReply | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return None if header[7:] in self.api_keys else error(403, None, BAD_API_KEY, key="Message")
        if not header:
            return error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        parts = _AUTH.fullmatch(header)
        if parts is None:
            return error(403, "IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders', 'Signature'.")
        key, day, region, service, signed, signature = parts.groups()
        if key != self.access_key or request.headers.get("X-Amz-Security-Token") != self.session_token:
            return error(403, "UnrecognizedClientException", BAD_TOKEN)
        stamp = request.headers.get("X-Amz-Date", "")
        if region != self.region or service != "bedrock" or not stamp.startswith(day):
            return error(403, "InvalidSignatureException", f"Credential should be scoped to {self.region}/bedrock.")
        if abs(time.time() - timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))) > 900:
            return error(403, "InvalidSignatureException", f"Signature expired: {stamp} is now earlier or later than 15 minutes.")
        if not hmac.compare_digest(signature, self._signature(request, body, region, signed.split(";"), stamp)):
            return error(403, "InvalidSignatureException", SIGNATURE_MISMATCH)
        return None

    def _signature(self, request: web.Request, body: bytes, region: str, signed: list[str], stamp: str) -> str:
        """The signature botocore's signer gives this request with the fake's secret (raw path, signed headers, body)."""
        headers = {name: request.headers.get(name, "") for name in signed}
        copy = AWSRequest(method=request.method, url=f"http://{request.host}{request.raw_path}", headers=headers, data=body)
        copy.context["timestamp"] = stamp
        signer = SigV4Auth(ReadOnlyCredentials(self.access_key, self.secret_key, self.session_token), "bedrock", region)
        return signer.signature(signer.string_to_sign(copy, signer.canonical_request(copy)), copy)


def _invoke_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "Malformed input request: #: expected type: JSONObject, found: Null, please reformat your input and try again."
    problems = [f"#: required key [{key}] not found" for key in ("anthropic_version", "max_tokens", "messages") if key not in body]
    problems += [f"#: extraneous key [{key}] is not permitted" for key in ("model", "stream", "tags") if key in body]
    if problems:
        return f"Malformed input request: {', '.join(problems)}, please reformat your input and try again."
    if TAGS_BETA in (body.get("anthropic_beta") or []):
        return "invalid beta flag"
    return None


def _converse_problem(body: Any) -> str | None:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not messages:
        return "A conversation must start with a user message. Try again with a conversation that starts with a user message."
    roles = [m.get("role") for m in messages]
    if roles[0] != "user":
        return "A conversation must start with a user message. Try again with a conversation that starts with a user message."
    if any(a == b for a, b in itertools.pairwise(roles)):
        return ALTERNATE
    tool_blocks = any("toolUse" in block or "toolResult" in block for m in messages for block in m.get("content") or [])
    if tool_blocks and "toolConfig" not in body:
        return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
    return None


async def _send(request: web.Request, reply: BedrockReply, action: str) -> web.StreamResponse:
    headers = {"x-amzn-RequestId": "0c5f8b6e-fake-4e4e-8d1f-bedrock00001"}
    if reply.error_type:
        headers["x-amzn-ErrorType"] = f"{reply.error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    if reply.events is None:
        return web.Response(status=reply.status, body=orjson.dumps(reply.json), content_type="application/json", headers=headers)
    if action == "invoke-with-response-stream":
        headers["X-Amzn-Bedrock-Content-Type"] = "application/json"
    response = web.StreamResponse(status=reply.status, headers={"Content-Type": "application/vnd.amazon.eventstream", **headers})
    await response.prepare(request)
    data = b"".join(wire.chunk(payload) if name == "chunk" else wire.event(name, payload) for name, payload in reply.events)
    step = reply.split or len(data) or 1
    for start in range(0, len(data), step):
        await response.write(data[start : start + step])
    await response.write_eof()
    return response


AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_BEARER_TOKEN_BEDROCK",
)


def isolate_aws(monkeypatch: Any, folder: Any) -> tuple[Any, Any]:
    """No AWS settings of the machine's own: empty shared files in `folder`, no metadata service
    (botocore would ask 169.254.169.254); returns the (config, credentials) file paths to write."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config, credentials = folder / "aws-config", folder / "aws-credentials"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return config, credentials
