"""How `type: bedrock` authenticates: the AWS credential chain (environment, a shared credentials file
with a profile, credential_process), resolved once and refreshed near expiry, Bedrock API keys as
bearer tokens, `verify`, and no secret in logs or error bodies."""

from __future__ import annotations

import datetime
import logging
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import pytest

from babelgate.providers.base import Credential
from babelgate.providers.classify import Reason
from babelgate.store.base import ALL_MODELS
from tests.conftest import GatewayFactory
from tests.fakes import bedrock_wire as wire
from tests.fakes.bedrock import BAD_API_KEY, SIGNATURE_MISMATCH, BedrockReply, FakeBedrock, isolate_aws

CLAUDE = "anthropic.claude-sonnet-4-5-20250929-v1:0"
TOKEN = "IQoJb3JpZ2luX2VjEFAKEprofileTOKEN/0123456789"
API_KEY = "ABSKQmVkcm9ja0FQSUtleS1mYWtlLWtleS0wMDAx"
HELLO = wire.anthropic_message([{"type": "text", "text": "hello"}])


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[FakeBedrock]:
    isolate_aws(monkeypatch, tmp_path)
    server = await FakeBedrock(region="eu-west-3", session_token=TOKEN, api_keys={API_KEY}).start()
    server.script = lambda seen: BedrockReply(json=HELLO)
    yield server
    await server.stop()


def config(fake: FakeBedrock, **provider: object) -> dict[str, object]:
    settings = {"type": "bedrock", "region": fake.region, "base_url": fake.url, "models": [CLAUDE], **provider}
    return {"providers": {"bedrock": settings}, "aliases": {"claude-*": f"bedrock/{CLAUDE}"}, "routing": {"max_wait": 0}}


async def ask(url: str) -> anthropic.types.Message:
    sdk = anthropic.AsyncAnthropic(base_url=url, api_key="client-key", max_retries=0)
    return await sdk.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])


def write_profile(path: Path, fake: FakeBedrock, profile: str, secret: str | None = None) -> None:
    secret = secret or fake.secret_key
    path.write_text(
        f"[default]\naws_access_key_id = AKIANOTTHISONE000000\naws_secret_access_key = wrong\n\n"
        f"[{profile}]\naws_access_key_id = {fake.access_key}\naws_secret_access_key = {secret}\naws_session_token = {TOKEN}\n"
    )


async def test_a_profile_from_the_shared_credentials_file(
    fake: FakeBedrock, gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_profile(Path(str(tmp_path / "aws-credentials")), fake, "bedrock-dev")
    gw = await gateway_factory(config(fake, profile="bedrock-dev"))
    for _ in range(2):
        assert (await ask(gw.url)).content[0].text == "hello"  # type: ignore[union-attr]
    assert all(s.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={fake.access_key}/") for s in fake.received)
    assert fake.received[0].headers["authorization"].split("Credential=")[1].split(",")[0].endswith("/eu-west-3/bedrock/aws4_request")


async def test_a_wrong_secret_is_refused_and_cools_the_credential(
    fake: FakeBedrock, gateway_factory: GatewayFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    write_profile(tmp_path / "aws-credentials", fake, "stale", secret="eXpIrEd/oLd+SeCrEt/0000000000000000000000")
    gw = await gateway_factory(config(fake, profile="stale"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        await ask(gw.url)
    assert caught.value.status_code == 403
    assert "InvalidSignatureException" in caught.value.message and SIGNATURE_MISMATCH in caught.value.message
    entry = gw.gateway.book.blocked("bedrock#0", CLAUDE)
    assert entry is not None and entry.reason is Reason.AUTH and entry.model == ALL_MODELS
    body = caught.value.response.text
    for secret in ("eXpIrEd/oLd+SeCrEt", fake.secret_key, TOKEN):
        assert secret not in caplog.text and secret not in body


async def test_no_secret_in_logs_or_bodies(
    fake: FakeBedrock, gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore's own debug lines included
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", fake.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", fake.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    gw = await gateway_factory(config(fake))
    fake.script = None
    fake.push(
        BedrockReply(json=HELLO),
        BedrockReply(400, {"message": "Malformed input request: #: extraneous key [x] is not permitted"}, error_type="ValidationException"),
    )
    await ask(gw.url)
    with pytest.raises(anthropic.BadRequestError) as caught:
        await ask(gw.url)
    keyed = await gateway_factory(config(fake, api_keys=["ABSK-revoked-key-0000000000000000"]))
    with pytest.raises(anthropic.APIStatusError) as refused:
        await ask(keyed.url)
    texts = caplog.text + caught.value.response.text + refused.value.response.text
    for secret in (fake.secret_key, TOKEN, "ABSK-revoked-key-0000000000000000"):
        assert secret not in texts
    assert BAD_API_KEY in refused.value.message


async def test_credential_process_runs_once_while_fresh_and_again_near_expiry(
    fake: FakeBedrock, gateway_factory: GatewayFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """botocore's refreshable credentials: fetched once, then again only inside the 15-minute refresh
    window, and always in a worker thread, never on the event loop."""
    caplog.set_level(logging.DEBUG, logger="botocore.credentials")
    runs = tmp_path / "runs"
    for profile, minutes in (("fresh", 120), ("expiring", 5)):
        helper = tmp_path / f"{profile}.py"
        expiry = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
        credentials = {"Version": 1, "AccessKeyId": fake.access_key, "SecretAccessKey": fake.secret_key, "SessionToken": TOKEN}
        helper.write_text(
            f"import json\nopen({str(runs)!r}, 'a').write({profile!r} + '\\n')\n"
            f"print(json.dumps({{**{credentials!r}, 'Expiration': {expiry!r}}}))\n"
        )
        with (tmp_path / "aws-config").open("a") as file:
            file.write(f"[profile {profile}]\ncredential_process = {sys.executable} {helper}\n")
    fresh = await gateway_factory(config(fake, profile="fresh"))
    expiring = await gateway_factory(config(fake, profile="expiring"))
    for _ in range(3):
        await ask(fresh.url)
        await ask(expiring.url)
    assert runs.read_text().split().count("fresh") == 1
    # Expiring in 5 minutes is inside botocore's 15-minute refresh window: loaded once, then refreshed at each use.
    assert runs.read_text().split().count("expiring") == 1 + 3
    assert len(fake.received) == 6
    fetches = [r for r in caplog.records if r.getMessage().startswith(("Looking for credentials via", "Retrieved credentials will expire"))]
    assert len(fetches) >= 4 and all(r.thread != threading.get_ident() for r in fetches)


async def test_no_credentials_anywhere_is_an_auth_failure(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake, profile="nowhere"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        await ask(gw.url)
    assert caught.value.status_code == 401 and "could not be resolved" in caught.value.message and "nowhere" in caught.value.message
    entry = gw.gateway.book.blocked("bedrock#0", CLAUDE)
    assert entry is not None and entry.reason is Reason.AUTH
    assert fake.received == []


async def test_bedrock_api_keys_go_as_bearer_tokens_unsigned(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake, api_keys=["ABSK-revoked-key-0000000000000000", API_KEY]))
    assert (await ask(gw.url)).content[0].text == "hello"  # type: ignore[union-attr]
    refused, served = fake.received
    assert refused.headers["authorization"] == "Bearer ABSK-revoked-key-0000000000000000"
    assert served.headers["authorization"] == f"Bearer {API_KEY}" and "x-amz-date" not in served.headers
    entry = gw.gateway.book.blocked("bedrock#0", CLAUDE)
    assert entry is not None and entry.reason is Reason.AUTH  # "Authentication failed: ... API Key": the key, not the model


async def test_verify_lists_foundation_models_signed_or_with_a_key(
    fake: FakeBedrock, gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", fake.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", fake.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    gw = await gateway_factory(config(fake))
    upstream = gw.gateway.upstreams["bedrock"]
    assert await upstream.verify(upstream.credentials[0]) == (200, "ok")
    assert fake.received[-1].method == "GET" and fake.received[-1].path == "/foundation-models"
    assert fake.received[-1].headers["x-amz-security-token"] == TOKEN
    assert await upstream.verify(Credential("bedrock#k", "bedrock", API_KEY)) == (200, "ok")
    status, detail = await upstream.verify(Credential("bedrock#bad", "bedrock", "ABSK-wrong-000000000000"))
    assert status == 403 and BAD_API_KEY in detail and "ABSK-wrong-000000000000" not in detail
    fake.may_list_models = False
    status, detail = await upstream.verify(upstream.credentials[0])
    assert status == 200 and detail.startswith("ok: the credentials were accepted, but may not list foundation models")
    assert "123456789012" not in detail
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    other = await gateway_factory(config(fake))
    stale = other.gateway.upstreams["bedrock"]
    status, detail = await stale.verify(stale.credentials[0])
    assert status == 403 and "InvalidSignatureException" in detail


def test_the_default_endpoint_follows_the_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from babelgate.config import parse
    from babelgate.registry import build_upstream

    isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_REGION", "ap-northeast-1")
    data = parse({"providers": {"b": {"type": "bedrock", "base_url": None, "models": [CLAUDE]}}})
    upstream = build_upstream("b", data.providers["b"])
    assert upstream.describe()["base_url"] == "https://bedrock-runtime.ap-northeast-1.amazonaws.com"
    explicit = build_upstream("b", parse({"providers": {"b": {"type": "bedrock", "region": "us-west-2"}}}).providers["b"])
    assert explicit.describe()["region"] == "us-west-2"
    assert (
        explicit.url("amazon.nova-pro-v1:0", True)
        == "https://bedrock-runtime.us-west-2.amazonaws.com/model/amazon.nova-pro-v1:0/converse-stream"
    )
