"""The capability table: lookups, the config's `models:` section over it, and the max_tokens cap that falls back to it.

The upstream is a strict loopback OpenAI that refuses a max_tokens above the model's output limit
with OpenAI's own error, so a request that is answered was clamped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest

from babelgate.capabilities import Catalog, match, parse_table, shipped
from babelgate.config import ConfigError, parse
from tests.conftest import GatewayFactory
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply

KEY = "sk-capabilities-key-77"
LIMITS = {"gpt-4o": 16384, "gpt-5": 128000, "my-finetune": 2000}


class FakeOpenAI(FakeUpstream):
    """Refuses a completion limit above the model's, as OpenAI does."""

    def __init__(self) -> None:
        super().__init__()
        self.script = self._route

    def _route(self, record: Received) -> Reply:
        body = record.body
        wanted = body.get("max_completion_tokens") or body.get("max_tokens")
        limit = LIMITS.get(body["model"], 10**9)
        if wanted is not None and wanted > limit:
            message = (
                f"max_tokens is too large: {wanted}. This model supports at most {limit} completion tokens, whereas you provided {wanted}."
            )
            return Reply(400, {"error": {"message": message, "type": "invalid_request_error", "param": "max_tokens", "code": None}})
        if body.get("stream"):
            return wire.stream_reply(wire.text_stream("o", "k"))
        return Reply(json=wire.completion("ok", model=body["model"]))


@pytest.fixture
async def openai_fake() -> AsyncIterator[FakeOpenAI]:
    fake = await FakeOpenAI().start()
    yield fake
    await fake.stop()


def config(fake: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    provider = {"base_url": f"{fake.url}/v1", "api_keys": [KEY], "models": list(LIMITS), **extra.pop("provider", {})}
    return {"providers": {"oa": provider}, "aliases": {"claude-*": "oa/gpt-4o"}, "routing": {"max_wait": 0}, **extra}


async def ask_anthropic(url: str, max_tokens: int, model: str = "claude-sonnet-5-5") -> anthropic.types.Message:
    sdk = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)
    async with sdk.messages.stream(model=model, max_tokens=max_tokens, messages=[{"role": "user", "content": "hi"}]) as events:
        return await events.get_final_message()


async def test_a_large_max_tokens_is_clamped_to_the_tables_limit(openai_fake: FakeOpenAI, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(openai_fake))
    message = await ask_anthropic(gw.url, 128000)  # what Claude Code asks for
    assert message.content[0].text == "ok"  # type: ignore[union-attr]
    assert openai_fake.received[-1].body["max_tokens"] == 16384
    await ask_anthropic(gw.url, 500)
    assert openai_fake.received[-1].body["max_tokens"] == 500  # within the limit: untouched


async def test_an_openai_client_is_clamped_too(openai_fake: FakeOpenAI, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(openai_fake))
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="k", max_retries=0)
    await client.chat.completions.create(model="oa/gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=100000)
    assert openai_fake.received[-1].body["max_tokens"] == 16384  # the client's own body, edited
    await client.chat.completions.create(model="oa/gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert "max_tokens" not in openai_fake.received[-1].body  # the table clamps, it never adds a limit


async def test_the_config_overrides_the_table(openai_fake: FakeOpenAI, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(openai_fake, models={"gpt-4o": {"max_output": 4096}, "oa/my-*": {"max_output": 2000}}))
    await ask_anthropic(gw.url, 128000)
    assert openai_fake.received[-1].body["max_tokens"] == 4096
    await ask_anthropic(gw.url, 64000, model="oa/my-finetune")  # unknown to the table; the config's provider/model glob
    assert openai_fake.received[-1].body["max_tokens"] == 2000


async def test_a_providers_max_tokens_still_wins(openai_fake: FakeOpenAI, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(openai_fake, provider={"max_tokens": {"gpt-4o": 1000}}))
    await ask_anthropic(gw.url, 128000)
    assert openai_fake.received[-1].body["max_tokens"] == 1000


async def test_without_a_limit_the_upstreams_refusal_reaches_the_client(openai_fake: FakeOpenAI, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(openai_fake))
    with pytest.raises(anthropic.BadRequestError) as caught:
        await ask_anthropic(gw.url, 64000, model="oa/my-finetune")  # no table entry, no config entry
    assert "This model supports at most 2000 completion tokens" in str(caught.value)


# ---- lookups -------------------------------------------------------------------------------------


def test_exact_ids_beat_globs_and_globs_go_in_order() -> None:
    table = parse_table({"m*": {"max_output": 1}, "m-pro": {"max_output": 2}, "m-*": {"max_output": 3}})
    assert match(table, ["m-pro"]).max_output == 2  # type: ignore[union-attr]
    assert match(table, ["m-lite"]).max_output == 1  # type: ignore[union-attr]
    assert match(table, ["other"]) is None


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "gpt-5", (400000, 128000, "effort")),
        ("openai", "gpt-4o-2024-05-13", (128000, 4096, "none")),
        ("anthropic", "claude-opus-4-1-20250805", (200000, 32000, "budget")),
        ("anthropic", "claude-opus-5-5", (1000000, 128000, "effort")),
        ("openrouter", "anthropic/claude-opus-4.6", (200000, 128000, "effort")),  # a vendor prefix and dots
        ("gemini", "gemini-2.5-pro", (1048576, 65536, "budget")),
        ("deepseek", "deepseek-reasoner", (1000000, 384000, "builtin")),
        ("groq", "openai/gpt-oss-120b", (131072, 32768, "effort")),
        ("xai", "grok-4.3", (1000000, 30000, "effort")),
        ("mistral", "mistral-small-2506", (128000, 16384, "none")),
    ],
)
def test_the_shipped_table(provider: str, model: str, expected: tuple[int, int, str]) -> None:
    known = Catalog(parse({})).lookup(provider, model)
    assert (known.context_window, known.max_output, known.reasoning) == expected
    assert set(known.sources.values()) == {"table"}


def test_lookups_are_cached_and_unknown_models_know_nothing() -> None:
    catalog = Catalog(parse({}))
    assert catalog.lookup("oa", "gpt-5") is catalog.lookup("oa", "gpt-5")
    unknown = catalog.lookup("local", "my-own-model")
    assert unknown.max_output is None and unknown.sources == {}
    assert len(shipped()) > 50


def test_a_bad_models_entry_names_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"models": {"gpt-5*": {"context_window": 0, "reasoning": "lots"}}})
    assert "models.gpt-5*.context_window" in str(caught.value) and "models.gpt-5*.reasoning" in str(caught.value)
