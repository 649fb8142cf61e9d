"""A loopback Google: an OAuth token endpoint for service accounts, and Vertex AI's model endpoints.

The token endpoint (`POST /token`, the `token_uri` of the service-account JSON that
`service_account()` writes with a fresh RSA key) takes the JWT-bearer grant as Google documents
it (developers.google.com/identity/protocols/oauth2/service-account): it verifies the
assertion's RS256 signature against the key's public half and checks `iss`, `aud`, `scope`,
`iat` and `exp` (at most an hour apart), answering Google's OAuth error JSON otherwise, and
issues access tokens that expire after `lifetime` seconds.

The Vertex side serves `/v1/projects/{p}/locations/{l}/publishers/{google|anthropic}/models/{m}:{action}`
and is as strict as the real one where babelgate could go wrong: a missing, unknown or expired
token gets Google's 401 UNAUTHENTICATED, another project 403 PERMISSION_DENIED, an unknown
model 404 NOT_FOUND, a Gemini body with a field Vertex does not know or a content without a
role 400 INVALID_ARGUMENT, and a Claude body without `anthropic_version`, with `model` or
`tags`, or a request-tags beta, Anthropic's 400 invalid_request_error. What passes is answered
by `script` (tests/fakes/upstream.py), by default one text turn in the publisher's format.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes import turns
from tests.fakes.upstream import FakeUpstream, Received, Reply

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # the `aud` of every assertion, whatever the token_uri
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
VERTEX_VERSION = "vertex-2023-10-16"
REQUEST_TAGS_BETA = "request-tags-2026-08-21"
ACTIONS = {"google": {"generateContent", "streamGenerateContent", "countTokens"}, "anthropic": {"rawPredict", "streamRawPredict"}}
GEMINI_FIELDS = {
    "contents",
    "systemInstruction",
    "cachedContent",
    "tools",
    "toolConfig",
    "labels",
    "safetySettings",
    "generationConfig",
    "modelArmorConfig",
}
_PATH = re.compile(r"/v1/projects/([^/]+)/locations/([^/]+)/publishers/([^/]+)/models/([^/:]+):(\w+)")
_SIGNIN = "See https://developers.google.com/identity/sign-in/web/devconsole-project."
_EXPECTED = f"Expected OAuth 2 access token, login cookie or other valid authentication credential. {_SIGNIN}"
MISSING = f"Request is missing required authentication credential. {_EXPECTED}"
INVALID = f"Request had invalid authentication credentials. {_EXPECTED}"
_VERSIONS = (
    "Please ensure you are using a valid model version. "
    "For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
)
SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)


@dataclass
class ServiceAccount:
    path: Path
    email: str
    key_id: str
    private_pem: str
    public_key: rsa.RSAPublicKey


def service_account(directory: Path, token_uri: str, project: str = "test-project") -> ServiceAccount:
    """A service-account key file as the Cloud console downloads it, with a new 2048-bit RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    email = f"gateway@{project}.iam.gserviceaccount.com"
    key_id = secrets.token_hex(20)
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": email,
        "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }
    path = directory / f"{project}-{key_id[:12]}.json"
    path.write_text(json.dumps(info, indent=2))
    return ServiceAccount(path, email, key_id, pem, key.public_key())


def google_error(code: int, status: str, message: str, reason: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason is not None:
        info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}
        error["details"] = [{**info, "metadata": {"service": "aiplatform.googleapis.com"}}]
    return {"error": error}


def anthropic_error(message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class VertexFake(FakeUpstream):
    def __init__(self, project: str = "test-project", lifetime: int = 3600) -> None:
        super().__init__()
        self.project = project
        self.lifetime = lifetime  # seconds an access token lives
        self.account: ServiceAccount | None = None  # set by the test once the token_uri (this server) is known
        self.models = {"google": {"gemini-2.5-pro", "gemini-2.5-flash"}, "anthropic": {"claude-sonnet-4-5@20250929", "count-tokens"}}
        self.tokens: dict[str, float] = {}  # access token -> when it expires
        self.token_hits = 0  # token requests, granted or not
        self.token_gate: asyncio.Event | None = None  # when set, token requests wait for it
        self.token_requested = asyncio.Event()
        self.assertions: list[str] = []  # every JWT assertion received
        self.expired_events: dict[str, asyncio.Event] = {}
        self.rejected: list[tuple[int, Any]] = []  # what was refused, and the body it got
        self.used_tokens: list[str] = []  # the token of every request let through
        self.script = self.default_script

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def revoke_all(self) -> None:
        self.tokens.clear()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/token" and request.method == "POST":
            return await self._token(request)
        refusal = await self._refusal(request)
        if refusal is not None:
            status, body = refusal
            self.rejected.append((status, body))
            return web.json_response(body, status=status)
        return await super()._handle(request)

    # ---- the OAuth token endpoint ---------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        self.token_hits += 1
        self.token_requested.set()
        if self.token_gate is not None:
            await self.token_gate.wait()
        form = await request.post()
        if form.get("grant_type") != JWT_BEARER:
            return self._oauth_error("unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}")
        self.assertions.append(str(form.get("assertion", "")))
        problem = self._assertion_problem(self.assertions[-1])
        if problem is not None:
            return self._oauth_error(*problem)
        token = f"ya29.c.{secrets.token_urlsafe(48)}"
        self.tokens[token] = time.time() + self.lifetime
        event = self.expired_events[token] = asyncio.Event()
        asyncio.get_running_loop().call_later(self.lifetime, event.set)
        return web.json_response({"access_token": token, "expires_in": self.lifetime, "token_type": "Bearer"})

    def _oauth_error(self, error: str, description: str) -> web.Response:
        self.rejected.append((400, {"error": error}))
        return web.json_response({"error": error, "error_description": description}, status=400)

    def _assertion_problem(self, assertion: str) -> tuple[str, str] | None:
        account = self.account
        assert account is not None, "VertexFake.account is not set"
        try:
            head, claims, signature = assertion.split(".")
            header, payload = orjson.loads(_b64(head)), orjson.loads(_b64(claims))
            account.public_key.verify(_b64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except (ValueError, InvalidSignature):
            return "invalid_grant", "Invalid JWT Signature."
        if header.get("alg") != "RS256" or header.get("kid") != account.key_id:
            return "invalid_grant", "Invalid JWT Signature."
        if payload.get("iss") != account.email:
            return "invalid_grant", "Invalid grant: account not found"
        if payload.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            return "invalid_grant", f"Invalid JWT: Failed audience check. The right audience is {GOOGLE_TOKEN_AUDIENCE}"
        if CLOUD_PLATFORM not in str(payload.get("scope", "")).split():
            return "invalid_scope", "Invalid OAuth scope or ID token audience provided."
        now, iat, exp = time.time(), payload.get("iat"), payload.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or not (iat - 300 <= now < exp) or exp - iat > 3600:
            return "invalid_grant", SHORT_LIVED
        return None

    # ---- Vertex AI ------------------------------------------------------------------------

    async def _refusal(self, request: web.Request) -> tuple[int, Any] | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token:
            return 401, google_error(401, "UNAUTHENTICATED", MISSING, "CREDENTIALS_MISSING")
        if token not in self.tokens:
            return 401, google_error(401, "UNAUTHENTICATED", INVALID, "ACCESS_TOKEN_TYPE_UNSUPPORTED")
        if time.time() >= self.tokens[token]:
            return 401, google_error(401, "UNAUTHENTICATED", INVALID, "ACCESS_TOKEN_EXPIRED")
        match = _PATH.fullmatch(request.path)
        if match is None or request.method != "POST" or match.group(5) not in ACTIONS.get(match.group(3), ()):
            return 404, {"error": {"code": 404, "message": f"The requested URL {request.path} was not found on this server."}}
        project, location, publisher, model, _ = match.groups()
        resource = f"projects/{project}/locations/{location}/publishers/{publisher}/models/{model}"
        if project != self.project:
            denied = f"Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/{resource}'"
            message = f"{denied} (or it may not exist)."
            return 403, google_error(403, "PERMISSION_DENIED", message, "IAM_PERMISSION_DENIED")
        if model not in self.models[publisher]:
            message = f"Publisher Model `{resource}` was not found or your project does not have access to it. {_VERSIONS}"
            return 404, google_error(404, "NOT_FOUND", message)
        body = orjson.loads(await request.read() or b"null")
        problem = _anthropic_problem(body, request, model) if publisher == "anthropic" else _gemini_problem(body)
        if problem is not None:
            return 400, problem
        self.used_tokens.append(token)
        return None

    def default_script(self, record: Received) -> Reply:
        return vertex_reply(record, turns.Turn(text="Hello from Vertex."))


def vertex_reply(record: Received, turn: turns.Turn) -> Reply:
    """`turn` in the format of the publisher the request went to, streamed when it asked for a stream."""
    if record.path.endswith(":countTokens"):
        return Reply(json={"totalTokens": 1, "totalBillableCharacters": 4})
    if "/models/count-tokens:" in record.path:
        return Reply(json={"input_tokens": 8})
    if "/publishers/anthropic/" in record.path:
        return turns.reply("anthropic", turn, bool(record.body.get("stream")))
    if record.path.endswith(":streamGenerateContent") and record.query.get("alt") != "sse":
        return Reply(json=[turns.gemini_body(turn)])  # without alt=sse Vertex streams one JSON array
    return turns.reply("gemini", turn, record.path.endswith(":streamGenerateContent"))


def _gemini_problem(body: Any) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    unknown = sorted(set(body) - GEMINI_FIELDS)
    if unknown:
        return google_error(400, "INVALID_ARGUMENT", f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return google_error(400, "INVALID_ARGUMENT", "Unable to submit request because it has an empty contents field.")
    if any(not isinstance(c, dict) or c.get("role") not in ("user", "model") for c in contents):
        return google_error(400, "INVALID_ARGUMENT", "Please use a valid role: user, model.")
    return None


def _anthropic_problem(body: Any, request: web.Request, model: str) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return anthropic_error("Request body must be a JSON object")
    betas = [b.strip() for b in request.headers.get("anthropic-beta", "").split(",")]
    if REQUEST_TAGS_BETA in betas:
        return anthropic_error(f"Unexpected value(s) `{REQUEST_TAGS_BETA}` for the `anthropic-beta` header.")
    if "anthropic_version" not in body:
        return anthropic_error("anthropic_version: Field required")
    if body["anthropic_version"] != VERTEX_VERSION:
        return anthropic_error(f"anthropic_version: Input should be '{VERTEX_VERSION}'")
    if "tags" in body:
        return anthropic_error("tags: Extra inputs are not permitted")
    if model == "count-tokens":
        return None if isinstance(body.get("model"), str) else anthropic_error("model: Field required")
    if "model" in body:
        return anthropic_error("model: Extra inputs are not permitted")
    if not isinstance(body.get("max_tokens"), int):
        return anthropic_error("max_tokens: Field required")
    return None
