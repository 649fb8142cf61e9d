"""The attempt loop alone, against in-memory upstreams: no sockets, no aiohttp."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from babelgate import ir
from babelgate.call import Call
from babelgate.config import ProviderConfig, parse
from babelgate.dialects import anthropic, openai_chat
from babelgate.dialects.base import Dialect
from babelgate.errors import GatewayError, UpstreamError
from babelgate.providers.base import Attempt, Credential, Reply
from babelgate.providers.classify import Failure, Reason
from babelgate.routing.cooldown import CooldownBook
from babelgate.routing.pool import Pool
from babelgate.routing.router import Router
from babelgate.store.memory import MemoryStore

Outcome = Callable[[Attempt], Reply]


def ok(attempt: Attempt) -> Reply:
    return Reply(attempt.passthrough, response=ir.Response("r1", attempt.model, [ir.TextPart(f"from {attempt.credential.id}")]))


def failing(status: int, reason: Reason, *, retryable: bool = True, reset_after: float | None = None) -> Outcome:
    def fail(attempt: Attempt) -> Reply:
        failure = Failure(reason, reset_after=reset_after, retryable=retryable, status=status)
        raise UpstreamError(attempt.credential.provider, status, f"upstream said {status}", failure=failure)

    return fail


class MemoryUpstream:
    """An `Upstream` whose answers are scripted per credential id; it records every attempt."""

    def __init__(self, name: str, config: ProviderConfig, dialect: Dialect = openai_chat) -> None:
        self.name = name
        self.config = config
        self.dialect = dialect
        self.credentials = [Credential(f"{name}#{i}", name, f"key-{name}-{i}") for i in range(len(config.api_keys))]
        self.outcomes: dict[str, Outcome] = {}
        self.attempts: list[Attempt] = []

    def dialect_for(self, model: str) -> Dialect:
        return self.dialect

    async def send(self, attempt: Attempt) -> Reply:
        self.attempts.append(attempt)
        return self.outcomes.get(attempt.credential.id, ok)(attempt)

    async def verify(self, credential: Credential) -> tuple[int, str]:
        return 200, "ok"

    async def count_tokens(self, attempt: Attempt) -> int | None:
        return None

    def add_credential(self, name: str, key: str) -> None:
        self.credentials.append(Credential(f"{self.name}#{name}", self.name, key))

    def max_tokens_cap(self, model: str) -> int | None:
        cap = self.config.max_tokens
        return cap if isinstance(cap, int) else None

    def max_tokens_floor(self, model: str) -> int:
        return 1

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    async def close(self) -> None:
        return None


def make_router(data: dict[str, Any], dialects: dict[str, Dialect] | None = None) -> tuple[Router, dict[str, MemoryUpstream]]:
    config = parse(data)
    upstreams = {name: MemoryUpstream(name, p, (dialects or {}).get(name, openai_chat)) for name, p in config.providers.items()}
    return Router(config, upstreams, CooldownBook(), Pool(), MemoryStore()), upstreams


def provider(keys: int, **extra: Any) -> dict[str, Any]:
    return {"base_url": "http://127.0.0.1:1/v1", "api_keys": [f"k{i}" for i in range(keys)], "models": ["m"], **extra}


def call_for(model: str, *, raw: dict[str, Any] | None = None, inbound: Dialect = openai_chat, max_tokens: int | None = None) -> Call:
    request = ir.Request(model, [ir.Message("user", [ir.TextPart("hi")])], max_tokens=max_tokens)
    return Call(inbound, request, {}, raw=raw)


def text_of(reply: Reply) -> str:
    assert reply.response is not None
    part = reply.response.parts[0]
    assert isinstance(part, ir.TextPart)
    return part.text


async def test_a_rate_limited_key_cools_down_and_the_next_key_serves() -> None:
    router, up = make_router({"providers": {"a": provider(2)}, "routing": {"strategy": "fill-first"}})
    up["a"].outcomes["a#0"] = failing(429, Reason.RATE_LIMIT, reset_after=30)
    call = call_for("a/m")
    reply = await router.route(call)
    assert text_of(reply) == "from a#1"
    assert call.served is not None and call.served.credential.id == "a#1"
    assert [attempt.credential.id for attempt, _ in call.failures] == ["a#0"]
    block = router.book.blocked("a#0", "m")
    assert block is not None and block.reason is Reason.RATE_LIMIT
    assert [(e.credential, e.model) for e in await router.store.load_cooldowns()] == [("a#0", "m")]  # stored before a#1 was tried
    # The cooling key takes no new request.
    await router.route(call_for("a/m"))
    assert [a.credential.id for a in up["a"].attempts] == ["a#0", "a#1", "a#1"]


async def test_a_bad_request_is_not_retried_on_another_key() -> None:
    router, up = make_router({"providers": {"a": provider(2)}, "routing": {"strategy": "fill-first"}})
    up["a"].outcomes["a#0"] = failing(400, Reason.BAD_REQUEST, retryable=False)
    with pytest.raises(UpstreamError) as raised:
        await router.route(call_for("a/m"))
    assert raised.value.upstream_status == 400
    assert len(up["a"].attempts) == 1
    assert router.book.blocked("a#0", "m") is None  # not the key's fault


async def test_a_fallback_chain_moves_to_the_next_provider() -> None:
    router, up = make_router({"providers": {"a": provider(1), "b": provider(1)}, "aliases": {"big": ["a/m", "b/m"]}})
    up["a"].outcomes["a#0"] = failing(529, Reason.CAPACITY)
    call = call_for("big")
    assert text_of(await router.route(call)) == "from b#0"
    assert call.served is not None and call.served.target == "b/m"


async def test_every_key_cooling_answers_model_cooldown_with_retry_after() -> None:
    router, up = make_router({"providers": {"a": provider(2)}, "routing": {"max_wait": 0}})
    for credential in ("a#0", "a#1"):
        up["a"].outcomes[credential] = failing(429, Reason.QUOTA, reset_after=120)
    for _ in range(2):  # the request that met the limits, then one that meets only cooldowns
        with pytest.raises(GatewayError) as raised:
            await router.route(call_for("a/m"))
        error = raised.value
        assert (error.status, error.code) == (429, "model_cooldown")
        assert 110 <= int(error.headers["Retry-After"]) <= 120
        assert error.headers["x-should-retry"] == "false"  # past what a client should wait for by itself
    assert len(up["a"].attempts) == 2


async def test_revoked_keys_answer_auth_unavailable_with_counts() -> None:
    router, up = make_router({"providers": {"a": provider(2)}})
    for credential in ("a#0", "a#1"):
        up["a"].outcomes[credential] = failing(401, Reason.AUTH)
    with pytest.raises(UpstreamError) as first:
        await router.route(call_for("a/m"))
    assert first.value.headers["x-should-retry"] == "false"
    with pytest.raises(GatewayError) as raised:
        await router.route(call_for("a/m"))
    error = raised.value
    assert (error.status, error.code) == (503, "auth_unavailable")
    assert error.details["counts"] == {"auth_invalid": 2} and error.details["recent_statuses"] == [401, 401]


async def test_each_attempt_is_prepared_for_its_target() -> None:
    router, up = make_router(
        {"providers": {"a": provider(1, max_tokens=1000), "b": provider(1, type="anthropic")}, "aliases": {"x": ["a/m", "b/m"]}},
        {"b": anthropic},
    )
    up["a"].outcomes["a#0"] = failing(503, Reason.SERVER)
    raw = {"model": "x", "messages": []}
    await router.route(call_for("x", raw=raw, inbound=anthropic, max_tokens=64000))
    first, second = up["a"].attempts[0], up["b"].attempts[0]
    assert first.request.max_tokens == 1000 and first.raw is None  # capped; another dialect: translated
    assert second.request.max_tokens == 64000 and second.raw is raw  # same dialect: the client's own body


async def test_a_sticky_conversation_is_bound_in_the_store() -> None:
    router, up = make_router({"providers": {"a": provider(3, strategy="sticky")}})
    call = call_for("a/m")
    call_headers = {"x-claude-code-session-id": "session-1"}
    call.headers = call_headers
    await router.route(call)
    served = call.served
    assert served is not None
    assert await router.store.get_binding("session-1") == served.credential.id  # stored before the reply was handed on
    again = call_for("a/m")
    again.headers = call_headers
    await router.route(again)
    assert [a.credential.id for a in up["a"].attempts] == [served.credential.id] * 2
