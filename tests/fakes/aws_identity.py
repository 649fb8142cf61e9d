"""Loopback stand-ins for the places botocore's credential chain fetches temporary AWS credentials.

One server, four services, each answering as the real one does (paths, headers, body shapes, error
texts), and each issuing the same temporary credentials (`issue`), so a `FakeBedrock` built from
`bedrock_keys` accepts requests signed with what the chain produced:

- Container credentials (ECS task roles, EKS Pod Identity): `GET /v2/credentials/{id}` with the
  `Authorization` header botocore copies from `AWS_CONTAINER_AUTHORIZATION_TOKEN`; JSON with
  `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`, `RoleArn`. A wrong or missing token is a
  401 as the EKS Pod Identity agent gives it. `env_container` gives the variables.
- IMDSv2 (EC2 instance roles): `PUT /latest/api/token` (needs `x-aws-ec2-metadata-token-ttl-seconds`),
  then `GET /latest/meta-data/iam/security-credentials/` (the role name) and `.../{role}` (the
  credentials, `"Code": "Success"`), both with `x-aws-ec2-metadata-token`; without a valid token
  they are 401, as IMDS answers when v1 is off.
- STS `AssumeRoleWithWebIdentity` (EKS IRSA, GitHub OIDC): `POST /`, the query protocol as a form
  body, the XML response STS returns; a token other than `web_identity_token` is STS's
  `InvalidIdentityToken` and a role other than `role_arn` its `AccessDenied`, both in STS's
  `ErrorResponse` XML. Reached through `AWS_ENDPOINT_URL_STS`.
- The IAM Identity Center portal's `GetRoleCredentials`: `GET /federation/credentials?role_name=&account_id=`
  with `x-amz-sso_bearer_token`; a token other than `sso_access_token` is `UnauthorizedException`
  (401), another role or account `ForbiddenException` (403). Reached through `AWS_ENDPOINT_URL_SSO`.

Every call is counted in `calls`, by service ("container", "imds-token", "imds-role", "imds", "sts", "sso").
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from tests.fakes.serving import serve_loopback

ACCOUNT = "123456789012"
ROLE_NAME = "bedrock-invoker"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
WEB_IDENTITY_DENIED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
BAD_WEB_IDENTITY = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
SSO_UNAUTHORIZED = "Session token not found or invalid"


@dataclass(frozen=True)
class Issued:
    """The temporary credentials every service here hands out."""

    access_key: str = "ASIAFAKECHAIN0EXAMPLE"
    secret_key: str = "tEmP/cHaIn+SeCrEt/0123456789abcdefghijkl"
    session_token: str = "IQoJb3JpZ2luX2VjEFAKEchainSESSIONtoken/0123456789+abcdef=="


@dataclass
class StsCall:
    form: dict[str, str]
    signed: bool  # AssumeRoleWithWebIdentity is sent unsigned


@dataclass
class FakeAwsIdentity:
    issue: Issued = field(default_factory=Issued)
    lifetime: datetime.timedelta = datetime.timedelta(hours=1)
    container_token: str = "eks-pod-identity-token-fAkE-0123456789abcdef"
    web_identity_token: str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YWk6Z2F0ZXdheSJ9.c2lnbmF0dXJl"
    role_arn: str = ROLE_ARN
    sso_access_token: str = "aoaAAAAAGfAkEsSoAcCeSsToKeN0123456789:MGUCMQDfake"
    imds_tokens: set[str] = field(default_factory=set)
    calls: Counter[str] = field(default_factory=Counter)
    sts_calls: list[StsCall] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Everything here that must never reach a log line or a response body."""
        return (
            self.issue.secret_key,
            self.issue.session_token,
            self.container_token,
            self.web_identity_token,
            self.sso_access_token,
            *self.imds_tokens,
        )

    @property
    def bedrock_keys(self) -> dict[str, str]:
        """The keyword arguments that make a `FakeBedrock` accept the issued credentials."""
        return {"access_key": self.issue.access_key, "secret_key": self.issue.secret_key, "session_token": self.issue.session_token}

    def env_container(self, token: str | None = None) -> dict[str, str]:
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{self.url}/v2/credentials/5f1c2a9e-pod",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": token or self.container_token,
        }

    async def start(self) -> FakeAwsIdentity:
        app = web.Application()
        app.router.add_get("/v2/credentials/{id}", self._container)
        app.router.add_put("/latest/api/token", self._imds_token)
        app.router.add_get("/latest/meta-data/iam/security-credentials/", self._imds_role)
        app.router.add_get("/latest/meta-data/iam/security-credentials/{role}", self._imds_credentials)
        app.router.add_post("/", self._sts)
        app.router.add_get("/federation/credentials", self._sso)
        self._runner, self.port = await serve_loopback(app)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _expiration(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC).replace(microsecond=0) + self.lifetime

    async def _container(self, request: web.Request) -> web.Response:
        self.calls["container"] += 1
        if request.headers.get("Authorization") != self.container_token:
            return web.json_response({"Message": "Unauthorized: the Authorization header is missing or invalid"}, status=401)
        return web.json_response(
            {
                "AccessKeyId": self.issue.access_key,
                "SecretAccessKey": self.issue.secret_key,
                "Token": self.issue.session_token,
                "AccountId": ACCOUNT,
                "Expiration": self._expiration().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "RoleArn": self.role_arn,
            }
        )

    async def _imds_token(self, request: web.Request) -> web.Response:
        self.calls["imds-token"] += 1
        ttl = request.headers.get("x-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return web.Response(status=400, text="")
        token = f"AQAEAFakeImdsV2Token{len(self.imds_tokens):04d}=="
        self.imds_tokens.add(token)
        return web.Response(text=token, headers={"x-aws-ec2-metadata-token-ttl-seconds": ttl})

    def _imds_refusal(self, request: web.Request) -> web.Response | None:
        if request.headers.get("x-aws-ec2-metadata-token") not in self.imds_tokens:
            return web.Response(status=401, text="")
        return None

    async def _imds_role(self, request: web.Request) -> web.Response:
        self.calls["imds-role"] += 1
        return self._imds_refusal(request) or web.Response(text=ROLE_NAME)

    async def _imds_credentials(self, request: web.Request) -> web.Response:
        self.calls["imds"] += 1
        refusal = self._imds_refusal(request)
        if refusal is not None:
            return refusal
        if request.match_info["role"] != ROLE_NAME:
            return web.Response(status=404, text="")
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        body = {
            "Code": "Success",
            "LastUpdated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Type": "AWS-HMAC",
            "AccessKeyId": self.issue.access_key,
            "SecretAccessKey": self.issue.secret_key,
            "Token": self.issue.session_token,
            "Expiration": self._expiration().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return web.Response(text=json.dumps(body, indent=2), content_type="text/plain")  # IMDS says text/plain

    async def _sts(self, request: web.Request) -> web.Response:
        self.calls["sts"] += 1
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.sts_calls.append(StsCall(form, "Authorization" in request.headers))
        if form.get("Action") != "AssumeRoleWithWebIdentity" or form.get("Version") != "2011-06-15":
            return _sts_error(400, "InvalidAction", f"Could not find operation {form.get('Action')} for version {form.get('Version')}")
        session = form.get("RoleSessionName", "")
        if not session:
            return _sts_error(
                400,
                "ValidationError",
                "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
            )
        if form.get("WebIdentityToken") != self.web_identity_token:
            return _sts_error(400, "InvalidIdentityToken", BAD_WEB_IDENTITY)
        if form.get("RoleArn") != self.role_arn:
            return _sts_error(403, "AccessDenied", WEB_IDENTITY_DENIED)
        role = self.role_arn.rsplit("/", 1)[-1]
        result = (
            f"<SubjectFromWebIdentityToken>system:serviceaccount:ai:gateway</SubjectFromWebIdentityToken>"
            f"<Audience>sts.amazonaws.com</Audience>"
            f"<AssumedRoleUser><AssumedRoleId>AROAFAKEROLEID0EXAMPLE:{escape(session)}</AssumedRoleId>"
            f"<Arn>arn:aws:sts::{ACCOUNT}:assumed-role/{escape(role)}/{escape(session)}</Arn></AssumedRoleUser>"
            f"<Credentials><AccessKeyId>{self.issue.access_key}</AccessKeyId>"
            f"<SecretAccessKey>{escape(self.issue.secret_key)}</SecretAccessKey>"
            f"<SessionToken>{escape(self.issue.session_token)}</SessionToken>"
            f"<Expiration>{self._expiration().strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration></Credentials>"
            f"<Provider>arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/FAKE</Provider>"
        )
        xml = (
            f'<AssumeRoleWithWebIdentityResponse xmlns="{STS_NS}">'
            f"<AssumeRoleWithWebIdentityResult>{result}</AssumeRoleWithWebIdentityResult>"
            f"<ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>"
            f"</AssumeRoleWithWebIdentityResponse>"
        )
        return web.Response(text=xml, content_type="text/xml")

    async def _sso(self, request: web.Request) -> web.Response:
        self.calls["sso"] += 1
        headers = {"x-amzn-RequestId": "0c5f8b6e-fake-4e4e-8d1f-sso000000001"}
        if request.headers.get("x-amz-sso_bearer_token") != self.sso_access_token:
            headers["x-amzn-ErrorType"] = "UnauthorizedException:http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"
            return web.json_response({"message": SSO_UNAUTHORIZED}, status=401, headers=headers)
        if request.query.get("role_name") != ROLE_NAME or request.query.get("account_id") != ACCOUNT:
            headers["x-amzn-ErrorType"] = "ForbiddenException:http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"
            return web.json_response({"message": "No access"}, status=403, headers=headers)
        role = {
            "accessKeyId": self.issue.access_key,
            "secretAccessKey": self.issue.secret_key,
            "sessionToken": self.issue.session_token,
            "expiration": int(self._expiration().timestamp() * 1000),
        }
        return web.json_response({"roleCredentials": role}, headers=headers)


def _sts_error(status: int, code: str, message: str) -> web.Response:
    xml = (
        f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"
    )
    return web.Response(status=status, text=xml, content_type="text/xml")


def write_sso_token(home: Path, session_name: str, access_token: str, expires_in: datetime.timedelta) -> Path:
    """The cache file `aws sso login` leaves for an `[sso-session NAME]`: ~/.aws/sso/cache/sha1(NAME).json."""
    folder = home / ".aws" / "sso" / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha1(session_name.encode()).hexdigest()}.json"
    expires = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + expires_in
    token: dict[str, Any] = {
        "startUrl": "https://d-9067fake00.awsapps.com/start",
        "region": "us-east-1",
        "accessToken": access_token,
        "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    path.write_text(json.dumps(token))
    return path


def isolate_home(monkeypatch: Any, home: Path) -> None:
    """HOME is `home` for botocore too: its SSO token cache folder (~/.aws/sso/cache) is expanded
    once, when botocore is imported, so the two class constants that hold it follow HOME here."""
    from botocore.credentials import SSOProvider
    from botocore.tokens import SSOTokenProvider

    monkeypatch.setenv("HOME", str(home))
    cache = str(home / ".aws" / "sso" / "cache")
    monkeypatch.setattr(SSOProvider, "_SSO_TOKEN_CACHE_DIR", cache)
    monkeypatch.setattr(SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", cache)
