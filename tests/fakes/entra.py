"""A loopback managed identity endpoint, App Service style, that azure-identity's real code asks for tokens.

On App Service, `IDENTITY_ENDPOINT` names a local token endpoint and `IDENTITY_HEADER` a secret
the caller must echo in `X-IDENTITY-HEADER`; azure-identity's ManagedIdentityCredential (and so
DefaultAzureCredential) then sends `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R`
and reads `{"access_token", "expires_on", "resource", "token_type"}` back (plus `refresh_in`
when the service says when to renew). `env` gives the two variables to set.

Every token issued is remembered with its audience (the `resource`) and expiry, so a fake Azure
service can `check` a bearer token: only tokens issued here, for its audience, and not expired.
`plan` scripts the next tokens' lifetimes: each entry may set `expires_in` and `refresh_in`.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.serving import serve_loopback

API_VERSION = "2019-08-01"
CLIENT_ID = "5a2f1c7e-0b9d-4e61-9a0c-3d8b7f6e2a11"
TENANT_ID = "0d4b2e9a-7c31-4f58-b6a2-91e3c5d7f804"


def _jwt(claims: dict[str, Any]) -> str:
    """A token shaped like Entra's (a JWT: header.claims.signature), unsigned: only this fake checks it."""
    part = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.{secrets.token_urlsafe(32)}"


@dataclass
class Issued:
    audience: str
    expires_on: int


@dataclass
class TokenRequest:
    resource: str
    api_version: str | None
    identity_header: str | None


@dataclass
class FakeManagedIdentity:
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    issued: dict[str, Issued] = field(default_factory=dict)
    requests: list[TokenRequest] = field(default_factory=list)
    plan: list[dict[str, int]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": f"http://127.0.0.1:{self.port}/msi/token", "IDENTITY_HEADER": self.secret}

    async def start(self) -> FakeManagedIdentity:
        app = web.Application()
        app.router.add_get("/msi/token", self._token)
        self._runner, self.port = await serve_loopback(app)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def check(self, authorization: str, audience: str) -> str | None:
        """None when `Authorization: Bearer <token>` holds a live token of ours for `audience`; else why not."""
        scheme, _, token = authorization.partition(" ")
        issued = self.issued.get(token) if scheme.lower() == "bearer" else None
        if issued is None:
            return "invalid"
        if issued.audience != audience:
            return "audience"
        return "expired" if issued.expires_on <= time.time() else None

    async def _token(self, request: web.Request) -> web.Response:
        resource = request.query.get("resource", "")
        self.requests.append(TokenRequest(resource, request.query.get("api-version"), request.headers.get("X-IDENTITY-HEADER")))
        if request.query.get("api-version") != API_VERSION or not resource:
            return web.json_response({"error": "invalid_request", "error_description": "api-version and resource are required"}, status=400)
        if request.headers.get("X-IDENTITY-HEADER") != self.secret:
            return web.json_response({"statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER is missing or wrong"}, status=401)
        terms = self.plan.pop(0) if self.plan else {}
        expires_on = int(time.time()) + terms.get("expires_in", 3600)
        token = _jwt({"aud": resource, "exp": expires_on, "appid": CLIENT_ID, "tid": TENANT_ID, "jti": secrets.token_urlsafe(12)})
        self.issued[token] = Issued(resource, expires_on)
        body: dict[str, Any] = {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": CLIENT_ID,
        }
        if "refresh_in" in terms:
            body["refresh_in"] = terms["refresh_in"]
        return web.json_response(body)
