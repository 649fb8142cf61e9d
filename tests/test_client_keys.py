"""Client keys with a name, allowed models and limits (`server.api_keys` entries), through a real gateway
with the official SDKs: who the request was, what a key may ask for, its requests and tokens per
minute, and its budget as Claude Code's gateway contract reports it (the `anthropic-ratelimit-unified-*`
headers, the 429 `billing_error`, `GET /api/oauth/usage`)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from babelgate.config import ConfigError, parse
from babelgate.store.sqlite import SqliteStore
from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.turns import Turn, anthropic_body, anthropic_stream
from tests.fakes.upstream import FakeUpstream, Received, Reply

ALICE = "alice-key-0123456789"
BOB = "bob-key-0123456789"
TEAM = "team-key-0123456789"
PRICES = {"gpt-5": {"input": 10000, "output": 10000}}  # a cent a token, so a request's cost is its tokens in cents
HI = [{"role": "user", "content": "hi"}]
UNIFIED = "anthropic-ratelimit-unified-"


def keyed(upstream: FakeUpstream, *entries: str | dict[str, Any], **extra: Any) -> dict[str, Any]:
    return openai_config(upstream, server={"api_keys": list(entries)}, observe={"prices": PRICES}, **extra)


def costing(cents: int) -> Any:
    """Every completion uses `cents` tokens, so it costs that many cents."""

    def script(record: Received) -> Reply:
        if record.body.get("stream"):
            chunks = [*wire.text_stream("ok")[:-1], wire.usage_chunk(cents // 2, cents - cents // 2, 0)]
            return wire.stream_reply(chunks)
        return Reply(json=wire.completion("ok", prompt=cents // 2, completion_tokens=cents - cents // 2))

    return script


def claude(url: str, key: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key=key, max_retries=0)


def gpt(url: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def unified(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("anthropic-ratelimit-")}


def next_midnight() -> int:
    today = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    return int(dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC).timestamp())


async def test_plain_and_named_keys_open_the_gateway_and_the_name_is_the_requests_client(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    upstream.script = costing(10)
    gw = await gateway_factory(keyed(upstream, TEAM, {"key": ALICE, "name": "alice"}))
    await claude(gw.url, TEAM).messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)
    await gpt(gw.url, ALICE).chat.completions.create(model="claude-sonnet-5-5", messages=HI)  # type: ignore[arg-type]
    with pytest.raises(anthropic.AuthenticationError):
        await claude(gw.url, "not-a-key-of-ours").messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)
    clients = [(r["client"], r["status"]) for r in gw.gateway.observer.recent]
    assert clients == [("", 200), ("alice", 200), ("", 401)]
    assert all(ALICE not in str(r) and TEAM not in str(r) for r in gw.gateway.observer.recent)


async def test_a_model_outside_the_keys_list_is_refused_in_the_callers_dialect(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    upstream.script = costing(10)
    gw = await gateway_factory(keyed(upstream, {"key": ALICE, "name": "alice", "models": ["claude-*", "gpt-5-mini"]}))
    reply = await claude(gw.url, ALICE).messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)
    assert reply.content[0].text == "ok"  # type: ignore[union-attr]
    with pytest.raises(anthropic.BadRequestError) as refused:  # the Messages API: 400, as Claude Code's contract asks
        await claude(gw.url, ALICE).messages.create(model="opus", max_tokens=5, messages=HI)
    assert refused.value.status_code == 400
    error = refused.value.body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == "model 'opus' is not allowed for client key 'alice'; it may use claude-*, gpt-5-mini"
    with pytest.raises(openai.PermissionDeniedError) as denied:
        await gpt(gw.url, ALICE).chat.completions.create(model="up/gpt-5", messages=HI)  # type: ignore[arg-type]
    assert denied.value.status_code == 403 and "it may use claude-*, gpt-5-mini" in denied.value.message
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{gw.url}/v1beta/models/up/gpt-5:generateContent",
            json={"contents": [{"parts": [{"text": "hi"}]}]},
            headers={"x-goog-api-key": ALICE},
        ) as r,
    ):
        body = await r.json()
    assert r.status == 403 and body["error"]["status"] == "PERMISSION_DENIED" and "'up/gpt-5' is not allowed" in body["error"]["message"]
    assert len(upstream.received) == 1


async def test_requests_per_minute_are_shared_by_every_dialect_and_refused_with_retry_after(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    upstream.script = costing(10)
    gw = await gateway_factory(keyed(upstream, {"key": ALICE, "name": "alice", "rpm": 3}, BOB))
    for _ in range(2):
        await claude(gw.url, ALICE).messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)
    await gpt(gw.url, ALICE).chat.completions.create(model="claude-sonnet-5-5", messages=HI)  # type: ignore[arg-type]
    with pytest.raises(anthropic.RateLimitError) as limited:
        await claude(gw.url, ALICE).messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)
    error = limited.value.body["error"]  # type: ignore[index]
    assert error["type"] == "rate_limit_error"
    assert "client key 'alice' is over its limit of 3 requests per minute" in error["message"]
    assert 1 <= int(limited.value.response.headers["retry-after"]) <= 60
    with pytest.raises(openai.RateLimitError) as also:
        await gpt(gw.url, ALICE).chat.completions.create(model="claude-sonnet-5-5", messages=HI)  # type: ignore[arg-type]
    assert 1 <= int(also.value.response.headers["retry-after"]) <= 60
    await claude(gw.url, BOB).messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)  # another key: not limited
    assert len(upstream.received) == 4
    assert [r["status"] for r in gw.gateway.observer.recent] == [200, 200, 200, 429, 429, 200]


async def test_tokens_per_minute_refuse_once_spent(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.script = costing(40)  # 40 tokens a request
    gw = await gateway_factory(keyed(upstream, {"key": ALICE, "name": "alice", "tpm": 50}))
    sdk = claude(gw.url, ALICE)
    await sdk.messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)  # 40 of 50
    async with sdk.messages.stream(model="claude-sonnet-5-5", max_tokens=5, messages=HI) as stream:  # 80: a stream counts too
        assert await stream.get_final_text() == "ok"
    with pytest.raises(anthropic.RateLimitError) as limited:
        await sdk.messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)
    assert "limit of 50 tokens per minute" in limited.value.message
    assert len(upstream.received) == 2


async def test_a_budget_reports_its_standing_warns_past_75_percent_and_refuses_with_billing_error(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    upstream.script = costing(20)  # $0.20 a request
    entry = {"key": ALICE, "name": "alice", "budget": {"daily": 1.00, "help": "ask in #ai-platform"}}
    gw = await gateway_factory(keyed(upstream, entry))
    sdk = claude(gw.url, ALICE)
    seen = []
    for _ in range(5):  # the standing before each: $0, $0.20 ... $0.80
        raw = await sdk.messages.with_raw_response.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)
        seen.append(unified(raw.headers))
    midnight = str(next_midnight())
    calm = {
        UNIFIED + "status": "allowed",
        UNIFIED + "representative-claim": "overage",
        UNIFIED + "overage-status": "allowed",
        UNIFIED + "overage-utilization": "0.40",
        UNIFIED + "reset": midnight,
        UNIFIED + "overage-reset": midnight,
    }
    assert seen[2] == calm
    assert [s[UNIFIED + "overage-utilization"] for s in seen] == ["0.00", "0.20", "0.40", "0.60", "0.80"]
    assert seen[4] == {
        **calm,
        UNIFIED + "status": "allowed_warning",
        UNIFIED + "overage-status": "allowed_warning",
        UNIFIED + "overage-utilization": "0.80",
        UNIFIED + "overage-surpassed-threshold": "0.75",
    }
    with pytest.raises(anthropic.RateLimitError) as refused:  # $1.00 spent: refused before any upstream
        await sdk.messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)
    response = refused.value.response
    assert response.status_code == 429
    assert unified(response.headers) == {
        UNIFIED + "status": "rejected",
        UNIFIED + "reset": midnight,
        UNIFIED + "overage-reset": midnight,
        UNIFIED + "overage-utilization": "1",
        UNIFIED + "overage-surpassed-threshold": "1",
        UNIFIED + "overage-period": "daily",
        UNIFIED + "overage-disabled-reason": "org_spend_cap_reached",
    }
    assert response.headers["x-should-retry"] == "false"
    assert abs(int(response.headers["retry-after"]) - (next_midnight() - dt.datetime.now(dt.UTC).timestamp())) < 5
    error = refused.value.body["error"]  # type: ignore[index]
    tomorrow = dt.datetime.fromtimestamp(next_midnight(), dt.UTC)
    assert error == {
        "type": "billing_error",
        "message": f"spend limit reached · the daily budget of $1.00 of client key 'alice' is spent · "
        f"resets {tomorrow:%b} {tomorrow.day}, 00:00 UTC · ask in #ai-platform",
    }
    with pytest.raises(openai.RateLimitError) as quota:  # the same budget in OpenAI's words
        await gpt(gw.url, ALICE).chat.completions.create(model="claude-sonnet-5-5", messages=HI)  # type: ignore[arg-type]
    assert quota.value.body["type"] == "insufficient_quota"  # type: ignore[index]
    assert not unified(quota.value.response.headers) and quota.value.response.headers["x-should-retry"] == "false"
    assert len(upstream.received) == 5


async def test_api_oauth_usage_gives_the_dollars_of_the_cap_the_headers_describe(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    upstream.script = costing(40)
    capped = {"key": ALICE, "name": "alice", "budget": {"daily": 2.00, "monthly": 50}}
    gw = await gateway_factory(keyed(upstream, capped, {"key": BOB, "name": "bob"}, TEAM))
    for _ in range(3):  # $1.20 of $2.00 today (60%), of $50 this month (2.4%)
        raw = await claude(gw.url, ALICE).messages.with_raw_response.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)
    await gpt(gw.url, BOB).chat.completions.create(model="claude-sonnet-5-5", messages=HI)  # type: ignore[arg-type]
    reset = int(raw.headers[UNIFIED + "overage-reset"])  # from the standing before the third: $0.80 (40%)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.url}/api/oauth/usage", headers={"Authorization": f"Bearer {ALICE}"}) as r:
            alice, alice_headers = await r.json(), r.headers
        async with session.get(f"{gw.url}/api/oauth/usage", headers={"Authorization": f"Bearer {BOB}"}) as r:
            bob = await r.json()
        async with session.get(f"{gw.url}/api/oauth/usage", headers={"Authorization": "Bearer wrong-key"}) as r:
            assert r.status == 401
    assert alice_headers["Cache-Control"] == "no-store"
    day_end = dt.datetime.fromtimestamp(reset, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    month = dt.datetime.now(dt.UTC).date().replace(day=28) + dt.timedelta(days=4)
    month_end = f"{month.replace(day=1).isoformat()}T00:00:00.000Z"
    assert alice == {
        "extra_usage": {"is_enabled": True, "monthly_limit": 200, "used_credits": 120, "utilization": 60, "currency": "USD"},
        "limits": [
            {"kind": "spend", "group": "daily", "percent": 60, "resets_at": day_end, "severity": "normal", "is_active": True},
            {"kind": "spend", "group": "monthly", "percent": 2, "resets_at": month_end, "severity": "normal", "is_active": False},
        ],
    }
    assert bob == {  # no cap: the spend of the month, the day and the week, in cents
        "extra_usage": {
            "is_enabled": True,
            "monthly_limit": None,
            "used_credits": 40,
            "utilization": None,
            "currency": "USD",
            "daily": {"limit": None, "used_credits": 40, "utilization": None},
            "weekly": {"limit": None, "used_credits": 40, "utilization": None},
        },
        "limits": [],
    }
    assert "anthropic-ratelimit-unified-status" not in (await claude(gw.url, BOB).messages.with_raw_response.create(
        model="claude-sonnet-5-5", max_tokens=5, messages=HI
    )).headers  # fmt: skip


async def test_api_oauth_usage_without_client_keys_is_a_clean_404(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/api/oauth/usage") as r:
        body = await r.json()
    assert r.status == 404 and body["error"]["type"] == "not_found_error" and "server.api_keys" in body["error"]["message"]


def anthropic_upstream(record: Received) -> Reply:
    """An Anthropic API that reports its own (org-wide) limits, as api.anthropic.com does."""
    limits = {
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-tokens-remaining": "39000",
        "anthropic-ratelimit-unified-status": "allowed_warning",
        "anthropic-ratelimit-unified-5h-utilization": "0.97",
        "request-id": "req_upstream",
    }
    turn = Turn(text="from anthropic", input_tokens=30, output_tokens=10, cached_tokens=0)
    if record.body.get("stream"):
        return Reply(chunks=[anthropic_stream(turn)], headers={**limits, "Content-Type": "text/event-stream"})
    return Reply(json=anthropic_body(turn), headers=limits)


@pytest.mark.parametrize("stream", [False, True])
async def test_the_upstreams_own_ratelimit_headers_never_reach_the_client(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, stream: bool
) -> None:
    upstream.script = anthropic_upstream
    provider = {"type": "anthropic", "base_url": upstream.url, "api_keys": ["sk-ant-upstream-1"], "models": ["claude-sonnet-5-5"]}
    capped = {"key": ALICE, "name": "alice", "budget": {"monthly": 10}}
    gw = await gateway_factory({"providers": {"ant": provider}, "server": {"api_keys": [TEAM, capped]}})
    body = {"model": "claude-sonnet-5-5", "max_tokens": 5, "messages": HI, "stream": stream}
    found = {}
    async with aiohttp.ClientSession() as session:
        for key in (TEAM, ALICE):
            async with session.post(f"{gw.url}/v1/messages", json=body, headers={"x-api-key": key}) as r:
                data = await r.read()
                assert r.status == 200 and (b"message_stop" if stream else b"from anthropic") in data
                found[key] = unified(r.headers)
    assert found[TEAM] == {}  # no cap: none at all
    assert found[ALICE][UNIFIED + "status"] == "allowed" and found[ALICE][UNIFIED + "overage-utilization"] == "0.00"
    assert set(found[ALICE]) == {
        UNIFIED + s for s in ("status", "representative-claim", "overage-status", "overage-utilization", "reset", "overage-reset")
    }
    assert len(upstream.received) == 2


@pytest.mark.parametrize(
    ("entries", "said"),
    [
        (["same-key-123", {"key": "same-key-123", "name": "x"}], "server.api_keys: entry 1 repeats a key given earlier"),
        ([{"key": "k-one-123", "name": "x"}, {"key": "k-two-123", "name": "x"}], "server.api_keys: entry 1: the name 'x' is already taken"),
        ([{"key": "k-one-123", "rpm": 0}], "server.api_keys.0.rpm: Input should be greater than or equal to 1"),
        ([{"key": "k-one-123", "budget": {"dayly": 5}}], "server.api_keys.0.budget.dayly: Extra inputs are not permitted"),
        ([{"key": "k-one-123", "budget": {"daily": -1}}], "server.api_keys.0.budget.daily: Input should be greater than 0"),
        ([{"name": "alice"}], "server.api_keys.0.key: Field required"),
        ([{"key": "k-one-123", "name": "alice smith"}], "server.api_keys.0.name: String should match pattern"),
        ([5], "server.api_keys: entry 0: expected a key (a string) or a mapping of key, name, models, rpm, tpm, budget"),
    ],
)
def test_a_bad_client_key_entry_is_refused_naming_its_path(entries: list[Any], said: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse({"server": {"api_keys": entries}})
    assert said in str(refused.value)


def test_the_config_contracts_entries_parse() -> None:
    config = parse(
        {
            "server": {
                "api_keys": [
                    "team-key-123",
                    {"key": ALICE, "name": "alice", "models": ["claude-*"], "rpm": 60, "tpm": 200000, "budget": {"daily": 5.00}},
                ]
            }
        }
    )
    team, alice = config.server.api_keys
    assert (team.key, team.name, team.limited, team.account.startswith("key-"), "team-key-123" not in team.account) == (
        "team-key-123",
        None,
        False,
        True,
        True,
    )
    assert (alice.account, alice.models, alice.rpm, alice.tpm, alice.caps, alice.limited) == (
        "alice",
        ["claude-*"],
        60,
        200000,
        {"daily": 5.0},
        True,
    )


async def test_a_store_that_cannot_be_read_serves_the_request_and_says_so(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.script = costing(10)
    gw = await gateway_factory(
        keyed(upstream, {"key": ALICE, "name": "alice", "rpm": 1, "budget": {"daily": 1}}), SqliteStore(tmp_path / "db")
    )
    await gw.gateway.store.read_counters(["any"])  # the schema is made
    with sqlite3.connect(tmp_path / "db") as db:  # another program breaks the file: every counter read and write now fails
        db.execute("DROP TABLE counters")
    for _ in range(2):  # fail open: served, with no standing to report
        raw = await claude(gw.url, ALICE).messages.with_raw_response.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)
        assert raw.http_response.status_code == 200 and not unified(raw.headers)
    assert "could not read the limits of client key 'alice'; serving the request unchecked" in caplog.text
    assert "could not count the usage of client key 'alice'" in caplog.text
    assert ALICE not in caplog.text


async def test_the_model_list_shows_a_key_only_the_models_it_may_use(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(keyed(upstream, TEAM, {"key": ALICE, "name": "alice", "models": ["*gpt-5-mini"]}))
    everything = [m.id async for m in claude(gw.url, TEAM).models.list(limit=1000)]
    allowed = [m.id async for m in claude(gw.url, ALICE).models.list(limit=1000)]
    assert allowed and set(allowed) < set(everything)
    assert all(model.endswith("gpt-5-mini") for model in allowed)
    openai_everything = [m.id async for m in gpt(gw.url, TEAM).models.list()]
    openai_allowed = [m.id async for m in gpt(gw.url, ALICE).models.list()]
    assert set(openai_allowed) < set(openai_everything) and all(m.endswith("gpt-5-mini") for m in openai_allowed)
    hidden = next(m for m in everything if m not in allowed)
    with pytest.raises(anthropic.NotFoundError):
        await claude(gw.url, ALICE).models.retrieve(hidden)
    assert (await claude(gw.url, TEAM).models.retrieve(hidden)).id == hidden
