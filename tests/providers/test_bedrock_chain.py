"""The temporary-credential sources of the AWS chain, end to end: the gateway resolves them through
botocore against loopback stand-ins of the real services (tests/fakes/aws_identity.py), signs with
what they issued, and the fake Bedrock recomputes each signature with those credentials.

Sources: container credentials (ECS / EKS Pod Identity), web identity (STS AssumeRoleWithWebIdentity),
IAM Identity Center (an sso-session profile and its token cache), and EC2 instance roles (IMDSv2).
Each is fetched once for several requests, and no secret reaches a log line or a response body."""

from __future__ import annotations

import datetime
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anthropic
import pytest

from babelgate.providers.classify import Reason
from tests.conftest import GatewayFactory
from tests.fakes import bedrock_wire as wire
from tests.fakes.aws_identity import (
    ACCOUNT,
    BAD_WEB_IDENTITY,
    ROLE_ARN,
    ROLE_NAME,
    SSO_UNAUTHORIZED,
    WEB_IDENTITY_DENIED,
    FakeAwsIdentity,
    isolate_home,
    write_sso_token,
)
from tests.fakes.bedrock import BedrockReply, FakeBedrock, isolate_aws

CLAUDE = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HELLO = wire.anthropic_message([{"type": "text", "text": "hello"}])
MORE_VARIABLES = (  # what isolate_aws leaves alone but these sources read
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "AWS_EC2_METADATA_V1_DISABLED",
    "AWS_METADATA_SERVICE_TIMEOUT",
    "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_SSO",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


@pytest.fixture
async def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[FakeAwsIdentity]:
    caplog.set_level(logging.DEBUG)  # botocore's own debug lines included
    isolate_aws(monkeypatch, tmp_path)
    for name in MORE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    isolate_home(monkeypatch, tmp_path / "home")
    source = await FakeAwsIdentity().start()
    yield source
    await source.stop()


@pytest.fixture
async def bedrock(aws: FakeAwsIdentity) -> AsyncIterator[FakeBedrock]:
    server = await FakeBedrock(region="us-west-2", **aws.bedrock_keys).start()
    server.script = lambda seen: BedrockReply(json=HELLO)
    yield server
    await server.stop()


def config(bedrock: FakeBedrock, **provider: object) -> dict[str, object]:
    settings = {"type": "bedrock", "region": bedrock.region, "base_url": bedrock.url, "models": [CLAUDE], **provider}
    return {"providers": {"bedrock": settings}, "aliases": {"claude-*": f"bedrock/{CLAUDE}"}, "routing": {"max_wait": 0}}


async def ask(url: str) -> anthropic.types.Message:
    async with anthropic.AsyncAnthropic(base_url=url, api_key="client-key", max_retries=0) as sdk:
        return await sdk.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])


async def refused(url: str) -> anthropic.APIStatusError:
    with pytest.raises(anthropic.APIStatusError) as caught:
        await ask(url)
    return caught.value


async def served_three_times(gateway: GatewayFactory, bedrock: FakeBedrock, aws: FakeAwsIdentity, **provider: object) -> str:
    """Three requests through the gateway, each answered, each signed with the issued temporary
    credentials; returns what the gateway said (the replies and /health) for the secrets check."""
    gw = await gateway(config(bedrock, **provider))
    said = []
    for _ in range(3):
        reply = await ask(gw.url)
        assert reply.content[0].text == "hello"  # type: ignore[union-attr]
        said.append(reply.model_dump_json())
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, http.get(f"{gw.url}/health") as health:
        said.append(await health.text())
    assert len(bedrock.received) == 3
    for seen in bedrock.received:  # the fake accepted each signature, computed with the issued secret
        assert seen.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={aws.issue.access_key}/")
        assert "/us-west-2/bedrock/aws4_request" in seen.headers["authorization"]
        assert seen.headers["x-amz-security-token"] == aws.issue.session_token
    return "\n".join(said)


def assert_no_secret(aws: FakeAwsIdentity, *texts: str) -> None:
    for secret in aws.secrets:
        for text in texts:
            assert secret not in text


async def test_container_credentials_with_an_authorization_token(
    aws: FakeAwsIdentity,
    bedrock: FakeBedrock,
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in aws.env_container().items():
        monkeypatch.setenv(name, value)
    said = await served_three_times(gateway_factory, bedrock, aws)
    assert aws.calls == {"container": 1}
    assert_no_secret(aws, caplog.text, said)


async def test_a_wrong_container_token_is_an_auth_failure(
    aws: FakeAwsIdentity,
    bedrock: FakeBedrock,
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in aws.env_container(token="eks-pod-identity-token-sTaLe-000000000000").items():
        monkeypatch.setenv(name, value)
    gw = await gateway_factory(config(bedrock))
    error = await refused(gw.url)
    assert error.status_code == 401 and "container-role" in error.message and "401" in error.message
    entry = gw.gateway.book.blocked("bedrock#0", CLAUDE)
    assert entry is not None and entry.reason is Reason.AUTH
    assert bedrock.received == []
    assert_no_secret(aws, caplog.text, error.response.text)
    assert "sTaLe" not in caplog.text + error.response.text


def web_identity(
    monkeypatch: pytest.MonkeyPatch, aws: FakeAwsIdentity, tmp_path: Path, role: str = ROLE_ARN, token: str | None = None
) -> None:
    """What EKS (IRSA) sets in a pod, with STS reached through botocore's per-service endpoint variable."""
    path = tmp_path / "eks.amazonaws.com" / "serviceaccount" / "token"
    path.parent.mkdir(parents=True)
    path.write_text(token or aws.web_identity_token)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(path))
    monkeypatch.setenv("AWS_ROLE_ARN", role)
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "babelgate-pod-7")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", aws.url)


async def test_web_identity_assumes_the_role_through_sts(
    aws: FakeAwsIdentity,
    bedrock: FakeBedrock,
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    web_identity(monkeypatch, aws, tmp_path)
    said = await served_three_times(gateway_factory, bedrock, aws)
    assert aws.calls == {"sts": 1}
    (call,) = aws.sts_calls
    assert not call.signed
    assert call.form["RoleArn"] == ROLE_ARN and call.form["RoleSessionName"] == "babelgate-pod-7"
    assert call.form["WebIdentityToken"] == aws.web_identity_token
    assert_no_secret(aws, caplog.text, said)


@pytest.mark.parametrize(
    ("role", "token", "code", "message"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/someone-else", None, "AccessDenied", WEB_IDENTITY_DENIED),
        (ROLE_ARN, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzdGFsZSJ9.c3RhbGU", "InvalidIdentityToken", BAD_WEB_IDENTITY),
    ],
)
async def test_sts_refusing_the_web_identity_is_an_auth_failure(
    aws: FakeAwsIdentity,
    bedrock: FakeBedrock,
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    role: str,
    token: str | None,
    code: str,
    message: str,
) -> None:
    web_identity(monkeypatch, aws, tmp_path, role=role, token=token)
    gw = await gateway_factory(config(bedrock))
    error = await refused(gw.url)
    assert error.status_code == 401
    assert code in error.message and message in error.message and "AssumeRoleWithWebIdentity" in error.message
    entry = gw.gateway.book.blocked("bedrock#0", CLAUDE)
    assert entry is not None and entry.reason is Reason.AUTH
    assert bedrock.received == [] and aws.calls == {"sts": 1}
    assert_no_secret(aws, caplog.text, error.response.text)
    if token:
        assert token not in caplog.text + error.response.text


@pytest.mark.parametrize("source", ["web identity token file missing", "container token file with a line break"])
async def test_an_unreadable_token_file_is_an_auth_failure_not_a_crash(
    aws: FakeAwsIdentity,
    bedrock: FakeBedrock,
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    source: str,
) -> None:
    if source.startswith("web"):
        monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(tmp_path / "unmounted" / "token"))
        monkeypatch.setenv("AWS_ROLE_ARN", ROLE_ARN)
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", aws.url)
        expected = "No such file or directory"
    else:
        (tmp_path / "token").write_text(aws.container_token + "\n")  # botocore refuses it as a header value
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", aws.env_container()["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(tmp_path / "token"))
        expected = "not a legal header value"
    gw = await gateway_factory(config(bedrock))
    error = await refused(gw.url)
    assert error.status_code == 401 and expected in error.message
    entry = gw.gateway.book.blocked("bedrock#0", CLAUDE)
    assert entry is not None and entry.reason is Reason.AUTH
    assert aws.calls == {} and bedrock.received == []
    assert_no_secret(aws, error.response.text)


def sso_profile(config_file: Path, aws: FakeAwsIdentity, role: str = ROLE_NAME) -> None:
    """What `aws configure sso` writes, plus the portal's endpoint in a `services` section."""
    config_file.write_text(
        f"[profile sso-dev]\nsso_session = corp\nsso_account_id = {ACCOUNT}\nsso_role_name = {role}\nservices = loopback\n\n"
        "[sso-session corp]\nsso_start_url = https://d-9067fake00.awsapps.com/start\nsso_region = us-east-1\n"
        "sso_registration_scopes = sso:account:access\n\n"
        f"[services loopback]\nsso =\n  endpoint_url = {aws.url}\n"
    )


async def test_an_sso_session_profile_uses_the_cached_token(
    aws: FakeAwsIdentity, bedrock: FakeBedrock, gateway_factory: GatewayFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sso_profile(tmp_path / "aws-config", aws)
    write_sso_token(tmp_path / "home", "corp", aws.sso_access_token, datetime.timedelta(hours=8))
    said = await served_three_times(gateway_factory, bedrock, aws, profile="sso-dev")
    assert aws.calls == {"sso": 1}
    assert_no_secret(aws, caplog.text, said)


async def test_an_expired_sso_token_says_to_run_aws_sso_login(
    aws: FakeAwsIdentity, bedrock: FakeBedrock, gateway_factory: GatewayFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sso_profile(tmp_path / "aws-config", aws)
    write_sso_token(tmp_path / "home", "corp", aws.sso_access_token, datetime.timedelta(minutes=-5))
    gw = await gateway_factory(config(bedrock, profile="sso-dev"))
    error = await refused(gw.url)
    assert error.status_code == 401 and "aws sso login --profile sso-dev" in error.message
    entry = gw.gateway.book.blocked("bedrock#0", CLAUDE)
    assert entry is not None and entry.reason is Reason.AUTH
    assert "Token has expired" in error.message
    assert bedrock.received == [] and aws.calls["sso"] == 0  # botocore does not send an expired token
    assert_no_secret(aws, caplog.text, error.response.text)
    # After `aws sso login` the same gateway resolves again (what `babelgate accounts verify` checks): no restart.
    write_sso_token(tmp_path / "home", "corp", aws.sso_access_token, datetime.timedelta(hours=8))
    upstream = gw.gateway.upstreams["bedrock"]
    assert await upstream.verify(upstream.credentials[0]) == (200, "ok")
    assert aws.calls["sso"] == 1 and bedrock.received[-1].headers["x-amz-security-token"] == aws.issue.session_token


async def test_a_token_the_portal_rejects_says_to_run_aws_sso_login(
    aws: FakeAwsIdentity, bedrock: FakeBedrock, gateway_factory: GatewayFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sso_profile(tmp_path / "aws-config", aws)
    write_sso_token(tmp_path / "home", "corp", "aoaAAAAAGrEvOkEd0000000000:MGUCMQDrevoked", datetime.timedelta(hours=8))
    gw = await gateway_factory(config(bedrock, profile="sso-dev"))
    error = await refused(gw.url)
    assert error.status_code == 401 and "aws sso login --profile sso-dev" in error.message
    assert aws.calls == {"sso": 1} and bedrock.received == []
    assert_no_secret(aws, caplog.text, error.response.text)
    assert "GrEvOkEd" not in caplog.text + error.response.text and SSO_UNAUTHORIZED not in error.response.text


async def test_an_instance_role_through_imdsv2(
    aws: FakeAwsIdentity,
    bedrock: FakeBedrock,
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", f"{aws.url}/")
    monkeypatch.setenv("AWS_EC2_METADATA_V1_DISABLED", "true")  # a token is required, as on an IMDSv2-only instance
    monkeypatch.setenv("AWS_METADATA_SERVICE_TIMEOUT", "5")  # botocore's 1 s default is tight on a loaded test machine
    said = await served_three_times(gateway_factory, bedrock, aws)
    assert aws.calls == {"imds-token": 1, "imds-role": 1, "imds": 1}
    assert_no_secret(aws, caplog.text, said)
